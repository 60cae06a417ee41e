//! Numbers nobody else claimed: a value right after a lab test must be one of that
//! test's results, and any other number must appear somewhere in the data.

use super::{Analysis, Mention};
use crate::index::LabRef;
use crate::report::{Category, Finding, Kind, Severity};
use epicrisis_domain::lexicon::ConceptKind;
use epicrisis_domain::numbers::{format_es, interpretations};
use epicrisis_domain::text::TokenKind;

impl Analysis<'_> {
    /// Whether a free text of the episode (a note, a discharge indication) names the lab
    /// test of `lab` and writes one of `readings`: a value the notes record ("HGT
    /// 140-230") that the lab summary, with only its first and last results, lacks.
    fn in_a_text_with(&self, lab: &Mention, readings: &[f64]) -> bool {
        self.ix.units.iter().any(|u| {
            let names = u.concepts.iter().any(|c| lab.concepts.contains(c))
                || (!lab.keys.is_empty() && lab.keys.iter().all(|k| u.stems.contains(k)));
            names
                && readings.iter().any(|r| {
                    u.numbers
                        .contains(&epicrisis_domain::numbers::value_key(*r))
                })
        })
    }

    pub(super) fn check_numbers(&mut self) {
        let mut out = Vec::new();
        let lab_mentions: Vec<&Mention> = self
            .mentions
            .iter()
            .filter(|m| m.kind == ConceptKind::Lab)
            .collect();
        let mut i = 0;
        while i < self.tokens.len() {
            let t = &self.tokens[i];
            if t.kind != TokenKind::Number || self.consumed[i] {
                i += 1;
                continue;
            }
            let readings = interpretations(&t.norm);
            if readings.is_empty() || readings.iter().all(|v| *v <= 1.0) {
                i += 1;
                continue;
            }
            if self.in_unit(i) {
                i += 1;
                continue;
            }
            // Ranges "3-6", "3 a 6": each number is checked on its own.
            let end_tok = self.value_end(i);
            let span = [t.start, self.tokens[end_tok - 1].end];
            let words = self.slice(span[0], span[1]);
            // A laboratory value right after a lab test name is checked against that test.
            if let Some(lm) = self.lab_before(&lab_mentions, i) {
                let labs = self.labs_of(lm);
                if !labs.is_empty() {
                    if !self.lab_has_value(&labs, lm, &readings) {
                        out.push(lab_value_finding(&labs, words, span));
                    }
                    i = end_tok;
                    continue;
                }
            }
            if !self.ix.has_number(&readings) {
                // A number tied to no drug and no laboratory test of the episode (a size,
                // a score, an age) cannot contradict the data, only lack support: the
                // clinician is asked to verify it.
                out.push(Finding {
                    severity: Severity::Warning,
                    kind: Kind::Unsupported,
                    category: Category::Number,
                    mention: words.clone(),
                    span: Some(span),
                    claim: None,
                    message: format!(
                        "La cifra «{words}» no figura en los datos del episodio; verifíquela."
                    ),
                });
            }
            i = end_tok;
        }
        self.findings.extend(out);
    }

    /// Whether the number at token `i` is the base or the exponent of a unit («16,8
    /// x10^3/uL»), not a value.
    fn in_unit(&self, i: usize) -> bool {
        let caret = |j: Option<usize>| {
            j.and_then(|j| self.tokens.get(j))
                .is_some_and(|x| x.is_punct("^"))
        };
        caret(i.checked_sub(1)) || caret(Some(i + 1))
    }

    /// Where the value whose number is token `i` ends (exclusive): after its unit or its
    /// «%» when one follows, else after the number.
    fn value_end(&self, i: usize) -> usize {
        let mut end_tok = i + 1;
        if let Some(u) = self.tokens.get(i + 1)
            && u.kind == TokenKind::Word
            && (u.glued || is_unit_word(&u.norm))
            && is_unit_word(&u.norm)
        {
            end_tok = i + 2;
        } else if self.tokens.get(i + 1).is_some_and(|u| u.is_punct("%")) {
            end_tok = i + 2;
        }
        end_tok
    }

    /// The lab test named right before the number at token `i`: at most three tokens
    /// before it, with no full stop, semicolon, parenthesis or quote between.
    fn lab_before<'m>(&self, lab_mentions: &[&'m Mention], i: usize) -> Option<&'m Mention> {
        lab_mentions
            .iter()
            .rev()
            .find(|m| {
                m.tok_end <= i
                    && i - m.tok_end <= 3
                    && !self.tokens[m.tok_end..i].iter().any(|x| {
                        // A quoted note ends at its closing quote: «… PCR 12,1» Día 5.
                        x.kind == TokenKind::Punct
                            && matches!(x.norm.as_str(), "." | ";" | "(" | "»" | "«")
                    })
            })
            .copied()
    }

    /// The data's results of the lab test that mention `lm` names.
    fn labs_of(&self, lm: &Mention) -> Vec<&LabRef> {
        self.ix
            .labs
            .iter()
            .filter(|l| {
                l.concepts.iter().any(|c| lm.concepts.contains(c))
                    || (!lm.keys.is_empty() && lm.keys.iter().all(|k| l.stems.contains(k)))
            })
            .collect()
    }

    /// Whether one of `readings` is a result in `labs`, or a value a text of the data
    /// writes with the test's name.
    fn lab_has_value(&self, labs: &[&LabRef], lm: &Mention, readings: &[f64]) -> bool {
        labs.iter().any(|l| {
            l.values.iter().any(|v| {
                readings
                    .iter()
                    .any(|r| epicrisis_domain::numbers::same_value(*r, *v))
            })
        }) || self.in_a_text_with(lm, readings)
    }
}

/// The finding for a lab value `words` that none of the test's results `labs` has.
fn lab_value_finding(labs: &[&LabRef], words: String, span: [usize; 2]) -> Finding {
    let data: Vec<String> = labs
        .iter()
        .map(|l| {
            format!(
                "{}: {}",
                l.test,
                l.values
                    .iter()
                    .take(4)
                    .map(|v| format_es(*v))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let message = format!(
        "El valor «{words}» no coincide con los resultados de laboratorio del episodio ({}).",
        data.join("; ")
    );
    Finding {
        severity: Severity::Error,
        kind: Kind::Unsupported,
        category: Category::Lab,
        mention: words,
        span: Some(span),
        claim: None,
        message,
    }
}

fn is_unit_word(w: &str) -> bool {
    matches!(
        w,
        "mg" | "g"
            | "gr"
            | "mcg"
            | "ug"
            | "ml"
            | "cc"
            | "l"
            | "lt"
            | "kg"
            | "cm"
            | "mm"
            | "m"
            | "h"
            | "hr"
            | "hrs"
            | "horas"
            | "hora"
            | "d"
            | "dia"
            | "dias"
            | "semanas"
            | "semana"
            | "sem"
            | "meses"
            | "mes"
            | "anos"
            | "ano"
            | "min"
            | "minutos"
            | "ui"
            | "u"
            | "meq"
            | "mmol"
            | "mmhg"
            | "lpm"
            | "rpm"
            | "x"
            | "veces"
            | "unidades"
            | "puff"
            | "fr"
            | "c"
            | "mo"
            | "er"
            | "do"
            | "ro"
            | "to"
    )
}
