//! Retrieval: the passages of a long stay's notes that the model needs, within a budget.
//!
//! A stay of three weeks has more notes than a small model's context holds, and cutting
//! every note to the same length (what [`crate::grounded::facts_for_model`] does) drops the
//! day a complication happened as readily as a routine day. Instead the notes are split
//! into passages at sentence boundaries ([`passages`]); each part the model writes asks
//! its own question ([`RetrievalPart`], built from the episode's own terms); BM25 — and,
//! when an embeddings model is installed, dense vectors fused with it — ranks the
//! passages for each question; and [`select`] takes the first and last day (how the
//! patient came and left) and then the parts' best passages in turn until the budget is
//! spent. [`notes_text`] writes the chosen passages back in order, marking what was left
//! out, so the model never reads a cut as a continuous account.
//!
//! Offsets are in Unicode characters of the note's text, like the validator's spans, so a
//! passage can be highlighted in the source note.

use epicrisis_domain::{Date, Episode};
use epicrisis_embed::search::{self, Fusion};
use epicrisis_embed::{Bm25, EmbedError, Embedder, Role};
use serde::{Deserialize, Serialize};

/// A piece of one evolution note: one or more whole sentences (or, for a sentence longer
/// than the limit, a run of whole words).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// Position in the list [`passages`] returned.
    pub id: usize,
    /// Index of the note in `Episode::evolution`.
    pub note: usize,
    /// The note's hospital day, when recorded.
    pub day: Option<u32>,
    /// The note's date, when recorded.
    pub date: Option<Date>,
    /// `[start, end)` in Unicode characters of the note's text.
    pub start: usize,
    pub end: usize,
    /// The passage's words, exactly as in the note.
    pub text: String,
}

/// A cheap token estimate (four characters a token, the usual figure for sub-word
/// tokenisers on Spanish) for callers without a tokenizer at hand.
pub fn approx_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// `[start, end)` character spans of the sentences of `text`, whitespace trimmed.
///
/// A sentence ends at `.`, `!` or `?` followed by whitespace (or the end), or at a line
/// break; so `J18.9`, `0.5` and `Dr.X` do not end one. Every character that is not
/// whitespace lies in exactly one span.
pub fn sentence_spans(text: &str) -> Vec<[usize; 2]> {
    let chars: Vec<char> = text.chars().collect();
    sentence_spans_chars(&chars)
}

fn sentence_spans_chars(chars: &[char]) -> Vec<[usize; 2]> {
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    for (i, &c) in chars.iter().enumerate() {
        if start.is_none() {
            if c.is_whitespace() {
                continue;
            }
            start = Some(i);
        }
        let ends = match c {
            '\n' | '\r' => true,
            '.' | '!' | '?' => chars.get(i + 1).is_none_or(|n| n.is_whitespace()),
            _ => false,
        };
        if ends && let Some(s) = start.take() {
            push_trimmed(chars, s, i + 1, &mut spans);
        }
    }
    if let Some(s) = start {
        push_trimmed(chars, s, chars.len(), &mut spans);
    }
    spans
}

fn push_trimmed(chars: &[char], mut s: usize, mut e: usize, out: &mut Vec<[usize; 2]>) {
    while s < e && chars[s].is_whitespace() {
        s += 1;
    }
    while e > s && chars[e - 1].is_whitespace() {
        e -= 1;
    }
    if s < e {
        out.push([s, e]);
    }
}

/// Spans of whitespace-separated words inside `[s, e)`.
fn word_spans(chars: &[char], s: usize, e: usize) -> Vec<[usize; 2]> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &c) in chars.iter().enumerate().take(e).skip(s) {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(st)) => {
                out.push([st, i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push([st, e]);
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Sentence,
    Word,
    Char,
}

/// Packs consecutive units into pieces of at most `max` tokens; a unit that alone is too
/// long is split into the next smaller unit (sentence → words → characters), so nothing is
/// ever dropped. A single character over the limit is a piece of its own.
fn pack(
    chars: &[char],
    units: &[[usize; 2]],
    unit: Unit,
    max: usize,
    count: &dyn Fn(&str) -> usize,
    out: &mut Vec<[usize; 2]>,
) {
    let text = |s: usize, e: usize| chars[s..e].iter().collect::<String>();
    let mut i = 0;
    while i < units.len() {
        let first = units[i];
        if count(&text(first[0], first[1])) > max {
            match unit {
                Unit::Sentence => {
                    let words = word_spans(chars, first[0], first[1]);
                    pack(chars, &words, Unit::Word, max, count, out);
                }
                Unit::Word => {
                    let cs: Vec<[usize; 2]> = (first[0]..first[1]).map(|k| [k, k + 1]).collect();
                    pack(chars, &cs, Unit::Char, max, count, out);
                }
                Unit::Char => out.push(first),
            }
            i += 1;
            continue;
        }
        let mut end = first[1];
        let mut j = i + 1;
        while j < units.len() && count(&text(first[0], units[j][1])) <= max {
            end = units[j][1];
            j += 1;
        }
        out.push([first[0], end]);
        i = j;
    }
}

/// Splits every evolution note into passages of at most `max_tokens` tokens (as
/// `count_tokens` counts them), at sentence boundaries where possible. Passages come in
/// note order, then text order; `id` is the position in the result.
pub fn passages(
    ep: &Episode,
    max_tokens: usize,
    count_tokens: &dyn Fn(&str) -> usize,
) -> Vec<Passage> {
    let mut out = Vec::new();
    for (note, n) in ep.evolution.iter().enumerate() {
        let chars: Vec<char> = n.text.chars().collect();
        let sentences = sentence_spans_chars(&chars);
        let mut spans = Vec::new();
        pack(
            &chars,
            &sentences,
            Unit::Sentence,
            max_tokens,
            count_tokens,
            &mut spans,
        );
        for [start, end] in spans {
            out.push(Passage {
                id: out.len(),
                note,
                day: n.day,
                date: n.date,
                start,
                end,
                text: chars[start..end].iter().collect(),
            });
        }
    }
    out
}

/// The parts of the epicrisis that the model writes from the notes, each with its own
/// question for retrieval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetrievalPart {
    /// Evolución y complicaciones.
    Course,
    /// Procedimientos y sus resultados.
    Procedures,
    /// Respuesta al tratamiento.
    Response,
    /// Condición al alta.
    Discharge,
}

impl RetrievalPart {
    /// Every part, in the order of [`QueryVectors`].
    pub const ALL: [RetrievalPart; 4] = [
        RetrievalPart::Course,
        RetrievalPart::Procedures,
        RetrievalPart::Response,
        RetrievalPart::Discharge,
    ];

    /// Position in [`RetrievalPart::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The part, in the words of the epicrisis.
    pub fn description(self) -> &'static str {
        match self {
            RetrievalPart::Course => "evolución y complicaciones",
            RetrievalPart::Procedures => "procedimientos y sus resultados",
            RetrievalPart::Response => "respuesta al tratamiento",
            RetrievalPart::Discharge => "condición al alta",
        }
    }

    /// Words that notes use when they speak of this part. The description alone rarely
    /// occurs in a note ("evolución" is the heading, not the content), so BM25 needs the
    /// words clinicians actually write.
    fn hints(self) -> &'static str {
        match self {
            RetrievalPart::Course => "complicación empeora febril inestable intercurrencia",
            RetrievalPart::Procedures => {
                "se realiza se instala cirugía resultado informe hallazgos"
            }
            RetrievalPart::Response => "mejoría afebril responde disminuye buena evolución",
            RetrievalPart::Discharge => "alta estable control domicilio tolera asintomático",
        }
    }

    /// The query for this part: its description, the words notes use for it and the
    /// episode's own terms (admission reason and diagnoses for the course, procedure
    /// names, treatment names, discharge diagnoses).
    pub fn query(self, ep: &Episode) -> String {
        let mut terms: Vec<&str> = vec![self.description(), self.hints()];
        match self {
            RetrievalPart::Course => {
                terms.extend(ep.reason.as_deref());
                terms.extend(ep.admission_diagnoses.iter().map(|d| d.name.as_str()));
            }
            RetrievalPart::Procedures => {
                terms.extend(ep.procedures.iter().map(|p| p.name.as_str()));
            }
            RetrievalPart::Response => {
                terms.extend(ep.treatments.iter().map(|m| m.name.as_str()));
            }
            RetrievalPart::Discharge => {
                terms.extend(ep.discharge_diagnoses.iter().map(|d| d.name.as_str()));
            }
        }
        terms.join(". ")
    }
}

/// One vector per part, in the order of [`RetrievalPart::ALL`].
pub type QueryVectors = [Vec<f32>; 4];

/// A chosen passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selected {
    pub passage: Passage,
    /// The parts whose question ranked it (empty for the first/last day and for passages
    /// added only because budget was left).
    pub parts: Vec<RetrievalPart>,
    /// From the admission or the discharge day, taken whatever the questions.
    pub required: bool,
}

/// What [`select`] chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Chosen passages in chronological order (note, then position in the note).
    pub passages: Vec<Selected>,
    /// Tokens the chosen passages take.
    pub tokens_used: usize,
    /// Tokens the whole notes would have taken.
    pub tokens_total: usize,
}

/// Chooses passages for the prompt within `budget_tokens` (counted by `count_tokens`).
///
/// Order of choice: the passages of the first and last day present (admission and
/// discharge; the first sentence of each before the rest), then the parts' ranked
/// passages round-robin — each part in turn takes its best passage not yet chosen that
/// still fits — and, when every part has run out, the remaining passages in note order
/// while they fit (a short stay thus keeps all its notes). Ranking is BM25 alone, or
/// BM25 fused with the dense scores by reciprocal rank fusion when `vectors` (one per
/// passage) and `query_vectors` are given; vectors that do not match the passages in
/// number are ignored rather than trusted.
pub fn select(
    ep: &Episode,
    passages: &[Passage],
    vectors: Option<&[Vec<f32>]>,
    query_vectors: Option<&QueryVectors>,
    budget_tokens: usize,
    count_tokens: &dyn Fn(&str) -> usize,
) -> Selection {
    let tokens_total = ep.evolution.iter().map(|n| count_tokens(&n.text)).sum();
    let mut chosen = Chosen::new(passages, budget_tokens, count_tokens);

    // First and last day: how the patient came and how they left.
    for i in boundary_order(ep, passages) {
        if chosen.take(i) {
            chosen.required[i] = true;
        }
    }

    // The parts' questions, round-robin.
    let ranked = rank_for_parts(ep, passages, vectors, query_vectors);
    chosen.take_round_robin(&ranked);

    // Budget left: the rest in note order, so that nothing is dropped without need.
    for i in 0..passages.len() {
        chosen.take(i);
    }

    chosen.into_selection(passages, tokens_total)
}

/// Each part's ranking of the passages (indices, best first), in the order of
/// [`RetrievalPart::ALL`]: BM25 alone, or fused with the dense scores as [`select`] says.
fn rank_for_parts(
    ep: &Episode,
    passages: &[Passage],
    vectors: Option<&[Vec<f32>]>,
    query_vectors: Option<&QueryVectors>,
) -> Vec<Vec<usize>> {
    let vectors = vectors.filter(|v| v.len() == passages.len());
    let texts: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
    let bm = Bm25::new(&texts);
    RetrievalPart::ALL
        .iter()
        .map(|&part| {
            let lexical = bm.scores(&part.query(ep));
            let dense = match (vectors, query_vectors) {
                (Some(v), Some(q)) => Some(search::dense_scores(&q[part.index()], v)),
                _ => None,
            };
            search::hybrid(
                dense.as_deref(),
                Some(&lexical),
                Fusion::default(),
                usize::MAX,
            )
            .into_iter()
            .map(|h| h.index)
            .collect()
        })
        .collect()
}

/// The passages [`select`] has chosen so far, and the budget they took.
struct Chosen {
    /// Tokens of each passage.
    cost: Vec<usize>,
    budget: usize,
    used: usize,
    /// Per passage: `None` while not chosen, then the parts whose question ranked it.
    parts: Vec<Option<Vec<RetrievalPart>>>,
    /// Per passage: chosen for the first or last day.
    required: Vec<bool>,
}

impl Chosen {
    fn new(passages: &[Passage], budget: usize, count_tokens: &dyn Fn(&str) -> usize) -> Chosen {
        Chosen {
            cost: passages.iter().map(|p| count_tokens(&p.text)).collect(),
            budget,
            used: 0,
            parts: vec![None; passages.len()],
            required: vec![false; passages.len()],
        }
    }

    /// Chooses passage `i` if it is not chosen yet and still fits.
    fn take(&mut self, i: usize) -> bool {
        if self.parts[i].is_none() && self.used + self.cost[i] <= self.budget {
            self.used += self.cost[i];
            self.parts[i] = Some(Vec::new());
            true
        } else {
            false
        }
    }

    /// Each part in turn takes its best passage not yet chosen that still fits, until
    /// no part can take one more.
    fn take_round_robin(&mut self, ranked: &[Vec<usize>]) {
        let mut cursor = [0usize; 4];
        loop {
            let mut progressed = false;
            for part in RetrievalPart::ALL {
                let list = &ranked[part.index()];
                let c = &mut cursor[part.index()];
                while *c < list.len() {
                    let i = list[*c];
                    *c += 1;
                    if let Some(ps) = self.parts[i].as_mut() {
                        // Already chosen (by the boundary days or another part): it
                        // answers this question too.
                        if !ps.contains(&part) {
                            ps.push(part);
                        }
                        continue;
                    }
                    if self.take(i) {
                        if let Some(ps) = self.parts[i].as_mut() {
                            ps.push(part);
                        }
                        progressed = true;
                        break;
                    }
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// The chosen passages in chronological order.
    fn into_selection(self, passages: &[Passage], tokens_total: usize) -> Selection {
        let required = self.required;
        let mut chosen: Vec<Selected> = self
            .parts
            .into_iter()
            .enumerate()
            .filter_map(|(i, ps)| {
                ps.map(|mut ps| {
                    ps.sort();
                    Selected {
                        passage: passages[i].clone(),
                        parts: ps,
                        required: required[i],
                    }
                })
            })
            .collect();
        chosen.sort_by_key(|s| (s.passage.note, s.passage.start));
        Selection {
            passages: chosen,
            tokens_used: self.used,
            tokens_total,
        }
    }
}

/// Passages of the first and last day present, in the order they should be taken: the
/// opening passage of the stay, the closing one, then the rest of those two days.
fn boundary_order(ep: &Episode, passages: &[Passage]) -> Vec<usize> {
    let (Some(first), Some(last)) = (passages.first(), passages.last()) else {
        return Vec::new();
    };
    let same_day = |note: usize, other: usize| {
        if note == other {
            return true;
        }
        let (a, b) = (&ep.evolution[note], &ep.evolution[other]);
        match (a.day, b.day, a.date, b.date) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, Some(x), Some(y)) => x == y,
            _ => false,
        }
    };
    let mut order = vec![first.id, last.id];
    order.extend(
        passages
            .iter()
            .filter(|p| same_day(p.note, first.note))
            .map(|p| p.id),
    );
    order.extend(
        passages
            .iter()
            .rev()
            .filter(|p| same_day(p.note, last.note))
            .map(|p| p.id),
    );
    order.dedup();
    order
}

/// The notes block of the prompt: one line per note with chosen passages
/// (`- día N: …`), `[…]` inside a line where part of the note was left out and a line
/// `- […]` where whole notes (days) were skipped.
pub fn notes_text(selection: &Selection, ep: &Episode) -> String {
    let mut out = String::new();
    let mut prev_note: Option<usize> = None;
    let mut i = 0;
    let chosen = &selection.passages;
    while i < chosen.len() {
        let note = chosen[i].passage.note;
        let skipped = match prev_note {
            None => note > 0,
            Some(p) => note > p + 1,
        };
        if skipped {
            out.push_str("- […]\n");
        }
        let Some(n) = ep.evolution.get(note) else {
            i += 1;
            continue;
        };
        let chars: Vec<char> = n.text.chars().collect();
        let has_words = |s: usize, e: usize| {
            chars
                .get(s.min(chars.len())..e.min(chars.len()))
                .is_some_and(|cs| cs.iter().any(|c| !c.is_whitespace()))
        };
        out.push_str("- ");
        if let Some(d) = n.day {
            out.push_str(&format!("día {d}: "));
        } else if let Some(d) = n.date {
            out.push_str(&format!("{d}: "));
        }
        let mut pos = 0usize;
        let mut first = true;
        while i < chosen.len() && chosen[i].passage.note == note {
            let p = &chosen[i].passage;
            if has_words(pos, p.start) {
                out.push_str(if first { "[…] " } else { " […] " });
            } else if !first {
                out.push(' ');
            }
            out.push_str(&p.text.replace(['\n', '\r'], " "));
            pos = p.end;
            first = false;
            i += 1;
        }
        if has_words(pos, chars.len()) {
            out.push_str(" […]");
        }
        out.push('\n');
        prev_note = Some(note);
    }
    if prev_note.is_some_and(|p| p + 1 < ep.evolution.len()) {
        out.push_str("- […]\n");
    }
    out
}

/// Embeds passages (as passages) and the four parts' questions (as queries) with
/// `embedder`, ready for [`select`].
pub fn embed_for_selection(
    embedder: &dyn Embedder,
    ep: &Episode,
    passages: &[Passage],
) -> Result<(Vec<Vec<f32>>, QueryVectors), EmbedError> {
    let texts: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
    let vectors = if texts.is_empty() {
        Vec::new()
    } else {
        embedder.embed(&texts, Role::Passage)?
    };
    Ok((vectors, embed_queries(embedder, ep)?))
}

/// The four parts' questions for `ep`, embedded with `Role::Query` (what
/// [`embed_for_selection`] does besides the passages; alone when the passages' vectors
/// are already known).
pub fn embed_queries(embedder: &dyn Embedder, ep: &Episode) -> Result<QueryVectors, EmbedError> {
    let queries: Vec<String> = RetrievalPart::ALL.iter().map(|p| p.query(ep)).collect();
    let q: Vec<&str> = queries.iter().map(String::as_str).collect();
    let mut qv = embedder.embed(&q, Role::Query)?.into_iter();
    let mut next = || {
        qv.next().ok_or_else(|| {
            EmbedError::Compute("the model returned fewer vectors than texts".into())
        })
    };
    Ok([next()?, next()?, next()?, next()?])
}

/// The embedder's token count, falling back to [`approx_tokens`] for a text its
/// tokenizer rejects (a passage is still better placed by an estimate than dropped).
pub fn embedder_tokens(embedder: &dyn Embedder) -> impl Fn(&str) -> usize + '_ {
    move |s: &str| {
        embedder
            .count_tokens(s)
            .unwrap_or_else(|_| approx_tokens(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use epicrisis_domain::{EvolutionNote, SourceShape};

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    fn episode(notes: &[(u32, &str)]) -> Episode {
        let mut ep = Episode::empty(SourceShape::Rich);
        ep.evolution = notes
            .iter()
            .map(|(d, t)| EvolutionNote {
                day: Some(*d),
                date: None,
                text: (*t).to_string(),
                author: None,
            })
            .collect();
        ep
    }

    #[test]
    fn sentence_spans_table() {
        let cases: &[(&str, &[&str])] = &[
            ("Uno. Dos.", &["Uno.", "Dos."]),
            (
                "Dx J18.9 ok. PCR 0.5 baja",
                &["Dx J18.9 ok.", "PCR 0.5 baja"],
            ),
            ("  a\n\nb  ", &["a", "b"]),
            ("¿Fiebre? No!  Fin", &["¿Fiebre?", "No!", "Fin"]),
            ("", &[]),
            ("   ", &[]),
        ];
        for (text, want) in cases {
            let chars: Vec<char> = text.chars().collect();
            let got: Vec<String> = sentence_spans(text)
                .iter()
                .map(|[s, e]| chars[*s..*e].iter().collect())
                .collect();
            assert_eq!(&got, want, "sentence_spans({text:?})");
        }
    }

    #[test]
    fn packs_sentences_and_splits_long_ones_at_words() {
        let ep = episode(&[(
            1,
            "Uno dos. Tres cuatro. Cinco seis siete ocho nueve diez once. Doce.",
        )]);
        let ps = passages(&ep, 4, &words);
        let texts: Vec<&str> = ps.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Uno dos. Tres cuatro.",
                "Cinco seis siete ocho",
                "nueve diez once.",
                "Doce."
            ]
        );
        for p in &ps {
            assert!(words(&p.text) <= 4);
            assert_eq!(p.day, Some(1));
        }
        // A limit of zero still keeps every character.
        let ps = passages(&episode(&[(1, "ab c")]), 0, &approx_tokens);
        assert_eq!(
            ps.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(),
            vec!["a", "b", "c"]
        );
    }

    fn long_stay() -> Episode {
        let mut ep = episode(&[
            (1, "Ingresa febril con tos. Se inicia ceftriaxona."),
            (2, "Sin cambios. Control de signos vitales."),
            (3, "Se realiza pleurostomía con salida de líquido turbio."),
            (4, "Persiste igual."),
            (5, "Afebril, buena respuesta a ceftriaxona. PCR disminuye."),
            (6, "Sin cambios relevantes hoy."),
            (7, "Alta a domicilio estable, tolera vía oral."),
        ]);
        ep.procedures.push(epicrisis_domain::Procedure {
            name: "Pleurostomía".into(),
            code: None,
            date: None,
        });
        ep.treatments.push(epicrisis_domain::Medication::named(
            "Ceftriaxona",
            epicrisis_domain::ItemKind::Drug,
        ));
        ep
    }

    #[test]
    fn select_keeps_boundary_days_and_the_parts_best_passages() {
        let ep = long_stay();
        let ps = passages(&ep, 20, &words);
        let sel = select(&ep, &ps, None, None, 30, &words);
        assert!(sel.tokens_used <= 30);
        assert_eq!(
            sel.tokens_total,
            ep.evolution.iter().map(|n| words(&n.text)).sum::<usize>()
        );
        let notes: Vec<usize> = sel.passages.iter().map(|s| s.passage.note).collect();
        assert_eq!(notes.first(), Some(&0));
        assert_eq!(notes.last(), Some(&6));
        assert!(notes.contains(&2), "the procedure's day: {notes:?}");
        assert!(notes.contains(&4), "the response: {notes:?}");
        assert!(notes.windows(2).all(|w| w[0] <= w[1]), "chronological");
        let proc = sel.passages.iter().find(|s| s.passage.note == 2).unwrap();
        assert!(proc.parts.contains(&RetrievalPart::Procedures));
        assert!(sel.passages.iter().filter(|s| s.required).count() >= 2);

        let text = notes_text(&sel, &ep);
        assert!(text.starts_with("- día 1: Ingresa febril"), "{text}");
        assert!(text.contains("- […]\n"), "{text}");
        assert!(text.trim_end().ends_with("tolera vía oral."), "{text}");
    }

    #[test]
    fn a_short_stay_keeps_everything() {
        let ep = long_stay();
        let ps = passages(&ep, 20, &words);
        let sel = select(&ep, &ps, None, None, 10_000, &words);
        assert_eq!(sel.passages.len(), ps.len());
        assert_eq!(sel.tokens_used, sel.tokens_total);
        assert!(!notes_text(&sel, &ep).contains('…'));
    }

    #[test]
    fn dense_vectors_steer_the_choice() {
        let ep = long_stay();
        let ps = passages(&ep, 20, &words);
        // A toy "embedding": passage 3 (day 4, otherwise never asked for) points where
        // every query points.
        let vectors: Vec<Vec<f32>> = ps
            .iter()
            .map(|p| {
                if p.note == 3 {
                    vec![1.0, 0.0]
                } else {
                    vec![0.0, 1.0]
                }
            })
            .collect();
        let q = vec![1.0, 0.0];
        let qv: QueryVectors = [q.clone(), q.clone(), q.clone(), q];
        let budget = words(&ep.evolution[0].text) + words(&ep.evolution[6].text) + 3;
        let asked = |sel: &Selection| {
            sel.passages
                .iter()
                .any(|s| s.passage.note == 3 && !s.parts.is_empty())
        };
        let sel = select(&ep, &ps, Some(&vectors), Some(&qv), budget, &words);
        assert!(asked(&sel), "{sel:?}");
        // Vectors of the wrong number are ignored, not trusted.
        let sel = select(&ep, &ps, Some(&vectors[1..]), Some(&qv), budget, &words);
        assert!(!asked(&sel), "{sel:?}");
    }

    #[test]
    fn empty_and_tiny_budgets() {
        let ep = episode(&[]);
        let sel = select(&ep, &[], None, None, 100, &words);
        assert!(sel.passages.is_empty());
        assert_eq!(notes_text(&sel, &ep), "");
        let ep = long_stay();
        let ps = passages(&ep, 20, &words);
        let sel = select(&ep, &ps, None, None, 0, &words);
        assert!(sel.passages.is_empty());
        assert_eq!(sel.tokens_used, 0);
    }
}
