//! The `Generator` trait the pipeline talks to, and what flows through it: chat messages,
//! sampling settings, streamed events, statistics and cancellation.
//!
//! Backends (in-process llama.cpp today, HTTP providers later) own their model on their
//! own thread; callers hold a cheap handle, start a generation and read tokens from a
//! channel. Dropping the receiver or calling [`Generation::cancel`] stops the work.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// Sampling settings, with the models guide's names and defaults (`MAX_TOKENS` 2048,
/// `TEMPERATURE` 0.3, `TOP_P` 0.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingSettings {
    /// `MAX_TOKENS`: the most tokens one generation may produce.
    pub max_tokens: u32,
    /// `TEMPERATURE`: 0 means greedy decoding.
    pub temperature: f32,
    /// `TOP_P`: nucleus sampling.
    pub top_p: f32,
    /// Keep only the `top_k` most likely tokens (0 disables).
    pub top_k: i32,
    /// Penalty for repeating recent tokens (1.0 disables).
    pub repeat_penalty: f32,
    /// How many recent tokens the penalty looks at.
    pub repeat_last_n: i32,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
    /// The same seed, model and input give the same text.
    pub seed: u32,
    /// A GBNF grammar (llama.cpp's grammar format, a `root` rule first) that every
    /// generated token must fit: the model may only write text the grammar accepts, and
    /// may end its turn only where the grammar is complete. `None` leaves the model free.
    /// Tests use it to force the words they assert on, so they hold on any CPU; the local
    /// engine and OpenAI-compatible servers that take llama.cpp's `grammar` field honour
    /// it, other providers refuse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grammar: Option<String>,
    /// Stop when the answer writes a run of this many words a second time (a loop; see
    /// [`crate::loops`]); 0 turns the guard off. 12 by default: a clinical narrative does
    /// not repeat twelve words in a row, a looping model does within a sentence or two.
    #[serde(default = "default_loop_words")]
    pub loop_words: u32,
}

fn default_loop_words() -> u32 {
    DEFAULT_LOOP_WORDS
}

/// The default of [`SamplingSettings::loop_words`].
pub const DEFAULT_LOOP_WORDS: u32 = 12;

impl Default for SamplingSettings {
    fn default() -> Self {
        SamplingSettings {
            max_tokens: 2048,
            temperature: 0.3,
            top_p: 0.9,
            top_k: 40,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            stop: Vec::new(),
            seed: 20584,
            grammar: None,
            loop_words: DEFAULT_LOOP_WORDS,
        }
    }
}

/// The largest grammar a request may carry (llama.cpp expands repetitions, so a small
/// text can already be a big automaton).
pub const MAX_GRAMMAR_BYTES: usize = 64 * 1024;

/// A setting outside its range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{name} = {value} is out of range: {allowed}")]
pub struct SettingsError {
    pub name: &'static str,
    pub value: String,
    pub allowed: &'static str,
}

impl SamplingSettings {
    /// Checks every setting, naming the first wrong one.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |name, value: String, allowed| {
            Err(SettingsError {
                name,
                value,
                allowed,
            })
        };
        if self.max_tokens == 0 || self.max_tokens > 32768 {
            return bad("MAX_TOKENS", self.max_tokens.to_string(), "1 to 32768");
        }
        if !(0.0..=5.0).contains(&self.temperature) || self.temperature.is_nan() {
            return bad("TEMPERATURE", self.temperature.to_string(), "0.0 to 5.0");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(
                "TOP_P",
                self.top_p.to_string(),
                "greater than 0.0, at most 1.0",
            );
        }
        if self.top_k < 0 {
            return bad("TOP_K", self.top_k.to_string(), "0 (off) or more");
        }
        if !(self.repeat_penalty > 0.0 && self.repeat_penalty <= 5.0) {
            return bad(
                "REPEAT_PENALTY",
                self.repeat_penalty.to_string(),
                "greater than 0.0, at most 5.0 (1.0 = off)",
            );
        }
        if self.repeat_last_n < 0 {
            return bad("REPEAT_LAST_N", self.repeat_last_n.to_string(), "0 or more");
        }
        if self.loop_words != 0 && !(4..=200).contains(&self.loop_words) {
            return bad(
                "loop_words",
                self.loop_words.to_string(),
                "0 (off) or 4 to 200 words",
            );
        }
        if let Some(g) = &self.grammar {
            // The grammar's text is never echoed: it may be a caller's.
            if g.trim().is_empty() || g.contains('\0') || g.len() > MAX_GRAMMAR_BYTES {
                return bad(
                    "grammar",
                    format!("a text of {} bytes", g.len()),
                    "a non-empty GBNF grammar without NUL bytes, at most 64 KiB",
                );
            }
            if let Err(e) = crate::grammar::check(g) {
                return Err(SettingsError {
                    name: "grammar",
                    value: e.to_string(),
                    allowed: "a GBNF grammar as llama.cpp reads it, with a `root ::= …` rule",
                });
            }
        }
        Ok(())
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    pub messages: Vec<ChatMessage>,
    pub settings: SamplingSettings,
    /// How many leading messages are the same across requests (the system prompt): a
    /// backend with a KV cache keeps them computed between requests, and also the
    /// messages after them when the next request continues this conversation (a repair
    /// round that appends the answer and an objection). 0: no such promise.
    pub stable_prefix_messages: usize,
    /// Reuse the KV cache of an earlier request's prefix (true unless measuring).
    pub reuse_cache: bool,
    /// The switch that stops this generation (it becomes [`Generation::cancel`]). A new
    /// one by default; give several requests the same one to stop them all at once (a
    /// draft's rounds, a server job).
    pub cancel: CancelToken,
}

impl GenerationRequest {
    pub fn new(messages: Vec<ChatMessage>, settings: SamplingSettings) -> Self {
        GenerationRequest {
            messages,
            settings,
            stable_prefix_messages: 0,
            reuse_cache: true,
            cancel: CancelToken::new(),
        }
    }
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model ended its turn.
    EndOfText,
    /// A stop string appeared (it is not part of the text).
    StopString,
    /// `max_tokens` were generated.
    MaxTokens,
    /// The context window is full.
    ContextFull,
    /// The caller cancelled or went away.
    Cancelled,
    /// The answer began to repeat itself ([`SamplingSettings::loop_words`]); the text
    /// streamed so far ends inside the repeat, [`crate::loops::trim_loop`] cuts it.
    Repetition,
}

/// Counts and times of one generation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationStats {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Prompt tokens whose KV cache was reused from an earlier request.
    pub cached_tokens: u32,
    /// Time to process the prompt tokens that were not cached.
    pub prompt_ms: f64,
    pub generated_tokens: u32,
    pub generation_ms: f64,
    /// Time spent waiting in the queue before the backend took the job.
    pub queue_ms: f64,
    pub stop_reason: Option<StopReason>,
    /// Prompt-lookup tokens proposed to the model, and how many it kept (speculative
    /// decoding; 0 when off or for backends without it).
    #[serde(default)]
    pub draft_tokens: u32,
    #[serde(default)]
    pub accepted_draft_tokens: u32,
}

impl GenerationStats {
    /// Prompt tokens per second (uncached ones).
    pub fn prompt_tokens_per_s(&self) -> f64 {
        let n = self.prompt_tokens.saturating_sub(self.cached_tokens);
        if self.prompt_ms > 0.0 {
            f64::from(n) * 1000.0 / self.prompt_ms
        } else {
            0.0
        }
    }
    /// Generated tokens per second.
    pub fn generation_tokens_per_s(&self) -> f64 {
        if self.generation_ms > 0.0 {
            f64::from(self.generated_tokens) * 1000.0 / self.generation_ms
        } else {
            0.0
        }
    }
}

/// What a backend streams back.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The job left the queue and started.
    Started,
    /// More text (whole UTF-8 characters; never part of a stop string).
    Text(String),
    /// The end, with statistics.
    Done(GenerationStats),
    /// A failure after the job started.
    Failed(GenerationError),
}

/// Why a generation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenerationError {
    #[error("the generation queue is full ({capacity} jobs waiting); try again in a moment")]
    Busy { capacity: usize },
    #[error(
        "the prompt has {prompt_tokens} tokens but the context window holds {n_ctx}; raise EPICRISIS_CONTEXT_SIZE or shorten the input"
    )]
    PromptTooLong { prompt_tokens: usize, n_ctx: u32 },
    #[error("invalid setting: {0}")]
    Settings(#[from] SettingsError),
    #[error("the chat template could not be applied: {0}")]
    Template(String),
    #[error("the model backend failed: {0}")]
    Backend(String),
    #[error("the model backend has stopped")]
    Stopped,
    #[error("generation cancelled")]
    Cancelled,
}

/// A cancellation flag shared between a caller and a backend.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

/// Two tokens are equal when they are the same switch.
impl PartialEq for CancelToken {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl CancelToken {
    pub fn new() -> Self {
        CancelToken(Arc::new(AtomicBool::new(false)))
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A running generation: its event stream and its cancel switch.
#[derive(Debug)]
pub struct Generation {
    pub events: Receiver<Event>,
    pub cancel: CancelToken,
}

impl Generation {
    /// Stops the generation; the stream ends with `Done` (stop reason `Cancelled`).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Waits for the whole text, calling `on_text` for each piece as it arrives.
    pub fn collect_with(
        self,
        mut on_text: impl FnMut(&str),
    ) -> Result<(String, GenerationStats), GenerationError> {
        let mut text = String::new();
        loop {
            match self.events.recv_timeout(Duration::from_secs(3600)) {
                Ok(Event::Started) => {}
                Ok(Event::Text(t)) => {
                    on_text(&t);
                    text.push_str(&t);
                }
                Ok(Event::Done(stats)) => return Ok((text, stats)),
                Ok(Event::Failed(e)) => return Err(e),
                Err(_) => return Err(GenerationError::Stopped),
            }
        }
    }

    /// Waits for the whole text.
    pub fn collect(self) -> Result<(String, GenerationStats), GenerationError> {
        self.collect_with(|_| {})
    }
}

/// Facts about the model behind a generator, recorded in every draft's provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// `llama.cpp`, `openai`, `anthropic`…
    pub backend: String,
    /// The model file's name (or the provider's model name).
    pub name: String,
    pub path: Option<String>,
    pub size_bytes: Option<u64>,
    /// sha256 of the model file, when it is a local file.
    pub sha256: Option<String>,
    /// `Q4_K_M`, `Q8_0`, `F16`…
    pub quantization: Option<String>,
    pub architecture: Option<String>,
    /// Which chat template renders the prompts (`gguf` + family, or `builtin:<family>`).
    pub template: String,
    pub context_size: u32,
    pub threads: Option<u32>,
    pub gpu_layers: Option<u32>,
    /// Prompt-lookup draft tokens per step (llama.cpp backend): part of what fixes a text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_tokens: Option<u32>,
    /// Flash attention as chosen at load (llama.cpp backend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flash_attention: Option<String>,
    /// Jobs decoded together in one context (`EPICRISIS_PARALLEL`), when more than one:
    /// a job's tokens are then computed in batches with other jobs' tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<u32>,
}

/// Anything that turns messages into text.
pub trait Generator: Send + Sync {
    /// What the generator runs.
    fn info(&self) -> ModelInfo;
    /// Starts a generation. `Err` only when it cannot even be queued (busy, bad settings).
    fn start(&self, request: GenerationRequest) -> Result<Generation, GenerationError>;
    /// Renders the messages as the backend would feed them to the model (for tests and
    /// for the record).
    fn render_prompt(&self, messages: &[ChatMessage]) -> Result<String, GenerationError>;
}

/// Turns token bytes into text without splitting UTF-8 characters.
#[derive(Debug, Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Adds bytes; returns the complete characters now available.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).unwrap_or_default());
                    match e.error_len() {
                        Some(bad) => {
                            out.push('\u{FFFD}');
                            self.pending.drain(..valid + bad);
                        }
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                    }
                }
            }
        }
    }
}

/// Holds back text that might be the beginning of a stop string, and finds stop strings.
#[derive(Debug)]
pub struct StopMatcher {
    stops: Vec<String>,
    text: String,
    emitted: usize,
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> Self {
        StopMatcher {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            text: String::new(),
            emitted: 0,
        }
    }

    /// Adds text. Returns what can be emitted now, and whether a stop string was found
    /// (the stop string and anything after it are dropped).
    pub fn push(&mut self, piece: &str) -> (String, bool) {
        self.text.push_str(piece);
        // Search from a little before what was emitted (a stop string may straddle the
        // boundary), at a character boundary.
        let from = |len: usize| {
            let mut i = self.emitted.saturating_sub(len);
            while !self.text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        if let Some(pos) = self
            .stops
            .iter()
            .filter_map(|s| {
                self.text[from(s.len())..]
                    .find(s.as_str())
                    .map(|p| p + from(s.len()))
            })
            .min()
        {
            let pos = pos.max(self.emitted);
            let out = self.text[self.emitted..pos].to_string();
            self.emitted = pos;
            self.text.truncate(pos);
            return (out, true);
        }
        // Keep back the longest tail that is a prefix of some stop string.
        let mut hold = 0;
        for s in &self.stops {
            for k in (1..s.len()).rev() {
                if k <= self.text.len() - self.emitted
                    && s.is_char_boundary(k)
                    && self.text.ends_with(&s[..k])
                {
                    hold = hold.max(k);
                    break;
                }
            }
        }
        let end = self.text.len() - hold;
        let end = (self.emitted..=end)
            .rev()
            .find(|i| self.text.is_char_boundary(*i))
            .unwrap_or(self.emitted);
        let out = self.text[self.emitted..end].to_string();
        self.emitted = end;
        (out, false)
    }

    /// The rest, at the end of generation.
    pub fn finish(&mut self) -> String {
        let out = self.text[self.emitted..].to_string();
        self.emitted = self.text.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_defaults_follow_the_guide() {
        let s = SamplingSettings::default();
        assert_eq!((s.max_tokens, s.temperature, s.top_p), (2048, 0.3, 0.9));
        assert!(s.validate().is_ok());
        let bad = SamplingSettings {
            top_p: 1.5,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().name, "TOP_P");
    }

    #[test]
    fn a_grammar_needs_a_root_rule_and_a_sane_size() {
        let with = |g: &str| SamplingSettings {
            grammar: Some(g.to_string()),
            ..Default::default()
        };
        assert!(with("root ::= \"sí\" | \"no\"").validate().is_ok());
        assert!(with("# a comment\nroot::= [a-z]+\n").validate().is_ok());
        for (case, g) in [
            ("empty", "  "),
            ("no root", "answer ::= \"sí\""),
            ("NUL byte", "root ::= \"a\0\""),
        ] {
            let e = with(g).validate().unwrap_err();
            assert_eq!(e.name, "grammar", "case {case}");
        }
        let huge = format!("root ::= \"{}\"", "a".repeat(MAX_GRAMMAR_BYTES));
        let e = with(&huge).validate().unwrap_err();
        assert!(!e.to_string().contains("aaaa"), "the grammar is not echoed");
        assert!(e.allowed.contains("64 KiB"));
    }

    #[test]
    fn utf8_stream_never_splits_characters() {
        let mut u = Utf8Stream::default();
        let bytes = "neumonía".as_bytes();
        let (a, b) = bytes.split_at(7); // inside "í"
        assert_eq!(u.push(a), "neumon");
        assert_eq!(u.push(b), "ía");
        assert_eq!(u.push(&[0xff, b'a']), "\u{FFFD}a");
    }

    #[test]
    fn stop_strings_are_held_back_and_cut() {
        let mut m = StopMatcher::new(&["<|im_end|>".to_string()]);
        assert_eq!(m.push("Hola <|im"), ("Hola ".to_string(), false));
        assert_eq!(m.push("_end|> más"), (String::new(), true));
        let mut m = StopMatcher::new(&["<|im_end|>".to_string()]);
        assert_eq!(
            m.push("Evolución día"),
            ("Evolución día".to_string(), false)
        );
        assert_eq!(m.push("s más"), ("s más".to_string(), false));
        let mut m = StopMatcher::new(&["###".to_string()]);
        assert_eq!(m.push("a#"), ("a".to_string(), false));
        assert_eq!(m.push("b"), ("#b".to_string(), false));
        assert_eq!(m.finish(), "");
    }
}
