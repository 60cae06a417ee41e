//! Drugs: `MedicationStatement` and `MedicationAdministration` (in-hospital treatments)
//! and `MedicationRequest` (the discharge prescription, unless its category is
//! `inpatient`), with the drug's name, ATC code, dosage and period.

use super::json::{arr, coding_in, concept_text, date_of, has_code, s};
use super::{CodeReader, Reader, Res};
use crate::EXT_ITEM_KIND;
use epicrisis_domain::{Episode, ItemKind, Medication};
use serde_json::Value;

/// Reads the in-hospital treatments, then the discharge prescription.
pub(super) fn read_medications(rd: &Reader<'_>, codes: &mut dyn CodeReader, ep: &mut Episode) {
    for m in rd.of_type("MedicationStatement") {
        ep.treatments.push(medication(rd, m, codes, "dosage"));
    }
    for m in rd.of_type("MedicationAdministration") {
        ep.treatments.push(medication(rd, m, codes, "dosage"));
    }
    for m in rd.of_type("MedicationRequest") {
        let v = Value::Object(m.r.clone());
        let inpatient = arr(&v, "category").iter().any(|k| has_code(k, "inpatient"));
        let med = medication(rd, m, codes, "dosageInstruction");
        if inpatient {
            ep.treatments.push(med);
        } else {
            ep.discharge.medications.push(med);
        }
    }
}

/// One drug resource; `dosage_key` names where its `Dosage` list is (`dosage` or
/// `dosageInstruction`).
fn medication(
    rd: &Reader<'_>,
    res: &Res<'_>,
    codes: &mut dyn CodeReader,
    dosage_key: &str,
) -> Medication {
    let v = Value::Object(res.r.clone());
    let (concept, cpath) = match v.get("medicationCodeableConcept") {
        Some(c) => (
            Some(c.clone()),
            format!("{}.medicationCodeableConcept", res.path),
        ),
        None => match v.get("medicationReference").and_then(|r| rd.resolve(r)) {
            Some(m) => (m.r.get("code").cloned(), format!("{}.code", m.path)),
            None => (None, res.path.clone()),
        },
    };
    let name = concept
        .as_ref()
        .and_then(concept_text)
        .or_else(|| {
            v.get("medicationReference")
                .and_then(|r| s(r, "display"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "Medicamento sin nombre".to_string());
    let mut m = Medication::named(name.clone(), ItemKind::Drug);
    if let Some(c) = &concept
        && let Some((i, code)) = coding_in(c, &["whocc", "atc"])
    {
        m.code = codes.atc(code, &format!("{cpath}.coding[{i}].code"), &name);
    }
    for e in arr(&v, "extension") {
        if s(e, "url") == Some(EXT_ITEM_KIND) {
            m.kind = match s(e, "valueCode") {
                Some("therapy") => ItemKind::Therapy,
                Some("control") => ItemKind::Control,
                _ => ItemKind::Drug,
            };
        }
    }
    // The resource's notes first, then what the dosage's text adds (a loading mark).
    m.notes = arr(&v, "note")
        .iter()
        .filter_map(|n| s(n, "text").map(str::to_string))
        .collect();
    if let Some(d) = v.get(dosage_key) {
        crate::dosage::read_all(d, &mut m);
    }
    let p = v.get("effectivePeriod").or_else(|| {
        v.get("dispenseRequest")
            .and_then(|d| d.get("validityPeriod"))
    });
    if let Some(p) = p {
        m.start = date_of(s(p, "start"));
        m.end = date_of(s(p, "end"));
    } else if let Some(d) = date_of(s(&v, "effectiveDateTime")) {
        m.start = Some(d);
    }
    m
}
