//! Which sentences of the model's narrative the data supports, one by one.
//!
//! A narrative is judged sentence by sentence: a sentence is supported when no validator
//! error lies inside it and it has no novel word (see [`crate::grounded::novel_words`]).
//! A repair round is asked only about the words of the unsupported sentences, and when no
//! round is clean the best round's supported sentences are kept and the others left out
//! — one unsupported word costs its sentence, never the whole narrative. Every attempt
//! records its sentences with their verdicts, so `generate --format json` and the stored
//! provenance show which sentences the model wrote, which were kept and why the others
//! were not.

use crate::retrieve::sentence_spans;
use epicrisis_validate::{EpisodeIndex, Report, Severity};
use serde::Serialize;

/// One sentence of a model's answer and what the data said of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentenceVerdict {
    pub text: String,
    /// The words the data does not support (validator mentions and novel words); empty
    /// for a supported sentence.
    pub unsupported: Vec<String>,
    /// Whether the sentence is in the final draft.
    pub kept: bool,
    /// A short copy of a note's words (`narrative::NoteCopies`): supported, but kept as
    /// an extract of the notes rather than as the model's writing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub copy: bool,
}

impl SentenceVerdict {
    pub fn supported(&self) -> bool {
        self.unsupported.is_empty()
    }
}

/// Judges each sentence of `text`, the model's part, which stands at character offset
/// `part_start` of the validated draft that `report` is about.
pub fn judge(
    text: &str,
    part_start: usize,
    report: &Report,
    index: &EpisodeIndex,
    novel: impl Fn(&str, &EpisodeIndex) -> Vec<String>,
) -> Vec<SentenceVerdict> {
    let chars: Vec<char> = text.chars().collect();
    sentence_spans(text)
        .into_iter()
        .map(|[s, e]| {
            let sentence: String = chars[s..e].iter().collect();
            let (a, b) = (part_start + s, part_start + e);
            let mut unsupported: Vec<String> = report
                .findings
                .iter()
                .filter(|f| {
                    f.severity == Severity::Error && f.span.is_some_and(|[x, y]| x < b && y > a)
                })
                .map(|f| f.mention.clone())
                .collect();
            for w in novel(&sentence, index) {
                if !unsupported.iter().any(|u| u.contains(&w)) {
                    unsupported.push(w);
                }
            }
            SentenceVerdict {
                text: sentence,
                unsupported,
                kept: false,
                copy: false,
            }
        })
        .collect()
}

/// The supported sentences, joined; `None` when they hold fewer than `min_words` words.
pub fn supported_text(verdicts: &[SentenceVerdict], min_words: usize) -> Option<String> {
    let kept: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.supported())
        .map(|v| v.text.as_str())
        .collect();
    let text = kept.join(" ");
    (text.split_whitespace().count() >= min_words).then_some(text)
}

/// The words of the unsupported sentences, each once, for the next round's objection.
pub fn objections(verdicts: &[SentenceVerdict]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in verdicts.iter().flat_map(|v| &v.unsupported) {
        if !out.contains(w) {
            out.push(w.clone());
        }
    }
    out
}

/// How many words of `verdicts` are in supported sentences: which round to keep.
pub fn supported_words(verdicts: &[SentenceVerdict]) -> usize {
    verdicts
        .iter()
        .filter(|v| v.supported())
        .map(|v| v.text.split_whitespace().count())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use epicrisis_domain::{Episode, SourceShape};
    use epicrisis_validate::{Category, Finding, Kind};

    fn verdict(text: &str, bad: &[&str]) -> SentenceVerdict {
        SentenceVerdict {
            text: text.into(),
            unsupported: bad.iter().map(|b| b.to_string()).collect(),
            kept: false,
            copy: false,
        }
    }

    #[test]
    fn supported_sentences_are_kept_and_objections_named_once() {
        let v = vec![
            verdict("Evoluciona bien tras la cirugía.", &[]),
            verdict("Recibe vancomicina.", &["vancomicina"]),
            verdict(
                "Se agrega vancomicina y warfarina.",
                &["vancomicina", "warfarina"],
            ),
            verdict("Tolera la vía oral al primer día.", &[]),
        ];
        assert_eq!(
            supported_text(&v, 4).as_deref(),
            Some("Evoluciona bien tras la cirugía. Tolera la vía oral al primer día.")
        );
        assert_eq!(supported_text(&v, 40), None);
        assert_eq!(objections(&v), vec!["vancomicina", "warfarina"]);
        assert_eq!(supported_words(&v), 5 + 7);
    }

    #[test]
    fn an_error_belongs_to_the_sentence_it_lies_in() {
        let text = "Evoluciona bien. Recibe vancomicina 1 g. Se va de alta.";
        // The part starts at character 100 of the draft; «vancomicina» is at 24..35 of
        // the part.
        let start = text.find("vancomicina").unwrap();
        let finding = Finding {
            severity: Severity::Error,
            mention: "vancomicina".into(),
            span: Some([100 + start, 100 + start + "vancomicina".len()]),
            claim: None,
            kind: Kind::Unsupported,
            category: Category::Medication,
            message: String::new(),
        };
        let report = Report::new(vec![finding]);
        let index = EpisodeIndex::new(&Episode::empty(SourceShape::Rich));
        let v = judge(text, 100, &report, &index, |_, _| Vec::new());
        assert_eq!(v.len(), 3);
        assert!(v[0].supported() && v[2].supported());
        assert_eq!(v[1].unsupported, vec!["vancomicina"]);
        assert_eq!(v[1].text, "Recibe vancomicina 1 g.");
        // Novel words count as well, without repeating a validator mention.
        let v = judge(text, 100, &report, &index, |s, _| {
            if s.contains("alta") {
                vec!["alta".to_string()]
            } else {
                Vec::new()
            }
        });
        assert_eq!(v[2].unsupported, vec!["alta"]);
    }
}
