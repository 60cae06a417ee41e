use super::load::cie10_cores;
use super::*;
use crate::text::tokenize_chars;

fn find(text: &str) -> Vec<(String, Vec<ConceptKind>)> {
    let lx = lexicon();
    let chars: Vec<char> = text.chars().collect();
    let toks = tokenize_chars(&chars);
    let ct = content_tokens(&chars, &toks);
    lx.find_terms(&ct, false)
        .into_iter()
        .map(|m| {
            let s = toks[ct[m.start].token].start;
            let e = toks[ct[m.end - 1].token].end;
            (
                chars[s..e].iter().collect(),
                m.concepts.iter().map(|c| lx.concept(*c).kind).collect(),
            )
        })
        .collect()
}

#[test]
fn concepts_in_names_each_concept_once() {
    let lx = lexicon();
    let canon = |ids: Vec<ConceptId>| -> Vec<String> {
        ids.iter()
            .map(|c| lx.concept(*c).canonical.to_lowercase())
            .collect()
    };
    let found = canon(lx.concepts_in("Ceftriaxona y luego ceftriaxona con vancomicina", false));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("ceftriaxona") && found[1].contains("vancomicina"));
    // With `all_caps`, a lower-case abbreviation is read as one.
    let iam = canon(lx.concepts_in("iamsest", true));
    assert!(
        iam.iter().any(|c| c.starts_with("infarto agudo")),
        "{iam:?}"
    );
}

#[test]
fn finds_drugs_diagnoses_and_shorthand() {
    let f = find("Recibió vancomicina y ceftriaxona por neumonía; antecedente de DM2 e HTA.");
    let names: Vec<&str> = f.iter().map(|(s, _)| s.as_str()).collect();
    assert!(names.contains(&"vancomicina"), "{f:?}");
    assert!(names.contains(&"ceftriaxona"), "{f:?}");
    assert!(names.contains(&"neumonía"), "{f:?}");
    assert!(names.contains(&"DM2"), "{f:?}");
    assert!(names.contains(&"HTA"), "{f:?}");
}

#[test]
fn matches_across_articles_but_not_across_commas() {
    let f = find("infarto agudo al miocardio");
    assert_eq!(f.len(), 1, "{f:?}");
    let g = find("diabetes, mellitus");
    assert!(g.iter().all(|(s, _)| !s.contains(',')), "{g:?}");
}

#[test]
fn abbreviations_that_are_words_need_capitals() {
    assert!(find("se irá de alta").iter().all(|(s, _)| s != "irá"));
}

#[test]
fn cie10_titles_are_loaded() {
    let lx = lexicon();
    assert!(lx.icd10_exists("J18.9"));
    assert!(lx.icd10_exists("J189"));
    assert!(lx.icd10_name("K74.6").is_some());
    assert!(!lx.icd10_exists("J18.7"));
}

#[test]
fn accents_restore() {
    assert_eq!(lexicon().accented("neumonia"), Some("neumonía"));
}

#[test]
fn cores_of_titles() {
    assert_eq!(cie10_cores("Neumonía, no especificada"), vec!["neumonia"]);
    assert_eq!(
        cie10_cores("Otras enfermedades pulmonares obstructivas crónicas"),
        vec!["enfermedades pulmonares obstructivas cronicas"]
    );
    assert_eq!(
        cie10_cores("Derrame pleural no clasificado en otra parte"),
        vec!["derrame pleural"]
    );
    assert_eq!(
        cie10_cores("Apendicitis aguda con peritonitis generalizada"),
        vec!["apendicitis aguda"]
    );
}

#[test]
fn gerunds_and_finite_forms_of_common_verbs_are_common() {
    let lx = lexicon();
    for w in ["removiendo", "minimizando", "evidencian", "efectuando"] {
        assert!(lx.is_common_inflection(w), "{w}");
    }
    // Participles carry findings; nouns are not verb forms.
    for w in [
        "cementado",
        "sangrado",
        "hundidos",
        "hipoquinesia",
        "neumonia",
    ] {
        assert!(!lx.is_common_inflection(w), "{w}");
    }
}
