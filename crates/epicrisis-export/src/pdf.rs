//! PDF through Typst used as a library: a minimal `World` with three virtual files (the
//! template, the document as JSON, the logo) and the fonts compiled into the binary.

use crate::ExportError;
use crate::document::{Block, Document};
use serde_json::{Value, json};
use std::sync::OnceLock;
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

const TEMPLATE: &str = include_str!("epicrisis.typ");

/// A rendered PDF and its page count.
#[derive(Debug, Clone)]
pub struct PdfOutput {
    pub bytes: Vec<u8>,
    pub pages: usize,
}

struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

/// Fonts are parsed once per process: Libertinus Serif (text), New Computer Modern
/// (fallback), DejaVu Sans Mono, all from `typst-assets` (SIL OFL / free licences).
fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| {
        let fonts: Vec<Font> = typst_assets::fonts()
            .flat_map(|data| Font::iter(Bytes::new(data)))
            .collect();
        Fonts {
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
        }
    })
}

fn library() -> &'static LazyHash<Library> {
    static LIB: OnceLock<LazyHash<Library>> = OnceLock::new();
    LIB.get_or_init(|| LazyHash::new(Library::default()))
}

fn file_id(path: &str) -> FileId {
    // The paths are constants; `VirtualPath::new` only fails on `..` escapes.
    let vpath = VirtualPath::new(path).unwrap_or_else(|_| unreachable!("constant path {path}"));
    RootedPath::new(VirtualRoot::Project, vpath).intern()
}

struct DocWorld {
    main: FileId,
    source: Source,
    data_id: FileId,
    data: Bytes,
    logo: Option<(FileId, Bytes)>,
}

impl World for DocWorld {
    fn library(&self) -> &LazyHash<Library> {
        library()
    }
    fn book(&self) -> &LazyHash<FontBook> {
        &fonts().book
    }
    fn main(&self) -> FileId {
        self.main
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main {
            Ok(self.source.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }
    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            return Ok(self.data.clone());
        }
        if let Some((lid, bytes)) = &self.logo
            && *lid == id
        {
            return Ok(bytes.clone());
        }
        if id == self.main {
            return Ok(Bytes::from_string(self.source.clone()));
        }
        Err(FileError::AccessDenied)
    }
    fn font(&self, index: usize) -> Option<Font> {
        fonts().fonts.get(index).cloned()
    }
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}

fn pairs(p: &[(String, String)]) -> Value {
    Value::Array(p.iter().map(|(k, v)| json!([k, v])).collect())
}

/// The template's data: the document with lab rows as arrays of cells.
fn data(doc: &Document, logo_path: Option<&str>) -> Value {
    let sections: Vec<Value> = doc
        .sections
        .iter()
        .map(|s| {
            let blocks: Vec<Value> = s
                .blocks
                .iter()
                .map(|b| match b {
                    Block::Text { paragraphs } => json!({"kind": "text", "paragraphs": paragraphs}),
                    Block::List { items } => json!({"kind": "list", "items": items}),
                    Block::Medications { items } => json!({
                        "kind": "medications",
                        "items": items.iter().map(|m| json!({"heading": m.heading(), "detail": m.detail()})).collect::<Vec<_>>()
                    }),
                    Block::Labs { columns, rows } => json!({
                        "kind": "labs",
                        "columns": columns,
                        "rows": rows.iter().map(|r| r.cells().to_vec()).collect::<Vec<_>>()
                    }),
                })
                .collect();
            json!({"title": s.title, "blocks": blocks})
        })
        .collect();
    json!({
        "title": doc.title,
        "author": doc.author,
        "hospital": doc.hospital,
        "service": doc.service,
        "ident": pairs(&doc.ident),
        "sections": sections,
        "signature_title": doc.signature_title,
        "signature": pairs(&doc.signature),
        "draft_mark": doc.draft_mark,
        "footer": doc.footer,
        "logo": logo_path,
    })
}

/// Typesets the document as an A4 PDF with embedded fonts.
pub fn to_pdf(doc: &Document) -> Result<PdfOutput, ExportError> {
    let logo = doc.logo.as_ref().map(|l| {
        let path = format!("/logo.{}", l.format);
        (path, Bytes::new(l.bytes.clone()))
    });
    let data = data(doc, logo.as_ref().map(|(p, _)| p.as_str()));
    let main = file_id("/epicrisis.typ");
    let world = DocWorld {
        main,
        source: Source::new(main, TEMPLATE.to_string()),
        data_id: file_id("/data.json"),
        data: Bytes::new(serde_json::to_vec(&data).unwrap_or_default()),
        logo: logo.map(|(p, b)| (file_id(&p), b)),
    };
    let compiled = typst::compile::<PagedDocument>(&world)
        .output
        .map_err(|errs| {
            ExportError::Typeset(
                errs.iter()
                    .map(|e| e.message.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
    let pages = compiled.pages().len();
    let bytes = typst_pdf::pdf(&compiled, &typst_pdf::PdfOptions::default()).map_err(|errs| {
        ExportError::Typeset(
            errs.iter()
                .map(|e| e.message.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    Ok(PdfOutput { bytes, pages })
}
