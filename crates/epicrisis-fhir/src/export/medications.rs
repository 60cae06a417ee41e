//! Drugs: `MedicationStatement` for the in-hospital treatments and `MedicationRequest`
//! (category `discharge`) for the discharge prescription, with ATC code and dosage.

use super::Builder;
use super::values::{date, insert_opt, period};
use crate::{ATC, EXT_ITEM_KIND, dosage};
use epicrisis_domain::{Episode, ItemKind, Medication};
use serde_json::{Map, Value, json};

/// Writes the in-hospital treatments; gives back their references.
pub(super) fn push_treatments(b: &mut Builder<'_>, ep: &Episode) -> Vec<String> {
    let mut tx_refs = Vec::new();
    for (i, m) in ep.treatments.iter().enumerate() {
        let v = statement(b, m);
        tx_refs.push(b.push(&format!("treatment-{i}"), v));
    }
    tx_refs
}

/// Writes the discharge prescription; gives back its references.
pub(super) fn push_discharge_medications(b: &mut Builder<'_>, ep: &Episode) -> Vec<String> {
    let mut rx_refs = Vec::new();
    for (i, m) in ep.discharge.medications.iter().enumerate() {
        let v = request(b, m, ep);
        rx_refs.push(b.push(&format!("discharge-medication-{i}"), v));
    }
    rx_refs
}

fn medication_concept(m: &Medication) -> Value {
    let mut c = Map::new();
    if let Some(code) = &m.code {
        c.insert(
            "coding".into(),
            json!([{"system": ATC, "code": code.display(), "display": m.name}]),
        );
    }
    c.insert("text".into(), json!(m.name));
    Value::Object(c)
}

fn kind_extension(m: &Medication) -> Option<Value> {
    let k = match m.kind {
        ItemKind::Drug => return None,
        ItemKind::Therapy => "therapy",
        ItemKind::Control => "control",
    };
    Some(json!([{ "url": EXT_ITEM_KIND, "valueCode": k }]))
}

fn notes(m: &Medication) -> Option<Value> {
    (!m.notes.is_empty())
        .then(|| Value::Array(m.notes.iter().map(|n| json!({"text": n})).collect()))
}

fn statement(b: &Builder<'_>, m: &Medication) -> Value {
    let mut v = json!({
        "resourceType": "MedicationStatement",
        "status": "completed",
        "category": {
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/medication-statement-category",
                "code": "inpatient",
                "display": "Inpatient"
            }]
        },
        "medicationCodeableConcept": medication_concept(m),
        "subject": {"reference": b.reference("patient")},
        "context": {"reference": b.reference("encounter")},
    });
    insert_opt(&mut v, "extension", kind_extension(m));
    insert_opt(&mut v, "effectivePeriod", period(m.start, m.end));
    insert_opt(&mut v, "note", notes(m));
    insert_opt(&mut v, "dosage", dosage::instructions(m));
    v
}

fn request(b: &Builder<'_>, m: &Medication, ep: &Episode) -> Value {
    let mut v = json!({
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "category": [{
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                "code": "discharge",
                "display": "Discharge"
            }]
        }],
        "medicationCodeableConcept": medication_concept(m),
        "subject": {"reference": b.reference("patient")},
        "encounter": {"reference": b.reference("encounter")},
    });
    insert_opt(&mut v, "extension", kind_extension(m));
    insert_opt(&mut v, "authoredOn", ep.discharge_date.map(date));
    insert_opt(&mut v, "note", notes(m));
    insert_opt(&mut v, "dosageInstruction", dosage::instructions(m));
    if let Some(p) = period(m.start, m.end) {
        insert_opt(
            &mut v,
            "dispenseRequest",
            Some(json!({ "validityPeriod": p })),
        );
    }
    v
}
