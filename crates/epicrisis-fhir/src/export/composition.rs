//! The `Composition` (LOINC 18842-5 "Discharge summary"): the document's header and one
//! section per part of the draft, with its narrative and the resources it talks about.
//!
//! It claims CL Core `DocumentoCl` when it has a section (the profile's one requirement);
//! its author and attester reference the Practitioner of the same name when one was
//! written, and its custodian the hospital's Organization.

use super::people::named_reference;
use super::values::{insert_opt, narrative, profile};
use super::{DocumentInfo, Refs, Section, SectionKind};
use crate::{LOINC, clcore};
use serde_json::{Value, json};

/// The Composition resource, its sections referencing what `refs` holds.
pub(super) fn composition(info: &DocumentInfo, refs: &Refs) -> Value {
    let sections: Vec<Value> = info.sections.iter().map(|s| section(s, refs)).collect();

    let mut composition = json!({
        "resourceType": "Composition",
        "identifier": { "system": "urn:epicrisis:documento", "value": info.document_id },
        "status": info.status.as_str(),
        "type": {
            "coding": [{"system": LOINC, "code": "18842-5", "display": "Discharge summary"}],
            "text": "Epicrisis"
        },
        "subject": {"reference": refs.patient},
        "encounter": {"reference": refs.encounter},
        "date": info.timestamp,
        "author": [named_reference(refs.practitioner(&info.author), &info.author)],
        "title": info.title,
        "confidentiality": "R",
    });
    if let Some(a) = &info.attester {
        let party = named_reference(refs.practitioner(&a.party), &a.party);
        insert_opt(
            &mut composition,
            "attester",
            Some(json!([{ "mode": "legal", "time": a.time, "party": party }])),
        );
    }
    if let Some(c) = &info.custodian {
        let org = refs.organization.as_ref().map(|(_, r)| r.as_str());
        insert_opt(&mut composition, "custodian", Some(named_reference(org, c)));
    }
    if !sections.is_empty() {
        insert_opt(&mut composition, "meta", Some(profile(clcore::DOCUMENT)));
        insert_opt(&mut composition, "section", Some(Value::Array(sections)));
    }
    composition
}

/// One section: title, LOINC code where one fits, narrative and references.
fn section(s: &Section, refs: &Refs) -> Value {
    let refs = section_refs(s.kind, refs);
    let mut sec = json!({ "title": s.title });
    if let Some((code, display)) = s.kind.loinc() {
        insert_opt(
            &mut sec,
            "code",
            Some(json!({"coding": [{"system": LOINC, "code": code, "display": display}]})),
        );
    }
    insert_opt(&mut sec, "text", Some(narrative(&s.paragraphs, &s.items)));
    if !refs.is_empty() {
        let entries: Vec<Value> = refs.iter().map(|r| json!({ "reference": r })).collect();
        insert_opt(&mut sec, "entry", Some(Value::Array(entries)));
    }
    sec
}

/// The resources a section of this kind talks about.
fn section_refs(kind: SectionKind, refs: &Refs) -> Vec<String> {
    let cond_of = |discharge: bool| -> Vec<String> {
        refs.conditions
            .iter()
            .filter(|(_, d)| *d == discharge)
            .map(|(r, _)| r.clone())
            .collect()
    };
    match kind {
        SectionKind::Identification => vec![refs.patient.clone()],
        SectionKind::Period | SectionKind::Reason => vec![refs.encounter.clone()],
        SectionKind::AdmissionDiagnoses => cond_of(false),
        SectionKind::DischargeDiagnoses => cond_of(true),
        SectionKind::Procedures => refs.procedures.clone(),
        SectionKind::Treatments => refs.treatments.clone(),
        SectionKind::DischargeMedications => refs.discharge_medications.clone(),
        SectionKind::Labs => refs.labs.clone(),
        SectionKind::Evolution => refs.notes.clone(),
        _ => Vec::new(),
    }
}
