//! The archive: approved (signed) epicrisis of earlier episodes, embedded so that a
//! clinician can find similar past cases (`epicrisis search`, the web interface) and the
//! pipeline can show the model the hospital's style. Vectors live in the store, one per
//! signed epicrisis and embeddings model; indexing is lazy (whatever is missing is
//! embedded before a search) so the archive never depends on a job having run.

use epicrisis_domain::Episode;
use epicrisis_embed::{Embedder, Role};
use epicrisis_store::{Store, StoreError};

/// One similar past case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArchiveMatch {
    pub episode_id: String,
    pub version_id: i64,
    /// Cosine similarity with the query, in [-1, 1].
    pub score: f32,
    /// The approved text.
    pub text: String,
    pub signed_at: i64,
}

/// Errors of the archive: the store's, or the embeddings model's.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Embed(#[from] epicrisis_embed::EmbedError),
}

/// At most one background indexing run at a time (see `api::index_archive_later`): a
/// request while one runs asks it to look again when it is done.
#[derive(Debug, Default)]
pub struct Indexer {
    pub(crate) running: std::sync::atomic::AtomicBool,
    pub(crate) again: std::sync::atomic::AtomicBool,
}

/// Embeds every signed epicrisis that has no vector for `embedder` yet; returns how many.
/// Blocking (it runs the model): call it from a blocking task or the command line.
pub async fn index_missing(store: &Store, embedder: &dyn Embedder) -> Result<usize, ArchiveError> {
    let missing = store.archive_missing(embedder.name()).await?;
    let mut done = 0;
    // A few at a time: one forward pass per chunk, one round trip per vector.
    for chunk in missing.chunks(16) {
        let mut texts = Vec::with_capacity(chunk.len());
        let mut ids = Vec::with_capacity(chunk.len());
        for (episode_id, version_id) in chunk {
            if let Some(v) = store.version(*version_id).await? {
                texts.push(v.text);
                ids.push((episode_id.clone(), *version_id));
            }
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = embedder.embed(&refs, Role::Passage)?;
        for ((episode_id, version_id), v) in ids.iter().zip(vectors) {
            store
                .put_archive_vector(episode_id, *version_id, embedder.name(), &v)
                .await?;
            done += 1;
        }
    }
    Ok(done)
}

/// The `k` signed epicrisis most similar to `query` (indexing what is missing first),
/// leaving out `exclude_episode` (the episode being drafted). For the command line: the
/// server indexes in the background and searches with [`search_indexed`].
pub async fn search(
    store: &Store,
    embedder: &dyn Embedder,
    query: &str,
    k: usize,
    exclude_episode: Option<&str>,
) -> Result<Vec<ArchiveMatch>, ArchiveError> {
    index_missing(store, embedder).await?;
    search_indexed(store, embedder, query, k, exclude_episode).await
}

/// As [`search`], over what is indexed already (never waits for a backlog to be
/// embedded: an archive of thousands of signed texts takes minutes the first time).
pub async fn search_indexed(
    store: &Store,
    embedder: &dyn Embedder,
    query: &str,
    k: usize,
    exclude_episode: Option<&str>,
) -> Result<Vec<ArchiveMatch>, ArchiveError> {
    let q = embedder.embed(&[query], Role::Query)?;
    let Some(q) = q.first() else {
        return Ok(Vec::new());
    };
    let hits = store
        .search_archive(embedder.name(), q, k, exclude_episode)
        .await?;
    let mut out = Vec::with_capacity(hits.len());
    for h in hits {
        if let Some(v) = store.version(h.version_id).await? {
            out.push(ArchiveMatch {
                episode_id: h.episode_id,
                version_id: h.version_id,
                score: h.score,
                text: v.text,
                signed_at: v.created_at,
            });
        }
    }
    Ok(out)
}

/// What to look for in the archive when drafting `ep`: its reason for admission, its
/// diagnoses (admission, then discharge) and procedures, by name; empty when it has none.
pub fn episode_query(ep: &Episode) -> String {
    let mut terms: Vec<&str> = Vec::new();
    terms.extend(ep.reason.as_deref());
    terms.extend(ep.admission_diagnoses.iter().map(|d| d.name.as_str()));
    terms.extend(ep.discharge_diagnoses.iter().map(|d| d.name.as_str()));
    terms.extend(ep.procedures.iter().map(|p| p.name.as_str()));
    let mut seen = std::collections::HashSet::new();
    terms
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty() && seen.insert(t.to_lowercase()))
        .collect::<Vec<_>>()
        .join(". ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_reason_diagnoses_and_procedures_once() {
        use epicrisis_domain::{Diagnosis, Procedure, SourceShape};
        let dx = |name: &str| Diagnosis {
            name: name.into(),
            code: None,
        };
        let mut ep = Episode::empty(SourceShape::Compact);
        ep.reason = Some("Dolor abdominal".into());
        ep.admission_diagnoses = vec![dx("Apendicitis aguda")];
        ep.discharge_diagnoses = vec![dx("apendicitis aguda"), dx("Peritonitis localizada")];
        ep.procedures = vec![Procedure {
            name: "Apendicectomía laparoscópica".into(),
            code: None,
            date: None,
        }];
        assert_eq!(
            episode_query(&ep),
            "Dolor abdominal. Apendicitis aguda. Peritonitis localizada. Apendicectomía laparoscópica"
        );
        let empty = Episode::empty(SourceShape::Compact);
        assert_eq!(episode_query(&empty), "");
    }
}
