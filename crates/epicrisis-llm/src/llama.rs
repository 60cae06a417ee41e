//! The in-process llama.cpp backend (through `llama-cpp-2`).
//!
//! One thread owns the model and its context; [`LlamaGenerator`] is a cheap handle that
//! queues jobs on a bounded channel (a full queue is a clear "busy", never a pile-up) and
//! streams tokens back. Between jobs the thread keeps the KV cache: a new prompt that
//! starts like the previous one (the fixed instructions, or the whole conversation of a
//! repair round before its new turn) only pays for its new tokens. Prompts are decoded
//! in batches that end at the message boundaries a later prompt may share, so a draft
//! computed with a warm cache is the same as one computed cold: same seed, same model,
//! same text.

use crate::generator::{
    CancelToken, ChatMessage, Event, Generation, GenerationError, GenerationRequest, Generator,
    ModelInfo,
};
use crate::gguf::{GgufError, read_header};
use crate::system::{available_memory, estimate, human_bytes, physical_cores};
use crate::template::{Family, TemplateChoice};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, channel, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

mod decode;
mod engine;
use engine::Engine;

/// How to run a local model.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    pub model_path: PathBuf,
    /// Context window in tokens (`EPICRISIS_CONTEXT_SIZE`).
    pub context_size: u32,
    /// Tokens per decode batch (`EPICRISIS_BATCH_SIZE`).
    pub batch_size: u32,
    /// CPU threads (`EPICRISIS_THREADS`); `None` = physical cores.
    pub threads: Option<u32>,
    /// Layers offloaded to the GPU (`EPICRISIS_GPU_LAYERS`); needs the `cuda` build.
    pub gpu_layers: u32,
    /// Chat template family; `None` = the file's own template, else guessed.
    pub template: Option<Family>,
    /// Refuse to load when the estimate exceeds this many bytes (besides free memory).
    pub memory_limit: Option<u64>,
    /// Jobs that may wait for the model before new ones are refused as busy.
    pub queue_capacity: usize,
    /// Most prompt-lookup draft tokens checked per decoding step (`EPICRISIS_DRAFT_TOKENS`;
    /// 0 = one token per step). See [`decode`] for what drafts can and cannot change.
    pub draft_tokens: u32,
    /// Flash attention (`EPICRISIS_FLASH_ATTENTION`).
    pub flash_attention: FlashAttention,
    /// Jobs decoded together, each in a sequence of its own with a `context_size` window
    /// (`EPICRISIS_PARALLEL`; 1 = one job at a time). See [`engine`].
    pub parallel: u32,
}

/// Whether llama.cpp computes attention with its flash-attention kernels.
///
/// Measured with llama.cpp's own `llama-bench` on 2 CPU cores (docs/benchmarks.md): flash
/// attention speeds up prompts for every model (+3 to +24 %), and generation at a depth of
/// 1,500 tokens for Qwen2.5 1.5B (12.1 against 9.9 tok/s), but slows generation at that
/// depth for narrow models: SmolLM2-135M 15.2 against 49.4 tok/s, Qwen2.5 0.5B 11.9
/// against 17.3. A draft generates hundreds of tokens deep in a long prompt, so `Auto`
/// turns it off on the CPU for models narrower than [`NARROW_EMBEDDING`], and otherwise
/// leaves llama.cpp's own choice (on where the backend supports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlashAttention {
    #[default]
    Auto,
    On,
    Off,
}

/// Models with an embedding width under this (SmolLM2-135M: 576, Qwen2.5 0.5B: 896) run
/// without flash attention on the CPU under [`FlashAttention::Auto`].
pub const NARROW_EMBEDDING: i32 = 1024;

impl FlashAttention {
    /// `auto`, `on` or `off` (also `true`/`false`, `1`/`0`).
    pub fn parse(raw: &str) -> Option<FlashAttention> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(FlashAttention::Auto),
            "on" | "true" | "1" | "yes" => Some(FlashAttention::On),
            "off" | "false" | "0" | "no" => Some(FlashAttention::Off),
            _ => None,
        }
    }

    /// llama.cpp's `llama_flash_attn_type` for a model of embedding width `n_embd`
    /// (-1: llama.cpp decides, 0: off, 1: on), and how provenance names the choice.
    fn resolve(self, n_embd: i32, gpu_layers: u32) -> (std::os::raw::c_int, &'static str) {
        match self {
            FlashAttention::On => (1, "on"),
            FlashAttention::Off => (0, "off"),
            FlashAttention::Auto if gpu_layers == 0 && n_embd < NARROW_EMBEDDING => {
                (0, "off (auto: a narrow model on the CPU)")
            }
            FlashAttention::Auto => (-1, "auto (llama.cpp's choice)"),
        }
    }
}

impl LlamaConfig {
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        LlamaConfig {
            model_path: model_path.into(),
            context_size: 4096,
            batch_size: 512,
            threads: None,
            gpu_layers: 0,
            template: None,
            memory_limit: None,
            queue_capacity: 8,
            draft_tokens: 8,
            flash_attention: FlashAttention::Auto,
            parallel: 1,
        }
    }
}

/// Most sequences one context decodes together (`EPICRISIS_PARALLEL`).
pub const MAX_PARALLEL: u32 = 64;

/// A model that does not fit in memory, with the estimate that says so.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{path} needs about {needed} of memory ({weights} of weights + {kv} of context for {n_ctx} tokens + {compute} of buffers) but {available} is available; use a smaller model (e.g. Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1.1 GB, or Llama 3.2 3B Q4_K_M, 1.9 GB), a lower quantization (Q4_K_M instead of Q8_0 or F16), a smaller EPICRISIS_CONTEXT_SIZE, or an external provider (MODEL_TYPE=openai)"
)]
pub struct TooBig {
    pub path: String,
    pub needed: String,
    pub weights: String,
    pub kv: String,
    pub compute: String,
    pub n_ctx: u32,
    pub available: String,
}

/// Why a model could not be loaded, with what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error(
        "model file not found: {path} — set LOCAL_LLM_PATH or pass --model with the .gguf file (`epicrisis models list` shows the installed ones, `epicrisis models download` fetches one)"
    )]
    NotFound { path: String },
    #[error("{path} is a folder, not a model file; point to the .gguf file inside it")]
    NotAFile { path: String },
    #[error(
        "{path}: cannot read the model file ({detail}); give the server's user read access, e.g. `chmod 644 {path}`"
    )]
    Unreadable { path: String, detail: String },
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(transparent)]
    TooBig(Box<TooBig>),
    #[error(
        "{path}: llama.cpp could not load the model ({detail}); the architecture may be newer than this build or the file damaged — `epicrisis models verify` checks it"
    )]
    Backend { path: String, detail: String },
    #[error(
        "could not create a context of {n_ctx} tokens for {path} ({detail}); try a smaller EPICRISIS_CONTEXT_SIZE"
    )]
    Context {
        path: String,
        n_ctx: u32,
        detail: String,
    },
    #[error("invalid setting: {0}")]
    Setting(String),
}

fn backend() -> Result<&'static LlamaBackend, String> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp's own logging goes nowhere: it would print model metadata, and the
            // program's logs never hold anything that could identify a patient.
            llama_cpp_2::send_logs_to_tracing(
                llama_cpp_2::LogOptions::default().with_logs_enabled(false),
            );
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Checks a model file before llama.cpp touches it: present, readable, a complete GGUF
/// file, and small enough for the memory there is.
pub fn preflight(config: &LlamaConfig) -> Result<crate::gguf::GgufHeader, LoadError> {
    let path = &config.model_path;
    let p = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| io_error(&p, &e))?;
    if meta.is_dir() {
        return Err(LoadError::NotAFile { path: p });
    }
    if let Err(e) = std::fs::File::open(path) {
        return Err(io_error(&p, &e));
    }
    let header = read_header(path)?;
    // Every sequence has a window of its own in the KV cache.
    let est = estimate(
        &header,
        config.context_size.saturating_mul(config.parallel.max(1)),
        config.batch_size,
    );
    let limit = match (available_memory(), config.memory_limit) {
        (Some(a), Some(l)) => Some(a.min(l)),
        (a, l) => a.or(l),
    };
    // Weights offloaded to a GPU do not count against host memory.
    let weights = if config.gpu_layers > 0 {
        est.weights / 8
    } else {
        est.weights
    };
    let needed = weights + est.kv_cache + est.compute;
    if let Some(avail) = limit
        && needed > avail
    {
        return Err(LoadError::TooBig(Box::new(TooBig {
            path: p,
            needed: human_bytes(needed),
            weights: human_bytes(weights),
            kv: human_bytes(est.kv_cache),
            compute: human_bytes(est.compute),
            n_ctx: config.context_size,
            available: human_bytes(avail),
        })));
    }
    Ok(header)
}

/// The load error for a failed file access.
fn io_error(path: &str, e: &std::io::Error) -> LoadError {
    match e.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound {
            path: path.to_string(),
        },
        _ => LoadError::Unreadable {
            path: path.to_string(),
            detail: e.to_string(),
        },
    }
}

fn sha_note_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".sha256");
    PathBuf::from(p)
}

fn file_stamp(path: &Path) -> Option<(u64, u64)> {
    let m = std::fs::metadata(path).ok()?;
    let mtime = m
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some((m.len(), mtime))
}

/// The hash noted beside the file, if the note matches the file's size and time.
pub fn cached_sha256(path: &Path) -> Option<String> {
    let note = std::fs::read_to_string(sha_note_path(path)).ok()?;
    let mut parts = note.split_whitespace();
    let (hash, size, mtime) = (
        parts.next()?,
        parts.next()?.parse::<u64>().ok()?,
        parts.next()?.parse::<u64>().ok()?,
    );
    let (s, m) = file_stamp(path)?;
    (s == size && m == mtime && hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hash.to_string())
}

/// Notes a file's hash beside it (ignored when the folder is read-only).
pub fn note_sha256(path: &Path, hash: &str) {
    if let Some((size, mtime)) = file_stamp(path) {
        let _ = std::fs::write(sha_note_path(path), format!("{hash} {size} {mtime}\n"));
    }
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

struct Job {
    prompt: String,
    /// Byte lengths of the prompt's prefixes that later requests may share (see
    /// [`LlamaGenerator::checkpoints`]), ascending.
    checkpoint_chars: Vec<usize>,
    request: GenerationRequest,
    events: std::sync::mpsc::Sender<Event>,
    cancel: CancelToken,
    enqueued: Instant,
}

/// A handle to a model running on its own thread.
pub struct LlamaGenerator {
    jobs: Mutex<SyncSender<Job>>,
    info: ModelInfo,
    sha256: Arc<OnceLock<String>>,
    template: TemplateChoice,
    bos: String,
    eos: String,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

struct Loaded {
    bos: String,
    eos: String,
    n_ctx: u32,
    /// How flash attention was chosen (for provenance).
    flash_attention: &'static str,
    gguf_template: Option<String>,
}

impl LlamaGenerator {
    /// Loads a model (preflight checks first) and starts its thread.
    pub fn load(config: LlamaConfig) -> Result<LlamaGenerator, LoadError> {
        check_settings(&config)?;
        let header = preflight(&config)?;
        let threads = config.threads.unwrap_or_else(physical_cores).max(1);
        let capacity = config.queue_capacity.max(1);
        let (tx, rx) = sync_channel::<Job>(capacity);
        let (ready_tx, ready_rx) = channel::<Result<Loaded, LoadError>>();
        let queued = Arc::new(AtomicUsize::new(0));
        let worker_config = config.clone();
        let worker_queued = queued.clone();
        std::thread::Builder::new()
            .name("llama-model".into())
            .spawn(move || worker(worker_config, threads, rx, ready_tx, worker_queued))
            .map_err(|e| LoadError::Backend {
                path: config.model_path.display().to_string(),
                detail: e.to_string(),
            })?;
        let sha256 = model_sha256(&config.model_path);
        let loaded = ready_rx.recv().map_err(|_| LoadError::Backend {
            path: config.model_path.display().to_string(),
            detail: "the model thread stopped".into(),
        })??;
        let (info, template) = describe(&config, &header, &loaded, threads);
        Ok(LlamaGenerator {
            jobs: Mutex::new(tx),
            info,
            sha256,
            template,
            bos: loaded.bos,
            eos: loaded.eos,
            queued,
            capacity,
        })
    }

    /// Jobs waiting for the model (not counting the one running).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// The model file's sha256, waiting for the background hash if it is not done yet.
    pub fn sha256(&self) -> Option<String> {
        for _ in 0..600 {
            if let Some(h) = self.sha256.get() {
                return Some(h.clone());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        None
    }

    /// The template in use.
    pub fn template(&self) -> &TemplateChoice {
        &self.template
    }
}

impl LlamaGenerator {
    /// Where the prompt may be cut and continued by a later request: after the stable
    /// messages, and after every message that follows them (a repair round appends the
    /// answer and the objection to the conversation of the round before). Each cut is
    /// where the prompt of "the first k messages + any other user turn" stops agreeing
    /// with the real prompt. Prompts are always decoded in batches that end at these
    /// cuts, so a prompt computed from a cached prefix is the same computation as one
    /// computed cold: same seed, same model, same text.
    fn checkpoints(
        &self,
        request: &GenerationRequest,
        prompt: &str,
    ) -> Result<Vec<usize>, GenerationError> {
        let n = request.messages.len();
        let stable = request.stable_prefix_messages;
        if stable == 0 || stable >= n {
            return Ok(Vec::new());
        }
        let mut cuts = Vec::new();
        for k in stable..=n {
            let mut probe: Vec<ChatMessage> = request.messages[..k].to_vec();
            probe.push(ChatMessage::user("\u{1}"));
            let other = self.render_prompt(&probe)?;
            let common = prompt
                .char_indices()
                .zip(other.chars())
                .find(|((_, a), b)| a != b)
                .map_or(prompt.len().min(other.len()), |((i, _), _)| i);
            if common > 0 && cuts.last() != Some(&common) {
                cuts.push(common);
            }
        }
        Ok(cuts)
    }
}

impl Generator for LlamaGenerator {
    fn info(&self) -> ModelInfo {
        let mut info = self.info.clone();
        info.sha256 = self.sha256();
        info
    }

    fn render_prompt(&self, messages: &[ChatMessage]) -> Result<String, GenerationError> {
        self.template
            .render(messages, &self.bos, &self.eos)
            .map_err(GenerationError::Template)
    }

    fn start(&self, mut request: GenerationRequest) -> Result<Generation, GenerationError> {
        request.settings.validate()?;
        let prompt = self.render_prompt(&request.messages)?;
        let checkpoint_chars = self.checkpoints(&request, &prompt)?;
        for s in self.template.stop_strings() {
            if !request.settings.stop.contains(&s) {
                request.settings.stop.push(s);
            }
        }
        let (events_tx, events_rx) = channel();
        let cancel = request.cancel.clone();
        let job = Job {
            prompt,
            checkpoint_chars,
            request,
            events: events_tx,
            cancel: cancel.clone(),
            enqueued: Instant::now(),
        };
        // Counted before it is sent, in one step: two callers cannot both take the last place.
        if self
            .queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
                (q < self.capacity).then_some(q + 1)
            })
            .is_err()
        {
            return Err(GenerationError::Busy {
                capacity: self.capacity,
            });
        }
        let sender = self.jobs.lock().map_err(|_| GenerationError::Stopped)?;
        match sender.try_send(job) {
            Ok(()) => Ok(Generation {
                events: events_rx,
                cancel,
            }),
            Err(TrySendError::Full(_)) => {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                Err(GenerationError::Busy {
                    capacity: self.capacity,
                })
            }
            Err(TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                Err(GenerationError::Stopped)
            }
        }
    }
}

/// Refuses a context, parallelism or batch size that cannot work, before anything loads.
fn check_settings(config: &LlamaConfig) -> Result<(), LoadError> {
    if config.context_size < 256 {
        return Err(LoadError::Setting(format!(
            "EPICRISIS_CONTEXT_SIZE = {} is too small (at least 256)",
            config.context_size
        )));
    }
    if !(1..=MAX_PARALLEL).contains(&config.parallel) {
        return Err(LoadError::Setting(format!(
            "EPICRISIS_PARALLEL = {} is out of range (1 to {MAX_PARALLEL} sequences)",
            config.parallel
        )));
    }
    if config.batch_size == 0 {
        return Err(LoadError::Setting(
            "EPICRISIS_BATCH_SIZE must be at least 1".into(),
        ));
    }
    Ok(())
}

/// The model file's hash: from the `<model>.sha256` note when it matches the file's size
/// and time, else computed beside the load (provenance waits for it if needed) and noted
/// for next time.
fn model_sha256(path: &Path) -> Arc<OnceLock<String>> {
    let sha256 = Arc::new(OnceLock::new());
    match cached_sha256(path) {
        Some(h) => {
            let _ = sha256.set(h);
        }
        None => {
            let sha = sha256.clone();
            let path = path.to_path_buf();
            std::thread::spawn(move || {
                if let Ok(h) = sha256_file(&path) {
                    note_sha256(&path, &h);
                    let _ = sha.set(h);
                }
            });
        }
    }
    sha256
}

/// The loaded model's description (for provenance) and the chat template chosen for it.
fn describe(
    config: &LlamaConfig,
    header: &crate::gguf::GgufHeader,
    loaded: &Loaded,
    threads: u32,
) -> (ModelInfo, TemplateChoice) {
    let name = config
        .model_path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let model_name = header.name().unwrap_or(&name).to_string();
    let template = TemplateChoice::choose(
        config.template,
        loaded.gguf_template.as_deref(),
        &format!("{model_name} {name}"),
    );
    let info = ModelInfo {
        backend: "llama.cpp".into(),
        name,
        path: Some(config.model_path.display().to_string()),
        size_bytes: Some(header.file_size),
        sha256: None,
        quantization: Some(header.quantization()),
        architecture: header.architecture().map(str::to_string),
        template: template.label(),
        context_size: loaded.n_ctx,
        threads: Some(threads),
        gpu_layers: Some(config.gpu_layers),
        draft_tokens: Some(config.draft_tokens),
        flash_attention: Some(loaded.flash_attention.to_string()),
        parallel: (config.parallel > 1).then_some(config.parallel),
    };
    (info, template)
}

fn token_text(model: &LlamaModel, t: LlamaToken) -> String {
    String::from_utf8_lossy(&model.vocab().token_to_piece(t, true, None)).to_string()
}

/// The model thread: loads the model and its context, says on `ready` how that went,
/// then serves jobs until the generator is dropped.
fn worker(
    config: LlamaConfig,
    threads: u32,
    jobs: Receiver<Job>,
    ready: std::sync::mpsc::Sender<Result<Loaded, LoadError>>,
    queued: Arc<AtomicUsize>,
) {
    let (backend, model) = match load_model(&config) {
        Ok(loaded) => loaded,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let sequences = config.parallel.max(1);
    let (ctx, n_ctx, flash_attention) =
        match new_context(backend, &model, &config, threads, sequences) {
            Ok(c) => c,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
    if ready
        .send(Ok(loaded(&model, n_ctx, flash_attention)))
        .is_err()
    {
        return;
    }
    let mut engine = Engine::new(
        &model,
        ctx,
        config.batch_size as usize,
        n_ctx,
        config.draft_tokens as usize,
        sequences as usize,
    );
    serve(&mut engine, &jobs, &queued);
}

/// The llama.cpp backend and the model file loaded on it (with its GPU layers).
fn load_model(config: &LlamaConfig) -> Result<(&'static LlamaBackend, LlamaModel), LoadError> {
    let path = config.model_path.display().to_string();
    let backend = backend().map_err(|detail| LoadError::Backend {
        path: path.clone(),
        detail,
    })?;
    let params = LlamaModelParams::default().with_n_gpu_layers(config.gpu_layers);
    let model = LlamaModel::load_from_file(backend, &config.model_path, &params).map_err(|e| {
        LoadError::Backend {
            path,
            detail: e.to_string(),
        }
    })?;
    Ok((backend, model))
}

/// The model's context for `sequences` jobs at once; with the window per sequence (the
/// setting, capped by what the model was trained on) and how flash attention was chosen.
fn new_context<'m>(
    backend: &LlamaBackend,
    model: &'m LlamaModel,
    config: &LlamaConfig,
    threads: u32,
    sequences: u32,
) -> Result<(LlamaContext<'m>, u32, &'static str), LoadError> {
    let n_ctx = config.context_size.min(model.n_ctx_train().max(256));
    let (flash, flash_attention) = config
        .flash_attention
        .resolve(model.n_embd(), config.gpu_layers);
    // Several sequences share one unified KV cache of a window each: a shared prompt
    // prefix is held once, and a step's batch mixes any sequences in one pass. One
    // sequence keeps llama.cpp's default layout (the same computation as always).
    let ctx_params = LlamaContextParams::default()
        .with_flash_attention_policy(flash)
        .with_n_ctx(NonZeroU32::new(n_ctx * sequences))
        .with_n_seq_max(sequences)
        .with_kv_unified(sequences > 1)
        .with_n_batch(config.batch_size)
        .with_n_ubatch(config.batch_size)
        .with_n_threads(threads as i32)
        .with_n_threads_batch(threads as i32);
    let ctx = model
        .new_context(backend, ctx_params)
        .map_err(|e| LoadError::Context {
            path: config.model_path.display().to_string(),
            n_ctx,
            detail: e.to_string(),
        })?;
    Ok((ctx, n_ctx, flash_attention))
}

/// What the loading thread reports of the model: its BOS and EOS text, the window, how
/// flash attention was chosen and the GGUF's own chat template.
fn loaded(model: &LlamaModel, n_ctx: u32, flash_attention: &'static str) -> Loaded {
    let vocab = model.vocab();
    let bos = if vocab.should_add_bos() {
        token_text(model, vocab.bos())
    } else {
        String::new()
    };
    let eos = token_text(model, vocab.eos());
    let gguf_template = model
        .chat_template(None)
        .ok()
        .and_then(|t| t.to_string().ok());
    Loaded {
        bos,
        eos,
        n_ctx,
        flash_attention,
        gguf_template,
    }
}

/// The model thread's loop: takes jobs while a sequence is free, steps the running ones
/// together, and waits for a job only when none runs. Ends when the generator is dropped
/// and the jobs under way are done.
fn serve(engine: &mut Engine<'_>, jobs: &Receiver<Job>, queued: &AtomicUsize) {
    let mut open = true;
    loop {
        if engine.idle() {
            if !open {
                return;
            }
            match jobs.recv() {
                Ok(job) => {
                    queued.fetch_sub(1, Ordering::SeqCst);
                    engine.admit(job);
                }
                Err(_) => return,
            }
        }
        while open && engine.has_room() {
            match jobs.try_recv() {
                Ok(job) => {
                    queued.fetch_sub(1, Ordering::SeqCst);
                    engine.admit(job);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        if !engine.idle() {
            engine.step();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_attention_auto_is_off_for_narrow_models_on_the_cpu() {
        assert_eq!(FlashAttention::parse(" OFF "), Some(FlashAttention::Off));
        assert_eq!(FlashAttention::parse("rapido"), None);
        let auto = FlashAttention::Auto;
        assert_eq!(auto.resolve(576, 0).0, 0, "SmolLM2 on the CPU");
        assert_eq!(auto.resolve(896, 0).0, 0, "Qwen 0.5B on the CPU");
        assert_eq!(auto.resolve(1536, 0).0, -1, "Qwen 1.5B: llama.cpp decides");
        assert_eq!(auto.resolve(576, 99).0, -1, "on a GPU: llama.cpp decides");
        assert_eq!(FlashAttention::On.resolve(576, 0).0, 1);
    }

    #[test]
    fn permission_denied_suggests_chmod() {
        let e = io_error(
            "/models/m.gguf",
            &std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        assert!(matches!(e, LoadError::Unreadable { .. }));
        assert!(e.to_string().contains("chmod 644 /models/m.gguf"), "{e}");
        let e = io_error(
            "/models/m.gguf",
            &std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert!(
            e.to_string()
                .contains("model file not found: /models/m.gguf"),
            "{e}"
        );
    }
}
