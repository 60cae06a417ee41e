//! Every export of the example episode and of a long synthetic one: golden Markdown,
//! text and FHIR; the PDF read back with pdftotext and rendered to PNG with pdftoppm;
//! the DOCX converted by LibreOffice; the FHIR Bundle validated by fhir.resources.

mod common;

use common::*;
use epicrisis_domain::Episode;
use epicrisis_export::{DocumentMeta, Format, build_document, export, to_pdf};
use epicrisis_pipeline::Draft;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Everything a document must show, whatever its format: section titles, every code,
/// every discharge medication.
fn must_contain(ep: &Episode, draft: &Draft) -> Vec<String> {
    let mut v: Vec<String> = draft
        .parts
        .iter()
        .filter(|p| {
            !matches!(
                p.id,
                epicrisis_pipeline::PartId::Identification | epicrisis_pipeline::PartId::Period
            )
        })
        .map(|p| p.title.clone())
        .collect();
    v.extend(ep.codes().into_iter().map(|c| c.display));
    v.extend(
        ep.discharge
            .medications
            .iter()
            .map(|m| epicrisis_pipeline::prose::list_name(&m.name)),
    );
    v.push("Epicrisis — Informe de alta hospitalaria".into());
    v
}

fn check_text(case: &str, text: &str, needles: &[String]) {
    let hay = collapse(text);
    let missing: Vec<&String> = needles
        .iter()
        .filter(|n| !hay.contains(n.as_str()))
        .collect();
    assert!(missing.is_empty(), "{case}: missing {missing:?}");
}

#[test]
fn golden_markdown_and_text() {
    let ep = example();
    let draft = sections_draft(&ep);
    let md =
        String::from_utf8(export(Format::Markdown, &ep, &draft, &draft_meta()).unwrap()).unwrap();
    let txt = String::from_utf8(export(Format::Text, &ep, &draft, &draft_meta()).unwrap()).unwrap();
    check_text(
        "markdown",
        &md.replace('\\', ""),
        &must_contain(&ep, &draft),
    );
    let lower: Vec<String> = must_contain(&ep, &draft)
        .iter()
        .map(|n| n.to_lowercase())
        .collect();
    check_text("text", &txt.to_lowercase(), &lower);
    insta::assert_snapshot!("example_markdown", md);
    insta::assert_snapshot!("example_text", txt);
    let signed =
        String::from_utf8(export(Format::Text, &ep, &draft, &signed_meta(&draft)).unwrap())
            .unwrap();
    assert!(
        !signed.contains("BORRADOR"),
        "signed text has no draft mark"
    );
    assert!(signed.contains("Firmado por: Dra. Carolina Muñoz Peña"));
}

#[test]
fn golden_fhir() {
    let ep = example();
    let draft = sections_draft(&ep);
    let json =
        String::from_utf8(export(Format::Fhir, &ep, &draft, &draft_meta()).unwrap()).unwrap();
    insta::assert_snapshot!("example_fhir", json);
}

#[test]
fn markdown_escapes_user_text() {
    let mut ep = example();
    ep.reason = Some("a*b* _c_ #tag $x$ @ref <b>[l](u)</b> \\ `code`".into());
    let draft = sections_draft(&ep);
    let md =
        String::from_utf8(export(Format::Markdown, &ep, &draft, &draft_meta()).unwrap()).unwrap();
    assert!(
        md.contains(
            "\\*b\\* \\_c\\_ \\#tag \\$x\\$ @ref \\<b\\>\\[l\\](u)\\</b\\> \\\\ \\`code\\`"
        ),
        "{md}"
    );
}

fn fhir_python() -> Option<PathBuf> {
    epicrisis_testkit::fixtures::python(
        "EPICRISIS_FHIR_PYTHON",
        "fhir-venv",
        "fhir.resources",
        "run scripts/test.sh, which installs fhir.resources 6.5 (FHIR R4) and pydantic<2 into \
         ~/.cache/epicrisis/fhir-venv",
    )
}

#[test]
fn fhir_bundles_validate_with_fhir_resources() {
    let Some(python) = fhir_python() else {
        return;
    };
    let dir = artefacts("fhir");
    let ex = example();
    let long = long_episode();
    let compact =
        epicrisis_ingest::read_episode_path(&testdata("episodes/compact_hernia.json")).unwrap();
    let mut files = Vec::new();
    for (name, ep, signed) in [
        ("example_draft", &ex, false),
        ("example_signed", &ex, true),
        ("long", &long, false),
        ("compact", &compact, false),
    ] {
        let draft = sections_draft(ep);
        let meta = if signed {
            signed_meta(&draft)
        } else {
            draft_meta()
        };
        let bytes = export(Format::Fhir, ep, &draft, &meta).unwrap();
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, bytes).unwrap();
        files.push(path);
    }
    let script =
        epicrisis_testkit::fixtures::crate_path("epicrisis-export", "tests/validate_fhir.py");
    let out = run(Command::new(python).arg(script).args(&files));
    eprintln!("{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        files.len()
    );
}

#[test]
fn fhir_round_trip_through_ingest() {
    let ep = example();
    let draft = sections_draft(&ep);
    let bytes = export(Format::Fhir, &ep, &draft, &signed_meta(&draft)).unwrap();
    let back = epicrisis_ingest::read_episode(&bytes, "bundle.json").expect("reads its own bundle");
    let codes = |e: &Episode| {
        e.codes()
            .into_iter()
            .map(|c| (c.display, c.role))
            .collect::<Vec<_>>()
    };
    assert_eq!(codes(&ep), codes(&back));
    assert_eq!(ep.admission_date, back.admission_date);
    assert_eq!(ep.discharge_date, back.discharge_date);
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let comp = &v["entry"][0]["resource"];
    assert_eq!(comp["status"], "amended", "version 2 of a signed draft");
    assert_eq!(
        comp["attester"][0]["party"]["display"],
        "Dra. Carolina Muñoz Peña"
    );
}

fn render_pdf(name: &str, ep: &Episode, draft: &Draft, meta: &DocumentMeta) -> (PathBuf, usize) {
    let t = Instant::now();
    let out = to_pdf(&build_document(ep, draft, meta)).expect("pdf");
    eprintln!(
        "{name}: {} pages, {} bytes, rendered in {:.0} ms",
        out.pages,
        out.bytes.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    let path = artefacts("pdf").join(format!("{name}.pdf"));
    std::fs::write(&path, &out.bytes).unwrap();
    (path, out.pages)
}

fn png_pages(pdf: &Path) {
    if !tool("pdftoppm", "poppler-utils (apt-get install poppler-utils)") {
        return;
    }
    let stem = pdf.with_extension("");
    run(Command::new("pdftoppm")
        .args(["-r", "70", "-png"])
        .arg(pdf)
        .arg(&stem));
    eprintln!("PNG pages: {}-*.png", stem.display());
}

#[test]
fn pdf_of_the_example_episode() {
    let ep = example();
    let draft = sections_draft(&ep);
    let (pdf, pages) = render_pdf("example_draft", &ep, &draft, &draft_meta());
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(
        bytes.windows(9).any(|w| w == b"/FontFile"),
        "fonts are embedded"
    );
    let (signed_pdf, _) = render_pdf("example_signed", &ep, &draft, &signed_meta(&draft));
    png_pages(&pdf);
    png_pages(&signed_pdf);
    if !tool("pdftotext", "poppler-utils (apt-get install poppler-utils)") {
        return;
    }
    let words = pdf_words(&pdf);
    check_text("example pdf", &words, &must_contain(&ep, &draft));
    for needle in [
        "Hospital Clínico de Prueba",
        "BORRADOR — no firmado",
        &format!("Página 1 de {pages}"),
        "Paciente",
        "Fecha de ingreso",
        "15/12/2025",
        "26/12/2025",
        "Hemoglobina en sangre total",
        "Rango de referencia",
        "Dosis: 1 g",
        "Vía: EV",
        "Frecuencia: cada 8 horas",
        "pendiente de revisión médica",
        "Huella SHA-256",
    ] {
        assert!(words.contains(needle), "example pdf: missing {needle:?}");
    }
    let signed = pdf_words(&signed_pdf);
    assert!(!signed.contains("BORRADOR"), "signed pdf has no draft mark");
    // Nowhere called a draft, the footer included.
    assert!(
        !signed.contains("Borrador"),
        "signed pdf calls itself a draft"
    );
    for needle in [
        "Firmado por",
        "Dra. Carolina Muñoz Peña",
        "26/12/2025 19:05",
        "Versión",
        "Dr. Íñigo Ñúñez",
        "Cirugía Digestiva",
        "revisada y firmada por Dra. Carolina Muñoz Peña",
    ] {
        assert!(signed.contains(needle), "signed pdf: missing {needle:?}");
    }
}

#[test]
fn pdf_of_a_long_episode_paginates() {
    let ep = long_episode();
    let draft = sections_draft(&ep);
    let (pdf, pages) = render_pdf("long_draft", &ep, &draft, &draft_meta());
    assert!(pages >= 4, "a long stay takes several pages, got {pages}");
    png_pages(&pdf);
    if !tool("pdftotext", "poppler-utils (apt-get install poppler-utils)") {
        return;
    }
    let words = pdf_words(&pdf);
    check_text("long pdf", &words, &must_contain(&ep, &draft));
    assert!(words.contains(&format!("Página {pages} de {pages}")));
    // The laboratory table crosses a page and its header is repeated.
    let layout = pdftotext(&pdf);
    let pages_text: Vec<&str> = layout.split('\u{c}').collect();
    let with_header = pages_text
        .iter()
        .filter(|p| p.contains("Estado") && p.contains("Último") && p.contains("Examen sintético"))
        .count();
    assert!(
        with_header >= 2,
        "lab table header repeated on each page it spans ({with_header})"
    );
    for i in [1, 23, 45] {
        assert!(
            words.contains(&format!("Examen sintético número {i} de química sanguínea")),
            "lab row {i}"
        );
    }
    // User text with markup characters prints as itself.
    assert!(
        words.contains("# $ * _ @ < > [ ] \\ ~ ` = + / ' \" :"),
        "special characters verbatim"
    );
}

#[test]
fn docx_opens_and_converts_in_libreoffice() {
    let ep = example();
    let draft = sections_draft(&ep);
    let bytes = export(Format::Docx, &ep, &draft, &draft_meta()).unwrap();
    assert!(bytes.starts_with(b"PK"), "a DOCX is a zip package");
    let dir = artefacts("docx");
    let path = dir.join("example_draft.docx");
    std::fs::write(&path, &bytes).unwrap();
    let long = long_episode();
    let long_draft = sections_draft(&long);
    std::fs::write(
        dir.join("long_draft.docx"),
        export(Format::Docx, &long, &long_draft, &draft_meta()).unwrap(),
    )
    .unwrap();
    if !tool(
        "soffice",
        "LibreOffice (apt-get install libreoffice-writer-nogui)",
    ) || !tool("pdftotext", "poppler-utils (apt-get install poppler-utils)")
    {
        return;
    }
    let profile = dir.join("lo-profile");
    let convert = || {
        let mut c = Command::new("soffice");
        c.arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(&dir)
        .arg(&path)
        .arg(dir.join("long_draft.docx"));
        c
    };
    // LibreOffice's first start on a fresh machine builds its profile and can abort
    // then («WrappedTargetRuntimeException», seen on a clean CI machine) before reading
    // any file; a second start with the profile in place converts. A DOCX it cannot
    // read fails both times.
    let first = convert().output().expect("soffice runs");
    if !first.status.success() {
        eprintln!(
            "soffice failed on its first start, once more: {}",
            String::from_utf8_lossy(&first.stderr)
        );
        run(&mut convert());
    }
    let words = pdf_words(&dir.join("example_draft.pdf"));
    check_text("docx via libreoffice", &words, &must_contain(&ep, &draft));
    for needle in [
        "Hemoglobina en sangre total",
        "BORRADOR — no firmado",
        "Dosis: 1 g",
    ] {
        assert!(words.contains(needle), "docx: missing {needle:?}");
    }
    let long_words = pdf_words(&dir.join("long_draft.pdf"));
    check_text(
        "long docx via libreoffice",
        &long_words,
        &must_contain(&long, &long_draft),
    );
    png_pages(&dir.join("example_draft.pdf"));
}

/// The hospital's logo goes into the Word document too (a PNG, 1.5 cm high, above the
/// title), as an image part that Word and LibreOffice show.
#[test]
fn docx_carries_the_logo() {
    use std::io::Read;
    let ep = example();
    let draft = sections_draft(&ep);
    let png = std::fs::read(testdata("web/logo.png")).unwrap();
    let meta = DocumentMeta {
        logo: Some(epicrisis_export::Logo::from_bytes(png.clone()).unwrap()),
        ..draft_meta()
    };
    let bytes = export(Format::Docx, &ep, &draft, &meta).unwrap();
    let dir = artefacts("docx-logo");
    let path = dir.join("logo.docx");
    std::fs::write(&path, &bytes).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let media: Vec<String> = zip
        .file_names()
        .filter(|n| n.starts_with("word/media/") && !n.ends_with('/'))
        .map(str::to_string)
        .collect();
    assert_eq!(media.len(), 1, "{media:?}");
    let mut stored = Vec::new();
    zip.by_name(&media[0])
        .unwrap()
        .read_to_end(&mut stored)
        .unwrap();
    assert_eq!(stored, png, "the logo's bytes as given");
    let mut body = String::new();
    zip.by_name("word/document.xml")
        .unwrap()
        .read_to_string(&mut body)
        .unwrap();
    // 120×40 px shown 1.5 cm high: 1,620,000 × 540,000 EMU.
    assert!(
        body.contains("cx=\"1620000\" cy=\"540000\""),
        "{}",
        &body[..body.len().min(2000)]
    );
    let title = body.find("EPICRISIS").unwrap_or(usize::MAX);
    assert!(
        body.find("<pic:pic").is_some_and(|p| p < title),
        "the logo comes before the title"
    );
    // Without a logo, no image.
    let plain = export(Format::Docx, &ep, &draft, &draft_meta()).unwrap();
    let zip = zip::ZipArchive::new(std::io::Cursor::new(plain)).unwrap();
    assert!(
        !zip.file_names()
            .any(|n| n.starts_with("word/media/") && !n.ends_with('/'))
    );
    // LibreOffice shows it: one image in the PDF it makes of the document.
    if !tool(
        "soffice",
        "LibreOffice (apt-get install libreoffice-writer-nogui)",
    ) || !tool("pdfimages", "poppler-utils (apt-get install poppler-utils)")
    {
        return;
    }
    run(Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            dir.join("lo-profile").display()
        ))
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(&dir)
        .arg(&path));
    let list = run(Command::new("pdfimages")
        .arg("-list")
        .arg(dir.join("logo.pdf")));
    assert_eq!(list.lines().skip(2).count(), 1, "{list}");
}
