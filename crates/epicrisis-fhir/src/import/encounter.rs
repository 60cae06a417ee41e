//! The stay: the first `Encounter` (identifier, period, service, treating physician,
//! reason) and the roles it gives its diagnoses (`AD` admission, `DD` discharge).

use super::json::{arr, concept_text, date_of, first, has_code, s};
use super::{Reader, Roles};
use epicrisis_domain::Episode;
use serde_json::Value;

/// Reads the first `Encounter` into the episode; gives back the roles of the Conditions
/// that its `diagnosis` list names.
pub(super) fn read_encounter(rd: &Reader<'_>, ep: &mut Episode) -> Roles {
    let mut roles = Roles::new();
    if let Some(e) = rd.of_type("Encounter").next() {
        let v = Value::Object(e.r.clone());
        ep.id = first(&v, "identifier")
            .and_then(|i| s(i, "value"))
            .map(str::to_string);
        if let Some(p) = v.get("period") {
            ep.admission_date = date_of(s(p, "start"));
            ep.discharge_date = date_of(s(p, "end"));
        }
        ep.service = first(&v, "serviceType").and_then(concept_text);
        ep.physician = arr(&v, "participant")
            .iter()
            .find_map(|p| s(p.get("individual")?, "display").map(str::to_string));
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
