//! Doses, routes, frequencies and durations, and the parser that reads them from
//! clinical shorthand (`875mg VO c/12h 5d`) or prose (`875 mg vía oral cada 12 horas por
//! 5 días`).
//!
//! One parser serves both the compact records and the validator, which reads the
//! posology that follows a drug named in a draft: the two can never disagree on what
//! `c/8h` means.

mod dose;
mod duration;
mod frequency;
mod item;
mod pieces;
mod route;

pub use dose::{Dose, DoseUnit, Per};
pub use duration::{Duration, TimeUnit};
pub use frequency::Frequency;
pub use item::{ParsedItem, parse_item, split_trailing_code};
pub use pieces::{Piece, PieceAt, modifier_at, piece_at};
pub use route::Route;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    #[test]
    fn equivalences() {
        let g = Dose {
            amounts: vec![1.0],
            unit: DoseUnit::G,
            per: vec![],
        };
        let mg = Dose {
            amounts: vec![1000.0],
            unit: DoseUnit::Mg,
            per: vec![],
        };
        assert!(g.same_as(&mg));
        assert!(Frequency::EveryHours(24.0).same_as(&Frequency::Nightly));
        let d14 = Duration::Span {
            min: 14.0,
            max: None,
            unit: TimeUnit::Days,
        };
        let w2 = Duration::Span {
            min: 2.0,
            max: None,
            unit: TimeUnit::Weeks,
        };
        assert!(d14.same_as(&w2));
        let t = tokenize("2 veces al dia");
        assert_eq!(
            piece_at(&t, 0).unwrap().piece,
            Piece::Frequency(Frequency::EveryHours(12.0))
        );
    }

    #[test]
    fn displays_in_spanish() {
        assert_eq!(Frequency::EveryHours(8.0).to_string(), "cada 8 horas");
        let d = Duration::Span {
            min: 1.0,
            max: None,
            unit: TimeUnit::Days,
        };
        assert_eq!(d.to_string(), "por 1 día");
        let p = parse_item("Bisoprolol 2.5mg VO c/24h (C07AB07)");
        assert_eq!(p.dose.unwrap().to_string(), "2,5 mg");
    }
}
