//! Laboratory `Observation`s (CL Core `CoreObservacionCL`: final status, laboratory
//! category, subject and encounter of CL Core profiles): the first and last value of
//! each test (with the stay's minimum and maximum on the first), and qualitative results
//! as `valueString`.

use super::Builder;
use super::values::{date, insert_opt, num, profile};
use crate::{EXT_LAB_PERIOD, EXT_LAB_ROLE, clcore};
use epicrisis_domain::{Date, Episode, LabFinding, LabStatus, LabSummary, LabValue};
use serde_json::{Map, Value, json};

/// Writes each test's first and last value, then the qualitative results; gives back
/// their references.
pub(super) fn push_labs(b: &mut Builder<'_>, ep: &Episode) -> Vec<String> {
    let mut lab_refs = Vec::new();
    for (i, l) in ep.labs.iter().enumerate() {
        let v = observation(b, l, &l.first, false);
        lab_refs.push(b.push(&format!("lab-{i}-first"), v));
        if let Some(last) = &l.last {
            let v = observation(b, l, last, true);
            lab_refs.push(b.push(&format!("lab-{i}-last"), v));
        }
    }
    for (i, f) in ep.lab_findings.iter().enumerate() {
        let v = finding_observation(b, f);
        lab_refs.push(b.push(&format!("lab-finding-{i}"), v));
    }
    lab_refs
}

fn interpretation(s: LabStatus) -> Option<Value> {
    let (code, display) = match s {
        LabStatus::Normal => ("N", "Normal"),
        LabStatus::High => ("H", "High"),
        LabStatus::Low => ("L", "Low"),
        LabStatus::Unclassified => return None,
    };
    Some(json!([{
        "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            "code": code,
            "display": display
        }]
    }]))
}

fn quantity(v: f64, unit: Option<&str>) -> Value {
    let mut q = json!({ "value": num(v) });
    insert_opt(&mut q, "unit", unit.map(|u| json!(u)));
    q
}

/// A FHIR `dateTime` for a lab value: the timestamp when it carries a time zone, else
/// the date (a local time without zone is not a valid FHIR `dateTime`).
fn lab_when(v: &LabValue) -> Option<Value> {
    result_when(v.timestamp.as_deref(), v.date)
}

/// A result's time: the timestamp when it carries a zone (FHIR requires one with a
/// time), otherwise the day.
fn result_when(timestamp: Option<&str>, day: Option<Date>) -> Option<Value> {
    if let Some(ts) = timestamp {
        let t = ts.trim();
        let zoned = t.contains('T')
            && (t.ends_with('Z')
                || t.rfind(['+', '-'])
                    .is_some_and(|i| i > t.find('T').unwrap_or(0)));
        if zoned {
            return Some(json!(t));
        }
    }
    day.map(date)
}

fn observation(b: &Builder<'_>, l: &LabSummary, v: &LabValue, last: bool) -> Value {
    let unit = l.unit.as_deref();
    let mut o = json!({
        "resourceType": "Observation",
        "meta": profile(clcore::OBSERVATION),
        "extension": [{ "url": EXT_LAB_ROLE, "valueCode": if last { "ultimo" } else { "ingreso" } }],
        "status": "final",
        "category": laboratory_category(),
        "code": { "text": l.test },
        "subject": {"reference": b.reference("patient")},
        "encounter": {"reference": b.reference("encounter")},
        "valueQuantity": quantity(v.value, unit),
    });
    if !last && let Some(ext) = o.get_mut("extension").and_then(Value::as_array_mut) {
        ext.push(json!({
            "url": EXT_LAB_PERIOD,
            "valueRange": { "low": quantity(l.min, unit), "high": quantity(l.max, unit) }
        }));
    }
    if let Some(c) = v.comparator
        && let Some(q) = o.get_mut("valueQuantity").and_then(Value::as_object_mut)
    {
        q.insert("comparator".into(), json!(c.symbol()));
    }
    insert_opt(&mut o, "effectiveDateTime", lab_when(v));
    insert_opt(&mut o, "interpretation", interpretation(v.status));
    if v.range_low.is_some() || v.range_high.is_some() {
        let mut r = Map::new();
        if let Some(lo) = v.range_low {
            r.insert("low".into(), quantity(lo, unit));
        }
        if let Some(hi) = v.range_high {
            r.insert("high".into(), quantity(hi, unit));
        }
        insert_opt(&mut o, "referenceRange", Some(json!([r])));
    }
    o
}

/// `Observation.category`: laboratory.
fn laboratory_category() -> Value {
    json!([{
        "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory",
            "display": "Laboratory"
        }]
    }])
}

/// A qualitative result («Negativo») as an Observation with `valueString`.
fn finding_observation(b: &Builder<'_>, f: &LabFinding) -> Value {
    let mut o = json!({
        "resourceType": "Observation",
        "meta": profile(clcore::OBSERVATION),
        "status": "final",
        "category": laboratory_category(),
        "code": { "text": f.test },
        "subject": {"reference": b.reference("patient")},
        "encounter": {"reference": b.reference("encounter")},
        "valueString": f.result,
    });
    insert_opt(
        &mut o,
        "effectiveDateTime",
        result_when(f.timestamp.as_deref(), f.date),
    );
    o
}
