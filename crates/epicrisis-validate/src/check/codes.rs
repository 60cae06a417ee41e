//! Codes and dates: every code the text writes (CIE-10, ATC, procedure) and every date
//! must be in the data, and a real code must sit next to the item the data gives it.

use super::{Analysis, Mention};
use crate::index::MedRef;
use crate::report::{Category, Finding, Kind, Severity};
use crate::scan::{CodeShape, CodeSpan, scan_codes, scan_dates};
use epicrisis_domain::CodeRole;
use epicrisis_domain::codes::code_key;
use epicrisis_domain::lexicon::{ConceptKind, lexicon};
use epicrisis_domain::numbers::interpretations;

impl Analysis<'_> {
    pub(super) fn check_codes(&mut self) {
        self.codes = scan_codes(&self.chars);
        let codes = self.codes.clone();
        for c in &codes {
            let key = code_key(&c.text);
            self.consume_chars(c.start, c.end);
            let supported = self.ix.codes.contains_key(&key)
                || (matches!(c.shape, CodeShape::Icd10Short | CodeShape::AtcGroup)
                    && self.ix.codes.keys().any(|k| k.starts_with(&key)));
            if supported {
                self.text_code_keys.insert(key);
                continue;
            }
            // "(1.5)" may be a number rather than a procedure code.
            if c.shape == CodeShape::ProcedureLike {
                let readings = interpretations(&c.text.replace('.', ","));
                if self.ix.has_number(&readings) || self.ix.has_number(&interpretations(&c.text)) {
                    continue;
                }
            }
            let what = match c.shape {
                CodeShape::AtcFull | CodeShape::AtcGroup => {
                    let lx = lexicon();
                    match lx.drugs_with_atc(&key).first() {
                        Some(id) => format!(
                            " (en la clasificación ATC corresponde a {})",
                            lx.concept(*id).canonical
                        ),
                        None => " (código ATC)".to_string(),
                    }
                }
                CodeShape::Icd10Dotted | CodeShape::Icd10Short | CodeShape::AlnumCode => {
                    match lexicon().icd10_name(&c.text) {
                        Some(name) => format!(" (en CIE-10: {name})"),
                        None => String::new(),
                    }
                }
                CodeShape::ProcedureLike => " (código de procedimiento)".to_string(),
            };
            self.push(
                Severity::Error,
                Kind::Unsupported,
                Category::Code,
                c.text.clone(),
                Some([c.start, c.end]),
                format!(
                    "El código {}{} no figura en los datos del episodio.",
                    c.text, what
                ),
            );
        }
    }

    pub(super) fn check_dates(&mut self) {
        let dates = scan_dates(&self.chars);
        for d in dates {
            if self
                .codes
                .iter()
                .any(|c| c.start < d.end && d.start < c.end)
            {
                continue;
            }
            self.consume_chars(d.start, d.end);
            self.date_values.push((d.date, d.day_month));
            let supported = match d.date {
                Some(date) => self.ix.dates.contains(&date),
                None => self
                    .ix
                    .dates
                    .iter()
                    .any(|x| (x.day(), x.month()) == d.day_month),
            };
            if !supported {
                let known: Vec<String> = {
                    let mut v: Vec<_> = self.ix.dates.iter().copied().collect();
                    v.sort();
                    v.iter().take(4).map(|d| d.to_dmy()).collect()
                };
                let hint = if known.is_empty() {
                    "el episodio no registra fechas".to_string()
                } else {
                    format!("fechas del episodio: {}", known.join(", "))
                };
                self.push(
                    Severity::Error,
                    Kind::Unsupported,
                    Category::Date,
                    d.text.clone(),
                    Some([d.start, d.end]),
                    format!("La fecha «{}» no figura en los datos ({hint}).", d.text),
                );
            }
        }
    }

    /// A real code attached to the wrong item: "ceftriaxona (J01XD01)" when J01XD01 is
    /// metronidazol's code in the data.
    pub(super) fn check_code_association(&mut self) {
        let mut out = Vec::new();
        let mut prev_end = 0usize;
        for c in &self.codes {
            let key = code_key(&c.text);
            let Some(refs) = self.ix.codes.get(&key) else {
                prev_end = c.end;
                continue;
            };
            let drug_code = refs.iter().all(|r| {
                matches!(
                    r.role,
                    Some(CodeRole::Treatment | CodeRole::DischargeMedication)
                )
            });
            let m = self.mention_before(c.start, prev_end);
            prev_end = c.end;
            let Some(m) = m else { continue };
            let gap: Vec<&str> = self
                .tokens_between(m.end, c.start)
                .iter()
                .map(|t| t.norm.as_str())
                .collect();
            if gap.iter().any(|w| matches!(*w, "," | "y" | "e" | ";")) {
                continue;
            }
            if drug_code
                && m.kind == ConceptKind::Drug
                && let Some(f) = self.code_of_another_drug(c, &key, m)
            {
                out.push(f);
            }
        }
        self.findings.extend(out);
    }

    /// The nearest mention before the code at character `at`, after the previous code
    /// (which ends at `from`), in the same sentence.
    fn mention_before(&self, at: usize, from: usize) -> Option<&Mention> {
        // Mentions are sorted by start: look back only as far as the previous code.
        let upto = self.mentions.partition_point(|m| m.start < at);
        self.mentions[..upto]
            .iter()
            .rev()
            .take_while(|m| m.start >= from)
            .find(|m| {
                m.end <= at
                    && !self.chars[m.end..at]
                        .iter()
                        .any(|ch| *ch == '.' || *ch == ';' || *ch == '\n')
            })
    }

    /// The finding for a drug's code `c` (`key` its key) written after the drug mention
    /// `m`, when the data gives the code to another of the episode's drugs.
    fn code_of_another_drug(&self, c: &CodeSpan, key: &str, m: &Mention) -> Option<Finding> {
        let lx = lexicon();
        let owners: Vec<&MedRef> = self
            .ix
            .meds
            .iter()
            .filter(|x| x.code_key.as_deref() == Some(key))
            .collect();
        let owner_match = owners.iter().any(|o| {
            o.concepts.iter().any(|oc| m.concepts.contains(oc))
                || m.keys.iter().all(|k| o.stems.contains(k))
        });
        // Also accept when the mention's own official codes include this one.
        let official = m
            .concepts
            .iter()
            .any(|cid| lx.concept(*cid).codes.iter().any(|x| code_key(x) == key));
        let mention_is_episode_drug = self.ix.meds_for(&m.concepts).next().is_some();
        if owner_match || official || !mention_is_episode_drug || owners.is_empty() {
            return None;
        }
        let words = self.slice(m.start, m.end);
        Some(Finding {
            severity: Severity::Error,
            kind: Kind::Unsupported,
            category: Category::Code,
            mention: c.text.clone(),
            span: Some([c.start, c.end]),
            claim: None,
            message: format!(
                "El código {} corresponde a «{}» en los datos, no a «{}».",
                c.text, owners[0].name, words
            ),
        })
    }
}
