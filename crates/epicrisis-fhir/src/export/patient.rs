//! The `Patient` (CL Core `CorePacienteCl`): identifier, name, sex and the age at
//! discharge (an extension, since FHIR's Patient has no age).
//!
//! `CorePacienteCl` requires no element; it asks for the RUN among the identifiers when
//! the patient has one, typed and with the issuing country, and for the official name in
//! parts. So every Patient claims it: an identifier that is a valid RUN is written the
//! CL Core way, any other identifier (a record number) stays a plain one, and the name
//! keeps its text, with parts only where [`super::names::split`] can tell them.

use super::names::human_name;
use super::values::{insert_opt, profile};
use crate::{EXT_AGE, UCUM, clcore};
use epicrisis_domain::run;
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

/// The patient's identifier: a RUN (normalised `12345678-5`) typed `01` of
/// `CSTipoIdentificador`, `official`, issued by Chile (ISO 3166 `152`); anything else as
/// written, with no type (we do not know what it is).
pub(super) fn identifier(id: &str) -> Value {
    match run::normalise(id) {
        Some(run) => json!({
            "use": "official",
            "type": {
                "extension": [{
                    "url": clcore::EXT_COUNTRY,
                    "valueCodeableConcept": {
                        "coding": [{"system": clcore::ISO_3166, "code": clcore::CHILE, "display": "Chile"}]
                    }
                }],
                "coding": [{"system": clcore::ID_TYPE, "code": clcore::ID_TYPE_RUN, "display": "RUN"}]
            },
            "value": run,
        }),
        None => json!({ "value": id }),
    }
}

/// The Patient resource of the episode.
pub(super) fn patient(ep: &Episode) -> Value {
    let mut patient = json!({
        "resourceType": "Patient",
        "meta": profile(clcore::PATIENT),
        "gender": sex_code(ep.patient.sex),
    });
    if let Some(id) = &ep.patient.identifier {
        insert_opt(&mut patient, "identifier", Some(json!([identifier(id)])));
    }
    if let Some(n) = &ep.patient.name {
        insert_opt(&mut patient, "name", Some(json!([human_name(n)])));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_typed_and_normalised() {
        let id = identifier("12.345.678-5");
        assert_eq!(id["value"], "12345678-5");
        assert_eq!(id["use"], "official");
        assert_eq!(id["type"]["coding"][0]["system"], clcore::ID_TYPE);
        assert_eq!(id["type"]["coding"][0]["code"], "01");
        let country = &id["type"]["extension"][0];
        assert_eq!(country["url"], clcore::EXT_COUNTRY);
        assert_eq!(country["valueCodeableConcept"]["coding"][0]["code"], "152");
    }

    #[test]
    fn other_identifiers_stay_plain() {
        for id in ["1416169", "12.345.678-9", "FC-00123"] {
            assert_eq!(identifier(id), json!({ "value": id }), "{id}");
        }
    }
}
