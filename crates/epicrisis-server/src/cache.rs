//! Parsed episodes and their validation index, kept between requests.
//!
//! Live validation runs on every pause in typing and the episode page is opened often;
//! both used to read the stored JSON, parse it and index it each time. The cache keeps
//! the parsed [`Episode`] with its [`EpisodeIndex`] per episode id, stamped with the
//! store row's `updated_at`: a request first reads only that stamp, and a re-import (which
//! always moves the stamp forward) makes the entry stale. It holds at most `capacity`
//! episodes and forgets the least recently used first. Entries are shared (`Arc`): a
//! request keeps using its entry even if another request replaces it meanwhile.

use crate::api::types as view;
use epicrisis_domain::Episode;
use epicrisis_pipeline::evidence::SentenceEvidence;
use epicrisis_pipeline::grounded::{
    PreparedNotes, Retrieval, link_evidence, prepare_notes, with_unsupported_sentences,
};
use epicrisis_validate::{EpisodeIndex, Report};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the store says about a stored episode, besides its content.
#[derive(Debug, Clone)]
pub struct StoredMeta {
    pub episode_id: String,
    pub source_kind: String,
    pub imported_at: i64,
    pub updated_at: i64,
    /// SHA-256 of the stored episode JSON this entry was parsed from (what passage
    /// vectors are tied to, see [`epicrisis_store::Store::put_passage_vectors`]).
    pub content_sha256: String,
    /// The revision of the episode's data this entry was parsed from (the newest).
    pub revision: i64,
}

/// An episode ready to validate against: parsed, indexed once, and its notes cut into
/// passages once (for the evidence of each sentence).
pub struct Parsed {
    pub episode: Episode,
    pub index: EpisodeIndex,
    /// Passages of the evolution notes, without vectors (live checks stay lexical).
    pub notes: PreparedNotes,
}

/// A stored episode as the cache keeps it.
pub struct StoredEpisode {
    pub meta: StoredMeta,
    pub parsed: Parsed,
}

impl Parsed {
    pub fn new(episode: Episode) -> Parsed {
        let index = EpisodeIndex::new(&episode);
        let notes = prepare_notes(&episode, &Retrieval::default());
        Parsed {
            episode,
            index,
            notes,
        }
    }

    /// Validates a text and links each sentence to its evidence (lexically): the report
    /// has, besides the validator's findings, a warning for every sentence that claims
    /// something with no support in the notes or the data — the same check a draft gets.
    pub fn check(&self, text: &str) -> (Report, Vec<SentenceEvidence>) {
        let report = self.validate(text);
        let evidence = link_evidence(&self.episode, text, &self.notes, None);
        let report = with_unsupported_sentences(report, &evidence, text);
        (report, evidence)
    }

    /// Evidence as the client shows it: every passage also carries its day and its text
    /// (the note's characters `start..end`), every item a Spanish label of its kind.
    /// References outside the episode (evidence stored before a re-import) are dropped.
    pub fn evidence_view(&self, evidence: &[SentenceEvidence]) -> Vec<view::SentenceEvidence> {
        let notes = &self.episode.evolution;
        let passage = |p: &epicrisis_pipeline::evidence::PassageRef| {
            let note = notes.get(p.note)?;
            let text: String = note
                .text
                .chars()
                .skip(p.start)
                .take(p.end.saturating_sub(p.start))
                .collect();
            Some(view::EvidencePassage {
                id: p.id,
                note: p.note,
                day: p.day.or(note.day),
                start: p.start,
                end: p.end,
                score: p.score,
                text: text.trim().to_string(),
            })
        };
        evidence
            .iter()
            .map(|s| view::SentenceEvidence {
                span: s.span,
                checked: s.checked,
                passages: s.passages.iter().filter_map(passage).collect(),
                items: s
                    .items
                    .iter()
                    .map(|i| view::EvidenceItem {
                        kind: i.kind,
                        label: kind_label(i.kind),
                        field: i.field.clone(),
                        index: i.index,
                        name: i.name.clone(),
                    })
                    .collect(),
            })
            .collect()
    }
}

/// The Spanish name of a kind of item, for the interface.
fn kind_label(k: epicrisis_pipeline::evidence::ItemRefKind) -> &'static str {
    use epicrisis_pipeline::evidence::ItemRefKind as K;
    match k {
        K::Diagnosis => "Diagnóstico",
        K::Procedure => "Procedimiento",
        K::Medication => "Medicamento",
        K::Lab => "Examen",
        K::Instruction => "Indicación",
        K::Reason => "Motivo de ingreso",
        K::History => "Antecedente",
        K::Patient => "Paciente",
        K::Date => "Fecha",
    }
}

impl Parsed {
    /// Validates a text against this episode with the prepared index.
    pub fn validate(&self, text: &str) -> Report {
        epicrisis_validate::validate_indexed(&self.index, &self.episode, text)
    }
}

struct Entry {
    stamp: i64,
    used: u64,
    value: Arc<StoredEpisode>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
    tick: u64,
    hits: u64,
    misses: u64,
}

/// A bounded map from episode id to its parsed form (least recently used goes first).
pub struct EpisodeCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl EpisodeCache {
    /// A cache of at most `capacity` episodes (0 turns it off).
    pub fn new(capacity: usize) -> EpisodeCache {
        EpisodeCache {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    /// The entry of `id` if it was made from the row version `stamp`.
    pub fn get(&self, id: &str, stamp: i64) -> Option<Arc<StoredEpisode>> {
        let mut inner = self.inner.lock().ok()?;
        inner.tick += 1;
        let tick = inner.tick;
        let hit = match inner.map.get_mut(id) {
            Some(e) if e.stamp == stamp => {
                e.used = tick;
                Some(e.value.clone())
            }
            _ => None,
        };
        if hit.is_some() {
            inner.hits += 1;
        } else {
            inner.misses += 1;
        }
        hit
    }

    /// Keeps `value` for `id`, made from the row version `stamp`, forgetting the least
    /// recently used entries beyond the capacity.
    pub fn put(&self, id: &str, stamp: i64, value: Arc<StoredEpisode>) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.tick += 1;
        let used = inner.tick;
        // An older reader must not replace a newer entry.
        if inner.map.get(id).is_some_and(|e| e.stamp > stamp) {
            return;
        }
        inner
            .map
            .insert(id.to_string(), Entry { stamp, used, value });
        while inner.map.len() > self.capacity {
            let Some(oldest) = inner
                .map
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            inner.map.remove(&oldest);
        }
    }

    /// Forgets `id` (after an import replaced it).
    pub fn invalidate(&self, id: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.map.remove(id);
        }
    }

    /// Entries held, hits and misses so far.
    pub fn stats(&self) -> (usize, u64, u64) {
        self.inner
            .lock()
            .map(|i| (i.map.len(), i.hits, i.misses))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(id: &str) -> Arc<StoredEpisode> {
        let mut ep = Episode::empty(epicrisis_domain::SourceShape::Rich);
        ep.id = Some(id.into());
        Arc::new(StoredEpisode {
            meta: StoredMeta {
                episode_id: id.into(),
                source_kind: "rich".into(),
                imported_at: 1,
                updated_at: 1,
                content_sha256: String::new(),
                revision: 1,
            },
            parsed: Parsed::new(ep),
        })
    }

    #[test]
    fn a_check_links_evidence_and_flags_an_invented_sentence() {
        let mut ep = Episode::empty(epicrisis_domain::SourceShape::Rich);
        ep.evolution.push(epicrisis_domain::EvolutionNote {
            day: Some(2),
            date: None,
            text: "Paciente afebril, tolera régimen oral. Se suspende oxígeno.".into(),
            author: None,
        });
        ep.discharge_diagnoses.push(epicrisis_domain::Diagnosis {
            name: "Neumonía adquirida en la comunidad".into(),
            code: None,
        });
        let p = Parsed::new(ep);
        let text = "Evolucionó afebril y tolera régimen oral. Presentó un neumotórax a tensión que requirió drenaje pleural.";
        let (report, evidence) = p.check(text);
        assert_eq!(evidence.len(), 2);
        let view = p.evidence_view(&evidence);
        let first = &view[0].passages[0];
        assert_eq!(first.day, Some(2));
        assert!(first.text.contains("tolera régimen oral"));
        assert!(view[1].passages.is_empty());
        assert!(view[1].items.is_empty());
        assert!(view[1].checked);
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.kind == epicrisis_validate::Kind::Unsupported
                    && f.severity == epicrisis_validate::Severity::Warning),
            "{report:?}"
        );
        // A stored reference to a note that no longer exists is dropped, not a panic.
        let mut stale = evidence.clone();
        stale[0].passages[0].note = 9;
        assert!(p.evidence_view(&stale)[0].passages.is_empty());
    }

    #[test]
    fn a_new_stamp_misses() {
        let c = EpisodeCache::new(4);
        c.put("a", 1, parsed("a"));
        assert!(c.get("a", 1).is_some());
        assert!(c.get("a", 2).is_none(), "a re-imported episode is stale");
        c.put("a", 2, parsed("a"));
        assert!(c.get("a", 2).is_some());
        // A slow reader of the old row does not put it back over the new one.
        c.put("a", 1, parsed("a"));
        assert!(c.get("a", 2).is_some());
        c.invalidate("a");
        assert!(c.get("a", 2).is_none());
        let (len, hits, misses) = c.stats();
        assert_eq!((len, hits, misses), (0, 3, 2));
    }

    #[test]
    fn the_least_recently_used_goes_first() {
        let c = EpisodeCache::new(2);
        c.put("a", 1, parsed("a"));
        c.put("b", 1, parsed("b"));
        assert!(c.get("a", 1).is_some());
        c.put("c", 1, parsed("c"));
        assert!(c.get("b", 1).is_none(), "b was the least recently used");
        assert!(c.get("a", 1).is_some());
        assert!(c.get("c", 1).is_some());
        assert_eq!(c.stats().0, 2);
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let c = EpisodeCache::new(0);
        c.put("a", 1, parsed("a"));
        assert!(c.get("a", 1).is_none());
    }
}
