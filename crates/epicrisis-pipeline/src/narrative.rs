//! One step of the model's narrative ([`crate::steps`]): the rounds of a conversation
//! with the model about some days of the stay, each answer judged sentence by sentence.
//!
//! Round 1 asks for the summary. When a sentence is not supported, the conversation goes
//! on: the model sees its own answer and, for each faulted sentence, exactly which words
//! the data does not support (or that the sentence only lists data), and is asked to keep
//! the right sentences and correct or drop the others. After the rounds, the supported
//! sentences of the round with the most supported words are kept; a step whose rounds
//! kept nothing is replaced by the extracts of its notes, marked as such (a one-step
//! narrative by the writer's part, marked as a fallback). A repair that leaves the same
//! faults as the round before ends the rounds: asking again would change nothing; so does
//! a step of a stay whose only faults are of form (lists, fragments and copies of notes).

use crate::draft::{Body, Draft, Layout, Origin, Part, PartId, TextFormat};
use crate::grounded::{Attempt, PipelineOptions, Strategy, Timings, novel_words};
use crate::prompt::{FIXED_MESSAGES, clean_model_text, conversation, quoted};
use crate::sentences::{self, SentenceVerdict};
use crate::steps::Step;
use epicrisis_domain::Episode;
use epicrisis_llm::loops::trim_loop;
use epicrisis_llm::{GenerationError, GenerationRequest, Generator, SamplingSettings};
use epicrisis_validate::{EpisodeIndex, Report, validate_indexed};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::Instant;

/// A narrative of fewer words says nothing: an empty answer, or a remnant.
pub const MIN_WORDS: usize = 4;

/// What stands for a sentence that only enumerates data, among its unsupported words.
pub const LIST_OBJECTION: &str = "(enumeración de datos, no un relato)";
/// What stands for a sentence that copies a note word for word, among its unsupported
/// words: a copy is an extract, not the summary the model was asked for. It is objected
/// to, but kept (as an extract) when no round wrote better: it says what the note says.
/// A piece of a note's shorthand («Ex: …», «| …») is not kept.
pub const COPY_OBJECTION: &str = "(copia literal de una nota)";
/// What stands for a piece of a note's shorthand, among a sentence's unsupported words.
pub const FRAGMENT_OBJECTION: &str = "(fragmento de nota, no prosa)";
const OBJECTIONS: [&str; 3] = [LIST_OBJECTION, COPY_OBJECTION, FRAGMENT_OBJECTION];
/// Words in a row, shared with a note, that make a sentence a copy.
const COPY_RUN: usize = 10;

/// Who wrote a sentence of the narrative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentenceOrigin {
    /// The model's first answer, supported as written.
    Model,
    /// The model's answer to an objection.
    Repaired,
    /// The extract of a note, where the model's sentences were not supported.
    Extract,
}

/// One sentence of the final narrative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NarrativeSentence {
    pub text: String,
    pub origin: SentenceOrigin,
    /// The step it belongs to (0-based) and that step's days, when recorded.
    pub step: usize,
    pub days: Option<[u32; 2]>,
}

/// The part's origin for its sentences: the model's when every sentence is its first
/// answer, a fallback when every sentence is an extract, repaired otherwise.
pub fn part_origin(sentences: &[NarrativeSentence]) -> Origin {
    if sentences.iter().all(|s| s.origin == SentenceOrigin::Model) {
        Origin::Model
    } else if sentences
        .iter()
        .all(|s| s.origin == SentenceOrigin::Extract)
    {
        Origin::Fallback
    } else {
        Origin::Repaired
    }
}

/// The narrative's text: its sentences in order.
pub fn join(sentences: &[NarrativeSentence]) -> String {
    sentences
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a sentence only enumerates: five or more comma-separated pieces of a few
/// words each («Cirugía de Miles, pleurostomía, TAC de tórax, VAC perineal, meropenem…»).
pub fn is_list(sentence: &str) -> bool {
    let pieces: Vec<usize> = sentence
        .split([',', ';'])
        .map(|p| p.split_whitespace().count())
        .collect();
    let short = pieces.iter().filter(|&&w| w <= 5).count();
    pieces.len() >= 5 && short * 4 >= pieces.len() * 3
}

fn folded_words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(epicrisis_domain::text::fold)
        .collect()
}

/// The episode's notes as runs of folded words, to tell a copy of a note from a summary.
pub(crate) struct NoteCopies {
    /// Every run of [`COPY_RUN`] words of a note.
    long: HashSet<String>,
    /// Every two and every three words in a row of a note (only when `short`).
    pairs: HashSet<String>,
    triples: HashSet<String>,
    /// Whether a short sentence copied from a note counts: on a stay of several notes,
    /// where the model is asked for a summary. A record with one or two notes is asked
    /// to write its summary in the notes' own words.
    short: bool,
}

impl NoteCopies {
    pub(crate) fn new(ep: &Episode) -> NoteCopies {
        let mut c = NoteCopies {
            long: HashSet::new(),
            pairs: HashSet::new(),
            triples: HashSet::new(),
            short: crate::prompt::asks_for_summary(ep),
        };
        for note in &ep.evolution {
            let words = folded_words(&note.text);
            c.long.extend(words.windows(COPY_RUN).map(|w| w.join(" ")));
            if c.short {
                c.pairs.extend(words.windows(2).map(|w| w.join(" ")));
                c.triples.extend(words.windows(3).map(|w| w.join(" ")));
            }
        }
        c
    }

    /// Whether `sentence` has [`COPY_RUN`] words in a row as a note has them: a copy,
    /// objected to (the model is asked to summarise instead).
    pub(crate) fn is_long_copy(&self, sentence: &str) -> bool {
        folded_words(sentence)
            .windows(COPY_RUN)
            .any(|w| self.long.contains(&w.join(" ")))
    }

    /// Whether `sentence`, on a stay of several notes, is a short copy: four fifths of its
    /// words stand in runs of three as a note has them («HDN estable, sin sangrado.»,
    /// «PCR 9,8.»), or both of its two. It is kept, but as an extract of the notes, not
    /// as the model's writing: a dump of the notes is not a summary, however it is cut.
    /// Not objected to: asked again, a small model copies again.
    pub(crate) fn is_short_copy(&self, sentence: &str) -> bool {
        if !self.short {
            return false;
        }
        let words = folded_words(sentence);
        match words.len() {
            0 | 1 => false,
            2 => self.pairs.contains(&words.join(" ")),
            n => {
                let mut covered = vec![false; n];
                for (i, w) in words.windows(3).enumerate() {
                    if self.triples.contains(&w.join(" ")) {
                        covered[i..i + 3].fill(true);
                    }
                }
                covered.iter().filter(|&&c| c).count() * 5 >= n * 4
            }
        }
    }
}

/// Whether `sentence` is a piece of a note's shorthand rather than prose: a note
/// separator (`|`, `+`, two ` - `) or a leading label («Ex:», «Plan:», «Día 5:»).
pub fn is_fragment(sentence: &str) -> bool {
    let label = sentence.split_once(':').is_some_and(|(head, _)| {
        head.split_whitespace().count() <= 2 && head.chars().count() <= 12
    });
    label || sentence.contains(['|', '+']) || sentence.matches(" - ").count() >= 2
}

/// Everything one step needs from the draft around it.
pub(crate) struct Narrator<'a> {
    pub generator: &'a dyn Generator,
    pub ep: &'a Episode,
    pub index: &'a EpisodeIndex,
    /// The notes' runs of words, built once per draft ([`NoteCopies`]).
    pub copies: &'a NoteCopies,
    pub opts: &'a PipelineOptions,
    /// The writer's draft the narrative goes into.
    pub base: &'a Draft,
    /// Words an earlier draft was faulted for (named in the first request).
    pub avoid: &'a [String],
    pub steps: usize,
}

/// One step's request: its task, its facts and its token budget.
pub(crate) struct StepRequest<'a> {
    pub index: usize,
    pub step: &'a Step,
    pub task: String,
    pub facts: String,
    pub budget: u32,
}

/// What the answers of a step's rounds left.
pub(crate) struct StepResult {
    pub sentences: Vec<NarrativeSentence>,
    pub attempts: Vec<Attempt>,
}

impl Narrator<'_> {
    /// Runs one step's rounds. `before`: the narrative the earlier steps kept (the
    /// answer is validated after it, in the draft).
    pub fn run(
        &self,
        req: &StepRequest,
        before: &str,
        timings: &mut Timings,
        on_progress: &mut dyn FnMut(crate::Progress),
    ) -> Result<StepResult, GenerationError> {
        let rounds = 1 + self.opts.repair_rounds;
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut turns: Vec<(String, String)> = Vec::new();
        let mut best: Option<(usize, usize)> = None;
        // The step's text so far, sentence by sentence (round 1: the answer; later
        // rounds: the supported sentences with the answer in place of the faulted ones).
        let mut current: Vec<SentenceVerdict> = Vec::new();
        for round in 1..=rounds {
            on_progress(crate::Progress::Writing(crate::progress::Writing {
                step: req.index + 1,
                steps: self.steps,
                round,
                rounds,
            }));
            let msgs = conversation(
                &req.task,
                &req.facts,
                &self.opts.style_examples,
                self.avoid,
                &turns,
            );
            let mut request = GenerationRequest::new(msgs, self.sampling(req, round));
            request.stable_prefix_messages = FIXED_MESSAGES;
            let (raw, stats) = self
                .generator
                .start(request)?
                .collect_with(|t| on_progress(crate::Progress::Text(t)))?;
            on_progress(crate::Progress::Checking);
            timings.add(&stats);
            // A loop stopped the answer inside its repeat: one copy stays.
            let answer = clean_model_text(trim_loop(&raw, self.opts.sampling.loop_words));
            let text = if round == 1 || self.opts.strategy == Strategy::Full {
                answer.clone()
            } else {
                splice(&current, &answer)
            };
            let verdicts = self.judge(&text, before, timings);
            let empty = text.split_whitespace().count() < MIN_WORDS;
            let bad = sentences::objections(&verdicts);
            let words = acceptable_words(&verdicts);
            if !empty && words > best.map_or(0, |(_, w)| w) {
                best = Some((attempts.len(), words));
            }
            let clean = bad.is_empty() && !empty;
            // No progress: the same faults as the round before.
            let stuck = round > 1
                && attempts
                    .last()
                    .is_some_and(|a: &Attempt| a.unsupported == bad);
            // A step of a stay whose only faults are of form (a list, a note's fragment or
            // copy) is not re-asked: measured on `testdata/rich`, no repair of a form
            // fault was kept (a small model asked again copies again), and each costs a
            // round. Its faulted sentences are left out, its copies kept as extracts.
            let form_only =
                !req.step.whole && !empty && bad.iter().all(|w| OBJECTIONS.contains(&w.as_str()));
            let objection = (!clean && !stuck && !form_only).then(|| objection(&verdicts, empty));
            current = verdicts.clone();
            attempts.push(Attempt {
                part: PartId::Evolution,
                round,
                step: req.index,
                days: req.step.days,
                errors: bad.len(),
                unsupported: bad,
                text: answer.clone(),
                stats,
                sentences: verdicts,
            });
            match objection {
                None => break,
                Some(o) => turns.push((answer, o)),
            }
        }
        Ok(self.choose(req, attempts, best))
    }

    fn sampling(&self, req: &StepRequest, round: u32) -> SamplingSettings {
        // Each round and step its own seed (still reproducible): the same seed would
        // replay the same choices.
        let s = &self.opts.sampling;
        let temperature = if round == 1 {
            s.temperature
        } else {
            s.temperature.max(0.7)
        };
        SamplingSettings {
            seed: s
                .seed
                .wrapping_add(round - 1)
                .wrapping_add(16 * req.index as u32),
            temperature,
            max_tokens: req.budget,
            ..s.clone()
        }
    }

    /// The answer's sentences, validated inside the draft after `before`.
    fn judge(&self, text: &str, before: &str, timings: &mut Timings) -> Vec<SentenceVerdict> {
        let joined = if before.is_empty() {
            text.to_string()
        } else {
            format!("{before} {text}")
        };
        let candidate = assemble(self.base, self.opts.strategy, &joined, Origin::Model);
        let rendered = candidate.render(TextFormat::Plain);
        let tv = Instant::now();
        let report = validate_indexed(self.index, self.ep, &rendered);
        timings.validation_ms += tv.elapsed().as_secs_f64() * 1e3;
        let mut verdicts = judge_part(&candidate, &rendered, &report, text, self);
        let copies = self.copies;
        for v in verdicts.iter_mut() {
            if is_list(&v.text) {
                v.unsupported.push(LIST_OBJECTION.to_string());
            }
            if is_fragment(&v.text) {
                v.unsupported.push(FRAGMENT_OBJECTION.to_string());
            } else if copies.is_long_copy(&v.text) {
                v.unsupported.push(COPY_OBJECTION.to_string());
            } else if copies.is_short_copy(&v.text) {
                v.copy = true;
            }
        }
        verdicts
    }

    /// The best round's supported sentences, or the step's note extracts.
    fn choose(
        &self,
        req: &StepRequest,
        mut attempts: Vec<Attempt>,
        best: Option<(usize, usize)>,
    ) -> StepResult {
        let sentence = |text: String, origin| NarrativeSentence {
            text,
            origin,
            step: req.index,
            days: req.step.days,
        };
        let chosen = best.filter(|(_, words)| *words >= MIN_WORDS);
        let sentences = match chosen {
            Some((i, _)) => {
                let first = attempts[0].text.clone();
                let a = &mut attempts[i];
                a.sentences.iter_mut().for_each(|v| v.kept = acceptable(v));
                a.sentences
                    .iter()
                    .filter(|v| v.kept)
                    .map(|v| {
                        // A copy of a note is an extract, whoever wrote it; a sentence
                        // of the first answer kept as written is the model's.
                        let origin = if !v.supported() || v.copy {
                            SentenceOrigin::Extract
                        } else if first.contains(&v.text) {
                            SentenceOrigin::Model
                        } else {
                            SentenceOrigin::Repaired
                        };
                        sentence(v.text.clone(), origin)
                    })
                    .collect()
            }
            // The whole stay at once: the writer's part stands in (see `final_draft`).
            None if req.step.whole => Vec::new(),
            None => crate::writer::note_extracts(self.ep, req.step.notes.clone(), 220)
                .into_iter()
                .map(|e| sentence(format!("{e}."), SentenceOrigin::Extract))
                .collect(),
        };
        StepResult {
            sentences,
            attempts,
        }
    }
}

/// The objection of a repair round: each faulted sentence with what the data does not
/// support in it, and the request to write again only those sentences (the others stay:
/// small models asked for the whole text again copy it unchanged).
fn objection(verdicts: &[SentenceVerdict], empty: bool) -> String {
    let mut s = String::from("Revisé tu respuesta contra los datos de este paciente.");
    if empty {
        s.push_str(" La respuesta está vacía o es demasiado breve: escribe el resumen pedido.");
        return s;
    }
    s.push_str(" Estas oraciones no están respaldadas por los datos:");
    for v in verdicts.iter().filter(|v| !v.supported()) {
        let words: Vec<String> = v
            .unsupported
            .iter()
            .filter(|w| !OBJECTIONS.contains(&w.as_str()))
            .cloned()
            .collect();
        s.push_str(&format!("\n- «{}»:", v.text));
        if !words.is_empty() {
            s.push_str(&format!(" los datos no dicen {}.", quoted(&words)));
        }
        if v.unsupported.iter().any(|w| w == LIST_OBJECTION) {
            s.push_str(" solo enumera datos; cuenta qué pasó con el paciente.");
        }
        if v.unsupported.iter().any(|w| w == COPY_OBJECTION) {
            s.push_str(" copia la nota tal cual; resúmela con tus palabras.");
        }
        if v.unsupported.iter().any(|w| w == FRAGMENT_OBJECTION) {
            s.push_str(" es un fragmento de la nota, no una oración; escríbelo en prosa.");
        }
    }
    s.push_str(
        "\nEscribe de nuevo solo esas oraciones, en el mismo orden, diciendo únicamente lo que dicen los datos; omite la que no se pueda corregir. No repitas las demás oraciones. Responde solo con el texto.",
    );
    s
}

/// The step's text after a repair: the supported sentences of `current` where they
/// were, and the repair's sentences in place of the faulted ones, in order (the k-th new
/// sentence where the k-th faulted one was; any more after the last; a faulted sentence
/// left without a new one is dropped). A new sentence that repeats a kept one is dropped.
fn splice(current: &[SentenceVerdict], answer: &str) -> String {
    let kept: Vec<String> = current
        .iter()
        .filter(|v| v.supported())
        .map(|v| epicrisis_domain::text::fold(&v.text))
        .collect();
    let chars: Vec<char> = answer.chars().collect();
    let mut fresh = crate::retrieve::sentence_spans(answer)
        .into_iter()
        .map(|[a, b]| chars[a..b].iter().collect::<String>())
        .filter(|s| !kept.contains(&epicrisis_domain::text::fold(s)));
    let faulted = current.iter().filter(|v| !v.supported()).count();
    let mut out: Vec<String> = Vec::new();
    let mut seen = 0;
    for v in current {
        if v.supported() {
            out.push(v.text.clone());
            continue;
        }
        seen += 1;
        out.extend(fresh.next());
        if seen == faulted {
            out.extend(fresh.by_ref());
        }
    }
    if faulted == 0 {
        out.extend(fresh);
    }
    out.join(" ")
}

/// A sentence the narrative may keep: supported, or only a copy of a note (kept, as an
/// extract, when no round wrote better).
fn acceptable(v: &SentenceVerdict) -> bool {
    v.unsupported.iter().all(|w| w == COPY_OBJECTION)
}

fn acceptable_words(verdicts: &[SentenceVerdict]) -> usize {
    verdicts
        .iter()
        .filter(|v| acceptable(v))
        .map(|v| v.text.split_whitespace().count())
        .sum()
}

/// The draft with the narrative `text` in it: the evolution part of the writer's draft,
/// or the whole paragraph for [`Strategy::Full`].
pub(crate) fn assemble(base: &Draft, strategy: Strategy, text: &str, origin: Origin) -> Draft {
    match strategy {
        Strategy::Narrative => crate::grounded::assemble(base, PartId::Evolution, text, origin),
        Strategy::Full => Draft {
            layout: Layout::Paragraph,
            parts: vec![Part {
                id: PartId::Evolution,
                title: "Epicrisis".into(),
                body: Body::Text(text.to_string()),
                origin,
            }],
        },
    }
}

/// The sentences of `text`, the model's answer at the end of the narrative part, with
/// their verdicts. The whole paragraph of [`Strategy::Full`], whose errors may be
/// anywhere, is one verdict.
fn judge_part(
    candidate: &Draft,
    rendered: &str,
    report: &Report,
    text: &str,
    n: &Narrator,
) -> Vec<SentenceVerdict> {
    let whole = |mentions: Vec<String>| {
        vec![SentenceVerdict {
            text: text.to_string(),
            unsupported: mentions,
            kept: false,
            copy: false,
        }]
    };
    if n.opts.strategy == Strategy::Full {
        return whole(report.errors().map(|f| f.mention.clone()).collect());
    }
    let (a, b) = crate::grounded::span_of(candidate, PartId::Evolution, TextFormat::Plain);
    // Where the answer starts inside its part: the part's last occurrence of it.
    let part: String = rendered.chars().skip(a).take(b - a).collect();
    match part.rfind(text) {
        Some(byte) if !text.is_empty() => {
            let start = a + part[..byte].chars().count();
            sentences::judge(text, start, report, n.index, novel_words)
        }
        _ => {
            let mut bad: Vec<String> = crate::grounded::errors_within(report, a, b)
                .iter()
                .map(|f| f.mention.clone())
                .collect();
            for w in novel_words(text, n.index) {
                if !bad.iter().any(|b| b.contains(&w)) {
                    bad.push(w);
                }
            }
            whole(bad)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_that_only_enumerates_is_a_list() {
        assert!(is_list(
            "Cirugía de Miles, pleurostomía, TAC de tórax, VAC perineal, meropenem, hemoglobina 7,8 g/dL."
        ));
        assert!(!is_list(
            "Se instaló una pleurostomía con salida de 1000 cc, y el débito disminuyó hasta 50 cc, por lo que se retiró al día 12."
        ));
        assert!(!is_list(
            "Recibió piperacilina/tazobactam, luego meropenem, con buena respuesta."
        ));
    }

    #[test]
    fn the_part_origin_follows_its_sentences() {
        let s = |origin| NarrativeSentence {
            text: "x.".into(),
            origin,
            step: 0,
            days: None,
        };
        use SentenceOrigin::*;
        assert_eq!(part_origin(&[s(Model), s(Model)]), Origin::Model);
        assert_eq!(part_origin(&[s(Model), s(Repaired)]), Origin::Repaired);
        assert_eq!(part_origin(&[s(Model), s(Extract)]), Origin::Repaired);
        assert_eq!(part_origin(&[s(Extract)]), Origin::Fallback);
    }

    #[test]
    fn an_objection_names_each_faulted_sentence_and_why() {
        let v = |text: &str, bad: &[&str]| SentenceVerdict {
            text: text.into(),
            unsupported: bad.iter().map(|w| w.to_string()).collect(),
            kept: false,
            copy: false,
        };
        let o = objection(
            &[
                v("Evoluciona bien.", &[]),
                v("Evolucionó afebril.", &["afebril"]),
                v("A, b, c, d, e.", &[LIST_OBJECTION]),
            ],
            false,
        );
        assert!(
            o.contains("«Evolucionó afebril.»: los datos no dicen «afebril»"),
            "{o}"
        );
        assert!(o.contains("«A, b, c, d, e.»: solo enumera datos"), "{o}");
        assert!(!o.contains("Evoluciona bien"), "{o}");
        assert!(o.contains("solo esas oraciones"), "{o}");
    }

    #[test]
    fn a_repair_replaces_the_faulted_sentences_in_place() {
        let v = |text: &str, ok: bool| SentenceVerdict {
            text: text.into(),
            unsupported: if ok { vec![] } else { vec!["x".into()] },
            kept: false,
            copy: false,
        };
        let current = [
            v("Uno.", true),
            v("Dos.", false),
            v("Tres.", true),
            v("Cuatro.", false),
        ];
        assert_eq!(splice(&current, "Dos bien."), "Uno. Dos bien. Tres.");
        assert_eq!(splice(&current, ""), "Uno. Tres.");
        assert_eq!(
            splice(&current, "Tres. Dos bien."),
            "Uno. Dos bien. Tres.",
            "no repeat"
        );
    }

    #[test]
    fn a_sentence_that_copies_a_note_is_a_copy() {
        let note = |day, text: &str| epicrisis_domain::EvolutionNote {
            day: Some(day),
            date: None,
            text: text.into(),
            author: None,
        };
        let mut ep = Episode::empty(epicrisis_domain::SourceShape::Rich);
        ep.evolution.push(note(1, "TORAX ESTABLE, RADIOGRAFIA DE AYER CON EXPANSION COMPLETA, SIN DIFICULTAD RESPIRATORIA. ACQUASEAL AL TOPE."));
        let one_note = NoteCopies::new(&ep);
        assert!(one_note.is_long_copy(
            "Tórax estable, radiografía de ayer con expansión completa, sin dificultad respiratoria."
        ));
        assert!(!one_note.is_long_copy(
            "El tórax se mantuvo estable, con expansión pulmonar completa en la radiografía."
        ));
        // A record of one note is asked for its words: a short copy is its summary.
        assert!(!one_note.is_short_copy("Sin dificultad respiratoria."));
        ep.evolution.push(note(
            2,
            "HDN ESTABLE, SIN SANGRADO. PCR 9,8. TOLERA REGIMEN BLANDO",
        ));
        ep.evolution.push(note(3, "Afebril. Alta."));
        let stay = NoteCopies::new(&ep);
        for copy in [
            "Sin dificultad respiratoria.",
            "HDN estable, sin sangrado.",
            "PCR 9,8.",
            "Tolera régimen blando.",
        ] {
            assert!(stay.is_short_copy(copy), "{copy}");
        }
        for summary in [
            "Alta.",
            "Evolucionó hemodinámicamente estable y sin sangrado, tolerando régimen blando.",
            "La PCR descendió a 9,8 y se mantuvo sin dificultad respiratoria.",
        ] {
            assert!(!stay.is_short_copy(summary), "{summary}");
        }
        for fragment in [
            "Ex: MP conservado a derecha.",
            "plan - ajusto terapia - exs: p.",
            "| 68 anios, sin alergias conocidas.",
            "Mantener KNT + triflo.",
        ] {
            assert!(is_fragment(fragment), "{fragment}");
        }
        assert!(!is_fragment(
            "Al ingreso se encontraba estable: sin dificultad respiratoria."
        ));
    }
}
