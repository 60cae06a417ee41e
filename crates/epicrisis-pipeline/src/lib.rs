//! From an episode to a draft epicrisis.
//!
//! Today: the deterministic writer ([`writer`]), which needs no model and is also the
//! fallback of the model pipeline, the draft structure ([`draft`]) that records which
//! part came from where, and the quality figures used by `epicrisis eval` ([`metrics`]).

pub mod draft;
pub mod grounded;
pub mod metrics;
pub mod prose;
pub mod writer;

pub use draft::{Body, Draft, Layout, Origin, Part, PartId, TextFormat};
