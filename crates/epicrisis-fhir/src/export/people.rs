//! Who the document names besides the patient: the treating physician and the signer as
//! `Practitioner` (CL Core `CorePrestadorCl`), the hospital as `Organization`
//! (`CoreOrganizacionCl`). The Encounter, and the Composition's author, attester and
//! custodian reference them (keeping the name as `display` too).

use super::names::human_name;
use super::values::profile;
use super::{Builder, Refs};
use crate::clcore;
use epicrisis_domain::Episode;
use epicrisis_domain::text::fold_words;
use serde_json::{Value, json};

/// A Practitioner known only by name. `CorePrestadorCl` asks nothing more: its
/// identifier slices (RUN, RNPI…) are optional and its names must be `official`.
fn practitioner(name: &str) -> Value {
    json!({
        "resourceType": "Practitioner",
        "meta": profile(clcore::PRACTITIONER),
        "name": [human_name(name)],
    })
}

/// The hospital by name (`CoreOrganizacionCl` requires no element).
fn organization(name: &str) -> Value {
    json!({
        "resourceType": "Organization",
        "meta": profile(clcore::ORGANIZATION),
        "name": name,
    })
}

/// Writes the treating physician, the signer when it is someone else, and the hospital;
/// records their references in `refs`.
pub(super) fn push_people(b: &mut Builder<'_>, ep: &Episode, refs: &mut Refs) {
    let info = b.info;
    if let Some(p) = ep.physician.as_deref().filter(|p| !p.trim().is_empty()) {
        let r = b.push("practitioner", practitioner(p));
        refs.practitioners.push((p.to_string(), r));
    }
    if let Some(a) = info
        .attester
        .as_ref()
        .filter(|a| !a.party.trim().is_empty())
        && refs.practitioner(&a.party).is_none()
    {
        let r = b.push("attester", practitioner(&a.party));
        refs.practitioners.push((a.party.clone(), r));
    }
    if let Some(c) = info.custodian.as_deref().filter(|c| !c.trim().is_empty()) {
        refs.organization = Some((c.to_string(), b.push("organization", organization(c))));
    }
}

/// Whether two spellings name the same person («Dra. Ana Soto» and «DRA ANA SOTO»).
pub(super) fn same_person(a: &str, b: &str) -> bool {
    let a = fold_words(a);
    !a.is_empty() && a == fold_words(b)
}

/// A reference to `reference` that also names it.
pub(super) fn named_reference(reference: Option<&str>, display: &str) -> Value {
    match reference {
        Some(r) => json!({ "reference": r, "display": display }),
        None => json!({ "display": display }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_person_ignores_case_accents_and_dots() {
        assert!(same_person(
            "Dra. Carolina Muñoz Peña",
            "DRA CAROLINA MUNOZ PENA"
        ));
        assert!(!same_person("Dra. Carolina Muñoz Peña", "Dr. Íñigo Ñúñez"));
        assert!(!same_person("", ""));
    }

    #[test]
    fn practitioner_meets_its_profile() {
        let p = practitioner("Dr. Íñigo Ñúñez");
        assert_eq!(p["meta"]["profile"][0], clcore::PRACTITIONER);
        assert_eq!(p["name"][0]["use"], "official");
        assert_eq!(p["name"][0]["text"], "Dr. Íñigo Ñúñez");
        assert!(p["name"][0].get("family").is_none(), "no guessed surname");
    }
}
