//! People as hospital servers send them: which of a Patient's identifiers is the RUN, and
//! a person's name from a list of `HumanName`s (CL Core's official name, with the second
//! surname in the `SegundoApellido` extension).

use super::json::{arr, s};
use epicrisis_domain::text::fold_words;
use serde_json::Value;

/// Words of a lower-cased string split at anything that is not a letter or a digit.
fn has_word(text: &str, words: &[&str]) -> bool {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| words.contains(&w))
}

/// A type coding that says RUN: CL Core's `CSTipoIdentificador` `01`, Minsal's
/// `TipodeIdentificador` `1` («RUN Principal»), or the Chilean identity card `NNCHL`
/// (CL Core's `CSCodigoDNI`, also read in HL7 v2's `NN` + country form).
fn run_coding(c: &Value) -> bool {
    let system = s(c, "system").unwrap_or("").to_ascii_lowercase();
    let code = s(c, "code").unwrap_or("");
    let id_types = [
        "tipoidentificador",
        "tipodeidentificador",
        "tipo-identificador",
    ];
    let typed = id_types.iter().any(|t| system.contains(t)) && matches!(code, "01" | "1");
    typed || code.eq_ignore_ascii_case("NNCHL")
}

/// Whether an `Identifier` is the patient's RUN: by its type (see [`run_coding`], or a
/// type text «RUN» / «RUT»), or by a system that names a RUN or RUT
/// (`http://regcivil.cl/Validacion/RUN`, `…/run`). The value itself is not checked: a
/// server that says RUN is believed.
pub(super) fn is_run(id: &Value) -> bool {
    let ty = id.get("type");
    let by_type = ty.is_some_and(|t| {
        arr(t, "coding").iter().any(run_coding)
            || s(t, "text").is_some_and(|x| has_word(x, &["run", "rut"]))
    });
    by_type || s(id, "system").is_some_and(|x| has_word(x, &["run", "rut"]))
}

/// The patient's identifier: the RUN when one of them is (an `old` one only when no
/// other is), else the first with a value; as sent (`12.345.678-5` stays so).
pub(super) fn patient_identifier(ids: &[Value]) -> Option<String> {
    let with_value = || ids.iter().filter(|i| s(i, "value").is_some());
    let current = |i: &&Value| s(i, "use") != Some("old");
    with_value()
        .find(|i| is_run(i) && current(i))
        .or_else(|| with_value().find(|i| is_run(i)))
        .or_else(|| with_value().find(current))
        .or_else(|| with_value().next())
        .and_then(|i| s(i, "value"))
        .map(str::to_string)
}

/// The second surnames on a name's `family` (`_family.extension`, CL Core's
/// `SegundoApellido`, whose URL moves from hl7chile.cl to Minsal's in CL Core 2.0).
fn second_surnames(n: &Value) -> Vec<&str> {
    let Some(ext) = n.get("_family") else {
        return Vec::new();
    };
    arr(ext, "extension")
        .iter()
        .filter(|e| s(e, "url").is_some_and(|u| u.ends_with("/SegundoApellido")))
        .filter_map(|e| s(e, "valueString"))
        .collect()
}

/// One `HumanName` as a string: its `text`, else the given names, the family name and
/// the second surname (unless the family name already ends with it).
fn name_text(n: &Value) -> Option<String> {
    if let Some(t) = s(n, "text") {
        return Some(t.to_string());
    }
    let mut words: Vec<&str> = arr(n, "given")
        .iter()
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .collect();
    let family = s(n, "family");
    words.extend(family);
    for second in second_surnames(n) {
        let folded = fold_words(second);
        let repeated = family.is_some_and(|f| fold_words(f).ends_with(&folded));
        if !repeated {
            words.push(second);
        }
    }
    (!words.is_empty()).then(|| words.join(" "))
}

/// A person's name from their `name` list: the `official` one first (CL Core's
/// NombreOficial, not the social name), then the others in order, `old` ones last.
pub(super) fn person_name(names: &[Value]) -> Option<String> {
    let rank = |n: &Value| match s(n, "use") {
        Some("official") => 0,
        Some("old") => 2,
        _ => 1,
    };
    let mut ordered: Vec<&Value> = names.iter().collect();
    ordered.sort_by_key(|n| rank(n));
    ordered.into_iter().find_map(name_text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_run_is_found_by_type_or_system() {
        let runs = [
            json!({"type": {"coding": [{"system": "https://hl7chile.cl/fhir/ig/clcore/CodeSystem/CSTipoIdentificador", "code": "01"}]}, "value": "1"}),
            json!({"type": {"coding": [{"system": "https://interoperabilidad.minsal.cl/fhir/ig/eis/CodeSystem/eis-TipodeIdentificador-CS", "code": "1"}]}, "value": "1"}),
            json!({"type": {"coding": [{"system": "https://hl7chile.cl/fhir/ig/clcore/CodeSystem/CSCodigoDNI", "code": "NNCHL"}]}, "value": "1"}),
            json!({"type": {"text": "RUT"}, "value": "1"}),
            json!({"system": "http://regcivil.cl/Validacion/RUN", "value": "1"}),
            json!({"system": "https://hospital.example/fhir/sid/run", "value": "1"}),
            json!({"system": "urn:cl:rut", "value": "1"}),
        ];
        for id in &runs {
            assert!(is_run(id), "{id}");
        }
        let others = [
            json!({"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "value": "1"}),
            json!({"type": {"coding": [{"system": "https://hl7chile.cl/fhir/ig/clcore/CodeSystem/CSTipoIdentificador", "code": "03"}]}, "value": "1"}),
            json!({"type": {"coding": [{"system": "https://hl7chile.cl/fhir/ig/clcore/CodeSystem/CSTipoIdentificador", "code": "13"}]}, "value": "1"}),
            json!({"system": "https://hospital.example/ruta/ficha", "value": "1"}),
            json!({"system": "https://hospital.example/mrn", "value": "1"}),
            json!({"value": "12.345.678-5"}),
        ];
        for id in &others {
            assert!(!is_run(id), "{id}");
        }
    }

    #[test]
    fn the_run_wins_over_a_first_record_number() {
        let ids = [
            json!({"use": "usual", "type": {"coding": [{"code": "MR"}]}, "value": "MRN-0042"}),
            json!({"system": "http://regcivil.cl/Validacion/RUN", "value": "12.345.678-5"}),
        ];
        assert_eq!(patient_identifier(&ids).as_deref(), Some("12.345.678-5"));
        // No RUN: the first with a value.
        let ids = [
            json!({"system": "x"}),
            json!({"value": "MRN-0042"}),
            json!({"value": "B"}),
        ];
        assert_eq!(patient_identifier(&ids).as_deref(), Some("MRN-0042"));
        // An old RUN loses to a current one.
        let run = |v: &str, u: &str| json!({"use": u, "type": {"text": "RUN"}, "value": v});
        let ids = [run("1-9", "old"), run("12345678-5", "official")];
        assert_eq!(patient_identifier(&ids).as_deref(), Some("12345678-5"));
        assert_eq!(patient_identifier(&[]), None);
    }

    #[test]
    fn names_from_text_or_parts() {
        let cl = json!({"use": "official", "family": "Quiroga",
            "_family": {"extension": [{"url": "https://hl7chile.cl/fhir/ig/clcore/StructureDefinition/SegundoApellido", "valueString": "Fuentes"}]},
            "given": ["Rosa", "Elena"]});
        assert_eq!(
            name_text(&cl).as_deref(),
            Some("Rosa Elena Quiroga Fuentes")
        );
        // Minsal's extension URL (CL Core 2.0) reads the same.
        let minsal = json!({"family": "Soto",
            "_family": {"extension": [{"url": "https://interoperabilidad.minsal.cl/fhir/ig/eis/StructureDefinition/SegundoApellido", "valueString": "Vidal"}]},
            "given": ["Carmen"]});
        assert_eq!(name_text(&minsal).as_deref(), Some("Carmen Soto Vidal"));
        // A family name that already holds both surnames is not doubled.
        let both = json!({"family": "Quiroga Fuentes", "given": ["Rosa"],
            "_family": {"extension": [{"url": "x/SegundoApellido", "valueString": "Fuentes"}]}});
        assert_eq!(name_text(&both).as_deref(), Some("Rosa Quiroga Fuentes"));
        let text = json!({"text": "Quiroga Fuentes, Rosa Elena", "family": "Quiroga"});
        assert_eq!(
            name_text(&text).as_deref(),
            Some("Quiroga Fuentes, Rosa Elena")
        );
        assert_eq!(name_text(&json!({"use": "official"})), None);
    }

    #[test]
    fn the_official_name_wins_over_the_social_one() {
        let names = [
            json!({"use": "usual", "given": ["Xime"]}),
            json!({"use": "old", "text": "Antiguo"}),
            json!({"use": "official", "family": "Rosales", "given": ["Marietta", "María"]}),
        ];
        assert_eq!(
            person_name(&names).as_deref(),
            Some("Marietta María Rosales")
        );
        let names = [
            json!({"use": "old", "text": "Antiguo"}),
            json!({"given": ["Xime"]}),
        ];
        assert_eq!(person_name(&names).as_deref(), Some("Xime"));
    }
}
