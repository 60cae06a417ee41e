//! The development tools' flags. Like the product's (`epicrisis::cli`): English flags,
//! Spanish help texts with the same Spanish templates.

use clap::{Args, Parser, Subcommand};
pub use epicrisis::cli::{Engine, LayoutArg, ModelArgs, ReportFormat};
use epicrisis::cli::{GlobalOptions, T_ARGUMENTOS, T_COMANDOS, T_OPCIONES};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "epicrisis-dev",
    version,
    about = "Herramientas de desarrollo de epicrisis: mediciones de velocidad y de calidad sobre los conjuntos de datos del repositorio. No forman parte de lo que se instala en un hospital.",
    help_template = T_COMANDOS,
    subcommand_value_name = "COMANDO",
    disable_help_flag = true,
    disable_version_flag = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Redacta (o solo valida) sobre un conjunto de datos JSONL y muestra cifras de
    /// calidad.
    #[command(help_template = T_ARGUMENTOS)]
    Eval(EvalArgs),
    /// Mide un modelo local: velocidad de lectura del prompt y de generación (frente a un
    /// ciclo de llama.cpp sin nada más), segundos por epicrisis, el ahorro al reutilizar el
    /// prefijo y la memoria máxima.
    #[command(help_template = T_OPCIONES)]
    Bench(BenchArgs),
    /// Rendimiento de los embeddings frente a sentence-transformers (tokens/s, memoria
    /// máxima).
    #[command(help_template = T_OPCIONES)]
    BenchEmbeddings(BenchEmbedArgs),
    /// Calidad de la búsqueda de pasajes en hospitalizaciones largas armadas con el
    /// conjunto dev (recall@5, MRR).
    #[command(help_template = T_OPCIONES)]
    BenchRetrieval(BenchRetrievalArgs),
    /// De principio a fin en hospitalizaciones largas: tokens del prompt y segundos por
    /// epicrisis, con y sin búsqueda de pasajes.
    #[command(help_template = T_OPCIONES)]
    BenchLongstay(BenchLongstayArgs),
    /// Cómo separan los umbrales de evidencia las oraciones respaldadas de las que no lo
    /// están, en el conjunto dev (referencias contra sus propios datos y contra los de otro
    /// registro).
    #[command(help_template = T_OPCIONES)]
    BenchEvidence(BenchEvidenceArgs),
    /// Mide la desidentificación en el conjunto de prueba clínico en español (sensibilidad
    /// y precisión por tipo de identificador, palabras clínicas conservadas), o escribe el
    /// conjunto de prueba.
    #[command(help_template = T_ARGUMENTOS)]
    EvalDeid(EvalDeidArgs),
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Un conjunto de datos JSONL: un registro por línea ({"instruction", "input": {...},
    /// "output"}); o una carpeta de episodios (NAME.json, con la narrativa de referencia en
    /// NAME.reference.txt, como testdata/rich/): en ese caso las cifras incluyen quién
    /// redactó las narrativas y su ROUGE-L frente a las narrativas de referencia.
    pub dataset: PathBuf,
    /// Quién redacta los borradores: `deterministic` (predeterminado), `local`, `openai` o
    /// `anthropic`, como en `generate`.
    #[arg(
        long,
        value_enum,
        default_value = "deterministic",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub engine: Engine,
    /// Estructura de los borradores redactados: `paragraph` (predeterminado; las
    /// referencias son párrafos) o `sections`.
    #[arg(
        long,
        value_enum,
        default_value = "paragraph",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub layout: LayoutArg,
    /// Formato de salida del resumen: `text` (predeterminado) o `json`.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub format: ReportFormat,
    /// Además, escribe los resultados de cada registro (líneas JSON) en este archivo.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Valida las referencias y los errores sembrados en vez de redactar.
    #[arg(long)]
    pub validator_only: bool,
    /// Con --validator-only: escribe el corpus de errores sembrados (líneas JSON) en este
    /// archivo.
    #[arg(long, requires = "validator_only")]
    pub write_planted: Option<PathBuf>,
    /// Semilla para sembrar errores (misma semilla, mismo corpus; predeterminado: 20584).
    #[arg(long, default_value_t = 20584, hide_default_value = true)]
    pub plant_seed: u64,
    /// Solo los primeros N registros.
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Registros dev que se redactan para medir los segundos por epicrisis (0: solo la
    /// velocidad; predeterminado: 5).
    #[arg(long, default_value_t = 5, hide_default_value = true)]
    pub records: usize,
    /// Repeticiones de la medición de velocidad; cuenta la mejor (en una máquina
    /// compartida las mediciones varían; predeterminado: 2).
    #[arg(long, default_value_t = 2, hide_default_value = true)]
    pub reps: usize,
    /// El conjunto de datos JSONL del que salen los registros
    /// (predeterminado: `testdata/dev/train.jsonl`).
    #[arg(
        long,
        default_value = "testdata/dev/train.jsonl",
        hide_default_value = true
    )]
    pub dataset: PathBuf,
    /// Largo del prompt para la medición de velocidad, en tokens (predeterminado: 1000).
    #[arg(long, default_value_t = 1000, hide_default_value = true)]
    pub prompt_tokens: usize,
    /// Tokens que se generan en la medición de velocidad (predeterminado: 128).
    #[arg(long, default_value_t = 128, hide_default_value = true)]
    pub gen_tokens: usize,
    /// `text` (predeterminado) o `json`.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub format: ReportFormat,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct BenchEmbedArgs {
    /// La carpeta del modelo de embeddings (predeterminada: EMBEDDINGS_MODEL).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// El conjunto de datos JSONL cuyas epicrisis de referencia y notas se convierten en
    /// embeddings (predeterminado: `testdata/dev/train.jsonl`).
    #[arg(
        long,
        default_value = "testdata/dev/train.jsonl",
        hide_default_value = true
    )]
    pub dataset: PathBuf,
    /// Textos por pasada del modelo (en ambas implementaciones; predeterminado: 32).
    #[arg(long, default_value_t = 32, hide_default_value = true)]
    pub batch_size: usize,
    /// Un Python con sentence-transformers, para medir la referencia en la misma ejecución.
    #[arg(long)]
    pub reference_python: Option<PathBuf>,
    /// El script de referencia (predeterminado: tools/models/embed_reference.py).
    #[arg(long)]
    pub reference_script: Option<PathBuf>,
    /// `text` (predeterminado) o `json`.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct BenchRetrievalArgs {
    /// La carpeta del modelo de embeddings (predeterminada: EMBEDDINGS_MODEL).
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// El conjunto de datos JSONL cuyos registros pasan a ser los días de las
    /// hospitalizaciones (predeterminado: `testdata/dev/train.jsonl`).
    #[arg(
        long,
        default_value = "testdata/dev/train.jsonl",
        hide_default_value = true
    )]
    pub dataset: PathBuf,
    /// Días (registros) de cada hospitalización armada (predeterminado: 60).
    #[arg(long, default_value_t = 60, hide_default_value = true)]
    pub days: usize,
    /// Largo máximo de un pasaje, en tokens (predeterminado: 64).
    #[arg(long, default_value_t = 64, hide_default_value = true)]
    pub passage_tokens: usize,
    /// `text` (predeterminado) o `json`.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct BenchEvidenceArgs {
    /// La carpeta del modelo de embeddings (predeterminada: EMBEDDINGS_MODEL).
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// El conjunto de datos JSONL con las epicrisis de referencia
    /// (predeterminado: `testdata/dev/train.jsonl`).
    #[arg(
        long,
        default_value = "testdata/dev/train.jsonl",
        hide_default_value = true
    )]
    pub dataset: PathBuf,
    /// `text` (predeterminado) o `json`.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct BenchLongstayArgs {
    /// La carpeta del modelo de embeddings (predeterminada: EMBEDDINGS_MODEL).
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// El conjunto de datos JSONL cuyos registros pasan a ser los días de la
    /// hospitalización larga (predeterminado: `testdata/dev/train.jsonl`).
    #[arg(
        long,
        default_value = "testdata/dev/train.jsonl",
        hide_default_value = true
    )]
    pub dataset: PathBuf,
    /// Días (registros) de la hospitalización armada (predeterminado: 60).
    #[arg(long, default_value_t = 60, hide_default_value = true)]
    pub days: usize,
    /// Un episodio rico que también se redacta
    /// (predeterminado: `testdata/episodes/episodio_1416169.json`).
    #[arg(
        long,
        default_value = "testdata/episodes/episodio_1416169.json",
        hide_default_value = true
    )]
    pub episode: PathBuf,
    /// Tokens que pueden ocupar las notas en el prompt con búsqueda de pasajes
    /// (predeterminado: 700).
    #[arg(long, default_value_t = 700, hide_default_value = true)]
    pub notes_budget: usize,
    /// `text` (predeterminado) o `json`.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub format: ReportFormat,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct EvalDeidArgs {
    /// El conjunto de prueba (líneas JSON de {id, patient, episode_id, text, planted};
    /// predeterminado: `testdata/deid/cases.jsonl`).
    #[arg(default_value = "testdata/deid/cases.jsonl", hide_default_value = true)]
    pub cases: PathBuf,
    /// Escribe el conjunto de prueba en CASES en vez de medir, sembrando identificadores
    /// en las notas de los registros dev y en las notas diarias del episodio de ejemplo.
    #[arg(long)]
    pub write: bool,
    /// Con --write: el conjunto de datos dev cuyas notas se usan
    /// (predeterminado: `testdata/dev/train.jsonl`).
    #[arg(
        long,
        default_value = "testdata/dev/train.jsonl",
        hide_default_value = true
    )]
    pub dataset: PathBuf,
    /// Con --write: el episodio rico de ejemplo cuyas notas diarias se usan
    /// (predeterminado: `testdata/episodes/episodio_1416169.json`).
    #[arg(
        long,
        default_value = "testdata/episodes/episodio_1416169.json",
        hide_default_value = true
    )]
    pub episode: PathBuf,
    /// Con --write: semilla para sembrar (misma semilla, mismo conjunto;
    /// predeterminado: 20584).
    #[arg(long, default_value_t = 20584, hide_default_value = true)]
    pub seed: u64,
    /// Formato de salida de las cifras: `text` (predeterminado) o `json`.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub format: ReportFormat,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The same checks as the product's help (`epicrisis::cli::help_faults`).
    #[test]
    fn the_spanish_help_leaves_nothing_out() {
        let faults = epicrisis::cli::help_faults(Cli::command(), "epicrisis-dev");
        assert!(faults.is_empty(), "{}", faults.join("\n\n"));
    }
}
