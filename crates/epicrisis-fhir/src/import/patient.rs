//! The person: `Patient` (identifier, name, sex, age or birth date) and the
//! `AllergyIntolerance` resources of their history.
//!
//! A Patient as CL Core (`CorePacienteCl`) and Chilean servers write it: several
//! identifiers (a record number often first), of which the RUN is the one kept; names
//! with the official one in parts and the second surname in an extension.

use super::Reader;
use super::json::{arr, concept_text, date_of, s};
use super::people::{patient_identifier, person_name};
use crate::EXT_AGE;
use epicrisis_domain::{Allergies, Date, Episode, Sex};
use serde_json::Value;

/// Reads the first `Patient` into the episode; gives back its birth date, from which
/// [`age_from_birth`] fills an age the resource did not state.
pub(super) fn read_patient(rd: &Reader<'_>, ep: &mut Episode) -> Option<Date> {
    if let Some(p) = rd.of_type("Patient").next() {
        let v = Value::Object(p.r.clone());
        ep.patient.identifier = match v.get("identifier") {
            Some(Value::Array(ids)) => patient_identifier(ids),
            Some(one) => patient_identifier(std::slice::from_ref(one)),
            None => None,
        };
        ep.patient.name = match v.get("name") {
            Some(Value::Array(names)) => person_name(names),
            Some(one) => person_name(std::slice::from_ref(one)),
            None => None,
        };
        ep.patient.sex = match s(&v, "gender") {
            Some("female") => Some(Sex::Female),
            Some("male") => Some(Sex::Male),
            Some("other") => Some(Sex::Other),
            _ => None,
        };
        ep.patient.age = arr(&v, "extension")
            .iter()
            .find(|e| s(e, "url") == Some(EXT_AGE))
            .and_then(|e| e.get("valueAge")?.get("value")?.as_f64())
            .map(|a| a as u32);
    }
    rd.of_type("Patient")
        .next()
        .and_then(|p| date_of(p.r.get("birthDate").and_then(Value::as_str)))
}

/// The age in years at discharge (else at admission) from the birth date, when the
/// Patient did not state it; needs the Encounter's period, so it runs after it.
pub(super) fn age_from_birth(ep: &mut Episode, birth: Option<Date>) {
    if let (Some(b), Some(end)) = (birth, ep.discharge_date.or(ep.admission_date))
        && ep.patient.age.is_none()
    {
        let mut age = end.year() - b.year();
        if (end.month(), end.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        ep.patient.age = u32::try_from(age).ok();
    }
}

/// Every `AllergyIntolerance` with a name becomes a known allergy.
pub(super) fn read_allergies(rd: &Reader<'_>, ep: &mut Episode) {
    for a in rd.of_type("AllergyIntolerance") {
        let v = Value::Object(a.r.clone());
        if let Some(name) = v.get("code").and_then(concept_text) {
            match &mut ep.history.allergies {
                Allergies::Known(list) => list.push(name),
                other => *other = Allergies::Known(vec![name]),
            }
        }
    }
}
