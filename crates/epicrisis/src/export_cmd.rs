//! `epicrisis export INPUT --format pdf|docx|fhir|markdown|text -o FILE`.
//!
//! INPUT is an episode of any shape `epicrisis-ingest` reads (the draft is then written
//! by the deterministic writer) or a saved draft `{"episode", "draft", "meta"}`
//! (`epicrisis_export::DraftFile`). Kept in its own file, with its own flags, so that the
//! rest of the binary only names it.

use crate::Failure;
use crate::cli::LayoutArg;
use crate::config::Config;
use clap::{Args, ValueEnum};
use epicrisis_domain::Date;
use epicrisis_export::{DocumentMeta, DocumentState, DraftFile, Format, Logo, Signature};
use epicrisis_pipeline::Draft;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// PDF A4 con el encabezado del hospital, números de página y bloque de firma.
    Pdf,
    /// Documento de Word (títulos, listas y una tabla), editable.
    Docx,
    /// Bundle HL7 FHIR R4 de tipo documento (JSON).
    Fhir,
    /// Markdown, para copiar en otros sistemas.
    Markdown,
    /// Texto plano.
    Text,
}

/// Flags of `epicrisis export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Un episodio (cualquier forma aceptada, también un Bundle FHIR) o un borrador
    /// guardado {"episode", "draft", "meta"}; `-` lee la entrada estándar.
    pub input: String,
    /// Formato de salida: `pdf`, `docx`, `fhir`, `markdown` o `text`.
    #[arg(long, value_enum, hide_possible_values = true)]
    pub format: ExportFormat,
    /// Archivo de salida; `-` escribe en la salida estándar (solo fhir, markdown y text).
    #[arg(short = 'o', long = "output")]
    pub output: String,
    /// Formato del borrador que se redacta de un episodio: `sections` (predeterminado) o
    /// `paragraph` (no se usa con un borrador guardado).
    #[arg(
        long,
        value_enum,
        default_value = "sections",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub layout: LayoutArg,
    /// Nombre del hospital en el encabezado [HOSPITAL_NAME].
    #[arg(long)]
    pub hospital: Option<String>,
    /// Logo del hospital, PNG, JPEG o SVG [HOSPITAL_LOGO].
    #[arg(long)]
    pub logo: Option<PathBuf>,
    /// Firma el documento a este nombre (sin la marca «BORRADOR»; bloque de firma
    /// completo).
    #[arg(long)]
    pub signed_by: Option<String>,
    /// Momento de la firma (RFC 3339, por ejemplo 2025-12-26T18:30:00-03:00;
    /// predeterminado: ahora).
    #[arg(long, requires = "signed_by")]
    pub signed_at: Option<String>,
    /// Médico que revisó el borrador (aparece en el pie de página).
    #[arg(long)]
    pub reviewed_by: Option<String>,
    /// Número de versión del documento.
    #[arg(long)]
    pub doc_version: Option<u32>,
}

const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// Now, as an RFC 3339 instant in UTC.
fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let date = Date::from_ymd(1970, 1, 1).map(|d| d.add_days(days));
    match date {
        Some(d) => format!(
            "{d}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        ),
        None => "1970-01-01T00:00:00Z".into(),
    }
}

fn read_input(arg: &str) -> Result<(String, Vec<u8>), Failure> {
    let name = if arg == "-" { "<stdin>" } else { arg }.to_string();
    let mut bytes = Vec::new();
    let read = if arg == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(arg).and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| Failure::Input(format!("{name}: cannot read the file: {e}")))?;
    Ok((name, bytes))
}

/// A saved draft has top-level `episode` and `draft` keys; anything else is an episode.
fn is_draft_file(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| {
            let m = v.as_object()?;
            Some(m.contains_key("episode") && m.contains_key("draft"))
        })
        .unwrap_or(false)
}

pub fn run(args: ExportArgs, env_file: Option<&std::path::Path>) -> Result<ExitCode, Failure> {
    // HOSPITAL_NAME / HOSPITAL_LOGO come from .env or the environment like every setting.
    let (_, config) = crate::config::load(env_file, None)?;
    let format = output_format(&args)?;
    let (name, bytes) = read_input(&args.input)?;
    let DraftFile {
        episode,
        draft,
        meta: saved_meta,
    } = episode_and_draft(&name, &bytes, args.layout)?;
    let meta = document_meta(&args, &config, saved_meta, &draft)?;
    let out = epicrisis_export::export(format, &episode, &draft, &meta)
        .map_err(|e| Failure::Internal(anyhow::anyhow!(e)))?;
    if args.output == "-" {
        std::io::stdout().lock().write_all(&out)?;
    } else {
        std::fs::write(&args.output, &out).map_err(|e| {
            Failure::Input(format!(
                "{}: cannot write the {} file: {e}",
                args.output,
                format.as_str()
            ))
        })?;
        eprintln!("{}: {} ({} bytes)", args.output, format.as_str(), out.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// The export format asked for; a binary one cannot go to standard output.
fn output_format(args: &ExportArgs) -> Result<Format, Failure> {
    let format = match args.format {
        ExportFormat::Pdf => Format::Pdf,
        ExportFormat::Docx => Format::Docx,
        ExportFormat::Fhir => Format::Fhir,
        ExportFormat::Markdown => Format::Markdown,
        ExportFormat::Text => Format::Text,
    };
    if args.output == "-" && !format.is_text() {
        return Err(Failure::Input(format!(
            "--format {} is binary and cannot go to standard output; give a file name with -o, \
             e.g. -o epicrisis.{}",
            format.as_str(),
            format.as_str()
        )));
    }
    Ok(format)
}

/// The episode and its draft: a saved draft as it is, or an episode with the
/// deterministic writer's draft (and no saved metadata).
fn episode_and_draft(name: &str, bytes: &[u8], layout: LayoutArg) -> Result<DraftFile, Failure> {
    if is_draft_file(bytes) {
        serde_json::from_slice(bytes).map_err(|e| {
            Failure::Input(format!(
                "{name}: not a valid saved draft ({{\"episode\", \"draft\", \"meta\"}}): {e}; \
                 save it again with the program, or export the episode itself"
            ))
        })
    } else {
        let episode = epicrisis_ingest::read_episode(bytes, name)?;
        let draft = epicrisis_pipeline::writer::write(&episode, crate::generate::layout(layout));
        Ok(DraftFile {
            episode,
            draft,
            meta: None,
        })
    }
}

/// The document's metadata: the saved one (or the default) with the hospital, logo,
/// version, reviewer and signature the flags and settings give, and the time it was made.
fn document_meta(
    args: &ExportArgs,
    config: &Config,
    saved: Option<DocumentMeta>,
    draft: &Draft,
) -> Result<DocumentMeta, Failure> {
    let mut meta = saved.unwrap_or_default();
    if let Some(h) = args.hospital.clone().or(config.hospital_name.clone()) {
        meta.hospital_name = h;
    }
    let logo = args.logo.clone().or(config.hospital_logo.clone());
    if let Some(path) = logo {
        let bytes = std::fs::read(&path).map_err(|e| {
            Failure::Input(format!(
                "{}: cannot read the logo: {e}; check --logo / HOSPITAL_LOGO",
                path.display()
            ))
        })?;
        meta.logo = Some(Logo::from_bytes(bytes).map_err(|e| {
            Failure::Input(format!(
                "{}: {e}; use a PNG, JPEG or SVG file",
                path.display()
            ))
        })?);
    }
    if let Some(v) = args.doc_version {
        meta.version = v;
    }
    if let Some(r) = args.reviewed_by.clone() {
        meta.reviewed_by = Some(r);
    }
    let now = now_utc();
    if let Some(signer) = args.signed_by.clone() {
        meta.state = DocumentState::Signed;
        meta.signature = Some(Signature {
            signer,
            signed_at: args.signed_at.clone().unwrap_or_else(|| now.clone()),
            version: meta.version,
            content_hash: epicrisis_export::content_hash(draft),
        });
    }
    if meta.generated_at.is_none() {
        meta.generated_at = Some(now);
    }
    Ok(meta)
}
