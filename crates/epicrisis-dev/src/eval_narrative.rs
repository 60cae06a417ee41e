//! The model's narrative in `epicrisis-dev eval`: a folder of episodes (each `NAME.json` with
//! an optional reference narrative `NAME.reference.txt`, as in `testdata/rich/`) read as
//! a dataset, and the figures of who wrote the narratives: sentences kept from the model
//! as written, repaired, replaced by note extracts; rounds and steps; list-like answers;
//! words per narrative; ROUGE-L of the narrative against the reference narrative.

use crate::Failure;
use epicrisis_ingest::Record;
use epicrisis_pipeline::engine::Outcome;
use epicrisis_pipeline::metrics::rouge_l;
use epicrisis_pipeline::narrative::{SentenceOrigin, is_list};
use epicrisis_pipeline::{Body, PartId};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// Each file's name and reference narrative, in the order of the records.
pub type Narratives = Vec<(String, Option<String>)>;

/// A folder of episodes as a dataset: the records (without a whole-document reference)
/// and, in the same order, each file's name and reference narrative.
pub fn read_folder(dir: &Path) -> Result<(Vec<Record>, Narratives), Failure> {
    let name = dir.display().to_string();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Failure::Input(format!("{name}: cannot read the folder: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Failure::Input(format!(
            "{name}: the folder has no episode files (NAME.json)"
        )));
    }
    let mut records = Vec::with_capacity(files.len());
    let mut names = Vec::with_capacity(files.len());
    for (i, path) in files.iter().enumerate() {
        let episode = crate::input::episode(&path.display().to_string())?;
        let reference_path = path.with_extension("reference.txt");
        let reference = match std::fs::read_to_string(&reference_path) {
            Ok(text) => Some(text.trim().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(Failure::Input(format!(
                    "{}: cannot read the reference narrative: {e}",
                    reference_path.display()
                )));
            }
        };
        records.push(Record {
            line: i + 1,
            episode,
            instruction: None,
            reference: None,
        });
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        names.push((file, reference));
    }
    Ok((records, names))
}

/// Who wrote the narratives of a run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct NarrativeFigures {
    /// Drafts with a model's narrative part.
    pub drafts: usize,
    pub sentences_model: usize,
    pub sentences_repaired: usize,
    pub sentences_extract: usize,
    /// Narratives with no sentence of the model (all extracts, or the writer's part).
    pub narratives_without_model: usize,
    /// Answers of the model (rounds, over all steps) and steps.
    pub rounds: usize,
    pub steps: usize,
    /// First answers of a step that only enumerate data, and final narratives that do.
    pub first_answers_list_like: usize,
    pub first_answers: usize,
    pub final_list_like: usize,
    pub words: usize,
    rouge_sum: f64,
    pub rouge_n: usize,
    /// The model's decoding over all drafts (`Timings`).
    pub prompt_tokens: u64,
    pub cached_prompt_tokens: u64,
    pub generated_tokens: u64,
    pub generation_ms: f64,
    pub draft_tokens: u64,
    pub accepted_draft_tokens: u64,
}

impl NarrativeFigures {
    /// Counts one draft; `reference`: the reference narrative, when there is one.
    pub fn add(&mut self, outcome: &Outcome, reference: Option<&str>) -> Option<f64> {
        let (Some(narrative), Some(attempts)) = (&outcome.narrative, &outcome.attempts) else {
            return None;
        };
        self.drafts += 1;
        for s in narrative {
            match s.origin {
                SentenceOrigin::Model => self.sentences_model += 1,
                SentenceOrigin::Repaired => self.sentences_repaired += 1,
                SentenceOrigin::Extract => self.sentences_extract += 1,
            }
        }
        if narrative
            .iter()
            .all(|s| s.origin == SentenceOrigin::Extract)
        {
            self.narratives_without_model += 1;
        }
        self.rounds += attempts.len();
        if let Some(t) = &outcome.timings {
            self.prompt_tokens += u64::from(t.prompt_tokens);
            self.cached_prompt_tokens += u64::from(t.cached_prompt_tokens);
            self.generated_tokens += u64::from(t.generated_tokens);
            self.generation_ms += t.generation_ms;
            self.draft_tokens += u64::from(t.draft_tokens);
            self.accepted_draft_tokens += u64::from(t.accepted_draft_tokens);
        }
        self.steps += outcome.provenance.as_ref().map_or(1, |p| p.steps);
        for a in attempts.iter().filter(|a| a.round == 1) {
            self.first_answers += 1;
            if list_like(a.sentences.iter().map(|v| v.text.as_str())) {
                self.first_answers_list_like += 1;
            }
        }
        let text = evolution_text(outcome);
        if list_like(narrative.iter().map(|s| s.text.as_str())) {
            self.final_list_like += 1;
        }
        self.words += text.split_whitespace().count();
        let rouge = reference.map(|r| rouge_l(&text, r));
        if let Some(x) = rouge {
            self.rouge_sum += x;
            self.rouge_n += 1;
        }
        rouge
    }

    fn sentences(&self) -> usize {
        self.sentences_model + self.sentences_repaired + self.sentences_extract
    }

    fn share(&self, n: usize) -> f64 {
        n as f64 / self.sentences().max(1) as f64
    }

    pub fn rouge_l(&self) -> Option<f64> {
        (self.rouge_n > 0).then(|| self.rouge_sum / self.rouge_n as f64)
    }

    /// The figures as printed by `--format json`.
    pub fn summary(&self) -> NarrativeSummary {
        let d = self.drafts.max(1) as f64;
        NarrativeSummary {
            drafts: self.drafts,
            sentences: self.sentences(),
            kept_from_model: self.share(self.sentences_model),
            repaired: self.share(self.sentences_repaired),
            replaced_by_extracts: self.share(self.sentences_extract),
            narratives_without_model: self.narratives_without_model,
            rounds_per_draft: self.rounds as f64 / d,
            steps_per_draft: self.steps as f64 / d,
            first_answers_list_like: self.first_answers_list_like as f64
                / self.first_answers.max(1) as f64,
            final_list_like: self.final_list_like,
            words_per_narrative: self.words as f64 / d,
            rouge_l: self.rouge_l(),
            rouge_references: self.rouge_n,
            prompt_tokens_decoded_per_draft: (self.prompt_tokens - self.cached_prompt_tokens)
                as f64
                / d,
            prompt_tokens_cached_per_draft: self.cached_prompt_tokens as f64 / d,
            generated_tokens_per_s: if self.generation_ms > 0.0 {
                self.generated_tokens as f64 * 1000.0 / self.generation_ms
            } else {
                0.0
            },
            draft_tokens_accepted: self.accepted_draft_tokens as f64
                / self.draft_tokens.max(1) as f64,
        }
    }

    pub fn print_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.drafts == 0 {
            return Ok(());
        }
        let s = self.summary();
        writeln!(
            out,
            "narrative sentences: {} — {:.1} % kept from the model as written, {:.1} % repaired, {:.1} % note extracts; {} of {} narratives without a model sentence",
            s.sentences,
            100.0 * s.kept_from_model,
            100.0 * s.repaired,
            100.0 * s.replaced_by_extracts,
            s.narratives_without_model,
            s.drafts
        )?;
        writeln!(
            out,
            "rounds per draft: {:.2} over {:.2} steps; first answers that only list data: {:.1} %; final narratives that do: {}",
            s.rounds_per_draft,
            s.steps_per_draft,
            100.0 * s.first_answers_list_like,
            s.final_list_like
        )?;
        writeln!(
            out,
            "decoding per draft: {:.0} prompt tokens computed, {:.0} from the cache; answers at {:.1} tok/s; draft tokens kept: {:.1} % of {}",
            s.prompt_tokens_decoded_per_draft,
            s.prompt_tokens_cached_per_draft,
            s.generated_tokens_per_s,
            100.0 * s.draft_tokens_accepted,
            self.draft_tokens
        )?;
        write!(out, "words per narrative: {:.0}", s.words_per_narrative)?;
        if let Some(r) = s.rouge_l {
            write!(
                out,
                "; narrative ROUGE-L F1 against the reference narrative: {r:.3} (mean of {})",
                s.rouge_references
            )?;
        }
        writeln!(out)
    }
}

/// [`NarrativeFigures`] as a report.
#[derive(Debug, Clone, Serialize)]
pub struct NarrativeSummary {
    pub drafts: usize,
    pub sentences: usize,
    /// Shares of the narratives' sentences.
    pub kept_from_model: f64,
    pub repaired: f64,
    pub replaced_by_extracts: f64,
    pub narratives_without_model: usize,
    pub rounds_per_draft: f64,
    pub steps_per_draft: f64,
    /// Share of the steps' first answers.
    pub first_answers_list_like: f64,
    pub final_list_like: usize,
    pub words_per_narrative: f64,
    pub rouge_l: Option<f64>,
    pub rouge_references: usize,
    /// Prompt tokens the model computed, and those it took from its cache, per draft.
    pub prompt_tokens_decoded_per_draft: f64,
    pub prompt_tokens_cached_per_draft: f64,
    /// Answer tokens per second of generation (drafts included).
    pub generated_tokens_per_s: f64,
    /// Share of the prompt-lookup draft tokens the model kept.
    pub draft_tokens_accepted: f64,
}

/// A text that mostly enumerates: more than half its words in list-like sentences.
fn list_like<'a>(sentences: impl Iterator<Item = &'a str>) -> bool {
    let (mut listed, mut all) = (0, 0);
    for s in sentences {
        let w = s.split_whitespace().count();
        all += w;
        if is_list(s) {
            listed += w;
        }
    }
    all > 0 && listed * 2 > all
}

/// The evolution part's text of a draft.
pub fn evolution_text(outcome: &Outcome) -> String {
    outcome
        .draft
        .parts
        .iter()
        .find(|p| p.id == PartId::Evolution)
        .map(|p| match &p.body {
            Body::Text(t) => t.clone(),
            Body::Items(items) => items.join(" "),
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_that_mostly_enumerates_is_list_like() {
        let list = "Cirugía de Miles, pleurostomía, TAC de tórax, VAC perineal, meropenem, hemoglobina baja.";
        assert!(list_like([list].into_iter()));
        assert!(list_like(["Evoluciona bien.", list].into_iter()));
        assert!(!list_like(
            [
                "Ingresa por derrame pleural y se instala una pleurostomía con salida de 1000 cc.",
                "El débito disminuye hasta 50 cc y se retira el drenaje al día 12 sin incidentes.",
            ]
            .into_iter()
        ));
    }

    #[test]
    fn a_folder_is_read_in_name_order_with_its_references() {
        let dir = std::env::temp_dir().join(format!("eval-narrative-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ep = std::fs::read(epicrisis_testkit::fixtures::testdata(
            "episodes/compact_hernia.json",
        ))
        .unwrap();
        std::fs::write(dir.join("b.json"), &ep).unwrap();
        std::fs::write(dir.join("a.json"), &ep).unwrap();
        std::fs::write(dir.join("a.reference.txt"), "Evoluciona bien.\n").unwrap();
        let (records, names) = read_folder(&dir).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(
            names[0],
            ("a.json".to_string(), Some("Evoluciona bien.".to_string()))
        );
        assert_eq!(names[1], ("b.json".to_string(), None));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(read_folder(&dir), Err(Failure::Input(_))));
    }
}
