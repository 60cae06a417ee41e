//! The stay: the first `Encounter` (identifier, period, service, treating physician,
//! reason) and the roles it gives its diagnoses (`AD` admission, `DD` discharge).

use super::json::{arr, concept_text, date_of, first, has_code, s};
use super::people::person_name;
use super::{Reader, Roles};
use epicrisis_domain::Episode;
use serde_json::Value;

/// The name of a participant: its `display`, else the name of the Practitioner it
/// references (through a PractitionerRole's `practitioner` too).
fn participant_name(rd: &Reader<'_>, p: &Value) -> Option<String> {
    let individual = p.get("individual")?;
    if let Some(d) = s(individual, "display") {
        return Some(d.to_string());
    }
    let mut res = rd.resolve(individual)?;
    if res.r.get("resourceType").and_then(Value::as_str) == Some("PractitionerRole") {
        res = rd.resolve(res.r.get("practitioner")?)?;
    }
    let v = Value::Object(res.r.clone());
    match v.get("resourceType").and_then(Value::as_str) {
        Some("Practitioner") => person_name(arr(&v, "name")),
        _ => None,
    }
}

/// The treating physician: the attending (`ATND`) or primary performer (`PPRF`) first,
/// then the other participants in order; the first with a name.
fn physician(rd: &Reader<'_>, encounter: &Value) -> Option<String> {
    let attending = |p: &&Value| {
        arr(p, "type")
            .iter()
            .any(|t| has_code(t, "ATND") || has_code(t, "PPRF"))
    };
    let parts = arr(encounter, "participant");
    let others = parts.iter().filter(|p| !attending(p));
    parts
        .iter()
        .filter(attending)
        .chain(others)
        .find_map(|p| participant_name(rd, p))
}

/// Reads the first `Encounter` into the episode; gives back the roles of the Conditions
/// that its `diagnosis` list names.
pub(super) fn read_encounter(rd: &Reader<'_>, ep: &mut Episode) -> Roles {
    let mut roles = Roles::new();
    if let Some(e) = rd.of_type("Encounter").next() {
        let v = Value::Object(e.r.clone());
        // The hospital's episode number; an Encounter without one that was read from a
        // server (its entry's fullUrl is an address there) is known by its id on that
        // server, which a later pull finds again. A document's own ids (urn:uuid) are not
        // episode numbers.
        let on_server = e
            .full_url
            .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://"));
        ep.id = first(&v, "identifier")
            .and_then(|i| s(i, "value"))
            .or_else(|| s(&v, "id").filter(|id| on_server && !id.trim().is_empty()))
            .map(str::to_string);
        if let Some(p) = v.get("period") {
            ep.admission_date = date_of(s(p, "start"));
            ep.discharge_date = date_of(s(p, "end"));
        }
        ep.service = first(&v, "serviceType").and_then(concept_text);
        ep.physician = physician(rd, &v);
        ep.reason = first(&v, "reasonCode").and_then(concept_text);
        for d in arr(&v, "diagnosis") {
            if let Some(c) = d.get("condition").and_then(|c| rd.resolve(c)) {
                let key = rd.key_of(c);
                let discharge = match d.get("use") {
                    Some(u) if has_code(u, "AD") => false,
                    Some(u) if has_code(u, "DD") => true,
                    _ => continue,
                };
                roles.insert(key, discharge);
            }
        }
    }
    roles
}
