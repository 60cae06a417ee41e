//! Evidence: for every sentence of a draft, the passages of the notes and the structured
//! items of the episode that support it.
//!
//! The validator checks the claims it can parse (codes, doses, diagnoses, numbers); a
//! model can still write a fluent sentence about something that never happened, with no
//! code or dose in it. Evidence closes that gap from the other side: a sentence that
//! shares no item with the episode and whose words are not mostly found together in one
//! passage of the notes gets a warning ([`unsupported_sentences`]), and the reviewer sees
//! what each sentence rests on.
//!
//! Lexical support is weighted by rarity (BM25's idf): a sentence whose rare words
//! ("neumotórax", "tensión") occur nowhere in the notes is unsupported even if its common
//! words ("drenaje", "pleural") are everywhere. Dense vectors, when given, can support a
//! paraphrase, but only together with at least one shared word, because an embedding
//! finds a sentence about an invented complication close to any note on the same organ.

mod items;

use epicrisis_domain::Episode;
use epicrisis_domain::text::fold;
use epicrisis_embed::bm25::tokenize;
use epicrisis_embed::{Bm25, EmbedError, Embedder, Role, search};
use epicrisis_validate::report::{Category, Finding, Kind, Severity};
use serde::{Deserialize, Serialize};

use crate::retrieve::{Passage, sentence_spans};
use items::{ItemIndex, episode_items};

/// A passage that supports a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassageRef {
    /// [`Passage::id`].
    pub id: usize,
    /// Index of the note in `Episode::evolution`.
    pub note: usize,
    pub day: Option<u32>,
    /// `[start, end)` in Unicode characters of the note's text.
    pub start: usize,
    pub end: usize,
    /// Support in [0, 1]: the idf-weighted share of the sentence's words found in the
    /// passage, or the cosine when that is higher and vectors were given.
    pub score: f32,
}

/// What a structured item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ItemRefKind {
    #[serde(rename = "diagnostico")]
    Diagnosis,
    #[serde(rename = "procedimiento")]
    Procedure,
    #[serde(rename = "medicamento")]
    Medication,
    #[serde(rename = "examen")]
    Lab,
    #[serde(rename = "indicacion")]
    Instruction,
    /// `motivo_ingreso`.
    #[serde(rename = "motivo")]
    Reason,
    /// `antecedentes`.
    #[serde(rename = "antecedente")]
    History,
    /// Age, sex, identifiers, service, physician.
    #[serde(rename = "paciente")]
    Patient,
    /// Admission and discharge dates and the length of stay.
    #[serde(rename = "fecha")]
    Date,
}

/// A structured item of the episode that a sentence names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRef {
    pub kind: ItemRefKind,
    /// Which list of the episode, in the source's words (`diagnostico_ingreso`,
    /// `diagnostico_egreso`, `procedimientos`, `tratamientos_intrahosp`,
    /// `indicaciones_alta.medicamentos`, `indicaciones_alta.controles`, …).
    pub field: String,
    /// Position in that list.
    pub index: usize,
    /// The item's name as recorded.
    pub name: String,
}

/// The evidence for one sentence of a draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentenceEvidence {
    /// `[start, end)` in Unicode characters of the draft's text.
    pub span: [usize; 2],
    /// False for lines that claim nothing: headings, lines that introduce a list (ending
    /// in `:`), statements that something is not recorded ("No consignado"), and lines
    /// without words. Those are never reported as unsupported.
    pub checked: bool,
    /// Supporting passages, best first.
    pub passages: Vec<PassageRef>,
    /// Structured items the sentence names.
    pub items: Vec<ItemRef>,
}

/// Thresholds of [`evidence`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvidenceOptions {
    /// Least idf-weighted share of the sentence's words that one passage must hold.
    pub min_coverage: f32,
    /// Least cosine for dense support (with at least one shared word). For
    /// multilingual-e5, whose unrelated sentences still score around 0.75–0.8; 0.88 is
    /// the knee of `epicrisis-dev bench-evidence` on the dev set (docs/benchmarks.md).
    pub min_cosine: f32,
    /// Passages kept per sentence.
    pub max_passages: usize,
}

impl Default for EvidenceOptions {
    fn default() -> EvidenceOptions {
        EvidenceOptions {
            min_coverage: 0.5,
            min_cosine: 0.88,
            max_passages: 3,
        }
    }
}

/// The sentences of a draft, as `[start, end)` character spans (see
/// [`crate::retrieve::sentence_spans`]); embed these, in this order, for
/// [`EvidenceVectors::sentences`].
pub fn sentences(text: &str) -> Vec<[usize; 2]> {
    sentence_spans(text)
}

/// The text of each [`sentences`] span of `text`, in order (what to embed for
/// [`EvidenceVectors::sentences`]).
pub fn sentence_texts(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    sentences(text)
        .iter()
        .map(|[s, e]| chars[*s..*e].iter().collect())
        .collect()
}

/// Dense vectors for [`evidence`].
#[derive(Debug, Clone, Copy)]
pub struct EvidenceVectors<'a> {
    /// One per passage, embedded with `Role::Passage`.
    pub passages: &'a [Vec<f32>],
    /// One per [`sentences`] span of the draft, embedded with `Role::Query`.
    pub sentences: &'a [Vec<f32>],
}

/// The evidence for every sentence of `text` (one entry per [`sentences`] span).
/// Vectors, when given, must match the passages and the sentences in number; lists of
/// the wrong length are ignored (lexical evidence only) rather than trusted.
pub fn evidence(
    ep: &Episode,
    passages: &[Passage],
    text: &str,
    vectors: Option<EvidenceVectors<'_>>,
    opts: &EvidenceOptions,
) -> Vec<SentenceEvidence> {
    let chars: Vec<char> = text.chars().collect();
    let spans = sentences(text);
    let texts: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
    let bm = Bm25::new(&texts);
    let items = episode_items(ep);
    let index = ItemIndex::new(&items);
    let vectors =
        vectors.filter(|v| v.passages.len() == passages.len() && v.sentences.len() == spans.len());
    spans
        .iter()
        .enumerate()
        .map(|(k, &[s, e])| {
            let sentence: String = chars[s..e].iter().collect();
            let line_end = chars.get(e).is_none_or(|c| *c == '\n' || *c == '\r');
            let checked = makes_a_claim(&sentence, line_end);
            if !checked {
                // A line that claims nothing ("- Alergias: No consignado", a heading)
                // needs no support; a shared word would only link noise.
                return SentenceEvidence {
                    span: [s, e],
                    checked,
                    passages: Vec::new(),
                    items: Vec::new(),
                };
            }
            let dense = vectors.map(|v| search::dense_scores(&v.sentences[k], v.passages));
            SentenceEvidence {
                span: [s, e],
                checked,
                passages: supporting_passages(&bm, passages, &sentence, dense.as_deref(), opts),
                items: index.named(&sentence),
            }
        })
        .collect()
}

/// [`evidence`] with dense support: embeds the draft's sentences (as queries) with
/// `embedder`; `passage_vectors` are the passages' vectors, embedded once per episode
/// (see [`crate::retrieve::embed_for_selection`]).
pub fn evidence_with_embedder(
    embedder: &dyn Embedder,
    ep: &Episode,
    passages: &[Passage],
    passage_vectors: &[Vec<f32>],
    text: &str,
    opts: &EvidenceOptions,
) -> Result<Vec<SentenceEvidence>, EmbedError> {
    let owned = sentence_texts(text);
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
    let sentence_vectors = if texts.is_empty() {
        Vec::new()
    } else {
        embedder.embed(&texts, Role::Query)?
    };
    Ok(evidence(
        ep,
        passages,
        text,
        Some(EvidenceVectors {
            passages: passage_vectors,
            sentences: &sentence_vectors,
        }),
        opts,
    ))
}

/// One Warning per checked sentence with neither a passage nor an item behind it.
pub fn unsupported_sentences(evidence: &[SentenceEvidence], text: &str) -> Vec<Finding> {
    let chars: Vec<char> = text.chars().collect();
    evidence
        .iter()
        .filter(|ev| ev.checked && ev.passages.is_empty() && ev.items.is_empty())
        .map(|ev| {
            let [s, e] = ev.span;
            let mention = chars
                .get(s.min(chars.len())..e.min(chars.len()))
                .map(|cs| cs.iter().collect())
                .unwrap_or_default();
            Finding {
                severity: Severity::Warning,
                kind: Kind::Unsupported,
                category: Category::Other,
                mention,
                span: Some(ev.span),
                claim: None,
                message: "Esta oración no tiene respaldo en las notas ni en los datos \
                          estructurados del episodio"
                    .to_string(),
            }
        })
        .collect()
}

/// Whether a sentence states something that should rest on the data.
fn makes_a_claim(sentence: &str, line_end: bool) -> bool {
    let trimmed = sentence.trim();
    let words = tokenize(trimmed);
    if !words.iter().any(|w| w.chars().any(char::is_alphabetic)) {
        return false;
    }
    if trimmed.ends_with(':') {
        return false;
    }
    if fold(trimmed).contains("no consignado") {
        return false;
    }
    // A heading: a short line of its own, no sentence punctuation, not a list item.
    let list_item = trimmed.starts_with(['-', '•', '*']);
    let punctuated = trimmed.ends_with(['.', '!', '?', ')', '»']);
    let heading = line_end && !list_item && !punctuated && trimmed.split_whitespace().count() <= 6;
    !heading
}

fn supporting_passages(
    bm: &Bm25,
    passages: &[Passage],
    sentence: &str,
    dense: Option<&[f32]>,
    opts: &EvidenceOptions,
) -> Vec<PassageRef> {
    let mut terms = tokenize(sentence);
    terms.sort();
    terms.dedup();
    if terms.is_empty() || bm.is_empty() {
        return Vec::new();
    }
    // A word found in no passage weighs like the rarest word that is found (in one
    // passage): with few passages, BM25's idf of an absent word is several times that of
    // any present one and would outvote a sentence that quotes a note nearly verbatim.
    let rarest = bm.idf_of_df(1);
    let idf: Vec<f32> = terms
        .iter()
        .map(|t| if bm.df(t) > 0 { bm.idf(t) } else { rarest })
        .collect();
    let total: f32 = idf.iter().sum();
    let lexical = bm.scores_terms(&terms);
    let mut refs: Vec<PassageRef> = passages
        .iter()
        .enumerate()
        .filter(|(i, _)| lexical.get(*i).is_some_and(|s| *s > 0.0))
        .filter_map(|(i, p)| {
            let found: f32 = terms
                .iter()
                .zip(&idf)
                .filter(|(t, _)| bm.contains(i, t))
                .map(|(_, w)| *w)
                .sum();
            let coverage = if total > 0.0 { found / total } else { 0.0 };
            let cosine = dense.and_then(|d| d.get(i).copied()).unwrap_or(0.0);
            let supported = coverage >= opts.min_coverage || cosine >= opts.min_cosine;
            supported.then(|| PassageRef {
                id: p.id,
                note: p.note,
                day: p.day,
                start: p.start,
                end: p.end,
                score: coverage.max(cosine),
            })
        })
        .collect();
    refs.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    refs.truncate(opts.max_passages);
    refs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_support_needs_a_shared_word() {
        let mut ep = Episode::empty(epicrisis_domain::SourceShape::Rich);
        ep.evolution.push(epicrisis_domain::EvolutionNote {
            day: Some(1),
            date: None,
            text: "Paciente afebril, buena tolerancia oral y deambula sin dolor.".into(),
            author: None,
        });
        let ps = crate::retrieve::passages(&ep, 100, &crate::retrieve::approx_tokens);
        let pv = vec![vec![1.0, 0.0]];
        let opts = EvidenceOptions::default();
        let run = |text: &str, sv: Vec<f32>| {
            let sv = vec![sv];
            let v = EvidenceVectors {
                passages: &pv,
                sentences: &sv,
            };
            evidence(&ep, &ps, text, Some(v), &opts)
        };
        // A paraphrase sharing one word: lexical coverage alone is too low.
        let para = "Evoluciona afebril, caminando y comiendo normalmente.";
        assert!(evidence(&ep, &ps, para, None, &opts)[0].passages.is_empty());
        let ev = run(para, vec![0.95, 0.1]);
        assert_eq!(ev[0].passages.len(), 1);
        assert!((ev[0].passages[0].score - 0.95).abs() < 1e-6);
        assert!(run(para, vec![0.5, 0.5])[0].passages.is_empty());
        // Close in meaning but no word in common: not evidence.
        assert!(
            run("Camina y come bien.", vec![0.99, 0.0])[0]
                .passages
                .is_empty()
        );
        // Vectors of the wrong number are ignored.
        let sv = vec![vec![0.95, 0.1], vec![0.95, 0.1]];
        let v = EvidenceVectors {
            passages: &pv,
            sentences: &sv,
        };
        assert!(
            evidence(&ep, &ps, para, Some(v), &opts)[0]
                .passages
                .is_empty()
        );
    }

    #[test]
    fn claims_table() {
        let cases: &[(&str, bool, bool)] = &[
            ("Evolución clínica", true, false),
            ("EPICRISIS — INFORME DE ALTA HOSPITALARIA", true, false),
            ("Extracto literal de las notas (sin modelo):", true, false),
            ("- Paciente: No consignado", true, false),
            ("- 11", true, false),
            ("- Cuidados de colostomía", true, true),
            ("Presentó neumotórax.", false, true),
        ];
        for (s, line_end, want) in cases {
            assert_eq!(makes_a_claim(s, *line_end), *want, "{s:?}");
        }
    }
}
