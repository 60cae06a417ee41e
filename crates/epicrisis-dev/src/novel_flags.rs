//! The novel-word guard's flags on reference texts (`eval --validator-only`): each
//! reference is checked sentence by sentence as if a model had written it. A physician's
//! reference may state what the data does not hold (a planned surgery, a paraphrase), so
//! not every flag is false; the list of the most flagged words shows which are.

use epicrisis_pipeline::grounded::novel_words;
use epicrisis_pipeline::retrieve::sentence_spans;
use epicrisis_validate::EpisodeIndex;
use serde::Serialize;
use std::collections::BTreeMap;

/// Flags counted over references.
#[derive(Debug, Default, Serialize)]
pub struct NovelFlags {
    pub documents: usize,
    pub sentences: usize,
    pub flags: usize,
    pub documents_with_flags: usize,
    /// Flagged word (folded) → times flagged.
    pub words: BTreeMap<String, usize>,
}

impl NovelFlags {
    /// Checks every sentence of `reference` against the episode's `index`; returns the
    /// flagged words, in order (for the per-record report, where they can be judged).
    pub fn add(&mut self, index: &EpisodeIndex, reference: &str) -> Vec<String> {
        let chars: Vec<char> = reference.chars().collect();
        let mut flagged = Vec::new();
        for [s, e] in sentence_spans(reference) {
            let sentence: String = chars[s..e].iter().collect();
            self.sentences += 1;
            for w in novel_words(&sentence, index) {
                *self
                    .words
                    .entry(epicrisis_domain::text::fold(&w))
                    .or_default() += 1;
                flagged.push(w);
            }
        }
        self.documents += 1;
        self.flags += flagged.len();
        if !flagged.is_empty() {
            self.documents_with_flags += 1;
        }
        flagged
    }

    pub fn per_document(&self) -> f64 {
        self.flags as f64 / self.documents.max(1) as f64
    }

    /// The `n` most flagged words, most first (ties alphabetical).
    pub fn top(&self, n: usize) -> Vec<(&str, usize)> {
        let mut v: Vec<(&str, usize)> = self.words.iter().map(|(w, c)| (w.as_str(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    /// One line of figures and one of the most flagged words.
    pub fn print_text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "novel-word guard on the references (each sentence checked as if a model wrote it): {} flags in {} documents ({:.3} per document, {} sentences), {} documents with any",
            self.flags,
            self.documents,
            self.per_document(),
            self.sentences,
            self.documents_with_flags
        )?;
        let top: Vec<String> = self
            .top(25)
            .into_iter()
            .map(|(w, c)| format!("{w} {c}"))
            .collect();
        writeln!(out, "  most flagged: {}", top.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use epicrisis_domain::Episode;

    fn episode() -> Episode {
        let json = r#"{"dx":["Neumonía adquirida en la comunidad (J18.9)"],"proc":[],"tto":["Ceftriaxona 2g EV c/24h 7d (J01DD04)"],"evo":"Afebril desde el día 3, buena tolerancia oral","dx_alta":["Neumonía resuelta (J18.9)"],"med":["Amoxicilina 1g VO c/12h 5d (J01CA04)"]}"#;
        epicrisis_ingest::read_episode(json.as_bytes(), "test.json").expect("a compact record")
    }

    #[test]
    fn a_reference_in_the_datas_words_has_no_flag_and_an_invented_fact_has_one() {
        let ep = episode();
        let index = EpisodeIndex::new(&ep);
        let mut flags = NovelFlags::default();
        flags.add(
            &index,
            "Ingresa por neumonía adquirida en la comunidad (J18.9). Evoluciona afebril desde el día 3.",
        );
        assert_eq!((flags.documents, flags.flags), (1, 0), "{:?}", flags.words);
        flags.add(&index, "Se realizó una broncoscopia.");
        assert_eq!(flags.flags, 1, "{:?}", flags.words);
        assert_eq!(flags.documents_with_flags, 1);
        assert_eq!(flags.top(1), vec![("broncoscopia", 1)]);
    }
}
