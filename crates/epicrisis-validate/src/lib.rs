//! The grounding validator: given an episode and *any* text (ours, a model's, a
//! physician's), report every claim the episode does not support, with the span of the
//! offending words, and what the text leaves out.
//!
//! It is pure and deterministic, and a bad draft is a [`Report`], never an `Err`: the
//! pipeline decides what to do with findings (repair, fall back), the web interface
//! highlights them. It is category-, code-, synonym- and accent-aware (docs/domain.md lists
//! what the predecessor got wrong), and it indexes the episode once ([`EpisodeIndex`]) so
//! a draft and each repair of it cost well under a millisecond.

mod check;
pub mod index;
/// Planted errors for the evaluation (`epicrisis-dev eval --validator-only`); a development
/// tool, built only with the `planted` feature.
#[cfg(feature = "planted")]
pub mod planted;
/// Rephrased references for the same evaluation; built only with the `planted` feature.
#[cfg(feature = "planted")]
pub mod rephrase;
pub mod report;
pub mod scan;

pub use index::EpisodeIndex;
pub use report::{Category, Finding, Kind, Report, Severity};

use epicrisis_domain::Episode;

/// Validates `text` against `episode`.
pub fn validate(episode: &Episode, text: &str) -> Report {
    let index = EpisodeIndex::new(episode);
    check::validate_indexed(&index, episode, text)
}

/// Validates with an index built beforehand (for repeated validation of one episode).
pub fn validate_indexed(index: &EpisodeIndex, episode: &Episode, text: &str) -> Report {
    check::validate_indexed(index, episode, text)
}
