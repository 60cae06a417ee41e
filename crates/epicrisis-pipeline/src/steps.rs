//! A long stay is narrated in steps: its notes are cut into groups of consecutive days,
//! the model summarises each group in its own answer (with its own checks and repairs),
//! and the narrative is the groups' summaries in order.
//!
//! A small model given twelve days of notes at once writes a list, copies the worked
//! example, or loops; given three or four days it writes what those days say. Every step
//! sees the episode's facts (reason, admission diagnoses, procedures, drugs) and only its
//! own days' notes; the first step is asked to start from the state at admission, the last
//! to end with the state at discharge, so the admission and discharge days are always
//! narrated. Each step's length is its share of the stay's ([`crate::budget`]).
//!
//! A stay of at most [`SINGLE_STEP_NOTES`] notes that fit the notes budget is one step,
//! with the short-stay task (the reference style of one or two sentences).

use crate::grounded::{PreparedNotes, Retrieval, RetrievalUse};
use epicrisis_domain::Episode;
use serde::Serialize;
use std::ops::Range;

/// Notes a one-step narrative may have.
pub const SINGLE_STEP_NOTES: usize = 4;
/// Notes a step holds at most.
pub const NOTES_PER_STEP: usize = 4;
/// Words a step's summary is asked for at least.
const MIN_STEP_WORDS: u32 = 30;

/// One step of a narrative: which notes it summarises and how long its summary may be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Indices into `Episode::evolution`.
    pub notes: Range<usize>,
    /// The hospital days of its first and last notes, when recorded.
    pub days: Option<[u32; 2]>,
    /// About how many words its summary should have.
    pub words: u32,
    /// The first step (starts with the state at admission).
    pub first: bool,
    /// The last step (ends with the state at discharge).
    pub last: bool,
    /// The only step: the whole stay at once.
    pub whole: bool,
}

/// The steps of an episode's narrative. `count` gives a text's tokens (as the notes
/// budget counts them).
pub fn plan(ep: &Episode, retrieval: &Retrieval, count: &dyn Fn(&str) -> usize) -> Vec<Step> {
    let n = ep.evolution.len();
    let words = crate::budget::narrative_words(ep);
    let cost: Vec<usize> = ep.evolution.iter().map(|note| count(&note.text)).collect();
    if n <= SINGLE_STEP_NOTES && cost.iter().sum::<usize>() <= retrieval.notes_budget_tokens {
        return vec![Step {
            notes: 0..n,
            days: days(ep, 0..n),
            words,
            first: true,
            last: true,
            whole: true,
        }];
    }
    // Groups of consecutive notes within the budget, then of about equal size.
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (i, c) in cost.iter().enumerate() {
        let full = i - start >= NOTES_PER_STEP || used + c > retrieval.notes_budget_tokens;
        if i > start && full {
            ranges.push(start..i);
            start = i;
            used = 0;
        }
        used += c;
    }
    ranges.push(start..n);
    let ranges = balance(ranges, &cost, retrieval.notes_budget_tokens);
    let last = ranges.len() - 1;
    ranges
        .into_iter()
        .enumerate()
        .map(|(k, r)| Step {
            days: days(ep, r.clone()),
            words: ((words as usize * r.len()).div_ceil(n) as u32).max(MIN_STEP_WORDS),
            notes: r,
            first: k == 0,
            last: k == last,
            whole: false,
        })
        .collect()
}

/// The same number of groups with their sizes evened out (a last group of one note
/// after three full ones says little), where the budget allows.
fn balance(ranges: Vec<Range<usize>>, cost: &[usize], budget: usize) -> Vec<Range<usize>> {
    let groups = ranges.len();
    let n = cost.len();
    if groups < 2 {
        return ranges;
    }
    let mut even = Vec::with_capacity(groups);
    let mut start = 0;
    for k in 0..groups {
        let end = start + (n - start).div_ceil(groups - k);
        even.push(start..end);
        start = end;
    }
    let fits = even
        .iter()
        .all(|r| r.len() == 1 || cost[r.clone()].iter().sum::<usize>() <= budget);
    if fits { even } else { ranges }
}

fn days(ep: &Episode, notes: Range<usize>) -> Option<[u32; 2]> {
    let mut ds = ep.evolution[notes].iter().filter_map(|n| n.day);
    let first = ds.next()?;
    Some([first, ds.next_back().unwrap_or(first)])
}

/// The notes block of one step (lines `- día N: …`) and what retrieval did: the step's
/// notes whole when they fit the budget, else the passages of its notes that retrieval
/// selects.
pub fn step_notes(
    ep: &Episode,
    step: &Step,
    retrieval: &Retrieval,
    prepared: &PreparedNotes,
) -> (String, RetrievalUse) {
    if step.whole {
        return crate::grounded::notes_for_prompt(ep, retrieval, prepared);
    }
    // The step's notes as an episode of their own, with their passages renumbered.
    let mut sub = ep.clone();
    sub.evolution = ep.evolution[step.notes.clone()].to_vec();
    let keep: Vec<usize> = prepared
        .passages
        .iter()
        .enumerate()
        .filter(|(_, p)| step.notes.contains(&p.note))
        .map(|(i, _)| i)
        .collect();
    let passages = keep
        .iter()
        .enumerate()
        .map(|(id, &i)| {
            let mut p = prepared.passages[i].clone();
            p.id = id;
            p.note -= step.notes.start;
            p
        })
        .collect();
    let vectors = prepared.vectors.as_ref().map(|(v, q)| {
        (
            keep.iter().map(|&i| v[i].clone()).collect::<Vec<_>>(),
            q.clone(),
        )
    });
    let sub_prepared = PreparedNotes {
        passages,
        vectors,
        model: prepared.model.clone(),
        reused: prepared.reused,
        ms: 0.0,
    };
    crate::grounded::notes_for_prompt(&sub, retrieval, &sub_prepared)
}

/// The task of one step of a stay narrated in steps.
pub fn step_task(step: &Step, steps: usize, stay_days: u32) -> String {
    let sentences = (step.words / 22).clamp(1, 5);
    let which = match step.days {
        Some([a, b]) if a == b => format!("del día {a}"),
        Some([a, b]) => format!("de los días {a} a {b}"),
        None => "de estas notas".to_string(),
    };
    let mut s = format!(
        "Esta hospitalización duró {stay_days} días y se resume por tramos ({steps} tramos). \
Resume la evolución {which} en {} (máximo {} palabras), en prosa y en orden cronológico, \
usando solo lo que dicen las notas de evolución de esos días.",
        plural(sentences, "oración", "oraciones"),
        step.words
    );
    if step.first {
        s.push_str(" Comienza por el motivo y el estado al ingreso.");
    }
    if step.last {
        s.push_str(" Termina con la condición al alta.");
    }
    s.push_str(
        " No enumeres diagnósticos, medicamentos ni exámenes, no repitas dosis y no escribas códigos.",
    );
    s
}

fn plural(n: u32, one: &str, many: &str) -> String {
    let words = ["una", "dos", "tres", "cuatro", "cinco"];
    let word = words.get(n as usize - 1).copied().unwrap_or("cinco");
    format!("{word} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use epicrisis_domain::{EvolutionNote, SourceShape};

    fn stay(notes: &[usize]) -> Episode {
        let mut ep = Episode::empty(SourceShape::Rich);
        ep.evolution = notes
            .iter()
            .enumerate()
            .map(|(i, words)| EvolutionNote {
                day: Some(i as u32 + 1),
                date: None,
                text: vec!["estable"; *words].join(" "),
                author: None,
            })
            .collect();
        ep
    }

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    #[test]
    fn a_short_stay_is_one_step() {
        let steps = plan(&stay(&[10, 10]), &Retrieval::default(), &words);
        assert_eq!(steps.len(), 1);
        assert!(steps[0].whole && steps[0].first && steps[0].last);
        assert_eq!(steps[0].days, Some([1, 2]));
    }

    #[test]
    fn a_long_stay_is_cut_into_even_groups_in_order() {
        let ep = stay(&[20; 11]);
        let steps = plan(&ep, &Retrieval::default(), &words);
        let sizes: Vec<usize> = steps.iter().map(|s| s.notes.len()).collect();
        assert_eq!(sizes, vec![4, 4, 3]);
        assert_eq!(steps[0].notes.start, 0);
        assert_eq!(steps.last().unwrap().notes.end, 11);
        assert!(steps.windows(2).all(|w| w[0].notes.end == w[1].notes.start));
        assert!(steps[0].first && !steps[0].last && steps[2].last);
        assert_eq!(steps[1].days, Some([5, 8]));
        let total: u32 = steps.iter().map(|s| s.words).sum();
        let expected = crate::budget::narrative_words(&ep);
        assert!(total >= expected && total <= expected + 3 * 10, "{total}");
    }

    #[test]
    fn a_group_never_passes_the_notes_budget_unless_one_note_does() {
        let r = Retrieval {
            notes_budget_tokens: 100,
            ..Retrieval::default()
        };
        let steps = plan(&stay(&[60, 60, 30, 200, 10]), &r, &words);
        for s in &steps {
            let cost: usize = [60, 60, 30, 200, 10][s.notes.clone()].iter().sum();
            assert!(cost <= 100 || s.notes.len() == 1, "{s:?}");
        }
        assert_eq!(steps.iter().map(|s| s.notes.len()).sum::<usize>(), 5);
    }

    #[test]
    fn the_task_names_the_days_and_the_ends_of_the_stay() {
        let steps = plan(&stay(&[20; 9]), &Retrieval::default(), &words);
        let first = step_task(&steps[0], steps.len(), 9);
        assert!(first.contains("días 1 a 3"), "{first}");
        assert!(first.contains("estado al ingreso") && !first.contains("condición al alta"));
        let last = step_task(&steps[2], steps.len(), 9);
        assert!(last.contains("condición al alta") && last.contains("días 7 a 9"));
    }
}
