//! Laboratory data: numeric values (with a comparator when the report gives a bound,
//! `<0,01`), their summary over the stay, and qualitative results («Negativo»).

use crate::date::Date;
use crate::numbers::format_es;
use serde::{Deserialize, Serialize};

/// How the true value relates to the number written: `<0,01` (below the detection
/// limit), `>1000` (above the measurable range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparator {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparator {
    /// The symbol as a report writes it (and as FHIR's `Quantity.comparator` does).
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    /// Reads a leading comparator (`<`, `<=`, `≤`, `>`, `>=`, `≥`, `menor a`, `mayor de`)
    /// and returns it with the rest of the text.
    pub fn strip_prefix(s: &str) -> Option<(Comparator, &str)> {
        let t = s.trim_start();
        for (p, c) in [
            ("<=", Comparator::Le),
            ("≤", Comparator::Le),
            (">=", Comparator::Ge),
            ("≥", Comparator::Ge),
            ("<", Comparator::Lt),
            (">", Comparator::Gt),
        ] {
            if let Some(rest) = t.strip_prefix(p) {
                return Some((c, rest.trim_start()));
            }
        }
        let lower = t.to_lowercase();
        for (p, c) in [
            ("menor a ", Comparator::Lt),
            ("menor de ", Comparator::Lt),
            ("menor que ", Comparator::Lt),
            ("mayor a ", Comparator::Gt),
            ("mayor de ", Comparator::Gt),
            ("mayor que ", Comparator::Gt),
        ] {
            if lower.starts_with(p) {
                return Some((c, t[p.len()..].trim_start()));
            }
        }
        None
    }
}

impl LabValue {
    /// The value as a report writes it: `<0,01`, `7,8`.
    pub fn written(&self) -> String {
        match self.comparator {
            Some(c) => format!("{}{}", c.symbol(), format_es(self.value)),
            None => format_es(self.value),
        }
    }
}

/// A qualitative laboratory result: «Hemocultivo: negativo», «VIH: no reactivo»,
/// «Urocultivo: Escherichia coli». Kept as written; no range or state is invented.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabFinding {
    pub test: String,
    /// The result as written.
    pub result: String,
    pub date: Option<Date>,
    /// The timestamp as written, for ordering within a day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// Results that say there is no result yet: not a finding.
pub fn is_pending_result(s: &str) -> bool {
    let f = crate::text::fold_words(s);
    f.is_empty()
        || matches!(
            f.as_str(),
            "pendiente"
                | "en proceso"
                | "no realizado"
                | "sin resultado"
                | "no informado"
                | "na"
                | "n a"
                | "s r"
                | "sr"
        )
        || s.trim().chars().all(|c| matches!(c, '-' | '.' | '/' | '?'))
}

/// Laboratory status of a value (`estado`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabStatus {
    Normal,
    /// Above range (`alto`, flag `H`).
    High,
    /// Below range (`bajo`, flag `L`).
    Low,
    /// No flag and no range (`sin_clasificar`).
    Unclassified,
}

impl LabStatus {
    /// From a laboratory flag or a Spanish status word.
    pub fn from_flag(flag: &str) -> LabStatus {
        match crate::text::fold(flag.trim()).as_str() {
            "n" | "normal" => LabStatus::Normal,
            "h" | "alto" | "high" | "hh" => LabStatus::High,
            "l" | "bajo" | "low" | "ll" => LabStatus::Low,
            _ => LabStatus::Unclassified,
        }
    }

    /// From the reference range when the value is a bound (`<0,01`): only what the
    /// bound proves («<5» with a lower limit of 10 is low); otherwise unclassified.
    pub fn from_bound(
        value: f64,
        comparator: Option<Comparator>,
        low: Option<f64>,
        high: Option<f64>,
    ) -> LabStatus {
        match comparator {
            None => LabStatus::from_range(value, low, high),
            Some(Comparator::Lt | Comparator::Le) => {
                if low.is_some_and(|l| value <= l) {
                    LabStatus::Low
                } else if low.is_none() && high.is_some_and(|h| value <= h) {
                    LabStatus::Normal
                } else {
                    LabStatus::Unclassified
                }
            }
            Some(Comparator::Gt | Comparator::Ge) => {
                if high.is_some_and(|h| value >= h) {
                    LabStatus::High
                } else if high.is_none() && low.is_some_and(|l| value >= l) {
                    LabStatus::Normal
                } else {
                    LabStatus::Unclassified
                }
            }
        }
    }

    /// From the reference range when no flag exists.
    pub fn from_range(value: f64, low: Option<f64>, high: Option<f64>) -> LabStatus {
        match (low, high) {
            (None, None) => LabStatus::Unclassified,
            (l, h) => {
                if l.is_some_and(|l| value < l) {
                    LabStatus::Low
                } else if h.is_some_and(|h| value > h) {
                    LabStatus::High
                } else {
                    LabStatus::Normal
                }
            }
        }
    }

    pub fn as_es(self) -> &'static str {
        match self {
            LabStatus::Normal => "normal",
            LabStatus::High => "alto",
            LabStatus::Low => "bajo",
            LabStatus::Unclassified => "sin clasificar",
        }
    }
}

/// One laboratory value with its date and reference range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabValue {
    pub value: f64,
    /// `<0,01`, `>1000`: the value is a bound, not a measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparator: Option<Comparator>,
    pub date: Option<Date>,
    /// The timestamp as written (`2025-12-25T07:11:09`), for ordering within a day.
    pub timestamp: Option<String>,
    pub range_low: Option<f64>,
    pub range_high: Option<f64>,
    pub status: LabStatus,
}

/// A laboratory test over the stay (`laboratorios_resumen[]`): first valid value, last
/// value when it differs, and the range of all values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabSummary {
    /// `prueba` / `parametro`.
    pub test: String,
    pub unit: Option<String>,
    /// `ingreso`: the first valid numeric result.
    pub first: LabValue,
    /// `ultimo`: the last result, present only when it differs by more than 0.001.
    pub last: Option<LabValue>,
    /// `periodo.min` / `periodo.max` over all valid values.
    pub min: f64,
    pub max: f64,
}

/// One raw laboratory result before summarising (`laboratorios_relevantes[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct LabResult {
    pub test: String,
    pub unit: Option<String>,
    pub value: f64,
    pub comparator: Option<Comparator>,
    pub timestamp: Option<String>,
    pub date: Option<Date>,
    pub range_low: Option<f64>,
    pub range_high: Option<f64>,
    pub flag: Option<String>,
}

/// Summarises raw results per test, in order of first appearance: first valid value,
/// last value when it differs by more than 0.001, min and max (docs/domain.md).
pub fn summarize_labs(results: &[LabResult]) -> Vec<LabSummary> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: std::collections::HashMap<String, Vec<&LabResult>> = Default::default();
    for r in results {
        let key = crate::text::fold_words(&r.test);
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(r);
    }
    let mut out = Vec::new();
    for key in order {
        let mut rs = groups.remove(&key).unwrap_or_default();
        rs.retain(|r| r.value.is_finite());
        if rs.is_empty() {
            continue;
        }
        // Stable sort by timestamp (undated results keep their source order, after dated ones
        // only if the source put them there).
        rs.sort_by(|a, b| match (&a.timestamp, &b.timestamp) {
            (Some(x), Some(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        });
        let to_value = |r: &LabResult| LabValue {
            value: r.value,
            comparator: r.comparator,
            date: r.date,
            timestamp: r.timestamp.clone(),
            range_low: r.range_low,
            range_high: r.range_high,
            status: match &r.flag {
                Some(f) if LabStatus::from_flag(f) != LabStatus::Unclassified => {
                    LabStatus::from_flag(f)
                }
                _ => LabStatus::from_bound(r.value, r.comparator, r.range_low, r.range_high),
            },
        };
        let first = to_value(rs[0]);
        let last_r = rs[rs.len() - 1];
        let last = ((last_r.value - first.value).abs() > 0.001).then(|| to_value(last_r));
        let min = rs.iter().map(|r| r.value).fold(f64::INFINITY, f64::min);
        let max = rs.iter().map(|r| r.value).fold(f64::NEG_INFINITY, f64::max);
        out.push(LabSummary {
            test: rs[0].test.clone(),
            unit: rs.iter().find_map(|r| r.unit.clone()),
            first,
            last,
            min,
            max,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparators_as_reports_write_them() {
        assert_eq!(
            Comparator::strip_prefix("<0,01"),
            Some((Comparator::Lt, "0,01"))
        );
        assert_eq!(
            Comparator::strip_prefix(" >= 1000 UI"),
            Some((Comparator::Ge, "1000 UI"))
        );
        assert_eq!(Comparator::strip_prefix("≤5"), Some((Comparator::Le, "5")));
        assert_eq!(
            Comparator::strip_prefix("Menor a 0.5"),
            Some((Comparator::Lt, "0.5"))
        );
        assert_eq!(Comparator::strip_prefix("0,01"), None);
    }

    #[test]
    fn a_bound_classifies_only_what_it_proves() {
        use Comparator::*;
        // Troponin below the detection limit, upper limit 0.04: normal.
        assert_eq!(
            LabStatus::from_bound(0.01, Some(Lt), None, Some(0.04)),
            LabStatus::Normal
        );
        // «<300» with an upper limit of 200 may be either: unclassified.
        assert_eq!(
            LabStatus::from_bound(300.0, Some(Lt), None, Some(200.0)),
            LabStatus::Unclassified
        );
        assert_eq!(
            LabStatus::from_bound(5.0, Some(Lt), Some(10.0), Some(20.0)),
            LabStatus::Low
        );
        assert_eq!(
            LabStatus::from_bound(1000.0, Some(Gt), Some(10.0), Some(200.0)),
            LabStatus::High
        );
        assert_eq!(
            LabStatus::from_bound(100.0, Some(Gt), Some(10.0), Some(200.0)),
            LabStatus::Unclassified
        );
    }

    #[test]
    fn written_values_keep_their_comparator() {
        let v = LabValue {
            value: 0.01,
            comparator: Some(Comparator::Lt),
            date: None,
            timestamp: None,
            range_low: None,
            range_high: None,
            status: LabStatus::Unclassified,
        };
        assert_eq!(v.written(), "<0,01");
        assert!(is_pending_result("Pendiente"));
        assert!(is_pending_result(" -- "));
        assert!(!is_pending_result("Negativo"));
    }
}
