//! Readers: bytes → [`Episode`], with errors that say exactly where and what.
//!
//! Hospital data reaches the program in several real shapes — the rich canonical episode,
//! the compact records of the dev dataset, the predecessor backend's clinical JSON (bare
//! or inside its API wrapper), an HL7 FHIR R4 Bundle — and is written by exports that
//! deliver nested lists as
//! strings, decimal commas, prefixed codes and the odd wrong type. So this crate is
//! shaped as one door that *detects* the shape and hands back the domain's one
//! [`Episode`]: nothing downstream ever sees a wire format. It walks `serde_json::Value`
//! by hand instead of deriving serde structs because every error must carry the JSON
//! path and say what was expected and what was found (`diagnostico_ingreso[2].codigo`),
//! and because most oddities are not errors at all: a malformed or suspicious code, an
//! unreadable date, a normalised spelling become [`SourceWarning`]s on the episode, shown
//! to the clinician, never silent corrections. Only input that cannot become an episode
//! (not UTF-8, not JSON, a dataset where one episode was expected, a wrong type, no
//! diagnosis at all, too large) is an [`IngestError`].
//!
//! Paths in errors and warnings are relative to the episode object: the rich root, the
//! compact record's `input`, or the predecessor wrapper's `clinicalData`; keys of those
//! envelopes themselves (`input`, `patientInfo.edad`) are named as such.
//!
//! [`SourceWarning`]: epicrisis_domain::SourceWarning

mod codes;
mod compact;
mod error;
mod evolution;
mod fhir;
mod items;
mod json;
mod keys;
mod labs;
mod rich;

pub use error::{ErrorKind, IngestError};
pub use json::MAX_LIST_ITEMS;

use epicrisis_domain::Episode;
use json::{Ctx, get};
use serde_json::{Map, Value};
use std::io::Read;
use std::path::Path;

/// Bounds on what one read may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest input accepted as one episode, in bytes (default 16 MiB: the largest
    /// real episode is well under 1 MB, so anything near this is a whole export).
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// One record of a JSONL dataset (`train.jsonl`).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line number in the file.
    pub line: usize,
    pub episode: Episode,
    /// `instruction`, as written (`"Epicrisis:"`).
    pub instruction: Option<String>,
    /// `output`: the reference epicrisis.
    pub reference: Option<String>,
}

/// Reads one episode of any accepted shape, with the default [`Limits`].
/// `source_name` is what messages call the input (`episode.json`, `<stdin>`).
pub fn read_episode(bytes: &[u8], source_name: &str) -> Result<Episode, IngestError> {
    read_episode_with(bytes, source_name, &Limits::default())
}

/// [`read_episode`] with explicit limits.
pub fn read_episode_with(
    bytes: &[u8],
    source_name: &str,
    limits: &Limits,
) -> Result<Episode, IngestError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(too_large(source_name, bytes.len() as u64, limits));
    }
    let text = decode(bytes, source_name)?;
    if text.trim().is_empty() {
        return Err(IngestError::new(
            source_name,
            ErrorKind::Empty,
            "the file is empty; expected one episode as a JSON object",
        ));
    }
    let value = parse_single(text, source_name)?;
    let mut ctx = Ctx::new(source_name, None);
    read_document(&mut ctx, &value).map(|d| d.episode)
}

/// Reads one episode from a file, refusing one over the size limit before reading it.
pub fn read_episode_path(path: &Path) -> Result<Episode, IngestError> {
    read_episode_path_with(path, &Limits::default())
}

/// [`read_episode_path`] with explicit limits.
pub fn read_episode_path_with(path: &Path, limits: &Limits) -> Result<Episode, IngestError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| {
        IngestError::new(&name, ErrorKind::Io, format!("cannot open the file: {e}"))
    })?;
    if let Ok(meta) = file.metadata()
        && meta.is_file()
        && meta.len() > limits.max_bytes
    {
        return Err(too_large(&name, meta.len(), limits));
    }
    read_episode_from(file, &name, limits)
}

/// Reads one episode from a stream (stdin), reading at most `max_bytes + 1` bytes.
pub fn read_episode_from(
    reader: impl Read,
    source_name: &str,
    limits: &Limits,
) -> Result<Episode, IngestError> {
    let mut bytes = Vec::new();
    reader
        .take(limits.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| IngestError::new(source_name, ErrorKind::Io, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(IngestError::new(
            source_name,
            ErrorKind::TooLarge,
            format!(
                "input is larger than {}; one episode may be at most that (is this a whole \
                 export? split it into one file per episode)",
                size_limit(limits.max_bytes)
            ),
        ));
    }
    read_episode_with(&bytes, source_name, limits)
}

/// Reads a JSONL dataset: one record per line, blank lines skipped. Errors name the line.
pub fn read_dataset(bytes: &[u8], source_name: &str) -> Result<Vec<Record>, IngestError> {
    let text = decode(bytes, source_name)?;
    if text.trim().is_empty() {
        return Err(IngestError::new(
            source_name,
            ErrorKind::Empty,
            "the dataset is empty; expected one JSON record per line (JSONL)",
        ));
    }
    let limits = Limits::default();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        // Each record is one episode, bounded like one: a runaway line is refused before
        // it is parsed.
        if line.len() as u64 > limits.max_bytes {
            return Err(IngestError::new(
                source_name,
                ErrorKind::TooLarge,
                format!(
                    "record is {}; one episode may be at most {} (is the line a whole export?)",
                    size_mb(line.len() as u64),
                    size_limit(limits.max_bytes)
                ),
            )
            .on_line(Some(n)));
        }
        let value: Value = serde_json::from_str(line).map_err(|e| {
            let mut msg = format!("not valid JSON at column {}: {}", e.column(), bare(&e));
            // The hint costs a parse of the whole file: only for a file one episode could be.
            if text.len() as u64 <= limits.max_bytes && serde_json::from_str::<Value>(text).is_ok()
            {
                msg.push_str(
                    "; the file is one JSON document spread over several lines, not a JSONL \
                     dataset (one record per line): read it as one episode instead",
                );
            }
            IngestError::new(source_name, ErrorKind::NotJson, msg).on_line(Some(n))
        })?;
        let mut ctx = Ctx::new(source_name, Some(n));
        let doc = read_document(&mut ctx, &value)?;
        out.push(Record {
            line: n,
            episode: doc.episode,
            instruction: doc.instruction,
            reference: doc.reference,
        });
    }
    Ok(out)
}

fn size_mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn size_limit(max: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if max >= MIB && max.is_multiple_of(MIB) {
        format!("{} MiB", max / MIB)
    } else {
        size_mb(max)
    }
}

fn too_large(name: &str, len: u64, limits: &Limits) -> IngestError {
    IngestError::new(
        name,
        ErrorKind::TooLarge,
        format!(
            "file is {}; one episode may be at most {} (is this a whole export? split it into \
             one file per episode)",
            size_mb(len),
            size_limit(limits.max_bytes)
        ),
    )
}

/// UTF-8 text without a byte-order mark; invalid bytes are reported by offset and line.
fn decode<'b>(bytes: &'b [u8], name: &str) -> Result<&'b str, IngestError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(IngestError::new(
            name,
            ErrorKind::InvalidUtf8,
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark); re-export it as UTF-8",
        ));
    }
    let bom = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    std::str::from_utf8(&bytes[bom..]).map_err(|e| {
        let offset = bom + e.valid_up_to();
        let line = bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1;
        let byte = bytes.get(offset).copied().unwrap_or(0);
        let hint = if byte >= 0x80 {
            " (bytes like this usually mean Latin-1 or Windows-1252 text)"
        } else {
            ""
        };
        IngestError::new(
            name,
            ErrorKind::InvalidUtf8,
            format!(
                "not valid UTF-8 at byte {offset} (line {line}, byte 0x{byte:02X}){hint}; \
                 re-export the file as UTF-8"
            ),
        )
    })
}

/// serde_json's message without its " at line L column C" suffix.
fn bare(e: &serde_json::Error) -> String {
    let s = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    s.strip_suffix(&suffix).unwrap_or(&s).to_string()
}

fn not_json(name: &str, e: &serde_json::Error, text: &str) -> IngestError {
    let mut msg = format!(
        "not valid JSON at line {}, column {}: {}",
        e.line(),
        e.column(),
        bare(e)
    );
    let start = text.trim_start();
    if start.starts_with('<') {
        msg.push_str(" (the file looks like XML or HTML; an episode is a JSON object)");
    } else if !(start.starts_with('{') || start.starts_with('[')) {
        msg.push_str(" (an episode is a JSON object that starts with '{')");
    }
    IngestError::new(name, ErrorKind::NotJson, msg)
}

/// Parses exactly one JSON value; several values on separate lines are a dataset.
fn parse_single(text: &str, name: &str) -> Result<Value, IngestError> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let first = match stream.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(not_json(name, &e, text)),
        None => {
            return Err(IngestError::new(
                name,
                ErrorKind::Empty,
                "the file is empty; expected one episode as a JSON object",
            ));
        }
    };
    let end = stream.byte_offset();
    let gap: &str = &text[end..];
    let gap_has_newline = gap
        .chars()
        .take_while(|c| c.is_whitespace())
        .any(|c| c == '\n');
    match stream.next() {
        None => Ok(first),
        Some(Ok(_)) if gap_has_newline => {
            let mut count = 2;
            let mut complete = true;
            for r in stream {
                match r {
                    Ok(_) => count += 1,
                    Err(_) => {
                        complete = false;
                        break;
                    }
                }
            }
            let at_least = if complete { "" } else { "at least " };
            Err(IngestError::new(
                name,
                ErrorKind::Dataset,
                format!(
                    "found {at_least}{count} JSON values on separate lines: this looks like a \
                     JSONL dataset, but one episode is expected; use `epicrisis-dev eval` for a \
                     dataset, or take one line (e.g. `head -n 1 {name} > episode.json`)"
                ),
            ))
        }
        Some(Ok(_)) => {
            let (line, col) = line_col(text, end);
            Err(IngestError::new(
                name,
                ErrorKind::NotJson,
                format!(
                    "not valid JSON at line {line}, column {col}: another value follows the \
                     first one; one episode is one JSON object"
                ),
            ))
        }
        Some(Err(e)) => {
            let mut err = not_json(name, &e, text);
            if gap_has_newline {
                err.message.push_str(
                    " (the first lines hold a complete JSON value: is this a JSONL dataset? \
                     one episode is expected)",
                );
            }
            Err(err)
        }
    }
}

fn line_col(text: &str, byte: usize) -> (usize, usize) {
    let before = &text[..byte.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Document {
    episode: Episode,
    instruction: Option<String>,
    reference: Option<String>,
}

const SHAPES: &str = "accepted shapes: (1) the rich episode {id_atencion, paciente, atencion, \
    motivo_ingreso, antecedentes, diagnostico_ingreso, procedimientos, tratamientos_intrahosp, \
    evolucion_resumen, laboratorios_resumen, diagnostico_egreso, indicaciones_alta}; (2) the \
    compact record {\"instruction\", \"input\": {dx, proc, tto, evo, dx_alta, med}, \"output\"} or \
    its bare input; (3) the predecessor's clinical JSON (evolucion, laboratorios_relevantes \
    instead of evolucion_resumen, laboratorios_resumen), bare or as {\"episodeId\", \
    \"clinicalData\", \"patientInfo\"}; (4) an HL7 FHIR R4 Bundle (Patient, Encounter, Condition, \
    Procedure, MedicationStatement/MedicationRequest, Observation)";

/// Detects the shape of a document and reads it.
fn read_document(ctx: &mut Ctx<'_>, v: &Value) -> Result<Document, IngestError> {
    let m = match v {
        Value::Object(m) => m,
        Value::Array(items) => {
            let hint = if items.iter().any(Value::is_object) {
                "; to read several episodes, put one per line in a JSONL file and use \
                 `epicrisis-dev eval`, or pass one episode per file"
            } else {
                ""
            };
            return Err(ctx.err(
                ErrorKind::UnknownShape,
                "",
                format!(
                    "expected one episode as a JSON object, found {}{hint}",
                    json::describe(v)
                ),
            ));
        }
        other => {
            return Err(ctx.err(
                ErrorKind::UnknownShape,
                "",
                format!(
                    "expected one episode as a JSON object, found {}",
                    json::describe(other)
                ),
            ));
        }
    };
    let mut doc = if get(m, "resourceType").is_some() {
        Document {
            episode: fhir::read(ctx, v)?,
            instruction: None,
            reference: None,
        }
    } else if let Some(cd) = get(m, "clinicalData") {
        Document {
            episode: predecessor(ctx, m, cd)?,
            instruction: None,
            reference: None,
        }
    } else if let Some(input) = get(m, "input") {
        let inner = json::object(
            ctx,
            input,
            "input",
            "an object {dx, proc, tto, evo, dx_alta, med}",
        )?;
        Document {
            episode: episode_object(ctx, &inner, false)?,
            instruction: json::text(ctx, m, "instruction", "")?,
            reference: json::text(ctx, m, "output", "")?,
        }
    } else {
        Document {
            episode: episode_object(ctx, m, false)?,
            instruction: None,
            reference: None,
        }
    };
    codes::same_name_different_codes(ctx);
    doc.episode.warnings = std::mem::take(&mut ctx.warnings);
    Ok(doc)
}

/// The predecessor's request body: `clinicalData` (`cd`, an episode object) with
/// `episodeId` and `patientInfo` beside it in `m`.
fn predecessor(
    ctx: &mut Ctx<'_>,
    m: &Map<String, Value>,
    cd: &Value,
) -> Result<Episode, IngestError> {
    let inner = json::object(
        ctx,
        cd,
        "clinicalData",
        "an object {motivo_ingreso, diagnostico_ingreso, ...}",
    )?;
    let mut episode = episode_object(ctx, &inner, true)?;
    if let Some(id) = json::text_or_number(ctx, m, "episodeId", "")? {
        episode.id = Some(id);
    }
    if let Some(pi) = get(m, "patientInfo") {
        let p = json::object(
            ctx,
            pi,
            "patientInfo",
            "an object {nombre, rut, edad, sexo}",
        )?;
        rich::read_patient(ctx, &p, "patientInfo", &mut episode)?;
    }
    Ok(episode)
}

/// Reads an episode object of the compact, rich or predecessor shape.
fn episode_object(
    ctx: &mut Ctx<'_>,
    m: &Map<String, Value>,
    predecessor: bool,
) -> Result<Episode, IngestError> {
    let canonical = keys::canonical_object(ctx, m, "");
    let m = &canonical;
    let present = |keys: &[&'static str]| -> Vec<&'static str> {
        keys.iter()
            .copied()
            .filter(|k| get(m, k).is_some())
            .collect()
    };
    let compact = present(compact::COMPACT_KEYS);
    let mut rich_keys = present(rich::RICH_KEYS);
    rich_keys.extend(present(rich::PREDECESSOR_KEYS));
    match (compact.is_empty(), rich_keys.is_empty()) {
        (false, true) => {
            keys::warn_unknown(ctx, m, &[compact::COMPACT_KEYS]);
            compact::read(ctx, m)
        }
        (true, false) => {
            keys::warn_unknown(
                ctx,
                m,
                &[rich::RICH_KEYS, rich::PREDECESSOR_KEYS, rich::FLAT_KEYS],
            );
            rich::read(ctx, m, predecessor)
        }
        (false, false) => Err(ctx.err(
            ErrorKind::UnknownShape,
            "",
            format!(
                "the object mixes keys of the compact record ({}) and of the rich episode ({}); \
                 send one shape per episode",
                compact.join(", "),
                rich_keys.join(", ")
            ),
        )),
        (true, true) => {
            let found = if m.is_empty() {
                "found an empty object".to_string()
            } else {
                format!("found keys {}", json::key_list(m))
            };
            Err(ctx.err(
                ErrorKind::UnknownShape,
                "",
                format!("not an episode of a known shape: {found}; {SHAPES}"),
            ))
        }
    }
}
