//! How long a drug is given (`5d`, `por 2 semanas`, `3 a 6 meses`) and its units of time.

use crate::numbers::{format_es, same_value};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The unit of a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    Minutes,
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

impl TimeUnit {
    pub(super) fn parse(word: &str) -> Option<TimeUnit> {
        Some(match word {
            "min" | "mins" | "minuto" | "minutos" => TimeUnit::Minutes,
            "h" | "hr" | "hrs" | "hora" | "horas" => TimeUnit::Hours,
            "d" | "dia" | "dias" | "ds" => TimeUnit::Days,
            "sem" | "semana" | "semanas" | "sems" => TimeUnit::Weeks,
            "m" | "mes" | "meses" => TimeUnit::Months,
            "ano" | "anos" => TimeUnit::Years,
            _ => return None,
        })
    }
    fn hours(self) -> f64 {
        match self {
            TimeUnit::Minutes => 1.0 / 60.0,
            TimeUnit::Hours => 1.0,
            TimeUnit::Days => 24.0,
            TimeUnit::Weeks => 168.0,
            TimeUnit::Months => 720.0,
            TimeUnit::Years => 8760.0,
        }
    }
    fn word(self, plural: bool) -> &'static str {
        match (self, plural) {
            (TimeUnit::Minutes, false) => "minuto",
            (TimeUnit::Minutes, true) => "minutos",
            (TimeUnit::Hours, false) => "hora",
            (TimeUnit::Hours, true) => "horas",
            (TimeUnit::Days, false) => "día",
            (TimeUnit::Days, true) => "días",
            (TimeUnit::Weeks, false) => "semana",
            (TimeUnit::Weeks, true) => "semanas",
            (TimeUnit::Months, false) => "mes",
            (TimeUnit::Months, true) => "meses",
            (TimeUnit::Years, false) => "año",
            (TimeUnit::Years, true) => "años",
        }
    }
}

/// How long a drug is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Duration {
    /// `5d`, `por 5 días`; `max` is set for ranges such as `3-5d`.
    Span {
        min: f64,
        max: Option<f64>,
        unit: TimeUnit,
    },
    /// Free text such as "Completar esquema según infectología".
    Text { text: String },
}

impl Duration {
    /// Same length of time (`14 días` = `2 semanas`), or the same text.
    pub fn same_as(&self, other: &Duration) -> bool {
        match (self, other) {
            (
                Duration::Span {
                    min: a,
                    max: am,
                    unit: au,
                },
                Duration::Span {
                    min: b,
                    max: bm,
                    unit: bu,
                },
            ) => {
                let months = |u: &TimeUnit| matches!(u, TimeUnit::Months);
                if months(au) != months(bu) {
                    // Months are not a whole number of days; only compare like with like.
                    return false;
                }
                same_value(a * au.hours(), b * bu.hours())
                    && match (am, bm) {
                        (Some(x), Some(y)) => same_value(x * au.hours(), y * bu.hours()),
                        (None, None) => true,
                        _ => false,
                    }
            }
            (Duration::Text { text: a }, Duration::Text { text: b }) => {
                crate::text::fold_words(a) == crate::text::fold_words(b)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Duration::Span { min, max, unit } => match max {
                Some(m) => write!(
                    f,
                    "por {} a {} {}",
                    format_es(*min),
                    format_es(*m),
                    unit.word(true)
                ),
                None => write!(
                    f,
                    "por {} {}",
                    format_es(*min),
                    unit.word(!same_value(*min, 1.0))
                ),
            },
            Duration::Text { text } => f.write_str(text),
        }
    }
}
