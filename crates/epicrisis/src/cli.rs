//! Command-line flags. Spanish-speaking users, English flags; help texts say what each
//! command does and what it prints.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "epicrisis",
    version,
    about = "Redacta la epicrisis (informe de alta hospitalaria) de un episodio y verifica cada afirmación contra los datos del paciente.",
    long_about = "Redacta la epicrisis (informe de alta hospitalaria) de un episodio y verifica cada afirmación contra los datos del paciente.\n\nEntradas aceptadas (detectadas automáticamente): el episodio rico (episodio_*.json), el registro compacto ({\"input\": {dx, proc, tto, evo, dx_alta, med}}) y el JSON clínico del sistema anterior.\n\nCódigos de salida: 0 éxito; 1 el texto validado tiene errores; 2 entrada o uso incorrectos; 3 falla inesperada."
)]
pub struct Cli {
    /// Read settings from this file instead of ./.env (flags > environment > .env > defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write an epicrisis for one episode and validate it.
    Generate(GenerateArgs),
    /// Check a text (any author) against an episode: unsupported claims, omissions.
    Validate(ValidateArgs),
    /// Run generation (or the validator alone) over a JSONL dataset and print quality figures.
    Eval(EvalArgs),
    /// Measure a local model: prompt and generation speed (against a bare llama.cpp loop),
    /// seconds per epicrisis, the saving of prefix reuse, and peak memory.
    Bench(BenchArgs),
    /// Embeddings throughput against sentence-transformers (tokens/s, peak memory).
    BenchEmbeddings(BenchEmbedArgs),
    /// Retrieval quality on long stays assembled from the dev set (recall@5, MRR).
    BenchRetrieval(BenchRetrievalArgs),
    /// End to end on long stays: prompt tokens and seconds per epicrisis with and without retrieval.
    BenchLongstay(BenchLongstayArgs),
    /// How the evidence thresholds separate supported from unsupported sentences on the
    /// dev set (references against their own data and against another record's).
    BenchEvidence(BenchEvidenceArgs),
    /// Similar past cases: signed epicrisis in the store closest in meaning to TEXT.
    Search(SearchArgs),
    /// Measure de-identification on the Spanish clinical test set (recall and precision per
    /// identifier type, clinical words kept), or write the test set.
    EvalDeid(EvalDeidArgs),
    /// Check the installation: settings, model files, memory, disk, CPU, GPU, database,
    /// embeddings and external providers, each with a verdict and a fix.
    Doctor(DoctorArgs),
    /// The models folder: list the catalogue, download, import files fetched by hand,
    /// verify what is installed.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Export an episode or a saved draft as PDF, DOCX, HL7 FHIR R4, Markdown or text.
    Export(crate::export_cmd::ExportArgs),
    /// Run the web interface and the HTTP API (the predecessor's paths, /api/v1 and an
    /// OpenAI-compatible /v1) with one shared model and a bounded generation queue.
    Serve(crate::serve_cmd::ServeArgs),
    /// Accounts of the web interface and the API.
    #[command(subcommand)]
    Users(crate::serve_cmd::UsersCommand),
    /// API tokens for integrations.
    #[command(subcommand)]
    Tokens(crate::serve_cmd::TokensCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(crate::serve_cmd::AuditCommand),
    /// Saved versions of epicrisis in the store (drafts, signatures, amendments).
    #[command(subcommand)]
    Versions(crate::serve_cmd::VersionsCommand),
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// The catalogue: name, role, size, quantization, memory, licence, installed or not,
    /// and what the guide recommends it for; then anything installed outside the catalogue.
    List {
        /// `text` or `json`.
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
    },
    /// Download models from the Hugging Face hub (or a mirror) into the models folder.
    /// With no names and no flags on a terminal, asks model by model.
    Download(DownloadArgs),
    /// Bring in a GGUF file or an embeddings folder fetched by hand (a USB stick, an
    /// offline hospital): it is checked, copied into the models folder and recorded.
    Import {
        /// The .gguf file or the embeddings model folder.
        path: PathBuf,
        /// The name to install it under (default: recognised from the catalogue, else the
        /// file or folder name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Re-check every installed model: files present, sizes, sha256, GGUF headers,
    /// embeddings folders complete. Exit code 1 when something is wrong.
    Verify {
        /// `text` or `json`.
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
    },
    /// Print the installed file (or folder) of a model, for scripts; exit code 1 when it
    /// is not installed.
    Path {
        /// A catalogue name or alias, or the name a model was imported under.
        name: String,
        /// A quantization (Q4_K_M, Q5_K_M, Q8_0, F16…).
        #[arg(long)]
        quant: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// Catalogue names or aliases (`epicrisis models list`).
    pub names: Vec<String>,
    /// The guide's defaults: the default language model and the default embeddings model.
    #[arg(long)]
    pub all: bool,
    /// The default language model (TinyLlama 1.1B Chat).
    #[arg(long)]
    pub llm: bool,
    /// The default embeddings model (multilingual-e5-small).
    #[arg(long)]
    pub embeddings: bool,
    /// Another language model by name, e.g. `mistral-7b`.
    #[arg(long, value_name = "NAME")]
    pub alternative_llm: Option<String>,
    /// Quantization of the GGUF files (default Q4_K_M).
    #[arg(long, value_name = "Q")]
    pub quant: Option<String>,
    /// Base URL of a Hugging Face mirror [HF_ENDPOINT].
    #[arg(long, value_name = "URL")]
    pub mirror: Option<String>,
    /// Do not ask (the interactive mode needs a terminal; this is implied without one).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// `text` or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// The deterministic writer: every fact copied from the data, no model.
    Deterministic,
    /// A local GGUF model through llama.cpp writes the narrative; facts come from the data.
    Local,
    /// An OpenAI-compatible server (OpenAI, or the hospital's own llama.cpp server, vLLM,
    /// Ollama) writes the narrative from de-identified data; needs EPICRISIS_ALLOW_EXTERNAL=true.
    #[value(name = "openai")]
    OpenAi,
    /// The Anthropic Messages API writes the narrative from de-identified data; needs
    /// EPICRISIS_ALLOW_EXTERNAL=true.
    Anthropic,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Deterministic => "deterministic",
            Engine::Local => "local",
            Engine::OpenAi => "openai",
            Engine::Anthropic => "anthropic",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum StrategyArg {
    /// The model writes the evolution narrative; codes, drugs and doses come from the data.
    #[default]
    Narrative,
    /// The model writes the whole paragraph (for comparison; repaired or replaced if wrong).
    Full,
}

/// Local model settings (flags override the environment variables named in brackets).
#[derive(Debug, Args, Clone, Default)]
pub struct ModelArgs {
    /// The GGUF model file [LOCAL_LLM_PATH].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// CPU threads [EPICRISIS_THREADS] (default: physical cores).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Context window in tokens [EPICRISIS_CONTEXT_SIZE] (default 4096).
    #[arg(long)]
    pub context_size: Option<u32>,
    /// Tokens per decode batch [EPICRISIS_BATCH_SIZE] (default 512).
    #[arg(long)]
    pub batch_size: Option<u32>,
    /// Prompt-lookup draft tokens checked per decoding step, 0 = off [EPICRISIS_DRAFT_TOKENS]
    /// (default 8). Each kept token is the model's own choice; a long answer may still
    /// differ in a word from one decoded without drafts (batched arithmetic).
    #[arg(long)]
    pub draft_tokens: Option<u32>,
    /// Flash attention: auto, on, off [EPICRISIS_FLASH_ATTENTION] (default auto: off on the
    /// CPU for models narrower than 1,024, whose generation it slows; else llama.cpp's choice).
    #[arg(long)]
    pub flash_attention: Option<String>,
    /// Layers offloaded to the GPU, with a `cuda` build [EPICRISIS_GPU_LAYERS] (default 0).
    #[arg(long)]
    pub gpu_layers: Option<u32>,
    /// Chat template: auto, chatml, llama3, mistral, zephyr, gemma, raw [EPICRISIS_CHAT_TEMPLATE].
    #[arg(long)]
    pub template: Option<String>,
    /// Refuse models whose estimated memory use exceeds this many MB [EPICRISIS_MEMORY_LIMIT_MB].
    #[arg(long)]
    pub memory_limit_mb: Option<u64>,
    /// Most tokens per generation [MAX_TOKENS] (default 2048).
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature, 0 = greedy [TEMPERATURE] (default 0.3).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Nucleus sampling [TOP_P] (default 0.9).
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Top-k sampling, 0 = off [EPICRISIS_TOP_K] (default 40).
    #[arg(long)]
    pub top_k: Option<i32>,
    /// Repetition penalty, 1.0 = off [EPICRISIS_REPEAT_PENALTY] (default 1.1).
    #[arg(long)]
    pub repeat_penalty: Option<f32>,
    /// Random seed: same seed, model and input give the same text [EPICRISIS_SEED].
    #[arg(long)]
    pub seed: Option<u32>,
    /// What the model writes.
    #[arg(long, value_enum, default_value = "narrative")]
    pub strategy: StrategyArg,
    /// Repair rounds before a part falls back to the deterministic writer.
    #[arg(long, default_value_t = 2)]
    pub repair_rounds: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    /// One paragraph, in the style of the reference epicrisis.
    Paragraph,
    /// The sectioned document (Identificación, Período, Motivo, ... Indicaciones al alta).
    Sections,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The episode: a JSON file, or `-` for standard input.
    pub episode: String,
    /// Who writes the draft [MODEL_TYPE]; default: a local model when one is configured or
    /// installed, else the deterministic writer.
    #[arg(long, value_enum)]
    pub engine: Option<Engine>,
    /// Document layout.
    #[arg(long, value_enum, default_value = "sections")]
    pub layout: LayoutArg,
    /// `text` prints the draft; `json` prints {text, layout, engine, validation, timings_ms} (plus provenance, attempts and parts for a model); `markdown` prints the draft with Markdown headings.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The episode: a JSON file, or `-` for standard input.
    pub episode: String,
    /// The text to check: a file, or `-` for standard input.
    pub text: String,
    /// `text`: one finding per line; `json`: the report object.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A JSONL dataset: one record per line ({"instruction", "input": {...}, "output"}); or
    /// a folder of episodes (NAME.json, with the reference narrative in
    /// NAME.reference.txt, as testdata/rich/): then the figures include who wrote the
    /// narratives and their ROUGE-L against the reference narratives.
    pub dataset: PathBuf,
    /// Who writes the drafts.
    #[arg(long, value_enum, default_value = "deterministic")]
    pub engine: Engine,
    /// Layout of the generated drafts (the references are paragraphs).
    #[arg(long, value_enum, default_value = "paragraph")]
    pub layout: LayoutArg,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Also write per-record results (JSON lines) to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Validate the references and planted errors instead of generating.
    #[arg(long)]
    pub validator_only: bool,
    /// With --validator-only: write the planted-error corpus (JSON lines) to this file.
    #[arg(long, requires = "validator_only")]
    pub write_planted: Option<PathBuf>,
    /// Seed for planting errors (same seed, same corpus).
    #[arg(long, default_value_t = 20584)]
    pub plant_seed: u64,
    /// Only the first N records.
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Dev records to draft for seconds per epicrisis (0: speed only).
    #[arg(long, default_value_t = 5)]
    pub records: usize,
    /// Runs of the speed measurement; the best one counts (a shared machine is noisy).
    #[arg(long, default_value_t = 2)]
    pub reps: usize,
    /// The JSONL dataset the records come from.
    #[arg(long, default_value = "testdata/dev/train.jsonl")]
    pub dataset: PathBuf,
    /// Prompt length for the speed measurement, in tokens.
    #[arg(long, default_value_t = 1000)]
    pub prompt_tokens: usize,
    /// Tokens to generate for the speed measurement.
    #[arg(long, default_value_t = 128)]
    pub gen_tokens: usize,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct BenchEmbedArgs {
    /// The embeddings model folder (default: EMBEDDINGS_MODEL).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The JSONL dataset whose reference epicrisis and notes are embedded.
    #[arg(long, default_value = "testdata/dev/train.jsonl")]
    pub dataset: PathBuf,
    /// Texts per forward pass (both implementations).
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// A Python with sentence-transformers, to measure the reference in the same run.
    #[arg(long)]
    pub reference_python: Option<PathBuf>,
    /// The reference script (default: tools/models/embed_reference.py).
    #[arg(long)]
    pub reference_script: Option<PathBuf>,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct BenchRetrievalArgs {
    /// The embeddings model folder (default: EMBEDDINGS_MODEL).
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// The JSONL dataset whose records become the days of the stays.
    #[arg(long, default_value = "testdata/dev/train.jsonl")]
    pub dataset: PathBuf,
    /// Days (records) per assembled stay.
    #[arg(long, default_value_t = 60)]
    pub days: usize,
    /// Longest passage, in tokens.
    #[arg(long, default_value_t = 64)]
    pub passage_tokens: usize,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct BenchEvidenceArgs {
    /// The embeddings model folder (default: EMBEDDINGS_MODEL).
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// The JSONL dataset with reference epicrisis.
    #[arg(long, default_value = "testdata/dev/train.jsonl")]
    pub dataset: PathBuf,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct BenchLongstayArgs {
    /// The embeddings model folder (default: EMBEDDINGS_MODEL).
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// The JSONL dataset whose records become the days of the long stay.
    #[arg(long, default_value = "testdata/dev/train.jsonl")]
    pub dataset: PathBuf,
    /// Days (records) of the assembled stay.
    #[arg(long, default_value_t = 60)]
    pub days: usize,
    /// A rich episode drafted too.
    #[arg(long, default_value = "testdata/episodes/episodio_1416169.json")]
    pub episode: PathBuf,
    /// Tokens the notes may take in the prompt with retrieval.
    #[arg(long, default_value_t = 700)]
    pub notes_budget: usize,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for, in words ("neumonía con derrame pleural en adulto mayor").
    pub text: String,
    /// How many cases to show.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    /// Characters of each epicrisis to show.
    #[arg(long, default_value_t = 160)]
    pub width: usize,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct EvalDeidArgs {
    /// The test set (JSON lines of {id, patient, episode_id, text, planted}).
    #[arg(default_value = "testdata/deid/cases.jsonl")]
    pub cases: PathBuf,
    /// Write the test set to CASES instead of measuring, planting identifiers into the dev
    /// records' notes and the example episode's daily notes.
    #[arg(long)]
    pub write: bool,
    /// With --write: the dev dataset whose notes are used.
    #[arg(long, default_value = "testdata/dev/train.jsonl")]
    pub dataset: PathBuf,
    /// With --write: the rich example episode whose daily notes are used.
    #[arg(long, default_value = "testdata/episodes/episodio_1416169.json")]
    pub episode: PathBuf,
    /// With --write: seed for planting (same seed, same set).
    #[arg(long, default_value_t = 20584)]
    pub seed: u64,
    /// Output format of the figures.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}
