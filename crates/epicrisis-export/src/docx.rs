//! Word (DOCX) through `docx-rs`: real heading styles ("Heading 1", "Heading 2"), a real
//! bulleted list numbering, and a real table, so the physician can edit it in Word or
//! LibreOffice.

use crate::ExportError;
use crate::document::{Block, Document};
use docx_rs::{
    AbstractNumbering, AlignmentType, Docx, Footer, Header, IndentLevel, Level, LevelJc, LevelText,
    NumberFormat, Numbering, NumberingId, Paragraph, Run, Shading, SpecialIndentType, Start, Style,
    StyleType, Table, TableCell, TableRow, WidthType,
};

const BULLETS: usize = 1;
const BLUE: &str = "143C6E";
const RED: &str = "BE1E1E";
const GRAY: &str = "5F5F5F";

fn styles(docx: Docx) -> Docx {
    docx.add_style(
        Style::new("Heading1", StyleType::Paragraph)
            .name("Heading 1")
            .based_on("Normal")
            .next("Normal")
            .q_format(true)
            .size(32)
            .bold()
            .outline_lvl(0),
    )
    .add_style(
        Style::new("Heading2", StyleType::Paragraph)
            .name("Heading 2")
            .based_on("Normal")
            .next("Normal")
            .q_format(true)
            .size(24)
            .bold()
            .color(BLUE)
            .outline_lvl(1),
    )
}

fn label_value(k: &str, v: &str) -> Paragraph {
    Paragraph::new()
        .add_run(Run::new().add_text(format!("{k}: ")).bold())
        .add_run(Run::new().add_text(v))
}

fn bullet(p: Paragraph) -> Paragraph {
    p.numbering(NumberingId::new(BULLETS), IndentLevel::new(0))
}

fn cell(text: &str, header: bool) -> TableCell {
    let mut run = Run::new().add_text(text).size(17);
    if header {
        run = run.bold();
    }
    let mut c = TableCell::new().add_paragraph(Paragraph::new().add_run(run));
    if header {
        c = c.shading(Shading::new().fill("E1E1E1"));
    }
    c
}

/// The hospital's logo above the title, 1.5 cm high: PNG only (what docx-rs embeds; a
/// JPEG or SVG logo is printed in the PDF and left out of the DOCX).
fn logo_paragraph(logo: &crate::Logo) -> Option<Paragraph> {
    let (w, h) = png_size(&logo.bytes)?;
    const HEIGHT_EMU: u64 = 540_000;
    let width_emu = HEIGHT_EMU * u64::from(w) / u64::from(h);
    let pic = docx_rs::Pic::new_with_dimensions(logo.bytes.clone(), w, h)
        .size(u32::try_from(width_emu).ok()?, HEIGHT_EMU as u32);
    Some(
        Paragraph::new()
            .align(AlignmentType::Left)
            .add_run(Run::new().add_image(pic)),
    )
}

/// Width and height of a PNG, from its header (`None` for anything else or zero sizes).
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
    let h = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

/// Writes the document as DOCX bytes.
pub fn to_docx(doc: &Document) -> Result<Vec<u8>, ExportError> {
    let mut d = styles(Docx::new())
        .add_abstract_numbering(
            AbstractNumbering::new(BULLETS).add_level(
                Level::new(
                    0,
                    Start::new(1),
                    NumberFormat::new("bullet"),
                    LevelText::new("•"),
                    LevelJc::new("left"),
                )
                .indent(
                    Some(500),
                    Some(SpecialIndentType::Hanging(280)),
                    None,
                    None,
                ),
            ),
        )
        .add_numbering(Numbering::new(BULLETS, BULLETS))
        .header(page_header(doc))
        .footer(page_footer(doc));
    if let Some(p) = doc.logo.as_ref().and_then(logo_paragraph) {
        d = d.add_paragraph(p);
    }
    d = d.add_paragraph(
        Paragraph::new()
            .style("Heading1")
            .align(AlignmentType::Center)
            .add_run(Run::new().add_text(&doc.title)),
    );
    if let Some(mark) = &doc.draft_mark {
        d = d.add_paragraph(
            Paragraph::new()
                .align(AlignmentType::Center)
                .add_run(Run::new().add_text(mark).bold().color(RED)),
        );
    }
    for (k, v) in &doc.ident {
        d = d.add_paragraph(label_value(k, v));
    }
    for s in &doc.sections {
        d = d.add_paragraph(
            Paragraph::new()
                .style("Heading2")
                .add_run(Run::new().add_text(&s.title)),
        );
        for b in &s.blocks {
            d = add_block(d, b);
        }
    }
    d = d.add_paragraph(
        Paragraph::new()
            .style("Heading2")
            .add_run(Run::new().add_text(&doc.signature_title)),
    );
    for (k, v) in &doc.signature {
        d = d.add_paragraph(label_value(k, v));
    }
    let mut out = std::io::Cursor::new(Vec::new());
    d.build()
        .pack(&mut out)
        .map_err(|e| ExportError::Docx(e.to_string()))?;
    Ok(repeat_table_headers(out.into_inner()))
}

/// Every page's header: the hospital and service, and the draft mark of an unsigned one.
fn page_header(doc: &Document) -> Header {
    let mut header = Header::new().add_paragraph(
        Paragraph::new()
            .add_run(Run::new().add_text(&doc.hospital).bold().size(22))
            .add_run(
                Run::new()
                    .add_text(if doc.service.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", doc.service)
                    })
                    .size(18)
                    .color(GRAY),
            ),
    );
    if let Some(mark) = &doc.draft_mark {
        header = header.add_paragraph(
            Paragraph::new()
                .align(AlignmentType::Right)
                .add_run(Run::new().add_text(mark).bold().color(RED).size(18)),
        );
    }
    header
}

/// Every page's footer: what the document is, and «Página n de m».
fn page_footer(doc: &Document) -> Footer {
    Footer::new()
        .add_paragraph(
            Paragraph::new().add_run(Run::new().add_text(&doc.footer).size(15).color(GRAY)),
        )
        .add_paragraph(
            Paragraph::new()
                .align(AlignmentType::Right)
                .add_run(Run::new().add_text("Página ").size(15))
                .add_page_num(docx_rs::PageNum::new())
                .add_run(Run::new().add_text(" de ").size(15))
                .add_num_pages(docx_rs::NumPages::new()),
        )
}

/// One block of a section: paragraphs, a bulleted list, medications (name in bold, then
/// the posology) or the laboratory table (its header row repeated on every page).
fn add_block(mut d: Docx, b: &Block) -> Docx {
    match b {
        Block::Text { paragraphs } => {
            for p in paragraphs {
                d = d.add_paragraph(
                    Paragraph::new()
                        .align(AlignmentType::Both)
                        .add_run(Run::new().add_text(p)),
                );
            }
        }
        Block::List { items } => {
            for i in items {
                d = d.add_paragraph(bullet(Paragraph::new().add_run(Run::new().add_text(i))));
            }
        }
        Block::Medications { items } => {
            for m in items {
                d = d.add_paragraph(bullet(
                    Paragraph::new()
                        .add_run(Run::new().add_text(m.heading()).bold())
                        .add_run(Run::new().add_text(format!(" — {}", m.detail()))),
                ));
            }
        }
        Block::Labs { columns, rows } => {
            // Only the header row is `cantSplit`: `repeat_table_headers` finds it so.
            let mut trs =
                vec![TableRow::new(columns.iter().map(|c| cell(c, true)).collect()).cant_split()];
            for r in rows {
                trs.push(TableRow::new(
                    r.cells().iter().map(|c| cell(c, false)).collect(),
                ));
            }
            d = d.add_table(Table::new(trs).width(5000, WidthType::Pct));
            d = d.add_paragraph(Paragraph::new());
        }
    }
    d
}

/// docx-rs cannot mark a table row as a header; Word repeats a row on every page when
/// its `w:trPr` holds `w:tblHeader`. The first row of each table is marked by rewriting
/// `word/document.xml` (no-op if the package cannot be read back).
fn repeat_table_headers(bytes: Vec<u8>) -> Vec<u8> {
    rewrite_document_xml(&bytes, |xml| {
        xml.replace(
            "<w:trPr><w:cantSplit /></w:trPr>",
            "<w:trPr><w:cantSplit /><w:tblHeader /></w:trPr>",
        )
    })
    .unwrap_or(bytes)
}

fn rewrite_document_xml(bytes: &[u8], f: impl Fn(String) -> String) -> Option<Vec<u8>> {
    use std::io::{Read, Write};
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).ok()?;
        let name = entry.name().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).ok()?;
        if name == "word/document.xml" {
            data = f(String::from_utf8(data).ok()?).into_bytes();
        }
        out.start_file(name, options).ok()?;
        out.write_all(&data).ok()?;
    }
    Some(out.finish().ok()?.into_inner())
}
