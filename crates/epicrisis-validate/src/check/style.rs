//! Style: shorthand frequencies in prose («c/8h»), leftovers of a language model's
//! format, the same sentence twice, and an empty text.

use super::Analysis;
use crate::report::{Category, Finding, Kind, Severity};
use epicrisis_domain::text::{TokenKind, fold, fold_words};
use std::collections::HashSet;

/// Leftovers of a language model's chat format, or of its voice.
const MODEL_MARKERS: &[&str] = &[
    "<|",
    "|>",
    "</s>",
    "[INST]",
    "[/INST]",
    "<start_of_turn>",
    "<end_of_turn>",
    "###",
    "como modelo de lenguaje",
    "as an ai",
];

impl Analysis<'_> {
    pub(super) fn check_style(&mut self) {
        let text: String = self.chars.iter().collect();
        let mut out = self.shorthand_frequencies();
        out.extend(self.model_markers(&text));
        out.extend(self.repeated_sentences());
        if text.trim().is_empty() {
            out.push(Finding {
                severity: Severity::Error,
                kind: Kind::Omission,
                category: Category::Other,
                mention: String::new(),
                span: None,
                claim: None,
                message: "El texto está vacío.".to_string(),
            });
        }
        self.findings.extend(out);
    }

    /// Shorthand frequencies in prose: "c/8h" should read "cada 8 horas".
    fn shorthand_frequencies(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, t) in self.tokens.iter().enumerate() {
            if t.norm == "c"
                && self.tokens.get(i + 1).is_some_and(|x| x.is_punct("/"))
                && self
                    .tokens
                    .get(i + 2)
                    .is_some_and(|x| x.kind == TokenKind::Number)
            {
                let end = self
                    .tokens
                    .get(i + 3)
                    .filter(|x| x.glued)
                    .map_or(self.tokens[i + 2].end, |x| x.end);
                let words = self.slice(t.start, end);
                let n = &self.tokens[i + 2].norm;
                out.push(Finding {
                    severity: Severity::Warning,
                    kind: Kind::Style,
                    category: Category::Other,
                    mention: words.clone(),
                    span: Some([t.start, end]),
                    claim: None,
                    message: format!(
                        "Abreviatura en el texto: escriba «cada {n} horas» en vez de «{words}»."
                    ),
                });
            }
        }
        out
    }

    /// The first place of each of the [`MODEL_MARKERS`] in `text`.
    fn model_markers(&self, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        for marker in MODEL_MARKERS {
            let f = fold(text);
            if let Some(pos) = f.find(&fold(marker)) {
                let start = f[..pos].chars().count();
                let end = start + marker.chars().count();
                out.push(Finding {
                    severity: Severity::Warning,
                    kind: Kind::Style,
                    category: Category::Other,
                    mention: self.slice(start, end),
                    span: Some([start, end]),
                    claim: None,
                    message: "Resto de formato del modelo de lenguaje; elimínelo.".to_string(),
                });
            }
        }
        out
    }

    /// The same sentence twice. Sentences end at ". " or a line break (not at the dot
    /// of a code); list entries are not sentences (a diagnosis may be both an admission
    /// and a discharge item).
    fn repeated_sentences(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut start = 0usize;
        let n = self.chars.len();
        let mut i = 0usize;
        while i <= n {
            let at_end = i == n
                || self.chars[i] == '\n'
                || (self.chars[i] == '.'
                    && self.chars.get(i + 1).is_none_or(|c| c.is_whitespace()));
            if at_end {
                let end = if i < n && self.chars[i] == '.' {
                    i + 1
                } else {
                    i
                };
                // Trim the sentence to its words.
                let mut a = start;
                while a < end && self.chars[a].is_whitespace() {
                    a += 1;
                }
                let mut b = end;
                while b > a && self.chars[b - 1].is_whitespace() {
                    b -= 1;
                }
                let sentence = self.slice(a, b);
                let list_item = sentence.starts_with("- ") || sentence.starts_with("* ");
                let key = fold_words(&sentence);
                if !list_item && key.split(' ').count() >= 5 && !seen.insert(key) {
                    out.push(Finding {
                        severity: Severity::Warning,
                        kind: Kind::Style,
                        category: Category::Other,
                        mention: sentence,
                        span: Some([a, b]),
                        claim: None,
                        message: "Oración repetida.".to_string(),
                    });
                }
                start = end;
            }
            i += 1;
        }
        out
    }
}
