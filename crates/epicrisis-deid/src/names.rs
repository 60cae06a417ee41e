//! Person names: the ones an episode carries, the ones context reveals ("Dr.", "atte",
//! "hija", "Sra."…), and given name + surname pairs from the curated lists in `data/`.
//! A word the clinical lexicon knows is never a name.

use epicrisis_domain::lexicon::{lexicon, word_key};
use epicrisis_domain::text::fold;
use std::collections::HashSet;
use std::sync::OnceLock;

const GIVEN: &str = include_str!("../data/given_names.txt");
const SURNAMES: &str = include_str!("../data/surnames.txt");

/// Words after which any non-clinical word is a name ("Dr. Vidal", "atte SOTO").
const STRONG: &[&str] = &[
    "dr",
    "dra",
    "doctor",
    "doctora",
    "atte",
    "att",
    "atentamente",
    "firma",
    "firmado",
    "sr",
    "sra",
    "srta",
    "don",
    "dona",
    "enf",
    "eu",
    "enfermera",
    "enfermero",
    "kine",
    "klgo",
    "klga",
    "kinesiologo",
    "kinesiologa",
    "tens",
    "matrona",
    "becado",
    "becada",
];

/// Words after which the next word is a name only when it looks like one (family,
/// "paciente", "tratante").
const WEAK: &[&str] = &[
    "tratante",
    "hijo",
    "hija",
    "esposa",
    "esposo",
    "madre",
    "padre",
    "hermano",
    "hermana",
    "nieto",
    "nieta",
    "pareja",
    "conyuge",
    "cuidador",
    "cuidadora",
    "tutor",
    "tutora",
    "familiar",
    "sobrino",
    "sobrina",
    "yerno",
    "nuera",
    "apoderado",
    "apoderada",
    "paciente",
    "nombre",
];

/// Whether a (folded) word introduces a person's name.
fn is_trigger(w: &str) -> bool {
    STRONG.contains(&w) || WEAK.contains(&w)
}

/// Words that follow a trigger without being a name ("Dr. de turno", "hija refiere").
const NOT_NAMES: &[&str] = &[
    "de",
    "del",
    "la",
    "el",
    "los",
    "las",
    "lo",
    "un",
    "una",
    "y",
    "e",
    "o",
    "u",
    "a",
    "al",
    "en",
    "con",
    "sin",
    "por",
    "para",
    "que",
    "quien",
    "se",
    "no",
    "si",
    "su",
    "sus",
    "le",
    "les",
    "me",
    "mi",
    "es",
    "esta",
    "fue",
    "son",
    "hay",
    "ha",
    "turno",
    "tratante",
    "residente",
    "jefe",
    "jefa",
    "becado",
    "becada",
    "interno",
    "interna",
    "indica",
    "indico",
    "refiere",
    "solicita",
    "evalua",
    "evaluado",
    "evaluada",
    "acude",
    "presente",
    "ausente",
    "acompana",
    "acompanante",
    "cirujano",
    "cirujana",
    "medico",
    "medica",
    "staff",
    "urgencia",
    "sala",
    "servicio",
    "equipo",
    "unidad",
    "turnante",
    "cargo",
    "responsable",
    "firma",
    "informa",
    "informado",
    "informada",
    "conversa",
    "comenta",
    "visita",
    "llama",
    "llamado",
    "telefono",
    "fono",
    "rut",
    "mayor",
    "menor",
    "unico",
    "unica",
    "hijo",
    "hija",
    "madre",
    "padre",
    "esposa",
    "esposo",
    "paciente",
    "pcte",
    "pte",
    "familia",
    "familiar",
    "dice",
    "relata",
    "niega",
    "autoriza",
    "firmar",
];

/// Words skipped between a trigger and the name ("hija de Carmen", "Dr. Juan").
const BRIDGES: &[&str] = &[
    "de", "del", "la", "el", "paciente", "pcte", "pte", "sr", "sra", "srta", "don", "dona", "dr",
    "dra", "a",
];

const PARTICLES: &[&str] = &["de", "del", "la", "las", "los", "y", "san", "van", "von"];

fn lists() -> &'static (HashSet<String>, HashSet<String>) {
    static L: OnceLock<(HashSet<String>, HashSet<String>)> = OnceLock::new();
    L.get_or_init(|| {
        let read = |s: &str| {
            s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect()
        };
        (read(GIVEN), read(SURNAMES))
    })
}

fn is_given(w: &str) -> bool {
    lists().0.contains(w)
}

fn is_surname(w: &str) -> bool {
    lists().1.contains(w)
}

/// A clinical word (drug, diagnosis, procedure, anatomy, shorthand): never a name.
pub fn is_clinical(folded: &str) -> bool {
    lexicon().lookup(&word_key(folded)).is_some() || lexicon().lookup(folded).is_some()
}

/// Folded words of a name, without titles ("Dr.", "Sra.").
pub fn words(name: &str) -> Vec<String> {
    let mut w: Vec<String> = tokens(name)
        .into_iter()
        .map(|(a, b)| fold(&name[a..b]))
        .collect();
    while w
        .first()
        .is_some_and(|f| STRONG.contains(&f.as_str()) || f == "a")
    {
        w.remove(0);
    }
    w
}

/// Whether one word of a known name may be replaced wherever it appears.
pub fn safe_alone(w: &str) -> bool {
    w.chars().count() >= 3
        && !PARTICLES.contains(&w)
        && !is_clinical(w)
        && (!lexicon().is_common_word(w) || is_given(w) || is_surname(w))
}

/// Alphabetic runs, as byte spans.
fn tokens(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let letter = c.is_alphabetic() || (c == '\'' && start.is_some());
        match (letter, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// Whether a word after a trigger can be part of a name: the first word after a strong
/// trigger may be any word that is neither clinical nor a usual non-name; later words
/// (and words after weak triggers) must be in the name lists or look like a name
/// (capitalised in a text that is not all capitals, and not a common word).
fn candidate(raw: &str, first: bool, strong: bool, signature: bool, shouted: bool) -> bool {
    let w = fold(raw);
    if w.chars().count() < 2 || NOT_NAMES.contains(&w.as_str()) || is_trigger(&w) {
        return false;
    }
    if is_clinical(&w) && !is_surname(&w) && !is_given(&w) {
        return false;
    }
    if is_given(&w) || is_surname(&w) {
        return true;
    }
    let capitalised = raw.chars().next().is_some_and(char::is_uppercase);
    if first && signature {
        // "atte CIFUENTES": what follows a signature word is a name, common word or not.
        return w.chars().count() >= 3;
    }
    if first && strong {
        // "Dr. Vidal", "DR. LETELIER"; not "KINE PLAN" (a common word in capitals).
        return w.chars().count() >= 3
            && (!lexicon().is_common_word(&w) || capitalised && !shouted);
    }
    if first {
        // After a family word ("Hija Yasna"): a rare word, capitalised in ordinary text.
        return w.chars().count() >= 3 && !lexicon().is_common_word(&w) && (capitalised || shouted);
    }
    // A later word of a name: capitalised in ordinary text (surnames are often common
    // words too: "Cifuentes"), or a rare word in a text written in capitals.
    w.chars().count() >= 3
        && !PARTICLES.contains(&w.as_str())
        && if shouted {
            !lexicon().is_common_word(&w)
        } else {
            capitalised
        }
}

/// Whether a text is written in capitals (then capitals say nothing about names).
fn is_shouted(text: &str) -> bool {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let upper = text.chars().filter(|c| c.is_uppercase()).count();
    letters > 0 && upper * 10 >= letters * 7
}

/// A gap between a trigger and a name, or between two words of a name: spaces and light
/// punctuation, never a sentence end followed by more than a space.
fn light_gap(gap: &str, inside_name: bool) -> bool {
    if gap.chars().count() > 4 || gap.chars().any(|c| c.is_ascii_digit() || c == '\n') {
        return false;
    }
    if inside_name {
        !gap.is_empty() && gap.chars().all(|c| c == ' ' || c == '-')
    } else {
        gap.chars()
            .all(|c| matches!(c, ' ' | '.' | ':' | '(' | ')' | '|' | ',' | '-' | '/'))
    }
}

/// Names revealed by context, as byte spans.
pub fn by_context(text: &str) -> Vec<(usize, usize)> {
    let toks = tokens(text);
    let shouted = is_shouted(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let (a, b) = toks[i];
        let w = fold(&text[a..b]);
        if !is_trigger(&w) {
            i += 1;
            continue;
        }
        // "paciente"/"nombre" introduce a name only with a colon or a capitalised name
        // list word ("paciente Juan Pérez"), never "paciente evoluciona".
        let weak = w == "paciente" || w == "nombre";
        let strong = STRONG.contains(&w.as_str());
        let signature = matches!(
            w.as_str(),
            "atte" | "att" | "atentamente" | "firma" | "firmado"
        );
        let mut j = i + 1;
        let mut prev_end = b;
        while j < toks.len() {
            let (c, d) = toks[j];
            let wj = fold(&text[c..d]);
            if BRIDGES.contains(&wj.as_str()) && light_gap(&text[prev_end..c], false) {
                // A bridge must be followed by a name to count.
                prev_end = d;
                j += 1;
                continue;
            }
            break;
        }
        let mut k = j;
        let mut end = None;
        let mut first = true;
        while k < toks.len() && k < j + 4 {
            let (c, d) = toks[k];
            let gap_ok = light_gap(&text[prev_end..c], !first);
            let raw = &text[c..d];
            let ok = if weak && first {
                // "Paciente Yasna …" in ordinary text; in capitals only listed names.
                let wk = fold(raw);
                let capitalised = raw.chars().next().is_some_and(char::is_uppercase);
                capitalised
                    && !is_clinical(&wk)
                    && !NOT_NAMES.contains(&wk.as_str())
                    && (is_given(&wk)
                        || is_surname(&wk)
                        || !shouted && !lexicon().is_common_word(&wk) && wk.chars().count() >= 3)
            } else {
                candidate(raw, first, strong, signature, shouted)
            };
            if !gap_ok || !ok {
                break;
            }
            end = Some(d);
            prev_end = d;
            first = false;
            k += 1;
        }
        if let (Some(e), true) = (end, j < toks.len()) {
            out.push((toks[j].0, e));
            i = k;
        } else {
            i += 1;
        }
    }
    out
}

/// Every name in `text`: by context, known full names, known single words, and given
/// name + surname pairs.
pub fn find(text: &str, known: &[Vec<String>], alone: &HashSet<String>) -> Vec<(usize, usize)> {
    let mut out = by_context(text);
    let toks = tokens(text);
    let folded: Vec<String> = toks.iter().map(|&(a, b)| fold(&text[a..b])).collect();
    for name in known {
        if name.is_empty() {
            continue;
        }
        for i in 0..toks.len() {
            if i + name.len() <= toks.len()
                && folded[i..i + name.len()] == name[..]
                && (1..name.len()).all(|k| light_gap(&text[toks[i + k - 1].1..toks[i + k].0], true))
            {
                out.push((toks[i].0, toks[i + name.len() - 1].1));
            }
        }
    }
    for (i, w) in folded.iter().enumerate() {
        if alone.contains(w) {
            out.push(toks[i]);
        }
    }
    // Given name + surname(s), capitalised or in capitals.
    let mut i = 0;
    while i + 1 < toks.len() {
        let cap = |k: usize| {
            text[toks[k].0..]
                .chars()
                .next()
                .is_some_and(char::is_uppercase)
        };
        let w = &folded[i];
        if is_given(w) && !is_clinical(w) && !lexicon().is_common_word(w) && cap(i) {
            let mut k = i + 1;
            while k < toks.len()
                && k < i + 4
                && cap(k)
                && (is_surname(&folded[k]) || is_given(&folded[k]))
                && light_gap(&text[toks[k - 1].1..toks[k].0], true)
            {
                k += 1;
            }
            if k > i + 1 {
                out.push((toks[i].0, toks[k - 1].1));
                i = k;
                continue;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_finds_signatures_and_family() {
        let t = "EVOLUCIONA BIEN. ATTE SOTO. Dr(a)|Pérez indica alta. Hija Carmen refiere dolor.";
        let names: Vec<&str> = by_context(t).iter().map(|&(a, b)| &t[a..b]).collect();
        assert_eq!(names, ["SOTO", "Pérez", "Carmen"]);
    }

    #[test]
    fn clinical_words_are_never_names() {
        let t = "Dr. ceftriaxona. Paciente evoluciona. Hija de 45 años. Cirugía de Miles.";
        assert!(by_context(t).is_empty(), "{:?}", by_context(t));
    }
}
