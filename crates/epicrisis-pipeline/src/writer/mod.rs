//! The deterministic writer: an epicrisis from the episode alone, no model.
//!
//! Every fact is copied from the data (codes verbatim, posology re-rendered from its
//! parsed form), missing items are written as "No consignado", and the day-by-day notes,
//! which only a model can summarise, appear as a short, clearly marked literal extract.
//! It is also the fallback the model pipeline uses part by part.

mod notes;
mod paragraph;
mod sections;

pub use notes::note_extracts;

use crate::draft::{Body, Draft, Layout, Origin, Part, PartId};
use crate::prose::{inline_name, list_name, medication_inline, procedure_inline};
use epicrisis_domain::{Episode, ItemKind, LabSummary, Medication, Sex};

/// "No consignado": the words for data the episode lacks.
pub const NOT_RECORDED: &str = "No consignado";

/// The heading of the evolution extract, so readers know it is quoted, not summarised.
pub const EXTRACT_NOTE: &str = "Extracto literal de las notas de evolución (redacción automática sin modelo de lenguaje: no es un resumen)";

/// Writes a draft of the given layout from the episode alone.
pub fn write(episode: &Episode, layout: Layout) -> Draft {
    match layout {
        Layout::Paragraph => paragraph::paragraph(episode),
        Layout::Sections => sections::sections(episode),
    }
}

/// Writes one part (as the sectioned layout would), for the model pipeline's fallback.
pub fn write_part(episode: &Episode, id: PartId) -> Option<Part> {
    sections::sections(episode)
        .parts
        .into_iter()
        .find(|p| p.id == id)
}

fn part(id: PartId, title: &str, body: Body) -> Part {
    Part {
        id,
        title: title.to_string(),
        body,
        origin: Origin::Deterministic,
    }
}

fn drugs(list: &[Medication]) -> impl Iterator<Item = &Medication> {
    list.iter().filter(|m| m.kind == ItemKind::Drug)
}

fn others(list: &[Medication]) -> impl Iterator<Item = &Medication> {
    list.iter().filter(|m| m.kind != ItemKind::Drug)
}

fn sex_es(s: Sex) -> &'static str {
    match s {
        Sex::Female => "femenino",
        Sex::Male => "masculino",
        Sex::Other => "otro",
    }
}

/// Each item of a list of the episode in running text.
fn inline_names(list: &[String]) -> Vec<String> {
    list.iter().map(|c| inline_name(c)).collect()
}

/// Each item of a list of the episode as a list item.
fn list_names(list: &[String]) -> Vec<String> {
    list.iter().map(|c| list_name(c)).collect()
}

/// The procedures in running text, each with its date.
fn procedure_phrases(ep: &Episode) -> Vec<String> {
    ep.procedures
        .iter()
        .map(|p| procedure_inline(p, true))
        .collect()
}

/// The in-hospital treatments in running text: the drugs (with their dates), then the
/// other therapies (diet, transfusion, oxygen).
fn treatment_phrases(ep: &Episode) -> (Vec<String>, Vec<String>) {
    let drugs: Vec<String> = drugs(&ep.treatments).map(treatment_inline).collect();
    let others: Vec<String> = others(&ep.treatments).map(therapy_inline).collect();
    (drugs, others)
}

fn treatment_inline(m: &Medication) -> String {
    let mut s = medication_inline(m);
    match (m.start, m.end) {
        (Some(a), Some(b)) => s.push_str(&format!(" del {} al {}", a.to_dmy(), b.to_dmy())),
        (Some(a), None) => s.push_str(&format!(" desde el {}", a.to_dmy())),
        (None, Some(b)) => s.push_str(&format!(" hasta el {}", b.to_dmy())),
        (None, None) => {}
    }
    s
}

/// A non-drug item (diet, transfusion, oxygen) in its own words, accents restored.
fn therapy_inline(m: &Medication) -> String {
    let raw = m.raw.clone().unwrap_or_else(|| m.name.clone());
    inline_name(&raw)
}

/// A lab's unit after its value (« mg/dL»), or nothing.
fn unit_suffix(l: &LabSummary) -> String {
    l.unit
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default()
}
