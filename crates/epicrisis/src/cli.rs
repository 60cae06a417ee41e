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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// The deterministic writer: every fact copied from the data, no model.
    Deterministic,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Deterministic => "deterministic",
        }
    }
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
    /// Who writes the draft.
    #[arg(long, value_enum, default_value = "deterministic")]
    pub engine: Engine,
    /// Document layout.
    #[arg(long, value_enum, default_value = "sections")]
    pub layout: LayoutArg,
    /// `text` prints the draft; `json` prints {text, layout, engine, validation, timings_ms}; `markdown` prints the draft with Markdown headings.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
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
    /// A JSONL dataset: one record per line ({"instruction", "input": {...}, "output"}).
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
    pub seed: u64,
}
