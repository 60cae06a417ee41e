//! The compact record (`{"dx": [...], "proc": [...], "tto": [...], "evo": "...",
//! "dx_alta": [...], "med": [...]}`): every list item is one string such as
//! `"Amoxicilina/Ac.clavulanico 875mg VO c/12h 5d (J01CR02)"`, read with the domain's
//! posology parser. Items of `med` that are not drugs go to controls or care.

use crate::error::{ErrorKind, IngestError};
use crate::items;
use crate::json::{self, Ctx, get, idx};
use crate::rich;
use epicrisis_domain::{Episode, EvolutionNote, SourceShape};
use serde_json::{Map, Value};

/// The keys of a compact record's `input`.
pub(crate) const COMPACT_KEYS: &[&str] = &["dx", "proc", "tto", "evo", "dx_alta", "med"];

/// The strings of a compact list; anything but a string is an error naming the item.
fn strings(
    ctx: &mut Ctx<'_>,
    m: &Map<String, Value>,
    k: &str,
) -> Result<Vec<(String, String)>, IngestError> {
    let Some(v) = get(m, k) else {
        return Ok(Vec::new());
    };
    let l = json::list(ctx, v, k, "a list of strings", false)?;
    let mut out = Vec::with_capacity(l.len());
    for (i, item) in l.iter().enumerate() {
        let p = idx(k, i);
        match item {
            Value::String(s) => {
                if !s.trim().is_empty() {
                    out.push((p, s.clone()));
                }
            }
            Value::Null => {}
            other => return Err(ctx.wrong_type(&p, "a string", other)),
        }
    }
    Ok(out)
}

pub(crate) fn read(ctx: &mut Ctx<'_>, m: &Map<String, Value>) -> Result<Episode, IngestError> {
    let mut ep = Episode::empty(SourceShape::Compact);
    for (p, s) in strings(ctx, m, "dx")? {
        ep.admission_diagnoses
            .extend(rich::diagnosis_from_string(ctx, &s, &p));
    }
    for (p, s) in strings(ctx, m, "proc")? {
        ep.procedures
            .extend(rich::procedure_from_string(ctx, &s, &p));
    }
    for (p, s) in strings(ctx, m, "tto")? {
        ep.treatments.push(items::from_string(ctx, &s, &p));
    }
    if let Some(v) = get(m, "evo") {
        let notes = json::list(ctx, v, "evo", "a string (the evolution note)", true)?;
        for (i, n) in notes.iter().enumerate() {
            if let Some(text) = json::text_value(ctx, n, &idx("evo", i))? {
                ep.evolution.push(EvolutionNote {
                    day: None,
                    date: None,
                    text,
                    author: None,
                });
            }
        }
    }
    for (p, s) in strings(ctx, m, "dx_alta")? {
        ep.discharge_diagnoses
            .extend(rich::diagnosis_from_string(ctx, &s, &p));
    }
    let mut meds = Vec::new();
    for (p, s) in strings(ctx, m, "med")? {
        meds.push(items::from_string(ctx, &s, &p));
    }
    rich::route_discharge_items(meds, &mut ep.discharge);
    if ep.admission_diagnoses.is_empty() && ep.discharge_diagnoses.is_empty() {
        return Err(ctx.err(
            ErrorKind::Missing,
            "",
            "no diagnosis found: looked for dx and dx_alta (both missing or empty); an episode \
             needs at least one admission or discharge diagnosis",
        ));
    }
    Ok(ep)
}
