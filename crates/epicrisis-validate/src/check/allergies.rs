//! Allergies: a text that denies allergies, names one, or says none are recorded must
//! agree with the allergies the data records.

use super::Analysis;
use crate::report::{Category, Finding, Kind, Severity};
use epicrisis_domain::Allergies;
use epicrisis_domain::text::{Token, TokenKind, fold_words, stem};
use std::collections::HashSet;

impl Analysis<'_> {
    pub(super) fn check_allergies(&mut self) {
        let mut out = Vec::new();
        for (i, t) in self.tokens.iter().enumerate() {
            if t.kind != TokenKind::Word
                || !(t.norm.starts_with("alergi") || t.norm.starts_with("alergic"))
            {
                continue;
            }
            let before: Vec<&str> = self.tokens[i.saturating_sub(3)..i]
                .iter()
                .filter(|x| x.kind == TokenKind::Word)
                .map(|x| x.norm.as_str())
                .collect();
            let after: Vec<&Token> = self.tokens[i + 1..self.tokens.len().min(i + 6)]
                .iter()
                .take_while(|x| {
                    !(x.kind == TokenKind::Punct && matches!(x.norm.as_str(), "." | ";" | ","))
                })
                .collect();
            let after_words: Vec<&str> = after
                .iter()
                .filter(|x| x.kind == TokenKind::Word)
                .map(|x| x.norm.as_str())
                .collect();
            let span = Some([t.start, after.last().map_or(t.end, |x| x.end)]);
            let words = self.slice(t.start, after.last().map_or(t.end, |x| x.end));
            let not_recorded = after_words.first().is_some_and(|w| *w == "no")
                && after_words
                    .get(1)
                    .is_some_and(|w| w.starts_with("consignad") || w.starts_with("registrad"));
            let denies = before
                .iter()
                .any(|w| matches!(*w, "sin" | "no" | "niega" | "ninguna" | "refiere"))
                && !before.contains(&"refiere")
                || before.contains(&"niega")
                || after_words
                    .first()
                    .is_some_and(|w| matches!(*w, "no" | "negativas" | "ninguna" | "desconocidas"))
                    && !not_recorded;
            let denies = denies || (before.contains(&"refiere") && before.contains(&"no"));
            if not_recorded {
                if let Allergies::Known(list) = &self.ix.allergies {
                    out.push(Finding { severity: Severity::Error, kind: Kind::Unsupported, category: Category::Allergy, mention: words.clone(), span, claim: None, message: format!("El texto dice que las alergias no están consignadas, pero el episodio registra: {}.", list.join(", ")) });
                }
                continue;
            }
            // "alergia a X" / "alérgico a X" names an allergy.
            let names_one = after_words.first().is_some_and(|w| *w == "a" || *w == "al");
            match (&self.ix.allergies, denies) {
                (Allergies::Known(list), true) => out.push(Finding {
                    severity: Severity::Error,
                    kind: Kind::Unsupported,
                    category: Category::Allergy,
                    mention: words.clone(),
                    span,
                    claim: None,
                    message: format!(
                        "El texto niega alergias, pero el episodio registra: {}.",
                        list.join(", ")
                    ),
                }),
                (Allergies::NoneKnown | Allergies::NotRecorded, false) if names_one => {
                    out.push(Finding {
                        severity: Severity::Error,
                        kind: Kind::Unsupported,
                        category: Category::Allergy,
                        mention: words.clone(),
                        span,
                        claim: None,
                        message: "El episodio no registra esta alergia.".to_string(),
                    });
                }
                (Allergies::Known(list), false) if names_one => {
                    let recorded: HashSet<String> = list
                        .iter()
                        .flat_map(|s| {
                            fold_words(s)
                                .split(' ')
                                .map(|w| stem(w).to_string())
                                .collect::<Vec<_>>()
                        })
                        .collect();
                    let named: Vec<String> = after_words
                        .iter()
                        .skip(1)
                        .filter(|w| w.len() > 3)
                        .map(|w| stem(w).to_string())
                        .collect();
                    if !named.is_empty() && !named.iter().any(|w| recorded.contains(w)) {
                        out.push(Finding {
                            severity: Severity::Error,
                            kind: Kind::Unsupported,
                            category: Category::Allergy,
                            mention: words.clone(),
                            span,
                            claim: None,
                            message: format!(
                                "La alergia no coincide con la registrada: {}.",
                                list.join(", ")
                            ),
                        });
                    }
                }
                _ => {}
            }
        }
        self.findings.extend(out);
    }
}
