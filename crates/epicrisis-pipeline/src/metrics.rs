//! Quality figures of docs/domain.md ("How quality is judged"): code recall, unsupported
//! claims, Ley 20.584 coverage and ROUGE-L against a reference.

use epicrisis_domain::Episode;
use epicrisis_domain::codes::code_key;
use epicrisis_domain::text::fold_char;
use epicrisis_validate::scan::scan_codes;
use epicrisis_validate::{Category, Kind, Report, Severity};
use serde::Serialize;
use std::collections::HashSet;

/// Share of the episode's distinct codes that appear in the text.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct CodeRecall {
    pub found: usize,
    pub total: usize,
}

/// Distinct episode codes written in the text.
pub fn code_recall(episode: &Episode, text: &str) -> CodeRecall {
    let wanted: HashSet<String> = episode
        .codes()
        .iter()
        .map(|c| code_key(&c.display))
        .collect();
    let chars: Vec<char> = text.chars().collect();
    let found_keys: HashSet<String> = scan_codes(&chars)
        .iter()
        .map(|c| code_key(&c.text))
        .collect();
    // Codes may also appear outside parentheses in shapes the scanner ignores there.
    let folded: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect::<String>()
        .replace('.', "");
    let found = wanted
        .iter()
        .filter(|k| found_keys.contains(*k) || folded.contains(k.as_str()))
        .count();
    CodeRecall {
        found,
        total: wanted.len(),
    }
}

/// Ley 20.584 art. 11 items a–e, each present or explicitly declared missing.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct LeyCoverage {
    /// (a) identification of patient and treating professional
    pub identification: bool,
    /// (b) admission and discharge dates
    pub period: bool,
    /// (c) admission and discharge diagnoses
    pub diagnoses: bool,
    /// (d) medications during the stay and at discharge
    pub medications: bool,
    /// (e) follow-up controls
    pub controls: bool,
}

impl LeyCoverage {
    pub fn count(&self) -> usize {
        [
            self.identification,
            self.period,
            self.diagnoses,
            self.medications,
            self.controls,
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }
}

fn folded(s: &str) -> String {
    s.chars().map(fold_char).collect()
}

/// Which Ley 20.584 items the text covers, using the validator's omissions.
pub fn ley_coverage(episode: &Episode, text: &str, report: &Report) -> LeyCoverage {
    let f = folded(text);
    let declared = |what: &[&str]| f.contains("no consignad") && what.iter().any(|w| f.contains(w));
    let omitted = |cat: Category, sev: Option<Severity>| {
        report.findings.iter().any(|x| {
            x.kind == Kind::Omission && x.category == cat && sev.is_none_or(|s| x.severity == s)
        })
    };
    let p = &episode.patient;
    let names_patient = p.name.as_ref().is_some_and(|n| f.contains(&folded(n)))
        || p.age_es().is_some_and(|a| f.contains(&folded(&a)))
        || p.identifier
            .as_ref()
            .is_some_and(|i| f.contains(&folded(i)));
    let names_physician = episode
        .physician
        .as_ref()
        .is_some_and(|n| f.contains(&folded(n)));
    let identification = (names_patient || declared(&["identificacion", "paciente:"]))
        && (names_physician || declared(&["medico tratante"]));
    let period = !omitted(Category::Date, None)
        && (episode.admission_date.is_some() || declared(&["fecha"]))
        && (episode.discharge_date.is_some() || declared(&["fecha"]));
    let has_diagnoses =
        !(episode.admission_diagnoses.is_empty() && episode.discharge_diagnoses.is_empty());
    let diagnoses = has_diagnoses && !omitted(Category::Diagnosis, None);
    let has_discharge_meds = episode
        .discharge
        .medications
        .iter()
        .any(|m| m.kind == epicrisis_domain::ItemKind::Drug);
    let medications = !omitted(Category::Medication, None)
        && (has_discharge_meds || declared(&["medicamentos al alta", "medicamentos"]));
    let controls = if episode.discharge.controls.is_empty() {
        declared(&["controles"])
    } else {
        !omitted(Category::Control, None)
    };
    LeyCoverage {
        identification,
        period,
        diagnoses,
        medications,
        controls,
    }
}

/// Words for ROUGE: folded, split at non-alphanumerics and between digits and letters.
pub fn rouge_tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_digit = false;
    for c in s.chars().map(fold_char) {
        if c.is_alphanumeric() {
            let d = c.is_ascii_digit();
            if !cur.is_empty() && d != cur_digit {
                out.push(std::mem::take(&mut cur));
            }
            cur_digit = d;
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// ROUGE-L F1 (longest common subsequence of tokens).
pub fn rouge_l(candidate: &str, reference: &str) -> f64 {
    let a = rouge_tokens(candidate);
    let b = rouge_tokens(reference);
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let mut prev = vec![0u32; b.len() + 1];
    let mut cur = vec![0u32; b.len() + 1];
    for x in &a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let lcs = f64::from(prev[b.len()]);
    let p = lcs / a.len() as f64;
    let r = lcs / b.len() as f64;
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// Unsupported-claim errors in a report.
pub fn unsupported_errors(report: &Report) -> usize {
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error && f.kind == Kind::Unsupported)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rouge_l_basics() {
        assert!((rouge_l("a b c d", "a b c d") - 1.0).abs() < 1e-9);
        assert_eq!(rouge_l("", "a"), 0.0);
        let r = rouge_l(
            "ceftriaxona 1 g cada 24 horas",
            "ceftriaxona 1g cada 24 horas",
        );
        assert!((r - 1.0).abs() < 1e-9, "{r}");
        let r = rouge_l("a x b", "a b");
        assert!(r > 0.7 && r < 0.9, "{r}");
    }

    #[test]
    fn tokens_fold_and_split() {
        assert_eq!(
            rouge_tokens("Neumonía 875mg"),
            vec!["neumonia", "875", "mg"]
        );
    }
}
