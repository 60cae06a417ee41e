//! The `Patient`: identifier, name, sex and the age at discharge (an extension, since
//! FHIR's Patient has no age).

use super::values::insert_opt;
use crate::{EXT_AGE, UCUM};
use epicrisis_domain::{Episode, Sex};
use serde_json::{Value, json};

fn sex_code(s: Option<Sex>) -> &'static str {
    match s {
        Some(Sex::Female) => "female",
        Some(Sex::Male) => "male",
        Some(Sex::Other) => "other",
        None => "unknown",
    }
}

/// The Patient resource of the episode.
pub(super) fn patient(ep: &Episode) -> Value {
    let mut patient = json!({ "resourceType": "Patient", "gender": sex_code(ep.patient.sex) });
    if let Some(id) = &ep.patient.identifier {
        insert_opt(&mut patient, "identifier", Some(json!([{ "value": id }])));
    }
    if let Some(n) = &ep.patient.name {
        insert_opt(&mut patient, "name", Some(json!([{ "text": n }])));
    }
    if let Some(age) = ep.patient.age {
        insert_opt(
            &mut patient,
            "extension",
            Some(json!([{
                "url": EXT_AGE,
                "valueAge": {"value": age, "unit": "años", "system": UCUM, "code": "a"}
            }])),
        );
    }
    patient
}
