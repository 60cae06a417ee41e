//! `DocumentReference`: the day-by-day evolution notes, as plain-text attachments in
//! base64.

use super::json::{arr, date_of, first, s};
use super::{CodeReader, Reader, Res};
use crate::base64;
use epicrisis_domain::text::fold_words;
use epicrisis_domain::{Episode, EvolutionNote, WarningKind};
use serde_json::Value;

/// Reads every DocumentReference as an evolution note.
pub(super) fn read_documents(rd: &Reader<'_>, codes: &mut dyn CodeReader, ep: &mut Episode) {
    for d in rd.of_type("DocumentReference") {
        read_document(d, codes, ep);
    }
}

/// One note: its attachments' text, day (`Día 3`), date and author; one without a
/// readable attachment is skipped with a warning.
fn read_document(d: &Res<'_>, codes: &mut dyn CodeReader, ep: &mut Episode) {
    let v = Value::Object(d.r.clone());
    let text: Vec<String> = arr(&v, "content")
        .iter()
        .filter_map(|c| {
            let a = c.get("attachment")?;
            let data = s(a, "data")?;
            let bytes = base64::decode(data)?;
            String::from_utf8(bytes).ok()
        })
        .collect();
    if text.is_empty() {
        codes.warn(
            WarningKind::Unreadable,
            &d.path,
            "DocumentReference without a readable text attachment (base64 data); skipped".into(),
            "Nota sin texto legible (adjunto en base64); se omitió.".into(),
        );
        return;
    }
    let day = s(&v, "description").and_then(|t| {
        let f = fold_words(t);
        f.strip_prefix("dia ")?.trim().parse::<u32>().ok()
    });
    let date = v
        .get("context")
        .and_then(|c| c.get("period"))
        .and_then(|p| date_of(s(p, "start")))
        .or_else(|| date_of(s(&v, "date")));
    let author = first(&v, "author")
        .and_then(|a| s(a, "display"))
        .map(str::to_string);
    ep.evolution.push(EvolutionNote {
        day,
        date,
        text: text.join("\n"),
        author,
    });
}
