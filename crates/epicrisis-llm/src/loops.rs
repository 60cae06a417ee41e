//! Catches a model that loops: the same run of words written a second time.
//!
//! Small models, and large ones at low temperature, fall into loops — a phrase, a list
//! or a whole paragraph repeated word for word until `max_tokens` runs out (a repair round
//! of SmolLM2 once spent 2,048 tokens and two minutes so). The backends watch what they
//! generate with a [`LoopGuard`] and stop at the first repeated run of
//! [`SamplingSettings::loop_words`](crate::SamplingSettings::loop_words) words
//! ([`crate::StopReason::Repetition`]); whoever keeps the text cuts it with
//! [`trim_loop`], which leaves one copy of what was repeated.
//!
//! Words are compared lower-cased and without the punctuation around them, so "bien." and
//! "bien," are the same word; a run may overlap its earlier copy, which catches short
//! cycles ("sin complicaciones, sin complicaciones, …") as soon as they have turned over
//! `loop_words` words.

use std::collections::HashMap;

/// Watches a text as it grows, piece by piece.
#[derive(Debug)]
pub struct LoopGuard {
    run: usize,
    text: String,
    /// Where the next word may start in `text`.
    scanned: usize,
    /// (byte offset, normalised word) of every complete word.
    words: Vec<(usize, String)>,
    /// Each run of `run` words seen, with the index of its first word.
    seen: HashMap<String, usize>,
}

impl LoopGuard {
    /// A guard for runs of `run` words; 0 turns it off.
    pub fn new(run: u32) -> Self {
        LoopGuard {
            run: run as usize,
            text: String::new(),
            scanned: 0,
            words: Vec::new(),
            seen: HashMap::new(),
        }
    }

    /// Adds a piece of the text. Returns the byte offset, in everything pushed so far,
    /// where a repeated run begins, the first time one is complete.
    pub fn push(&mut self, piece: &str) -> Option<usize> {
        if self.run == 0 {
            return None;
        }
        self.text.push_str(piece);
        self.scan(false)
    }

    /// The last word of a text needs no space after it.
    pub fn finish(&mut self) -> Option<usize> {
        if self.run == 0 {
            return None;
        }
        self.scan(true)
    }

    fn scan(&mut self, at_end: bool) -> Option<usize> {
        loop {
            let rest = &self.text[self.scanned..];
            let Some(start) = rest.find(|c: char| !c.is_whitespace()) else {
                self.scanned = self.text.len();
                return None;
            };
            let start = self.scanned + start;
            let len = self.text[start..]
                .find(char::is_whitespace)
                .or(at_end.then(|| self.text.len() - start))?;
            let end = start + len;
            self.scanned = end;
            let word = normalise(&self.text[start..end]);
            if word.is_empty() {
                continue;
            }
            self.words.push((start, word));
            if let Some(cut) = self.check() {
                return Some(cut);
            }
        }
    }

    /// Whether the run ending at the newest word was seen before.
    fn check(&mut self) -> Option<usize> {
        let n = self.words.len();
        if n < self.run {
            return None;
        }
        let first = n - self.run;
        let key = self.words[first..]
            .iter()
            .map(|(_, w)| w.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        match self.seen.get(&key) {
            Some(_) => Some(self.words[first].0),
            None => {
                self.seen.insert(key, first);
                None
            }
        }
    }
}

fn normalise(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

/// `text` cut before its first repeated run of `run` words (one copy of what was
/// repeated stays), without the white space left at the cut. The text itself when
/// nothing repeats or `run` is 0.
pub fn trim_loop(text: &str, run: u32) -> &str {
    let mut guard = LoopGuard::new(run);
    match guard.push(text).or_else(|| guard.finish()) {
        Some(cut) => text[..cut].trim_end(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_paragraph_keeps_one_copy() {
        let p = "Paciente evoluciona afebril, con dolor controlado y buena tolerancia oral, \
                 sin signos de infección de la herida operatoria. ";
        let twice = format!("{p}{p}{p}");
        assert_eq!(trim_loop(&twice, 12), p.trim_end());
    }

    #[test]
    fn a_short_cycle_is_cut_after_one_turn() {
        let text = "Evoluciona bien, sin complicaciones, sin complicaciones, sin complicaciones, \
                    sin complicaciones, sin complicaciones, sin complicaciones, sin complicaciones";
        assert_eq!(trim_loop(text, 6), "Evoluciona bien, sin complicaciones,");
    }

    #[test]
    fn case_and_punctuation_do_not_hide_a_loop() {
        let text = "uno dos tres cuatro. Uno, dos tres cuatro";
        assert_eq!(trim_loop(text, 4), "uno dos tres cuatro.");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let text = "Ingresa por neumonía. Recibe ceftriaxona. Evoluciona con fiebre al \
                    segundo día, que cede al tercer día. Se da de alta en buenas condiciones.";
        assert_eq!(trim_loop(text, 6), text);
        assert_eq!(trim_loop("a a a a a a a a a a", 0), "a a a a a a a a a a");
        assert_eq!(trim_loop("", 12), "");
    }

    #[test]
    fn pieces_find_the_loop_where_the_whole_text_does() {
        let text = "la paciente mejora la paciente mejora la paciente mejora la paciente mejora";
        let whole = LoopGuard::new(6).push(&format!("{text} ")).unwrap();
        let mut g = LoopGuard::new(6);
        let mut fed = 0;
        let mut found = None;
        for piece in text.as_bytes().chunks(3) {
            let piece = std::str::from_utf8(piece).unwrap();
            fed += piece.len();
            if let Some(c) = g.push(piece) {
                found = Some(c);
                break;
            }
        }
        let found = found.or_else(|| g.finish()).unwrap();
        assert_eq!(found, whole);
        assert!(found < fed + 1);
        assert_eq!(&text[..found], "la paciente mejora ");
    }
}
