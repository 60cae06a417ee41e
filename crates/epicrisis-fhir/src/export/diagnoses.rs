//! `Condition` (the admission and discharge diagnoses, CIE-10; CL Core
//! `CoreDiagnosticoCl`, whose rules (status codes from FHIR's value sets, onset as a
//! dateTime or Period, subject a `CorePacienteCl`) these meet by writing no status and
//! no onset) and `Procedure` (ICD-9-CM or the hospital's own codes; CL Core has no
//! Procedure profile).

use super::Builder;
use super::values::{date, insert_opt, profile};
use crate::{ICD9CM, ICD10, LOCAL_PROCEDURE, clcore};
use epicrisis_domain::{Diagnosis, Episode, Procedure};
use serde_json::{Map, Value, json};

/// Writes the admission diagnoses, then the discharge ones; gives back their references
/// with their role (`true`: discharge).
pub(super) fn push_conditions(b: &mut Builder<'_>, ep: &Episode) -> Vec<(String, bool)> {
    let mut cond_refs: Vec<(String, bool)> = Vec::new();
    for (i, d) in ep.admission_diagnoses.iter().enumerate() {
        let c = condition(b, d, false, ep);
        cond_refs.push((b.push(&format!("condition-admission-{i}"), c), false));
    }
    for (i, d) in ep.discharge_diagnoses.iter().enumerate() {
        let c = condition(b, d, true, ep);
        cond_refs.push((b.push(&format!("condition-discharge-{i}"), c), true));
    }
    cond_refs
}

/// Writes the procedures; gives back their references.
pub(super) fn push_procedures(b: &mut Builder<'_>, ep: &Episode) -> Vec<String> {
    let mut proc_refs = Vec::new();
    for (i, p) in ep.procedures.iter().enumerate() {
        let v = procedure(b, p);
        proc_refs.push(b.push(&format!("procedure-{i}"), v));
    }
    proc_refs
}

fn condition(b: &Builder<'_>, d: &Diagnosis, discharge: bool, ep: &Episode) -> Value {
    let mut code = Map::new();
    if let Some(c) = &d.code {
        code.insert(
            "coding".into(),
            json!([{"system": ICD10, "code": c.display(), "display": d.name}]),
        );
    }
    code.insert("text".into(), json!(d.name));
    let mut v = json!({
        "resourceType": "Condition",
        "meta": profile(clcore::CONDITION),
        "category": [{
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                "code": "encounter-diagnosis",
                "display": "Encounter Diagnosis"
            }],
            "text": if discharge { "Diagnóstico de egreso" } else { "Diagnóstico de ingreso" }
        }],
        "code": Value::Object(code),
        "subject": {"reference": b.reference("patient")},
        "encounter": {"reference": b.reference("encounter")},
    });
    let when = if discharge {
        ep.discharge_date
    } else {
        ep.admission_date
    };
    insert_opt(&mut v, "recordedDate", when.map(date));
    v
}

fn procedure(b: &Builder<'_>, p: &Procedure) -> Value {
    let mut code = Map::new();
    if let Some(c) = &p.code {
        let system = match &c.parsed {
            Some(pc) if pc.is_icd9_shape() => ICD9CM,
            _ => LOCAL_PROCEDURE,
        };
        code.insert(
            "coding".into(),
            json!([{"system": system, "code": c.display(), "display": p.name}]),
        );
    }
    code.insert("text".into(), json!(p.name));
    let mut v = json!({
        "resourceType": "Procedure",
        "status": "completed",
        "code": Value::Object(code),
        "subject": {"reference": b.reference("patient")},
        "encounter": {"reference": b.reference("encounter")},
    });
    insert_opt(&mut v, "performedDateTime", p.date.map(date));
    v
}
