//! The validator's answer: findings with severities, kinds, categories and spans.
//!
//! The JSON shape is a public contract (`epicrisis validate --format json`, the HTTP API):
//! `{"ok": bool, "findings": [{"severity", "kind", "category", "mention", "span", "message"}]}`.

use serde::{Deserialize, Serialize};

/// How serious a finding is. `ok` is false iff some finding is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// What sort of problem a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The text claims something the episode does not support.
    Unsupported,
    /// The text leaves out something the episode has.
    Omission,
    /// The source data itself looks wrong (a code that does not fit its item).
    SuspiciousSource,
    /// Wording that should change (shorthand in prose, machine artefacts).
    Style,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Diagnosis,
    Procedure,
    Medication,
    Code,
    Dose,
    Number,
    Lab,
    Date,
    Allergy,
    Control,
    Other,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub kind: Kind,
    pub category: Category,
    /// The words of the text (or, for omissions, of the data) the finding is about.
    pub mention: String,
    /// `[start, end)` in Unicode characters of the validated text; `None` for omissions
    /// and source problems.
    pub span: Option<[usize; 2]>,
    /// The whole claim the finding faults, when it is longer than the mention: for a
    /// drug the data does not have, the drug with its posology («warfarina 5 mg VO cada
    /// 24 horas»), so that an interface marks all of it. `[start, end)` like `span`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<[usize; 2]>,
    /// Why, in Spanish, for the clinician.
    pub message: String,
}

/// All findings for one text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Report {
    pub ok: bool,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Builds a report, ordering findings by position (omissions last) and computing `ok`.
    pub fn new(mut findings: Vec<Finding>) -> Report {
        findings.sort_by(|a, b| {
            let ka = a.span.map(|s| (0, s[0], s[1])).unwrap_or((1, 0, 0));
            let kb = b.span.map(|s| (0, s[0], s[1])).unwrap_or((1, 0, 0));
            ka.cmp(&kb).then(a.severity.cmp(&b.severity))
        });
        findings.dedup_by(|a, b| {
            a.span == b.span
                && a.category == b.category
                && a.kind == b.kind
                && a.mention == b.mention
        });
        let ok = !findings.iter().any(|f| f.severity == Severity::Error);
        Report { ok, findings }
    }

    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }

    pub fn error_count(&self) -> usize {
        self.errors().count()
    }

    /// Findings whose span overlaps `[start, end)`.
    pub fn within(&self, start: usize, end: usize) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |f| f.span.is_some_and(|s| s[0] < end && start < s[1]))
    }

    /// A plain-text rendering for terminals: one finding per line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let errors = self.error_count();
        let warnings = self.findings.len() - errors;
        out.push_str(&format!(
            "{} — {} error(es), {} advertencia(s)\n",
            if self.ok { "OK" } else { "CON ERRORES" },
            errors,
            warnings
        ));
        for f in &self.findings {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "advertencia",
            };
            let span = match f.span {
                Some([a, b]) => format!("[{a}..{b}]"),
                None => "[—]".to_string(),
            };
            out.push_str(&format!(
                "{sev:11} {span:12} {:?}/{:?} «{}»: {}\n",
                f.kind, f.category, f.mention, f.message
            ));
        }
        out
    }
}
