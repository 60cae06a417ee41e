//! A person's name as a FHIR `HumanName`: the domain holds one string, which is always
//! written as `text`; given names, first surname (`family`) and second surname (CL Core's
//! `SegundoApellido` extension) are added only when the string says which is which.
//!
//! «Rosa Elena Quiroga Fuentes» does not: «Juan Carlos Pérez» may be two given names and
//! one surname or one given name and two surnames, and surnames can have several words
//! («del Río», «San Martín»). The one unambiguous shape is the register's «surnames,
//! given names» (`Quiroga Fuentes, Rosa Elena`), and it is split only when plain: one or
//! two surnames of one word each, one to four given names, every word capitalised and
//! none of them a particle (de, del, la, san…) or a suffix (jr., hijo).

use crate::clcore;
use epicrisis_domain::text::fold;
use serde_json::{Value, json};

/// The parts of a name that [`split`] could tell apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NameParts {
    pub given: Vec<String>,
    pub family: String,
    pub second_surname: Option<String>,
}

/// Words that make a surname or a given name of several words, or that are not names.
const NOT_A_NAME: &[&str] = &[
    "de", "del", "la", "las", "los", "lo", "y", "e", "da", "das", "do", "dos", "di", "du", "van",
    "von", "der", "den", "ten", "ter", "le", "mac", "mc", "san", "santa", "santo", "st", "jr",
    "sr", "hijo", "ii", "iii",
];

/// A word that can only be one name: letters (hyphens and apostrophes inside), starting
/// with a capital, not a particle.
fn plain_word(w: &str) -> bool {
    let mut chars = w.chars();
    let starts_upper = chars.next().is_some_and(char::is_uppercase);
    starts_upper
        && w.chars()
            .all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '’'))
        && !w.ends_with(['-', '\'', '’'])
        && !NOT_A_NAME.contains(&fold(w).as_str())
}

/// Given names, first surname and second surname of `Surnames, Given names`; `None` for
/// any other shape (see the module's documentation).
pub(super) fn split(text: &str) -> Option<NameParts> {
    let (surnames, given) = text.split_once(',')?;
    if given.contains(',') {
        return None;
    }
    let surnames: Vec<&str> = surnames.split_whitespace().collect();
    let given: Vec<&str> = given.split_whitespace().collect();
    let shape_ok = matches!(surnames.len(), 1 | 2) && (1..=4).contains(&given.len());
    if !shape_ok || !surnames.iter().chain(&given).all(|w| plain_word(w)) {
        return None;
    }
    Some(NameParts {
        given: given.iter().map(|w| w.to_string()).collect(),
        family: surnames[0].to_string(),
        second_surname: surnames.get(1).map(|w| w.to_string()),
    })
}

/// The `HumanName` of a person: `use` official (the name the hospital registered),
/// `text` as written, and the parts when [`split`] finds them.
pub(super) fn human_name(text: &str) -> Value {
    let mut name = json!({ "use": "official", "text": text });
    if let (Some(p), Some(m)) = (split(text), name.as_object_mut()) {
        m.insert("family".into(), json!(p.family));
        if let Some(second) = p.second_surname {
            m.insert(
                "_family".into(),
                json!({"extension": [{"url": clcore::EXT_SECOND_SURNAME, "valueString": second}]}),
            );
        }
        m.insert("given".into(), json!(p.given));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(given: &[&str], family: &str, second: Option<&str>) -> Option<NameParts> {
        Some(NameParts {
            given: given.iter().map(|s| s.to_string()).collect(),
            family: family.into(),
            second_surname: second.map(str::to_string),
        })
    }

    #[test]
    fn splits_the_registers_shape() {
        assert_eq!(
            split("Quiroga Fuentes, Rosa Elena"),
            parts(&["Rosa", "Elena"], "Quiroga", Some("Fuentes"))
        );
        assert_eq!(
            split("PÉREZ-COTAPOS O'RYAN, MARÍA JOSÉ"),
            parts(&["MARÍA", "JOSÉ"], "PÉREZ-COTAPOS", Some("O'RYAN"))
        );
        assert_eq!(split("Muñoz, Ana"), parts(&["Ana"], "Muñoz", None));
    }

    #[test]
    fn leaves_ambiguous_names_whole() {
        for s in [
            "Rosa Elena Quiroga Fuentes", // no comma: which words are surnames?
            "Juan Carlos Pérez",
            "del Río Soto, Ana", // a surname of two words
            "Del Río, Ana",      // capitalised particle
            "San Martín, José",
            "Pérez, María de los Ángeles", // a given name of several words
            "Juan Pérez, Jr",              // a suffix, not given names
            "Pérez Soto Vidal, Ana",       // three surnames?
            "Pérez, Dr. Juan",
            "Pérez, ana",
            "Pérez, ",
            ", Ana",
            "Pérez, Ana, Soto",
            "Pérez, Ana María José Luisa Inés",
        ] {
            assert_eq!(split(s), None, "{s}");
        }
    }

    #[test]
    fn human_name_keeps_the_text() {
        let n = human_name("Quiroga Fuentes, Rosa Elena");
        assert_eq!(n["use"], "official");
        assert_eq!(n["text"], "Quiroga Fuentes, Rosa Elena");
        assert_eq!(n["family"], "Quiroga");
        assert_eq!(n["given"], json!(["Rosa", "Elena"]));
        assert_eq!(
            n["_family"]["extension"][0]["url"],
            clcore::EXT_SECOND_SURNAME
        );
        assert_eq!(n["_family"]["extension"][0]["valueString"], "Fuentes");
        let whole = human_name("Rosa Elena Quiroga Fuentes");
        assert_eq!(
            whole,
            json!({"use": "official", "text": "Rosa Elena Quiroga Fuentes"})
        );
    }
}
