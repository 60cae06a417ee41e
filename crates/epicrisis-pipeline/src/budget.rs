//! How long the model's part may be: a length that follows the stay, and a token budget
//! that fits it.
//!
//! A narrative of a two-day stay and one of a two-week stay are not the same length, and
//! neither needs `MAX_TOKENS` (2,048 by default): a small model that does not stop, or
//! loops, would spend them all (one repair round of SmolLM2 once ran 2,048 tokens, two
//! minutes, for a draft its neighbours finished in seconds). The budget is the expected
//! length with room to spare, never more than `MAX_TOKENS`.

use crate::grounded::Strategy;
use epicrisis_domain::Episode;

/// Tokens per Spanish word in the budget: Llama 3, Qwen and Mistral tokenizers write
/// about 1.6–2 tokens per Spanish clinical word, English-trained small ones up to 2.7;
/// the budget allows 3.
const TOKENS_PER_WORD: u32 = 3;

/// The days a narrative covers: the stay's dates, or the days its notes are dated with,
/// whichever is longer; at least one.
pub fn days_covered(ep: &Episode) -> u32 {
    let by_dates = ep.length_of_stay().unwrap_or(0).max(0) as u32 + 1;
    let mut note_days: Vec<u32> = ep.evolution.iter().filter_map(|n| n.day).collect();
    note_days.sort_unstable();
    note_days.dedup();
    by_dates.max(note_days.len() as u32).max(1)
}

/// About how many words the evolution narrative should have: 60 for a short stay, about
/// 10 more a day, at most 250 (about 190 for two weeks).
pub fn narrative_words(ep: &Episode) -> u32 {
    (50 + 10 * days_covered(ep)).clamp(60, 250)
}

/// The most tokens one answer of the model may use for its part, within `max_tokens`.
pub fn token_budget(ep: &Episode, strategy: Strategy, max_tokens: u32) -> u32 {
    let words = match strategy {
        Strategy::Narrative => narrative_words(ep),
        // The whole paragraph: the narrative plus every diagnosis, procedure and drug
        // with its code and posology.
        Strategy::Full => narrative_words(ep) + 40 + 15 * facts(ep),
    };
    // Room to finish a sentence past the expected length.
    (words * TOKENS_PER_WORD + 64).min(max_tokens)
}

/// The token budget of one step's answer of `words` words ([`crate::steps`]).
pub fn step_token_budget(words: u32, max_tokens: u32) -> u32 {
    (words * TOKENS_PER_WORD + 64).min(max_tokens)
}

fn facts(ep: &Episode) -> u32 {
    (ep.admission_diagnoses.len()
        + ep.discharge_diagnoses.len()
        + ep.procedures.len()
        + ep.treatments.len()
        + ep.discharge.medications.len()) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use epicrisis_domain::{Date, EvolutionNote, SourceShape};

    fn stay(days: i64, notes: u32) -> Episode {
        let mut ep = Episode::empty(SourceShape::Rich);
        ep.admission_date = Date::from_ymd(2026, 1, 1);
        ep.discharge_date = Date::from_ymd(2026, 1 + (days / 28) as u8, 1 + (days % 28) as u8);
        ep.evolution = (1..=notes)
            .map(|d| EvolutionNote {
                day: Some(d),
                date: None,
                text: "Paciente estable.".into(),
                author: None,
            })
            .collect();
        ep
    }

    #[test]
    fn the_length_follows_the_stay() {
        assert_eq!(days_covered(&stay(1, 0)), 2);
        assert_eq!(
            days_covered(&stay(1, 5)),
            5,
            "notes of more days than the dates"
        );
        assert_eq!(days_covered(&Episode::empty(SourceShape::Compact)), 1);
        assert_eq!(narrative_words(&stay(1, 2)), 70);
        let two_weeks = narrative_words(&stay(13, 14));
        assert!((120..=250).contains(&two_weeks), "{two_weeks}");
        assert_eq!(narrative_words(&stay(90, 91)), 250, "capped");
    }

    #[test]
    fn the_budget_fits_the_length_and_never_passes_max_tokens() {
        let short = stay(2, 3);
        let b = token_budget(&short, Strategy::Narrative, 2048);
        assert_eq!(b, narrative_words(&short) * TOKENS_PER_WORD + 64);
        assert!(b < 400, "{b}");
        assert_eq!(token_budget(&short, Strategy::Narrative, 120), 120);
        let long = stay(30, 31);
        assert!(token_budget(&long, Strategy::Narrative, 2048) > b);
        assert!(token_budget(&short, Strategy::Full, 2048) > b);
    }
}
