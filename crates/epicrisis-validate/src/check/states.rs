//! The state at discharge keeps its role: a state the text gives the patient at
//! discharge («alta afebril, tolerando régimen», «se va de alta estable») must come from
//! the discharge data or from the notes of the last days of the stay. A state that only
//! an earlier note gives («afebril» on day 3, febrile again on day 9) is a real fact of
//! the data put in a role the data does not give it — the kind of claim a summary of a
//! long stay slips into when it copies the first days' notes.
//!
//! States are matched as families of written forms («afebril», «sin fiebre»), each form
//! at the start of a word, so «descompensado» is not «compensado» and «inestable» is not
//! «estable». A state the data never states is left to the other checks (the novel-word
//! guard for a model's sentences); a negated state («no tolera») claims nothing here.

use super::Analysis;
use super::regions::is_discharge_anchor;
use crate::report::{Category, Finding, Kind, Severity};
use epicrisis_domain::text::{TokenKind, fold_words};
use epicrisis_domain::{Date, EvolutionNote};

/// Families of states: the name used in messages, and the folded forms that state it
/// (the last word of a form matches as a word start: «tolera» is «tolerando»).
const STATES: &[(&str, &[&str])] = &[
    (
        "afebril",
        &[
            "afebril",
            "sin fiebre",
            "apiretic",
            "sin peak febril",
            "sin peaks febriles",
            "sin alza termica",
            "sin alzas termicas",
        ],
    ),
    ("asintomático", &["asintomatic", "sin sintomas"]),
    ("estable", &["estable", "estabiliz", "estabilidad"]),
    (
        "eupneico",
        &["eupneic", "sin disnea", "sin dificultad respiratoria"],
    ),
    ("normotenso", &["normotens"]),
    ("lúcido", &["lucid"]),
    ("vigil", &["vigil"]),
    ("orientado", &["orientad"]),
    ("deambulando", &["deambul"]),
    ("tolerando", &["tolera"]),
    ("anictérico", &["anicteric"]),
    ("compensado", &["compensad"]),
    ("sin dolor", &["sin dolor", "dolor controlado", "indolor"]),
];

/// Words that negate the state right after them.
const NEGATIONS: &[&str] = &["no", "sin", "nunca", "tampoco"];

/// Where a family of forms occurs in a folded word list: the index of the first word.
fn find_form(words: &[&str], form: &str) -> Option<usize> {
    let parts: Vec<&str> = form.split(' ').collect();
    let (last, head) = parts.split_last()?;
    (0..words.len()).find(|&k| {
        k + parts.len() <= words.len()
            && head.iter().enumerate().all(|(j, p)| words[k + j] == *p)
            && words[k + head.len()].starts_with(last)
    })
}

/// Whether a folded text (`fold_words`) states a family.
fn states(text: &str, forms: &[&str]) -> bool {
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    forms.iter().any(|f| find_form(&words, f).is_some())
}

/// Which notes belong to the last days of the stay: the last two notes, and every note
/// of the last three hospital days (by day number, else by date) — notes are not always
/// daily, and a state two days before discharge («afebril 96 hrs» on day 6 of 8) still
/// describes it.
fn late_notes(notes: &[EvolutionNote]) -> Vec<bool> {
    let n = notes.len();
    let last_two = |i: usize| i + 2 >= n;
    if let Some(days) = notes.iter().map(|x| x.day).collect::<Option<Vec<u32>>>() {
        let max = days.iter().copied().max().unwrap_or(0);
        return (0..n).map(|i| last_two(i) || days[i] + 2 >= max).collect();
    }
    if let Some(dates) = notes.iter().map(|x| x.date).collect::<Option<Vec<Date>>>() {
        let from = dates.iter().copied().max().map(|d| d.add_days(-2));
        return (0..n)
            .map(|i| last_two(i) || from.is_some_and(|f| dates[i] >= f))
            .collect();
    }
    (0..n).map(last_two).collect()
}

/// How a message names a note: «día 3», its date, or its place.
fn note_label(note: &EvolutionNote, i: usize) -> String {
    match (note.day, note.date) {
        (Some(d), _) => format!("la nota del día {d}"),
        (None, Some(d)) => format!("la nota del {}", d.to_dmy()),
        _ => format!("la nota {}", i + 1),
    }
}

impl Analysis<'_> {
    /// States claimed in discharge sentences: (family index, first token, last token).
    fn discharge_state_claims(&self) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for (from, to) in self.sentences() {
            let words: Vec<(usize, &str)> = (from..to)
                .filter(|i| self.tokens[*i].kind == TokenKind::Word)
                .map(|i| (i, self.tokens[i].norm.as_str()))
                .collect();
            if !(0..words.len()).any(|k| is_discharge_anchor(&words, k)) {
                continue;
            }
            let plain: Vec<&str> = words.iter().map(|(_, w)| *w).collect();
            for (f, (_, forms)) in STATES.iter().enumerate() {
                for form in *forms {
                    let Some(k) = find_form(&plain, form) else {
                        continue;
                    };
                    if k > 0 && NEGATIONS.contains(&plain[k - 1]) {
                        continue;
                    }
                    let len = form.split(' ').count();
                    out.push((f, words[k].0, words[k + len - 1].0));
                    break;
                }
            }
        }
        out
    }

    pub(super) fn check_discharge_states(&mut self) {
        let claims = self.discharge_state_claims();
        if claims.is_empty() {
            return;
        }
        let ep = self.episode;
        let late = late_notes(&ep.evolution);
        let notes: Vec<String> = ep.evolution.iter().map(|n| fold_words(&n.text)).collect();
        let discharge: Vec<String> = ep
            .discharge_diagnoses
            .iter()
            .map(|d| d.name.as_str())
            .chain(ep.discharge.controls.iter().map(String::as_str))
            .chain(ep.discharge.care.iter().map(String::as_str))
            .chain(ep.discharge.recommendations.iter().map(String::as_str))
            .map(fold_words)
            .collect();
        // Per family, once (a long text may claim the same state many times): `None`
        // when the discharge supports it or no note states it, else the first note that
        // does.
        let mut early_only: Vec<Option<Option<usize>>> = vec![None; STATES.len()];
        let mut out = Vec::new();
        for (f, first, last) in claims {
            let (name, forms) = STATES[f];
            let verdict = *early_only[f].get_or_insert_with(|| {
                let at_discharge = discharge.iter().any(|t| states(t, forms))
                    || notes.iter().zip(&late).any(|(t, l)| *l && states(t, forms));
                if at_discharge {
                    None
                } else {
                    notes.iter().position(|t| states(t, forms))
                }
            });
            let Some(i) = verdict else {
                continue;
            };
            let (start, end) = (self.tokens[first].start, self.tokens[last].end);
            let words = self.slice(start, end);
            out.push(Finding {
                severity: Severity::Error,
                kind: Kind::Unsupported,
                category: Category::Other,
                mention: words.clone(),
                span: Some([start, end]),
                claim: None,
                message: format!(
                    "«{words}» se presenta como estado al alta, pero solo {} lo dice ({name}); ni las notas de los últimos días ni los datos del alta lo dicen.",
                    note_label(&ep.evolution[i], i)
                ),
            });
        }
        self.findings.extend(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(day: Option<u32>, text: &str) -> EvolutionNote {
        EvolutionNote {
            day,
            date: None,
            text: text.into(),
            author: None,
        }
    }

    #[test]
    fn forms_match_at_word_starts() {
        let f = |t: &str, forms: &[&str]| states(&fold_words(t), forms);
        assert!(f("Tolerando régimen liviano", &["tolera"]));
        assert!(f("paciente sin fiebre", &["sin fiebre"]));
        assert!(!f("ICC descompensada", &["compensad"]));
        assert!(!f("hemodinámicamente inestable", &["estable"]));
    }

    #[test]
    fn the_last_days_are_late() {
        let days = [1, 2, 5, 8, 9, 12].map(|d| note(Some(d), "x"));
        assert_eq!(
            late_notes(&days),
            vec![false, false, false, false, true, true]
        );
        let close = [1, 2, 3, 4].map(|d| note(Some(d), "x"));
        assert_eq!(late_notes(&close), vec![false, true, true, true]);
        let undated = [None, None, None, None].map(|d| note(d, "x"));
        assert_eq!(late_notes(&undated), vec![false, false, true, true]);
        assert_eq!(
            late_notes(&[note(Some(1), "x"), note(Some(9), "y")]),
            vec![true, true]
        );
    }
}
