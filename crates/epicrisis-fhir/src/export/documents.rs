//! `DocumentReference` for the day-by-day evolution notes: plain text attachments in
//! base64, with the day, date and author of each note.

use super::values::insert_opt;
use super::{Builder, Refs};
use crate::{LOINC, base64};
use epicrisis_domain::{Episode, EvolutionNote};
use serde_json::{Value, json};

/// Writes the evolution notes; gives back their references.
pub(super) fn push_notes(b: &mut Builder<'_>, ep: &Episode, refs: &Refs) -> Vec<String> {
    let mut note_refs = Vec::new();
    for (i, n) in ep.evolution.iter().enumerate() {
        let doc = document(n, refs);
        note_refs.push(b.push(&format!("evolution-{i}"), doc));
    }
    note_refs
}

/// One evolution note as a DocumentReference.
fn document(n: &EvolutionNote, refs: &Refs) -> Value {
    let mut doc = json!({
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {
            "coding": [{"system": LOINC, "code": "11506-3", "display": "Progress note"}],
            "text": "Evolución"
        },
        "subject": {"reference": refs.patient},
        "content": [{
            "attachment": {
                "contentType": "text/plain; charset=utf-8",
                "data": base64::encode(n.text.as_bytes()),
            }
        }],
        "context": {"encounter": [{"reference": refs.encounter}]},
    });
    if let Some(day) = n.day {
        insert_opt(&mut doc, "description", Some(json!(format!("Día {day}"))));
    }
    if let Some(d) = n.date {
        insert_opt(&mut doc, "date", Some(json!(format!("{d}T00:00:00Z"))));
        // `date` is an instant (zone required); the day itself is the context period.
        if let Some(ctx) = doc.get_mut("context").and_then(Value::as_object_mut) {
            ctx.insert("period".into(), json!({ "start": d.to_string() }));
        }
    }
    if let Some(a) = &n.author {
        insert_opt(&mut doc, "author", Some(json!([{ "display": a }])));
    }
    doc
}
