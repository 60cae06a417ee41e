//! From an episode to a draft epicrisis.
//!
//! Today: the deterministic writer ([`writer`]), which needs no model and is also the
//! fallback of the model pipeline, the draft structure ([`draft`]) that records which
//! part came from where, the quality figures used by `epicrisis-dev eval` ([`metrics`]), the
//! grounded model pipeline ([`grounded`]) and its de-identifying wrapper for generators
//! outside the machine ([`external`]), and the ready engine that the command line and the
//! server draft through ([`engine`]).

pub mod budget;
pub mod draft;
pub mod engine;
pub mod evidence;
pub mod external;
pub mod grounded;
pub mod metrics;
pub mod narrative;
pub mod novel;
pub mod progress;
pub mod prompt;
pub mod prose;
pub mod retrieve;
pub mod sentences;
pub mod steps;
pub mod writer;

pub use draft::{Body, Draft, Layout, Origin, Part, PartId, TextFormat};
pub use progress::{Progress, Stage};
