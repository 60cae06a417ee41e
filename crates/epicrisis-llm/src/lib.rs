//! Text generation for epicrisis, knowing nothing of patients.
//!
//! The pipeline talks to a [`Generator`]: messages in, a stream of text out, with
//! cancellation and statistics. The llama.cpp backend ([`llama`], feature `llama`, on by
//! default) runs GGUF models in-process on one dedicated thread; HTTP providers implement
//! the same trait. Around it: sampling settings with the models guide's names and
//! defaults, grammars that pin what a model may write ([`grammar`]), chat templates
//! ([`template`]), a GGUF header reader that refuses broken files
//! before llama.cpp sees them ([`gguf`]), and the machine facts used to refuse a model
//! that does not fit in memory ([`system`]).

pub mod cpu;
pub mod generator;
pub mod gguf;
pub mod grammar;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "llama")]
pub mod llama;
pub mod lookup;
pub mod loops;
pub mod system;
pub mod template;

pub use generator::{
    CancelToken, ChatMessage, Event, Generation, GenerationError, GenerationRequest,
    GenerationStats, Generator, ModelInfo, Role, SamplingSettings, StopReason,
};
pub use template::{Family, TemplateChoice};
