//! Documents that leave the program: PDF and Word that look like a hospital's, an HL7
//! FHIR R4 document, and Markdown and plain text for copying into other systems.
//!
//! Every format is rendered from one intermediate [`Document`] built from the episode,
//! the draft and its [`DocumentMeta`], so a PDF, a DOCX and a Markdown file of the same
//! draft always hold the same sections, codes and medications in the same order. Text
//! the clinician approved (the draft's parts) is printed as written; the laboratory table
//! and the structured discharge prescription come from the episode's data when the
//! draft's part is the deterministic writer's (the same facts, laid out as a table).
//!
//! The PDF is typeset by Typst, used as a library with its fonts compiled in: no network
//! and no system fonts at render time. User text never becomes Typst markup: the
//! document is passed to a fixed template as JSON data, so `#`, `$`, `*`, `_`, `@`, `<`
//! or `\` in a note print as themselves.

mod document;
mod docx;
mod fhir;
mod pdf;
mod text;

pub use document::{Block, Document, LabRow, MedicationEntry, Section, build_document};
pub use fhir::{document_id, to_fhir};
pub use pdf::{PdfOutput, to_pdf};

use epicrisis_domain::Episode;
use epicrisis_pipeline::{Draft, TextFormat};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Docx,
    Fhir,
    Markdown,
    Text,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Fhir => "fhir",
            Format::Markdown => "markdown",
            Format::Text => "text",
        }
    }
    /// Whether the output is text (and may go to standard output).
    pub fn is_text(self) -> bool {
        matches!(self, Format::Fhir | Format::Markdown | Format::Text)
    }
}

/// Where a document stands (the server's drafts will carry it; issue 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentState {
    /// Not yet approved: printed with a visible "BORRADOR — no firmado" mark.
    #[default]
    Draft,
    /// Approved by a physician, not signed.
    Approved,
    /// Signed: immutable; amendments are new versions.
    Signed,
}

/// A signature: who, when, which version, and the hash of the signed text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub signer: String,
    /// Date and time as shown and as written into FHIR (`2025-12-26T18:30:00-03:00`).
    pub signed_at: String,
    pub version: u32,
    /// sha256 of the rendered draft text, hex ([`content_hash`]).
    pub content_hash: String,
}

/// A logo image for the header (PNG, JPEG or SVG bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub bytes: Vec<u8>,
    /// `png`, `jpg` or `svg`.
    pub format: String,
}

impl Logo {
    /// A logo from a file's bytes; the format comes from the bytes' signature.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Logo, ExportError> {
        let format = if bytes.starts_with(b"\x89PNG") {
            "png"
        } else if bytes.starts_with(&[0xFF, 0xD8]) {
            "jpg"
        } else if bytes.windows(4).take(512).any(|w| w == b"<svg") {
            "svg"
        } else {
            return Err(ExportError::Logo(
                "the logo is not a PNG, JPEG or SVG image".into(),
            ));
        };
        Ok(Logo {
            bytes,
            format: format.into(),
        })
    }
}

/// What a document says about itself, beyond the episode and the draft. Hospital name
/// and logo come from the server's configuration; state and signature from the draft's
/// review (issue 5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentMeta {
    pub hospital_name: String,
    #[serde(skip)]
    pub logo: Option<Logo>,
    /// Overrides the episode's service.
    #[serde(default)]
    pub service: Option<String>,
    /// Overrides the episode's treating physician.
    #[serde(default)]
    pub treating_physician: Option<String>,
    #[serde(default)]
    pub state: DocumentState,
    #[serde(default)]
    pub signature: Option<Signature>,
    #[serde(default)]
    pub reviewed_by: Option<String>,
    /// Version of the draft (1 for the first).
    #[serde(default = "one")]
    pub version: u32,
    /// When the document was produced (FHIR `instant`); injected so output is reproducible.
    #[serde(default)]
    pub generated_at: Option<String>,
}

fn one() -> u32 {
    1
}

impl Default for DocumentMeta {
    fn default() -> DocumentMeta {
        DocumentMeta {
            hospital_name: "Hospital".into(),
            logo: None,
            service: None,
            treating_physician: None,
            state: DocumentState::Draft,
            signature: None,
            reviewed_by: None,
            version: 1,
            generated_at: None,
        }
    }
}

/// A saved draft: the episode, the draft (as `epicrisis_pipeline::Draft` serialises) and
/// optionally its metadata. What `epicrisis export` reads besides a bare episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftFile {
    pub episode: Episode,
    pub draft: Draft,
    #[serde(default)]
    pub meta: Option<DocumentMeta>,
}

/// sha256 of the draft's plain-text rendering, lower-case hex: what a signature covers.
pub fn content_hash(draft: &Draft) -> String {
    let digest = Sha256::digest(draft.render(TextFormat::Plain).as_bytes());
    hex::encode(digest)
}

/// Errors of the export crate.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Typst refused the document (a bug in the template, never in user text).
    #[error("PDF typesetting failed: {0}")]
    Typeset(String),
    #[error("DOCX writing failed: {0}")]
    Docx(String),
    #[error("logo: {0}")]
    Logo(String),
}

/// Renders a document in a format; FHIR, Markdown and text are UTF-8.
pub fn export(
    format: Format,
    episode: &Episode,
    draft: &Draft,
    meta: &DocumentMeta,
) -> Result<Vec<u8>, ExportError> {
    let doc = build_document(episode, draft, meta);
    Ok(match format {
        Format::Pdf => to_pdf(&doc)?.bytes,
        Format::Docx => docx::to_docx(&doc)?,
        Format::Fhir => {
            let v = to_fhir(episode, draft, meta);
            let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
            s.push('\n');
            s.into_bytes()
        }
        Format::Markdown => text::to_markdown(&doc).into_bytes(),
        Format::Text => text::to_text(&doc).into_bytes(),
    })
}

pub use docx::to_docx;
pub use text::{to_markdown, to_text};
