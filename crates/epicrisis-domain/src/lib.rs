//! The domain of a hospital discharge summary (*epicrisis*): the episode and its parts,
//! typed clinical codes, posology, dates, laboratory summaries and the Spanish clinical
//! lexicon.
//!
//! This crate is pure — no IO, no async, no HTTP, no SQL — so every other crate can
//! depend on it and every rule here is unit-testable. Wire formats live elsewhere
//! (`epicrisis-ingest` reads them into these types).

pub mod codes;
pub mod date;
pub mod episode;
pub mod labs;
pub mod lexicon;
pub mod numbers;
pub mod posology;
pub mod regimen;
pub mod run;
pub mod shorthand;
pub mod text;
pub mod warning;

pub use codes::{AtcCode, CodeError, Icd10Code, ProcedureCode, SourceCode};
pub use date::Date;
pub use episode::*;
pub use posology::{Dose, DoseUnit, Duration, Frequency, Route, TimeUnit};
pub use regimen::Phase;
