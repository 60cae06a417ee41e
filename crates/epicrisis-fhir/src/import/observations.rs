//! Laboratory `Observation`s: qualitative results as findings, quantities summarised per
//! test (first, last, minimum and maximum over the stay).

use super::json::{arr, concept_text, date_of, first, has_code, s};
use super::{Reader, Res};
use crate::EXT_LAB_PERIOD;
use epicrisis_domain::labs::is_pending_result;
use epicrisis_domain::text::fold_words;
use epicrisis_domain::{Comparator, Episode, LabFinding, LabResult, summarize_labs};
use serde_json::Value;
use std::collections::HashMap;

/// What the quantitative Observations gather before they are summarised.
#[derive(Default)]
struct Labs {
    results: Vec<LabResult>,
    /// Minimum and maximum over the stay by folded test name ([`EXT_LAB_PERIOD`]).
    periods: HashMap<String, (f64, f64)>,
}

/// Reads every laboratory Observation, then summarises the values by test, widening
/// each test's minimum and maximum by the period the export wrote.
pub(super) fn read_observations(rd: &Reader<'_>, ep: &mut Episode) {
    let mut labs = Labs::default();
    for o in rd.of_type("Observation") {
        read_observation(o, ep, &mut labs);
    }
    ep.labs = summarize_labs(&labs.results);
    for l in &mut ep.labs {
        if let Some((lo, hi)) = labs.periods.get(&fold_words(&l.test)) {
            l.min = l.min.min(*lo);
            l.max = l.max.max(*hi);
        }
    }
}

/// One Observation (laboratory, or without a category): a text result becomes a
/// finding unless it is still pending; a quantity becomes a result.
fn read_observation(o: &Res<'_>, ep: &mut Episode, labs: &mut Labs) {
    let v = Value::Object(o.r.clone());
    let lab = arr(&v, "category")
        .iter()
        .any(|k| has_code(k, "laboratory"))
        || v.get("category").is_none();
    if !lab {
        return;
    }
    let test = v
        .get("code")
        .and_then(concept_text)
        .unwrap_or_else(|| "Examen sin nombre".into());
    let when = s(&v, "effectiveDateTime")
        .or_else(|| v.get("effectivePeriod").and_then(|p| s(p, "start")))
        .or_else(|| s(&v, "issued"));
    // A qualitative result: valueString or valueCodeableConcept.
    let text = s(&v, "valueString")
        .map(str::to_string)
        .or_else(|| v.get("valueCodeableConcept").and_then(concept_text));
    if let Some(result) = text.filter(|t| !is_pending_result(t)) {
        ep.lab_findings.push(LabFinding {
            test,
            result: result.trim().to_string(),
            date: date_of(when),
            timestamp: when.map(str::to_string),
        });
        return;
    }
    let Some(q) = v.get("valueQuantity") else {
        return;
    };
    let Some(value) = q.get("value").and_then(Value::as_f64) else {
        return;
    };
    let comparator = s(q, "comparator")
        .and_then(Comparator::strip_prefix)
        .map(|(c, _)| c);
    let unit = s(q, "unit").or_else(|| s(q, "code")).map(str::to_string);
    let range = first(&v, "referenceRange");
    let bound = |k: &str| {
        range
            .and_then(|r| r.get(k))
            .and_then(|x| x.get("value"))
            .and_then(Value::as_f64)
    };
    let flag = first(&v, "interpretation")
        .and_then(|i| arr(i, "coding").iter().find_map(|c| s(c, "code")))
        .map(str::to_string);
    read_lab_period(&v, &test, &mut labs.periods);
    labs.results.push(LabResult {
        test,
        unit,
        value,
        comparator,
        timestamp: when.map(str::to_string),
        date: date_of(when),
        range_low: bound("low"),
        range_high: bound("high"),
        flag,
    });
}

/// The stay's minimum and maximum of a test, from the [`EXT_LAB_PERIOD`] extension.
fn read_lab_period(v: &Value, test: &str, periods: &mut HashMap<String, (f64, f64)>) {
    for e in arr(v, "extension") {
        if s(e, "url") == Some(EXT_LAB_PERIOD)
            && let Some(r) = e.get("valueRange")
            && let (Some(lo), Some(hi)) = (
                r.get("low")
                    .and_then(|x| x.get("value"))
                    .and_then(Value::as_f64),
                r.get("high")
                    .and_then(|x| x.get("value"))
                    .and_then(Value::as_f64),
            )
        {
            periods.insert(fold_words(test), (lo, hi));
        }
    }
}
