//! Command-line flags. Spanish-speaking users, English flags; the help texts are Spanish
//! and say what each command does and what it prints.
//!
//! clap writes its own words in English ("Usage:", "Options:", "Print help", the `help`
//! subcommand). Here the `-h`/`--help` and `-V`/`--version` flags are our own, with
//! Spanish texts; the `help` subcommand is left out (`epicrisis COMANDO --help` does the
//! same); and the commands declared in this file get a help template with Spanish
//! headings ([`T_OPCIONES`], [`T_ARGUMENTOS`], [`T_COMANDOS`]: each lists exactly the
//! sections the command has, a test checks that nothing is left out).

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Help layout of a command with options only.
pub const T_OPCIONES: &str =
    "{before-help}{about-with-newline}\nUso: {usage}\n\nOpciones:\n{options}{after-help}";
/// Help layout of a command with positional arguments and options.
pub const T_ARGUMENTOS: &str = "{before-help}{about-with-newline}\nUso: {usage}\n\nArgumentos:\n{positionals}\n\nOpciones:\n{options}{after-help}";
/// Help layout of a command with subcommands and options.
pub const T_COMANDOS: &str = "{before-help}{about-with-newline}\nUso: {usage}\n\nComandos:\n{subcommands}\n\nOpciones:\n{options}{after-help}";

#[derive(Debug, Parser)]
#[command(
    name = "epicrisis",
    version,
    about = "Redacta la epicrisis (informe de alta hospitalaria) de un episodio y verifica cada afirmación contra los datos del paciente.",
    long_about = "Redacta la epicrisis (informe de alta hospitalaria) de un episodio y verifica cada afirmación contra los datos del paciente.\n\nEntradas aceptadas (detectadas automáticamente): el episodio rico (episodio_*.json), el registro compacto ({\"input\": {dx, proc, tto, evo, dx_alta, med}}) y el JSON clínico del sistema anterior.\n\nCódigos de salida: 0 éxito; 1 el texto validado tiene errores; 2 entrada o uso incorrectos; 3 falla inesperada.",
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

/// The options every command of both binaries takes (`epicrisis` and `epicrisis-dev`).
#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// Lee la configuración de este archivo en vez de ./.env (opciones de la línea de
    /// comandos > entorno > .env > valores predeterminados).
    #[arg(long, global = true, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Muestra la ayuda (-h un resumen, --help la versión completa).
    #[arg(short = 'h', long = "help", global = true, action = ArgAction::Help, display_order = 10_000)]
    help: Option<bool>,
    /// Muestra la versión.
    #[arg(short = 'V', long = "version", action = ArgAction::Version, display_order = 10_001)]
    version: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Redacta la epicrisis de un episodio y la valida.
    #[command(help_template = T_ARGUMENTOS)]
    Generate(GenerateArgs),
    /// Revisa un texto (de cualquier autor) contra un episodio: afirmaciones sin respaldo
    /// y omisiones.
    #[command(help_template = T_ARGUMENTOS)]
    Validate(ValidateArgs),
    /// Casos anteriores similares: las epicrisis firmadas del almacén más cercanas en
    /// significado a TEXT.
    #[command(help_template = T_ARGUMENTOS)]
    Search(SearchArgs),
    /// Revisa la instalación: configuración, archivos de modelos, memoria, disco, CPU, GPU,
    /// base de datos, embeddings y proveedores externos, cada uno con un veredicto y qué
    /// hacer.
    #[command(help_template = T_OPCIONES)]
    Doctor(DoctorArgs),
    /// La carpeta de modelos: muestra el catálogo, descarga, importa archivos traídos a
    /// mano y verifica lo instalado.
    #[command(subcommand, help_template = T_COMANDOS, subcommand_value_name = "COMANDO")]
    Models(ModelsCommand),
    /// Exporta un episodio o un borrador guardado como PDF, DOCX, HL7 FHIR R4, Markdown o
    /// texto.
    #[command(help_template = T_ARGUMENTOS)]
    Export(crate::export_cmd::ExportArgs),
    /// Levanta la interfaz web y la API HTTP (las rutas del sistema anterior, /api/v1 y una
    /// /v1 compatible con OpenAI) con un solo modelo compartido y una cola de redacción
    /// acotada.
    #[command(help_template = T_OPCIONES)]
    Serve(crate::serve_cmd::ServeArgs),
    /// Redacta los borradores que piden los servidores que comparten la base de datos
    /// (sin HTTP): carga el modelo una vez y toma un trabajo tras otro. Se pueden tener
    /// varios, en este equipo o en otros, junto a `serve --no-worker`.
    #[command(help_template = T_OPCIONES)]
    Worker(crate::serve_cmd::WorkerArgs),
    /// Redacta muchos episodios de una vez (las altas del día): los importa, los encola
    /// como un lote a nombre de un médico y los redacta; informe en CSV o JSON. Volver a
    /// correrlo no redacta de nuevo lo ya redactado.
    #[command(help_template = T_ARGUMENTOS)]
    Batch(crate::batch_cmd::BatchArgs),
    /// Trae episodios de la fuente configurada (servidor FHIR o base de datos del hospital):
    /// las altas desde una fecha o episodios por número; los importa y los redacta como un
    /// lote. Volver a correrlo no importa nada dos veces.
    #[command(help_template = T_OPCIONES)]
    Pull(crate::sources_cmd::PullArgs),
    /// La fuente de episodios (FHIR o SQL): `check` revisa conexión, credenciales y un
    /// episodio de muestra.
    #[command(subcommand, help_template = T_COMANDOS, subcommand_value_name = "COMANDO")]
    Sources(crate::sources_cmd::SourcesCommand),
    /// Cuentas de la interfaz web y de la API.
    #[command(subcommand, help_template = T_COMANDOS, subcommand_value_name = "COMANDO")]
    Users(crate::serve_cmd::UsersCommand),
    /// Tokens de API para integraciones.
    #[command(subcommand, help_template = T_COMANDOS, subcommand_value_name = "COMANDO")]
    Tokens(crate::serve_cmd::TokensCommand),
    /// El registro de auditoría.
    #[command(subcommand, help_template = T_COMANDOS, subcommand_value_name = "COMANDO")]
    Audit(crate::audit_cmd::AuditCommand),
    /// Versiones de epicrisis guardadas en el almacén (borradores, firmas, enmiendas).
    #[command(subcommand, help_template = T_COMANDOS, subcommand_value_name = "COMANDO")]
    Versions(crate::serve_cmd::VersionsCommand),
    /// Respalda la base de datos de DATABASE_URL (SQLite o PostgreSQL) en un archivo, con
    /// los servidores en marcha: una sola instantánea de todas las tablas, con la suma
    /// SHA-256 de cada una. No incluye la clave de auditoría: respáldela aparte.
    #[command(help_template = T_ARGUMENTOS)]
    Backup(crate::backup_cmd::BackupArgs),
    /// Restaura un respaldo en la base de datos de DATABASE_URL, que debe estar vacía
    /// (SQLite o PostgreSQL, sin importar de cuál vino); luego verifica la bitácora y la
    /// huella de cada versión. Código de salida 1 si algo no coincide.
    #[command(help_template = T_ARGUMENTOS)]
    Restore(crate::backup_cmd::RestoreArgs),
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// El catálogo: nombre, rol, tamaño, cuantización, memoria, licencia, si está
    /// instalado y para qué lo recomienda la guía; luego lo instalado fuera del catálogo.
    #[command(help_template = T_OPCIONES)]
    List {
        /// `text` (predeterminado) o `json`.
        #[arg(
            long,
            value_enum,
            default_value = "text",
            hide_default_value = true,
            hide_possible_values = true
        )]
        format: ReportFormat,
    },
    /// Descarga modelos del hub de Hugging Face (o de un espejo) a la carpeta de modelos.
    /// Sin nombres ni opciones, en una terminal, pregunta modelo por modelo.
    #[command(help_template = T_ARGUMENTOS)]
    Download(DownloadArgs),
    /// Incorpora un archivo GGUF o una carpeta de embeddings traídos a mano (un pendrive,
    /// un hospital sin internet): se revisa, se copia a la carpeta de modelos y se registra.
    #[command(help_template = T_ARGUMENTOS)]
    Import {
        /// El archivo .gguf o la carpeta del modelo de embeddings.
        path: PathBuf,
        /// El nombre con que se instala (predeterminado: el que se reconoce en el
        /// catálogo o, si no, el nombre del archivo o de la carpeta).
        #[arg(long)]
        name: Option<String>,
    },
    /// Vuelve a revisar cada modelo instalado: archivos presentes, tamaños, sha256,
    /// encabezados GGUF y carpetas de embeddings completas. Código de salida 1 si algo
    /// está mal.
    #[command(help_template = T_OPCIONES)]
    Verify {
        /// `text` (predeterminado) o `json`.
        #[arg(
            long,
            value_enum,
            default_value = "text",
            hide_default_value = true,
            hide_possible_values = true
        )]
        format: ReportFormat,
    },
    /// Muestra el archivo (o la carpeta) instalado de un modelo, para scripts; código de
    /// salida 1 si no está instalado.
    #[command(help_template = T_ARGUMENTOS)]
    Path {
        /// Un nombre o alias del catálogo, o el nombre con que se importó un modelo.
        name: String,
        /// Una cuantización (Q4_K_M, Q5_K_M, Q8_0, F16…).
        #[arg(long)]
        quant: Option<String>,
    },
    /// Borra un modelo instalado: sus archivos en la carpeta de modelos y su registro en
    /// manifest.json (todas sus cuantizaciones, salvo que se indique una). Nada fuera de
    /// la carpeta de modelos se toca.
    #[command(help_template = T_ARGUMENTOS)]
    Remove {
        /// Un nombre o alias del catálogo, o el nombre con que se importó un modelo.
        name: String,
        /// Solo esta cuantización (Q4_K_M, Q5_K_M, Q8_0, F16…).
        #[arg(long)]
        quant: Option<String>,
        /// Solo lo quita del registro y deja los archivos donde están (para un registro
        /// que nombra archivos que ya no existen).
        #[arg(long)]
        keep_files: bool,
    },
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// Nombres o alias del catálogo (`epicrisis models list`).
    pub names: Vec<String>,
    /// Los predeterminados de la guía: el modelo de lenguaje y el modelo de embeddings
    /// predeterminados.
    #[arg(long)]
    pub all: bool,
    /// El modelo de lenguaje predeterminado (TinyLlama 1.1B Chat).
    #[arg(long)]
    pub llm: bool,
    /// El modelo de embeddings predeterminado (multilingual-e5-small).
    #[arg(long)]
    pub embeddings: bool,
    /// Otro modelo de lenguaje, por nombre, p. ej. `mistral-7b`.
    #[arg(long, value_name = "NAME")]
    pub alternative_llm: Option<String>,
    /// Cuantización de los archivos GGUF (predeterminada: Q4_K_M).
    #[arg(long, value_name = "Q")]
    pub quant: Option<String>,
    /// URL base de un espejo de Hugging Face [HF_ENDPOINT].
    #[arg(long, value_name = "URL")]
    pub mirror: Option<String>,
    /// No pregunta nada (el modo interactivo necesita una terminal; sin ella, no se
    /// pregunta de todos modos).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// El redactor determinista: cada dato se copia de los datos del episodio, sin modelo.
    Deterministic,
    /// Un modelo GGUF local, mediante llama.cpp, redacta la narrativa; los datos vienen
    /// del episodio.
    Local,
    /// Un servidor compatible con OpenAI (OpenAI, o un servidor propio del hospital:
    /// llama.cpp, vLLM, Ollama) redacta la narrativa a partir de datos desidentificados;
    /// requiere EPICRISIS_ALLOW_EXTERNAL=true.
    #[value(name = "openai")]
    OpenAi,
    /// La API Messages de Anthropic redacta la narrativa a partir de datos
    /// desidentificados; requiere EPICRISIS_ALLOW_EXTERNAL=true.
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
    /// El modelo redacta la narrativa de la evolución; códigos, fármacos y dosis vienen de
    /// los datos.
    #[default]
    Narrative,
    /// El modelo redacta el párrafo completo (para comparar; se repara o se reemplaza si
    /// tiene errores).
    Full,
}

/// Configuración del modelo local (las opciones prevalecen sobre las variables de entorno
/// indicadas entre corchetes).
#[derive(Debug, Args, Clone, Default)]
pub struct ModelArgs {
    /// El archivo del modelo GGUF [LOCAL_LLM_PATH].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Hilos de CPU [EPICRISIS_THREADS] (predeterminado: los núcleos físicos).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Ventana de contexto en tokens [EPICRISIS_CONTEXT_SIZE] (predeterminado: 4096).
    #[arg(long)]
    pub context_size: Option<u32>,
    /// Tokens por lote de decodificación [EPICRISIS_BATCH_SIZE] (predeterminado: 512).
    #[arg(long)]
    pub batch_size: Option<u32>,
    /// Máximo de tokens de borrador (prompt lookup) que se comprueban en cada paso de
    /// decodificación, 0 = desactivado [EPICRISIS_DRAFT_TOKENS] (predeterminado: 8); el
    /// largo de cada borrador sigue a los que el modelo acepta. Cada token aceptado es
    /// la elección del propio modelo; aun así, una respuesta larga puede diferir en una
    /// palabra de la decodificada sin borrador (aritmética por lotes).
    #[arg(long)]
    pub draft_tokens: Option<u32>,
    /// Redacciones que el modelo decodifica a la vez, cada una en su propia secuencia con
    /// su ventana de contexto [EPICRISIS_PARALLEL] (predeterminado: 1). Más borradores por
    /// hora en lotes de altas donde la decodificación espera a la memoria (muchos núcleos,
    /// GPU), a cambio de memoria (la caché KV crece por secuencia).
    #[arg(long)]
    pub parallel: Option<u32>,
    /// Flash attention: auto, on, off [EPICRISIS_FLASH_ATTENTION] (predeterminado: auto,
    /// que la desactiva en CPU para modelos de ancho menor a 1024, cuya generación hace más
    /// lenta; en los demás casos decide llama.cpp).
    #[arg(long)]
    pub flash_attention: Option<String>,
    /// Capas que se cargan en la GPU, con una compilación `cuda` [EPICRISIS_GPU_LAYERS]
    /// (predeterminado: 0).
    #[arg(long)]
    pub gpu_layers: Option<u32>,
    /// Plantilla de chat: auto, chatml, llama3, mistral, zephyr, gemma, raw
    /// [EPICRISIS_CHAT_TEMPLATE].
    #[arg(long)]
    pub template: Option<String>,
    /// Rechaza los modelos cuyo uso estimado de memoria supere estos MB
    /// [EPICRISIS_MEMORY_LIMIT_MB].
    #[arg(long)]
    pub memory_limit_mb: Option<u64>,
    /// Máximo de tokens por redacción [MAX_TOKENS] (predeterminado: 2048).
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Temperatura de muestreo, 0 = siempre el token más probable [TEMPERATURE]
    /// (predeterminado: 0.3).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Muestreo de núcleo (top-p) [TOP_P] (predeterminado: 0.9).
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Muestreo top-k, 0 = desactivado [EPICRISIS_TOP_K] (predeterminado: 40).
    #[arg(long)]
    pub top_k: Option<i32>,
    /// Penalización por repetición, 1.0 = desactivada [EPICRISIS_REPEAT_PENALTY]
    /// (predeterminado: 1.1).
    #[arg(long)]
    pub repeat_penalty: Option<f32>,
    /// Semilla aleatoria: con la misma semilla, modelo y entrada se obtiene el mismo texto
    /// [EPICRISIS_SEED].
    #[arg(long)]
    pub seed: Option<u32>,
    /// Qué redacta el modelo: `narrative` (predeterminado), la narrativa de la evolución,
    /// con códigos, fármacos y dosis tomados de los datos; o `full`, el párrafo completo
    /// (para comparar; se repara o se reemplaza si tiene errores).
    #[arg(
        long,
        value_enum,
        default_value = "narrative",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub strategy: StrategyArg,
    /// Rondas de reparación antes de que una parte pase al redactor determinista
    /// (predeterminado: 2).
    #[arg(long, default_value_t = 2, hide_default_value = true)]
    pub repair_rounds: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    /// Un párrafo, al estilo de las epicrisis de referencia.
    Paragraph,
    /// El documento por secciones (Identificación, Período, Motivo, ... Indicaciones al
    /// alta).
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
    /// El episodio: un archivo JSON, o `-` para leerlo de la entrada estándar.
    pub episode: String,
    /// Quién redacta el borrador [MODEL_TYPE]: `deterministic` (el redactor determinista,
    /// sin modelo), `local` (un modelo GGUF local mediante llama.cpp), `openai` (un
    /// servidor compatible con OpenAI) o `anthropic` (la API de Anthropic); los dos
    /// externos reciben datos desidentificados y requieren EPICRISIS_ALLOW_EXTERNAL=true.
    /// Predeterminado: un modelo local si hay uno configurado o instalado; si no, el
    /// redactor determinista.
    #[arg(long, value_enum, hide_possible_values = true)]
    pub engine: Option<Engine>,
    /// Estructura del documento: `sections` (predeterminado), por secciones
    /// (Identificación, Período, Motivo, ... Indicaciones al alta), o `paragraph`, un
    /// párrafo al estilo de las epicrisis de referencia.
    #[arg(
        long,
        value_enum,
        default_value = "sections",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub layout: LayoutArg,
    /// `text` (predeterminado) muestra el borrador; `json` muestra {text, layout, engine, validation, timings_ms} (más provenance, attempts y parts cuando redacta un modelo); `markdown` muestra el borrador con títulos Markdown.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub format: OutputFormat,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// El episodio: un archivo JSON, o `-` para leerlo de la entrada estándar.
    pub episode: String,
    /// El texto a revisar: un archivo, o `-` para leerlo de la entrada estándar.
    pub text: String,
    /// `text` (predeterminado): un hallazgo por línea; `json`: el informe como objeto JSON.
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
pub struct SearchArgs {
    /// Qué buscar, en palabras ("neumonía con derrame pleural en adulto mayor").
    pub text: String,
    /// Cuántos casos mostrar (predeterminado: 5).
    #[arg(long, default_value_t = 5, hide_default_value = true)]
    pub limit: usize,
    /// Caracteres que se muestran de cada epicrisis (predeterminado: 160).
    #[arg(long, default_value_t = 160, hide_default_value = true)]
    pub width: usize,
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

/// What is wrong with the help of a command tree declared with the Spanish templates
/// (empty when nothing is): an argument or subcommand the help leaves out (the templates
/// list sections by hand, so a template that lacks a section would hide it); clap's
/// English `[default: …]` or `[possible values: …]`; a hidden default or value set that the
/// Spanish text does not name. `root` names the binary in the messages. The tests of both
/// binaries (`epicrisis`, `epicrisis-dev`) call it on their whole tree.
pub fn help_faults(mut root_cmd: clap::Command, root: &str) -> Vec<String> {
    fn walk(cmd: &mut clap::Command, path: &str, faults: &mut Vec<String>) {
        command_faults(cmd, path, faults);
        for sub in cmd.get_subcommands_mut() {
            let p = format!("{path} {}", sub.get_name());
            walk(sub, &p, faults);
        }
    }
    let mut faults = Vec::new();
    root_cmd.build();
    walk(&mut root_cmd, root, &mut faults);
    faults
}

fn command_faults(cmd: &mut clap::Command, path: &str, faults: &mut Vec<String>) {
    let help = cmd.render_long_help().to_string();
    for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let shown = match (a.get_long(), a.get_value_names()) {
            (Some(l), _) => format!("--{l}"),
            (None, Some(v)) => format!("<{}>", v[0]),
            (None, None) => a.get_id().to_string().to_uppercase(),
        };
        if !(help.contains(&shown) || help.contains(&format!("[{}]", &shown[1..shown.len() - 1]))) {
            faults.push(format!("{path}: {shown} missing from the help:\n{help}"));
        }
    }
    for s in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let n = s.get_name();
        if !help.lines().any(|l| l.trim_start().starts_with(n)) {
            faults.push(format!(
                "{path}: subcommand {n} missing from the help:\n{help}"
            ));
        }
    }
    if help.contains("[default:") || help.contains("ossible values") {
        faults.push(format!("{path}: clap's English in the help:\n{help}"));
    }
    for a in cmd.get_arguments() {
        let text = a
            .get_long_help()
            .or(a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        if a.is_hide_default_value_set() {
            for d in a.get_default_values() {
                let d = d.to_string_lossy();
                if !(text.contains(&format!("predeterminado: {d}"))
                    || text.contains(&format!("predeterminado: `{d}`"))
                    || text.contains(&format!("`{d}` (predeterminado")))
                {
                    faults.push(format!(
                        "{path} --{}: the text does not name the default {d}: {text}",
                        a.get_id()
                    ));
                }
            }
        }
        if a.is_hide_possible_values_set() {
            for v in a.get_possible_values() {
                if !text.contains(&format!("`{}`", v.get_name())) {
                    faults.push(format!(
                        "{path} --{}: the text does not name the value {}: {text}",
                        a.get_id(),
                        v.get_name()
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every argument and subcommand shows up in its Spanish help, which names the defaults
    /// and values clap's English would have printed (here, in serve_cmd.rs and
    /// export_cmd.rs).
    #[test]
    fn the_spanish_help_leaves_nothing_out() {
        let faults = help_faults(Cli::command(), "epicrisis");
        assert!(faults.is_empty(), "{}", faults.join("\n\n"));
    }
}
