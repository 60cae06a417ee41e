//! The validator never panics and its spans always lie inside the text, whatever the text:
//! arbitrary Unicode, strings built from a clinical alphabet (codes, doses, dates, drug
//! names, accents, parentheses, newlines) and the real reference texts of train.jsonl
//! mutated by random character edits.
//!
//! Case counts are modest so the file stays fast on CI's two cores; raise them with
//! `PROPTEST_CASES=2000 cargo test -p epicrisis-validate --test props`.

use epicrisis_domain::Episode;
use epicrisis_testkit::fixtures::testdata;
use epicrisis_validate::{Kind, Report, Severity, validate};
use proptest::prelude::*;
use std::sync::LazyLock;

/// The three example episodes and every record of train.jsonl (with its reference).
struct Corpus {
    episodes: Vec<(String, Episode)>,
    references: Vec<(String, Episode, String)>,
}

static CORPUS: LazyLock<Corpus> = LazyLock::new(|| {
    let mut episodes = Vec::new();
    for rel in [
        "episodes/compact_hernia.json",
        "episodes/episodio_1416169.json",
        "episodes/predecessor_neumonia.json",
    ] {
        let p = testdata(rel);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let ep = epicrisis_ingest::read_episode(&bytes, rel).unwrap_or_else(|e| panic!("{e}"));
        episodes.push((rel.to_string(), ep));
    }
    let p = testdata("dev/train.jsonl");
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let records =
        epicrisis_ingest::read_dataset(&bytes, "train.jsonl").unwrap_or_else(|e| panic!("{e}"));
    let mut references = Vec::new();
    for r in records {
        let name = format!("train.jsonl line {}", r.line);
        if let Some(text) = r.reference.clone() {
            references.push((name.clone(), r.episode.clone(), text));
        }
        episodes.push((name, r.episode));
    }
    assert!(!references.is_empty(), "train.jsonl has references");
    Corpus {
        episodes,
        references,
    }
});

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        // Shrinking long strings is slow; a failing case is printed whole anyway.
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    }
}

/// The report's invariants for `text`: spans inside the text in Unicode characters,
/// `ok` exactly when there is no error, omissions without a span.
fn check(report: &Report, text: &str) -> Result<(), TestCaseError> {
    let n = text.chars().count();
    for f in &report.findings {
        if let Some([start, end]) = f.span {
            prop_assert!(
                start <= end && end <= n,
                "span [{start}, {end}] outside the text of {n} characters: {f:?}"
            );
        }
        if f.kind == Kind::Omission {
            prop_assert!(f.span.is_none(), "an omission with a span: {f:?}");
        }
        prop_assert!(!f.message.trim().is_empty(), "empty message: {f:?}");
    }
    let has_error = report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error);
    prop_assert_eq!(report.ok, !has_error, "ok must be true iff no error");
    Ok(())
}

/// A spanned finding names the words under its span.
fn check_mentions(report: &Report, text: &str) -> Result<(), TestCaseError> {
    for f in &report.findings {
        if let Some([start, end]) = f.span {
            let under: String = text.chars().skip(start).take(end - start).collect();
            prop_assert_eq!(
                &under,
                &f.mention,
                "the span does not hold the mention: {:?}",
                f
            );
        }
    }
    Ok(())
}

fn episode(i: usize) -> &'static (String, Episode) {
    let eps = &CORPUS.episodes;
    &eps[i % eps.len()]
}

/// Pieces of clinical text the validator reacts to.
const FRAGMENTS: &[&str] = &[
    "(J18.9)",
    "(J189)",
    "J18.9",
    "(K42.0)",
    "(K80.5)",
    "(C20)",
    "(K74.6)",
    "(J01DD04)",
    "(J01DH02)",
    "(N02BE01)",
    "(B01AB01)",
    "ATC:J01XA01",
    "(53.49)",
    "(48.52)",
    "87.41",
    "(K492)",
    "c/8h",
    "c/12h",
    "cada 8 horas",
    "cada 24 horas",
    "por 5 días",
    "3d",
    "875mg",
    "500 mg",
    "1 g",
    "1g",
    "40 mg SC",
    "2,5 mg/kg",
    "mg/dL",
    "x10^9/L",
    "1.000",
    "1,5",
    "12,62",
    "0",
    "38,5 °C",
    "100%",
    "15/12/2025",
    "2025-12-26",
    "26/12",
    "día 3:",
    "Día 12 (26/12/2025):",
    "sin",
    "con",
    "no",
    "alta",
    "Alta con",
    "indicándose",
    "indicandose",
    "Ingresa por",
    "Se realiza",
    "Recibe",
    "Recibio",
    "No consignado",
    "amoxicilina",
    "amoxicilina/ácido clavulánico",
    "ceftriaxona",
    "Ceftriaxona",
    "metronidazol",
    "paracetamol",
    "clindamicina",
    "enoxaparina",
    "heparina",
    "meropenem",
    "piperacilina/tazobactam",
    "vancomicina",
    "omeprazol",
    "furosemida",
    "neumonía",
    "neumonia adquirida en la comunidad",
    "hernia umbilical",
    "Crohn",
    "colecistectomía",
    "TAC de tórax",
    "EV",
    "VO",
    "SC",
    "SOS",
    "PCR",
    "UCI",
    "HTA",
    "DM2",
    "EPOC",
    "alergia a penicilina",
    "sin alergias conocidas",
    "control en 7 días",
    "«",
    "»",
    "—",
    "–",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    ";",
    ":",
    "/",
    "-",
    "%",
    "°",
    "ñ",
    "Ñ",
    "á",
    "É",
    "ü",
    "e\u{301}",
    "\u{200B}",
    "\u{FEFF}",
    "🩺",
    "💊",
    "\n",
    "\r\n",
    "\t",
    "  ",
    "###",
    "[INST]",
    "</s>",
    "Como modelo de lenguaje",
];

const SEPARATORS: &[&str] = &["", " ", " ", " ", ", ", ". ", "\n", "("];

fn clinical_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(FRAGMENTS),
            prop::sample::select(SEPARATORS),
        ),
        0..60,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(f, s)| [f, s])
            .collect::<String>()
    })
}

/// One character edit, at a position given as a fraction of the text's length.
#[derive(Debug, Clone)]
enum Edit {
    Insert(f64, String),
    Delete(f64, usize),
    Replace(f64, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let piece = prop_oneof![
        any::<char>().prop_map(|c| c.to_string()),
        prop::sample::select(FRAGMENTS).prop_map(str::to_string),
        prop::sample::select(&[" ", "(", ")", ".", ",", "á", "ñ", "\n", "0", "9"][..])
            .prop_map(str::to_string),
    ];
    prop_oneof![
        (0.0..=1.0f64, piece).prop_map(|(p, s)| Edit::Insert(p, s)),
        (0.0..=1.0f64, 1usize..12).prop_map(|(p, n)| Edit::Delete(p, n)),
        (0.0..=1.0f64, any::<char>()).prop_map(|(p, c)| Edit::Replace(p, c)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = |p: f64, len: usize| ((p * len as f64) as usize).min(len);
    for e in edits {
        match e {
            Edit::Insert(p, s) => {
                let i = at(*p, chars.len());
                chars.splice(i..i, s.chars());
            }
            Edit::Delete(p, n) => {
                let i = at(*p, chars.len());
                let j = (i + n).min(chars.len());
                chars.drain(i..j);
            }
            Edit::Replace(p, c) => {
                if !chars.is_empty() {
                    let i = at(*p, chars.len() - 1);
                    chars[i] = *c;
                }
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_unicode_never_panics_and_spans_fit(
        i in any::<usize>(),
        text in prop::collection::vec(any::<char>(), 0..300)
            .prop_map(|cs| cs.into_iter().collect::<String>()),
    ) {
        let (_, ep) = episode(i);
        let report = validate(ep, &text);
        check(&report, &text)?;
        check_mentions(&report, &text)?;
    }

    #[test]
    fn clinical_alphabet_never_panics_and_spans_fit(
        i in any::<usize>(),
        text in clinical_text(),
    ) {
        let (_, ep) = episode(i);
        let report = validate(ep, &text);
        check(&report, &text)?;
        check_mentions(&report, &text)?;
    }

    #[test]
    fn mutated_references_never_panic_and_spans_fit(
        i in any::<usize>(),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let refs = &CORPUS.references;
        let (_, ep, reference) = &refs[i % refs.len()];
        let text = apply(reference, &edits);
        let report = validate(ep, &text);
        check(&report, &text)?;
        check_mentions(&report, &text)?;
    }
}

/// A text made of the episode's own words: every free-text field and every coded item
/// with its code, so that edits land on dates, lab names, doses and notes of rich
/// episodes too, not only on the compact references.
fn episode_words(ep: &Episode) -> String {
    let mut parts: Vec<String> = ep.texts().into_iter().map(|(_, t)| t.to_string()).collect();
    parts.extend(
        ep.codes()
            .into_iter()
            .map(|c| format!("{} ({})", c.item, c.display)),
    );
    parts.join(". ")
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn mutated_episode_words_never_panic_and_spans_fit(
        i in any::<usize>(),
        edits in prop::collection::vec(edit(), 0..8),
    ) {
        // The three example episodes first: they are the rich ones.
        let (_, ep) = episode(i % 6);
        let text = apply(&episode_words(ep), &edits);
        let report = validate(ep, &text);
        check(&report, &text)?;
        check_mentions(&report, &text)?;
    }
}

/// Every unmutated reference: spans fit and hold their mentions.
#[test]
fn every_reference_validates_without_panic() {
    for (name, ep, text) in &CORPUS.references {
        let report = validate(ep, text);
        if let Err(e) = check(&report, text).and_then(|()| check_mentions(&report, text)) {
            panic!("{name}: {e}");
        }
    }
}

/// Edge cases a generator reaches only by luck.
#[test]
fn edge_texts_never_panic() {
    let texts = [
        "",
        " ",
        "\n\n\n",
        "(",
        ")",
        "()",
        "(((((",
        ")))))",
        "(J18.9",
        "J18.9)",
        "(.)",
        "(..)",
        "1.",
        ".1",
        "1.000.000.000.000.000.000.000",
        "99999999999999999999999999999 mg",
        "0,0000000000000000000001 g",
        "c/",
        "c/h",
        "c/0h",
        "cada 0 horas",
        "/",
        "//",
        "15/",
        "32/13/2025",
        "00/00/0000",
        "31/02/2025",
        "e\u{301}\u{301}\u{301}",
        "\u{0}",
        "\u{FFFF}",
        "\u{10FFFF}",
        "ı",
        "İ",
        "ß",
        "ﬁ",
        "ǅ",
        "Ⅻ",
        "١٢٣ mg",
        "«»",
        "«",
        "»«",
    ];
    for (name, ep) in CORPUS.episodes.iter().take(5) {
        for t in texts {
            for text in [t.to_string(), format!("{t} {t}"), t.repeat(50)] {
                let report = validate(ep, &text);
                if let Err(e) = check(&report, &text) {
                    panic!("{name}, text {text:?}: {e}");
                }
            }
        }
    }
}

/// Spanned findings of the given text whose span does not hold their mention.
fn mismatched_mentions(text: &str) -> Vec<(String, String)> {
    let (_, ep) = episode(0);
    validate(ep, text)
        .findings
        .iter()
        .filter_map(|f| {
            let [start, end] = f.span?;
            let under: String = text.chars().skip(start).take(end - start).collect();
            (under != f.mention).then(|| (under, f.mention.clone()))
        })
        .collect()
}

/// Found by `clinical_alphabet_never_panics_and_spans_fit`: the "Oración repetida." style
/// warning spans the untrimmed sentence (leading space, trailing newline) while its
/// mention is trimmed.
#[test]
fn repeated_sentence_span_holds_its_mention() {
    for text in [
        "neumonia adquirida en la comunidad. neumonia adquirida en la comunidad",
        "Tolera bien la via oral hoy.\nTolera bien la via oral hoy.\n",
    ] {
        let bad = mismatched_mentions(text);
        assert!(
            bad.is_empty(),
            "{text:?}: (under the span, mention): {bad:?}"
        );
    }
}

/// The model-artefact style warning reports the marker as written in the validator's
/// list, not the words of the text (which differ in case).
#[test]
fn model_artefact_mention_is_the_texts_words() {
    for text in [
        "Como modelo de lenguaje, no puedo redactar esto.",
        "Ingresa [inst] por hernia umbilical.",
    ] {
        let bad = mismatched_mentions(text);
        assert!(
            bad.is_empty(),
            "{text:?}: (under the span, mention): {bad:?}"
        );
    }
}
