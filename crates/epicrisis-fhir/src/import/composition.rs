//! The `Composition`: the diagnosis roles its sections give (admission and discharge
//! diagnoses), and the notes and discharge instructions only its narrative carries.

use super::json::{arr, has_code, html_to_text, s};
use super::{Reader, Res, Roles};
use epicrisis_domain::text::fold_words;
use epicrisis_domain::{Episode, EvolutionNote};
use serde_json::Value;

/// Adds the roles of the resources that the admission (LOINC 46241-6) and discharge
/// (11535-2) diagnosis sections reference, where the Encounter gave none.
pub(super) fn section_roles(rd: &Reader<'_>, c: &Res<'_>, roles: &mut Roles) {
    let v = Value::Object(c.r.clone());
    for sec in arr(&v, "section") {
        let code = sec.get("code");
        let discharge = match code {
            Some(k) if has_code(k, "11535-2") => Some(true),
            Some(k) if has_code(k, "46241-6") => Some(false),
            _ => None,
        };
        if let Some(d) = discharge {
            for e in arr(sec, "entry") {
                if let Some(r) = rd.resolve(e) {
                    roles.entry(rd.key_of(r)).or_insert(d);
                }
            }
        }
    }
}

/// Reads what only the sections' narrative holds, section by section.
pub(super) fn read_narrative(c: &Res<'_>, ep: &mut Episode) {
    let v = Value::Object(c.r.clone());
    for sec in arr(&v, "section") {
        narrative_section(sec, ep);
    }
}

/// One section: the hospital course (8648-8) when no DocumentReference gave notes, or
/// discharge instructions (8653-8) into the list its title names, when still empty.
fn narrative_section(sec: &Value, ep: &mut Episode) {
    let title = fold_words(s(sec, "title").unwrap_or(""));
    let Some(code) = sec.get("code") else {
        return;
    };
    let lines = sec
        .get("text")
        .and_then(|t| s(t, "div"))
        .map(html_to_text)
        .unwrap_or_default();
    let lines: Vec<String> = lines
        .into_iter()
        .filter(|l| fold_words(l) != "no consignado")
        .collect();
    if has_code(code, "8648-8") && ep.evolution.is_empty() && !lines.is_empty() {
        ep.evolution.push(EvolutionNote {
            day: None,
            date: None,
            text: lines.join("\n"),
            author: None,
        });
    } else if has_code(code, "8653-8") {
        let target = if title.contains("control") {
            &mut ep.discharge.controls
        } else if title.contains("alarma") {
            &mut ep.discharge.warning_signs
        } else if title.contains("recomendac") {
            &mut ep.discharge.recommendations
        } else {
            &mut ep.discharge.care
        };
        if target.is_empty() {
            *target = lines;
        }
    }
}
