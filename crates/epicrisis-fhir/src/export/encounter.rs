//! The `Encounter` of the stay (CL Core `EncounterCL`): identifier, service, treating
//! physician, period, reason, the hospital, and its diagnoses with their role (`AD`
//! admission, `DD` discharge) and rank.
//!
//! `EncounterCL` asks each participant for an `individual` (a `CorePrestadorCl`
//! Practitioner here), its diagnoses to be `CoreDiagnosticoCl` Conditions and its
//! `serviceProvider` a `CoreOrganizacionCl`: all three are written that way.

use super::Refs;
use super::people::named_reference;
use super::values::{insert_opt, period, profile};
use crate::clcore;
use epicrisis_domain::Episode;
use serde_json::{Value, json};

/// The Encounter resource; `refs` gives the Patient, the Practitioners, the hospital and
/// the Conditions it names.
pub(super) fn encounter(ep: &Episode, refs: &Refs) -> Value {
    let mut encounter = json!({
        "resourceType": "Encounter",
        "meta": profile(clcore::ENCOUNTER),
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "IMP",
            "display": "inpatient encounter"
        },
        "subject": {"reference": refs.patient},
    });
    if let Some(id) = &ep.id {
        insert_opt(&mut encounter, "identifier", Some(json!([{ "value": id }])));
    }
    if let Some(s) = &ep.service {
        insert_opt(&mut encounter, "serviceType", Some(json!({ "text": s })));
    }
    if let Some(p) = ep.physician.as_deref().filter(|p| !p.trim().is_empty()) {
        insert_opt(
            &mut encounter,
            "participant",
            Some(json!([{
                "type": [{
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                        "code": "ATND",
                        "display": "attender"
                    }]
                }],
                "individual": named_reference(refs.practitioner(p), p)
            }])),
        );
    }
    if let Some((name, r)) = &refs.organization {
        insert_opt(
            &mut encounter,
            "serviceProvider",
            Some(named_reference(Some(r), name)),
        );
    }
    insert_opt(
        &mut encounter,
        "period",
        period(ep.admission_date, ep.discharge_date),
    );
    if let Some(r) = &ep.reason {
        insert_opt(&mut encounter, "reasonCode", Some(json!([{ "text": r }])));
    }
    if !refs.conditions.is_empty() {
        insert_opt(
            &mut encounter,
            "diagnosis",
            Some(diagnoses(&refs.conditions)),
        );
    }
    encounter
}

/// `Encounter.diagnosis`: each Condition with its role, ranked within its role.
fn diagnoses(conditions: &[(String, bool)]) -> Value {
    let mut rank = [0u32; 2];
    let diags: Vec<Value> = conditions
        .iter()
        .map(|(r, discharge)| {
            let k = usize::from(*discharge);
            rank[k] += 1;
            let (code, display) = if *discharge {
                ("DD", "Discharge diagnosis")
            } else {
                ("AD", "Admission diagnosis")
            };
            json!({
                "condition": {"reference": r},
                "use": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/diagnosis-role",
                    "code": code,
                    "display": display
                }]},
                "rank": rank[k]
            })
        })
        .collect();
    Value::Array(diags)
}
