//! How often a drug is given (`c/8h`, `cada noche`, `dosis única`): equivalent schedules
//! and how a frequency is written.

use super::pieces::{Piece, PieceAt, piece_at};
use crate::numbers::{format_es, same_value};
use crate::text::tokenize;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How often a drug is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Frequency {
    /// Every N hours (`c/8h`, `cada 8 horas`); daily is every 24 hours.
    EveryHours(f64),
    /// Every N minutes (`c/20min`).
    EveryMinutes(f64),
    /// Once a week.
    Weekly,
    /// Once a month.
    Monthly,
    /// At night (`c/noche`).
    Nightly,
    /// In the morning.
    Morning,
    /// Continuous infusion.
    Continuous,
    /// A single dose (`dosis única`).
    Once,
    /// Anything else, as written.
    Text(String),
}

impl Frequency {
    /// Equivalent schedules: `cada 12 horas` = `2 veces al día` = `c/12h`.
    pub fn same_as(&self, other: &Frequency) -> bool {
        use Frequency::*;
        match (self, other) {
            (EveryHours(a), EveryHours(b)) | (EveryMinutes(a), EveryMinutes(b)) => {
                same_value(*a, *b)
            }
            (EveryHours(a), EveryMinutes(b)) | (EveryMinutes(b), EveryHours(a)) => {
                same_value(*a * 60.0, *b)
            }
            (EveryHours(h), Nightly) | (Nightly, EveryHours(h)) => same_value(*h, 24.0),
            (EveryHours(h), Morning) | (Morning, EveryHours(h)) => same_value(*h, 24.0),
            (EveryHours(h), Weekly) | (Weekly, EveryHours(h)) => same_value(*h, 168.0),
            (Text(a), Text(b)) => crate::text::fold_words(a) == crate::text::fold_words(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// True for a frequency written in words that says «SOS», «PRN» or «si dolor»
    /// itself (`SOS dolor torácico`): the drug is given only if needed, and a writer
    /// must not add «SOS» a second time.
    pub fn says_as_needed(&self) -> bool {
        let Frequency::Text(t) = self else {
            return false;
        };
        let toks = tokenize(t);
        (0..toks.len()).any(|i| {
            matches!(
                piece_at(&toks, i),
                Some(PieceAt {
                    piece: Piece::AsNeeded,
                    ..
                })
            )
        })
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frequency::EveryHours(h) => {
                if same_value(*h, 1.0) {
                    write!(f, "cada 1 hora")
                } else {
                    write!(f, "cada {} horas", format_es(*h))
                }
            }
            Frequency::EveryMinutes(m) => write!(f, "cada {} minutos", format_es(*m)),
            Frequency::Weekly => f.write_str("una vez a la semana"),
            Frequency::Monthly => f.write_str("una vez al mes"),
            Frequency::Nightly => f.write_str("cada noche"),
            Frequency::Morning => f.write_str("cada mañana"),
            Frequency::Continuous => f.write_str("en infusión continua"),
            Frequency::Once => f.write_str("en dosis única"),
            Frequency::Text(t) => f.write_str(t),
        }
    }
}
