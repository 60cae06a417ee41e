//! Literal extracts of the evolution notes, which stand in for the summary only a model
//! can write: the first sentence(s) of a note, signatures removed, cut at a word.

use crate::prose::clean_note;
use epicrisis_domain::Episode;
use epicrisis_domain::text::fold_words;

/// Removes signatures ("atte SOTO", "Dr. Pérez") from quoted notes: staff names are not
/// part of the clinical summary.
fn strip_signatures(s: &str) -> String {
    let words: Vec<&str> = s.split(' ').collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let f = fold_words(words[i]);
        if matches!(f.as_str(), "atte" | "att" | "dr" | "dra" | "firma") && i + 1 < words.len() {
            i += 2;
            continue;
        }
        out.push(words[i]);
        i += 1;
    }
    out.join(" ").trim().to_string()
}

/// The first sentence(s) of a note, at most `budget` characters, cut at a word.
pub(super) fn excerpt(
    text: &str,
    budget: usize,
    proper: &std::collections::HashSet<String>,
) -> String {
    let first_segment = text.split(" | ").next().unwrap_or(text);
    let cleaned = clean_note(&strip_signatures(first_segment), proper);
    let chars: Vec<char> = cleaned.chars().collect();
    if chars.len() <= budget {
        return cleaned.trim().to_string();
    }
    // Prefer a sentence end inside the budget.
    let window: String = chars[..budget].iter().collect();
    if let Some(p) = window.rfind(". ")
        && p > budget / 3
    {
        return window[..=p].trim().to_string();
    }
    let cut = window.rfind(' ').unwrap_or(window.len());
    format!(
        "{} […]",
        window[..cut].trim_end_matches([',', ';', ':', '-']).trim()
    )
}

pub(super) fn evolution_items(ep: &Episode, budget: usize) -> Vec<String> {
    let n = ep.evolution.len();
    let proper = crate::prose::proper_words(ep);
    ep.evolution
        .iter()
        .enumerate()
        .filter(|(i, _)| n <= 14 || *i < 5 || *i >= n - 5)
        .map(|(_, note)| note_extract(note, budget, &proper))
        .collect()
}

/// The extracts of the notes `notes` (indices into `Episode::evolution`), one per note,
/// each «Día N: «…»» with at most `budget` characters of the note: what stands in for a
/// model's summary of those days that the data did not support.
pub fn note_extracts(ep: &Episode, notes: std::ops::Range<usize>, budget: usize) -> Vec<String> {
    let proper = crate::prose::proper_words(ep);
    ep.evolution
        .get(notes)
        .unwrap_or_default()
        .iter()
        .map(|note| note_extract(note, budget, &proper))
        .collect()
}

fn note_extract(
    note: &epicrisis_domain::EvolutionNote,
    budget: usize,
    proper: &std::collections::HashSet<String>,
) -> String {
    let label = match (note.day, note.date) {
        (Some(d), Some(date)) => format!("Día {d} ({}): ", date.to_dmy()),
        (Some(d), None) => format!("Día {d}: "),
        (None, Some(date)) => format!("{}: ", date.to_dmy()),
        (None, None) => String::new(),
    };
    format!("{label}«{}»", excerpt(&note.text, budget, proper))
}
