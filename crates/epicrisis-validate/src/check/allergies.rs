//! Allergies: a text that denies allergies, names one, or says none are recorded must
//! agree with the allergies the data records.

use super::Analysis;
use crate::report::{Category, Finding, Kind, Severity};
use epicrisis_domain::Allergies;
use epicrisis_domain::text::{Token, TokenKind, fold_words, stem};
use std::collections::HashSet;

/// What the text says where it writes «alergia» or «alérgico».
struct AllergyClaim<'t> {
    /// The word and the rest of its clause, at most five tokens (characters).
    span: [usize; 2],
    /// The words of the clause after it.
    after: Vec<&'t str>,
    /// «alergias no consignadas», «no registradas».
    not_recorded: bool,
    /// «sin alergias», «niega alergias», «alergias negativas», «no refiere alergias».
    denies: bool,
}

impl Analysis<'_> {
    pub(super) fn check_allergies(&mut self) {
        let mut out = Vec::new();
        for (i, t) in self.tokens.iter().enumerate() {
            if t.kind != TokenKind::Word
                || !(t.norm.starts_with("alergi") || t.norm.starts_with("alergic"))
            {
                continue;
            }
            let claim = self.allergy_claim(i);
            if let Some(message) = self.allergy_mismatch(&claim) {
                let [start, end] = claim.span;
                out.push(Finding {
                    severity: Severity::Error,
                    kind: Kind::Unsupported,
                    category: Category::Allergy,
                    mention: self.slice(start, end),
                    span: Some(claim.span),
                    claim: None,
                    message,
                });
            }
        }
        self.findings.extend(out);
    }

    /// The claim of the allergy word at token `i`, read from the three tokens before it
    /// and its clause after it.
    fn allergy_claim(&self, i: usize) -> AllergyClaim<'_> {
        let t = &self.tokens[i];
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
        let span = [t.start, after.last().map_or(t.end, |x| x.end)];
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
        AllergyClaim {
            span,
            after: after_words,
            not_recorded,
            denies,
        }
    }

    /// Where the claim and the data's allergies disagree, the message that says so.
    fn allergy_mismatch(&self, claim: &AllergyClaim<'_>) -> Option<String> {
        if claim.not_recorded {
            return match &self.ix.allergies {
                Allergies::Known(list) => Some(format!(
                    "El texto dice que las alergias no están consignadas, pero el episodio registra: {}.",
                    list.join(", ")
                )),
                _ => None,
            };
        }
        // "alergia a X" / "alérgico a X" names an allergy.
        let names_one = claim.after.first().is_some_and(|w| *w == "a" || *w == "al");
        match (&self.ix.allergies, claim.denies) {
            (Allergies::Known(list), true) => Some(format!(
                "El texto niega alergias, pero el episodio registra: {}.",
                list.join(", ")
            )),
            (Allergies::NoneKnown | Allergies::NotRecorded, false) if names_one => {
                Some("El episodio no registra esta alergia.".to_string())
            }
            (Allergies::Known(list), false) if names_one => names_unrecorded(list, &claim.after)
                .then(|| {
                    format!(
                        "La alergia no coincide con la registrada: {}.",
                        list.join(", ")
                    )
                }),
            _ => None,
        }
    }
}

/// Whether the words after «alergia a» (`after`, «a» first) name something, and nothing
/// they name is among the `recorded` allergies (compared by stems of words over three
/// letters).
fn names_unrecorded(recorded: &[String], after: &[&str]) -> bool {
    let recorded: HashSet<String> = recorded
        .iter()
        .flat_map(|s| {
            fold_words(s)
                .split(' ')
                .map(|w| stem(w).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let named: Vec<String> = after
        .iter()
        .skip(1)
        .filter(|w| w.len() > 3)
        .map(|w| stem(w).to_string())
        .collect();
    !named.is_empty() && !named.iter().any(|w| recorded.contains(w))
}
