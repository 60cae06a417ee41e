//! Sentence embeddings: passage vectors of an episode's evolution notes, and the archive
//! of signed epicrisis texts for finding similar past cases.
//!
//! A vector is stored as its floats in little-endian IEEE 754 binary32, back to back (a
//! BLOB on SQLite, a BYTEA on PostgreSQL), so it comes back bit for bit. Every key and
//! every query includes the model's name: vectors of different models never meet. Vectors
//! must be non-empty and finite; the store does not normalise them, and a search scores by
//! dot product, which is the cosine for the L2-normalised vectors the embedder returns.
//!
//! **Staleness of passage vectors.** A set of passage vectors belongs to the episode JSON
//! it was cut from, named by its SHA-256 ([`EpisodeRow::content_sha256`](crate::EpisodeRow::content_sha256)). The caller
//! passes that hash to [`Store::put_passage_vectors`], which refuses the set (`Conflict`)
//! when the episode was imported again with other content in the meantime (the embedding
//! takes seconds, a re-import can land in between). [`Store::passage_vectors`] answers
//! `None` when the stored hash is not the hash of the episode's current JSON. The content
//! hash, not `updated_at`, decides: importing the same document again keeps the vectors.
//!
//! **The archive** holds, per episode and model, the vector of one signed version: the
//! newest one given ([`Store::put_archive_vector`] ignores a vector of an older version
//! than the one stored). [`Store::archive_missing`] lists each episode's newest signed
//! version that has no vector yet, including episodes signed again after an amendment.
//! [`Store::search_archive`] scans the model's vectors in Rust (fine for thousands of
//! rows; about 1.5 kB each at 384 dimensions, read 500 at a time).
//!
//! **pgvector.** On PostgreSQL where the `vector` extension is installed (and the
//! database user may create it), opening the store creates it, adds an `embedding vector`
//! column to `archive_vectors` (any dimension: one table holds every model) and fills it
//! for rows stored before; archive vectors are then written to both columns and a search
//! is one `ORDER BY embedding <#> $query LIMIT k` in the database (an exact scan, with
//! the same order and scores as the Rust scan). Without the extension nothing changes.
//! Passage vectors stay BYTEA only: they are read back whole per episode, never searched.

use serde::Serialize;
use sqlx::Row;

use super::{Backend, Result, Store, StoreError, VersionStatus, now_ms, sha256_hex};

/// One passage cut from an evolution note, and its vector. Its ordinal is its position in
/// the slice given to [`Store::put_passage_vectors`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassageVector {
    /// Which evolution note (0-based, in the episode's order).
    pub note_index: u32,
    /// That note's hospital day, when known.
    pub day: Option<u32>,
    /// `[char_start, char_end)` in Unicode characters of the note's text.
    pub char_start: u32,
    pub char_end: u32,
    pub vector: Vec<f32>,
}

/// A similar past case: an archived signed version and its score (the dot product of its
/// vector and the query, i.e. the cosine for normalised vectors; higher is closer).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchiveHit {
    pub episode_id: String,
    pub version_id: i64,
    pub score: f32,
}

/// Rows read per round trip by [`Store::search_archive`].
const SCAN_PAGE: i64 = 500;

impl Store {
    /// Whether archive searches run in PostgreSQL through pgvector.
    pub fn uses_pgvector(&self) -> bool {
        self.pgvector
    }

    /// PostgreSQL: creates the `vector` extension when it is installed, adds and fills
    /// the `embedding` column. `Ok(false)` when the extension is not installed or this
    /// user may not create it (the BYTEA scan then serves).
    pub(crate) async fn enable_pgvector(&self) -> Result<bool> {
        let available: bool = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS a",
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("a")?;
        if !available {
            return Ok(false);
        }
        let installed = |pool: &sqlx::AnyPool| {
            let pool = pool.clone();
            async move {
                sqlx::query(
                    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS i",
                )
                .fetch_one(&pool)
                .await
                .and_then(|r| r.try_get::<bool, _>("i"))
            }
        };
        if !installed(&self.pool).await? {
            // Two servers opening at once may race here; a lack of privilege is not fatal.
            let _ = sqlx::query("CREATE EXTENSION IF NOT EXISTS vector")
                .execute(&self.pool)
                .await;
            if !installed(&self.pool).await? {
                return Ok(false);
            }
        }
        sqlx::query("ALTER TABLE archive_vectors ADD COLUMN IF NOT EXISTS embedding vector")
            .execute(&self.pool)
            .await?;
        let stale = sqlx::query(
            "SELECT episode_id, model, vector FROM archive_vectors WHERE embedding IS NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &stale {
            let vector = decode(&r.try_get::<Vec<u8>, _>("vector")?)?;
            sqlx::query(
                "UPDATE archive_vectors SET embedding = CAST($1 AS vector)                  WHERE episode_id = $2 AND model = $3",
            )
            .bind(vector_literal(&vector))
            .bind(r.try_get::<String, _>("episode_id")?)
            .bind(r.try_get::<String, _>("model")?)
            .execute(&self.pool)
            .await?;
        }
        Ok(true)
    }

    /// Replaces the episode's passage vectors for `model` with `vectors`, atomically (an
    /// empty slice stores an empty set: the episode has no passages). `episode_sha256` is
    /// [`EpisodeRow::content_sha256`](crate::EpisodeRow::content_sha256) of the row the passages were cut from.
    ///
    /// `NotFound` for an unknown episode; `Conflict` when the episode's JSON is no longer
    /// the one named by `episode_sha256` (imported again: cut and embed again); `Invalid`
    /// for an empty model name, empty or non-finite vectors, vectors of different lengths
    /// or `char_start > char_end`.
    pub async fn put_passage_vectors(
        &self,
        episode_id: &str,
        model: &str,
        episode_sha256: &str,
        vectors: &[PassageVector],
    ) -> Result<()> {
        check_model(model)?;
        let dim = vectors.first().map(|p| p.vector.len());
        for (i, p) in vectors.iter().enumerate() {
            check_vector(model, &p.vector)?;
            if Some(p.vector.len()) != dim {
                return Err(StoreError::Invalid(format!(
                    "passage {i} has a vector of {} dimensions and passage 0 one of {}: one \
                     model ({model:?}) gives vectors of one length",
                    p.vector.len(),
                    dim.unwrap_or(0)
                )));
            }
            if p.char_start > p.char_end {
                return Err(StoreError::Invalid(format!(
                    "passage {i} starts at {} after its end {}",
                    p.char_start, p.char_end
                )));
            }
        }
        let mut tx = self.write_tx().await?;
        self.lock_episode(&mut tx, episode_id).await?;
        let json: String = sqlx::query("SELECT episode_json FROM episodes WHERE episode_id = $1")
            .bind(episode_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("episode_json")?;
        if sha256_hex(json.as_bytes()) != episode_sha256 {
            return Err(StoreError::Conflict(format!(
                "the episode {episode_id:?} changed (imported again) since its passages were \
                 cut; cut and embed them again"
            )));
        }
        sqlx::query("DELETE FROM passage_vectors WHERE episode_id = $1 AND model = $2")
            .bind(episode_id)
            .bind(model)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO passage_sets (episode_id, model, episode_sha256, passages, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (episode_id, model) DO UPDATE SET \
             episode_sha256 = excluded.episode_sha256, passages = excluded.passages, \
             created_at = excluded.created_at",
        )
        .bind(episode_id)
        .bind(model)
        .bind(episode_sha256)
        .bind(vectors.len() as i64)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        for (ordinal, p) in vectors.iter().enumerate() {
            sqlx::query(
                "INSERT INTO passage_vectors (episode_id, model, ordinal, note_index, day, \
                 char_start, char_end, vector) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(episode_id)
            .bind(model)
            .bind(ordinal as i64)
            .bind(i64::from(p.note_index))
            .bind(p.day.map(i64::from))
            .bind(i64::from(p.char_start))
            .bind(i64::from(p.char_end))
            .bind(encode(&p.vector))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The episode's passage vectors for `model`, by ordinal; `None` when there are none,
    /// or when they were cut from other content than the episode's current JSON (stale).
    pub async fn passage_vectors(
        &self,
        episode_id: &str,
        model: &str,
    ) -> Result<Option<Vec<PassageVector>>> {
        // One snapshot for the set's hash and its rows.
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        let set = sqlx::query(
            "SELECT s.episode_sha256, s.passages, e.episode_json FROM passage_sets s \
             JOIN episodes e ON e.episode_id = s.episode_id \
             WHERE s.episode_id = $1 AND s.model = $2",
        )
        .bind(episode_id)
        .bind(model)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(set) = set else { return Ok(None) };
        let stored: String = set.try_get("episode_sha256")?;
        let json: String = set.try_get("episode_json")?;
        if sha256_hex(json.as_bytes()) != stored {
            return Ok(None);
        }
        let expected: i64 = set.try_get("passages")?;
        let rows = sqlx::query(
            "SELECT note_index, day, char_start, char_end, vector FROM passage_vectors \
             WHERE episode_id = $1 AND model = $2 ORDER BY ordinal",
        )
        .bind(episode_id)
        .bind(model)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        if rows.len() as i64 != expected {
            return Err(StoreError::Db(format!(
                "the passage set of episode {episode_id:?} for model {model:?} has {} rows \
                 instead of {expected}",
                rows.len()
            )));
        }
        rows.iter()
            .map(|r| {
                Ok(PassageVector {
                    note_index: small(r.try_get("note_index")?)?,
                    day: r.try_get::<Option<i64>, _>("day")?.map(small).transpose()?,
                    char_start: small(r.try_get("char_start")?)?,
                    char_end: small(r.try_get("char_end")?)?,
                    vector: decode(&r.try_get::<Vec<u8>, _>("vector")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// Stores the vector of a signed version's text in the archive, replacing the
    /// episode's vector for `model` unless that one belongs to a newer version (then this
    /// call changes nothing).
    ///
    /// `NotFound` for an unknown episode or version; `Conflict` when the version is not
    /// signed; `Invalid` when it belongs to another episode, for an empty model name, an
    /// empty or non-finite vector, or one whose length differs from the model's archived
    /// vectors.
    pub async fn put_archive_vector(
        &self,
        episode_id: &str,
        version_id: i64,
        model: &str,
        vector: &[f32],
    ) -> Result<()> {
        check_model(model)?;
        check_vector(model, vector)?;
        let mut tx = self.write_tx().await?;
        self.lock_episode(&mut tx, episode_id).await?;
        let version = sqlx::query("SELECT episode_id, status FROM versions WHERE id = $1")
            .bind(version_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no version {version_id}")))?;
        let owner: String = version.try_get("episode_id")?;
        if owner != episode_id {
            return Err(StoreError::Invalid(format!(
                "version {version_id} belongs to episode {owner:?}, not {episode_id:?}"
            )));
        }
        if version.try_get::<String, _>("status")? != VersionStatus::Signed.as_str() {
            return Err(StoreError::Conflict(format!(
                "version {version_id} is not signed: only signed texts enter the archive"
            )));
        }
        let other = sqlx::query(
            "SELECT dim FROM archive_vectors WHERE model = $1 AND episode_id <> $2 LIMIT 1",
        )
        .bind(model)
        .bind(episode_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(other) = other {
            let dim: i64 = other.try_get("dim")?;
            if dim != vector.len() as i64 {
                return Err(dimension_error(model, dim as usize, vector.len()));
            }
        }
        let sql = if self.pgvector {
            "INSERT INTO archive_vectors (episode_id, model, version_id, dim, vector, created_at, \
             embedding) VALUES ($1, $2, $3, $4, $5, $6, CAST($7 AS vector)) \
             ON CONFLICT (episode_id, model) DO UPDATE SET \
             version_id = excluded.version_id, dim = excluded.dim, vector = excluded.vector, \
             created_at = excluded.created_at, embedding = excluded.embedding \
             WHERE archive_vectors.version_id <= excluded.version_id"
        } else {
            "INSERT INTO archive_vectors (episode_id, model, version_id, dim, vector, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (episode_id, model) DO UPDATE SET \
             version_id = excluded.version_id, dim = excluded.dim, vector = excluded.vector, \
             created_at = excluded.created_at \
             WHERE archive_vectors.version_id <= excluded.version_id"
        };
        let mut q = sqlx::query(sql)
            .bind(episode_id)
            .bind(model)
            .bind(version_id)
            .bind(vector.len() as i64)
            .bind(encode(vector))
            .bind(now_ms());
        if self.pgvector {
            q = q.bind(vector_literal(vector));
        }
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The `k` archived versions closest to `query` for `model` (highest dot product
    /// first; equal scores by episode id, then version id), leaving out `exclude_episode`
    /// (the episode being written). Empty when the model has no archived vectors.
    /// `Invalid` when `query` is empty or not finite, or its length differs from the
    /// model's vectors (the message names the model and both lengths).
    pub async fn search_archive(
        &self,
        model: &str,
        query: &[f32],
        k: usize,
        exclude_episode: Option<&str>,
    ) -> Result<Vec<ArchiveHit>> {
        check_vector(model, query)?;
        if self.pgvector {
            return self
                .search_archive_pgvector(model, query, k, exclude_episode)
                .await;
        }
        let mut hits: Vec<ArchiveHit> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let sql = if after.is_some() {
                "SELECT episode_id, version_id, vector FROM archive_vectors \
                 WHERE model = $1 AND episode_id > $2 ORDER BY episode_id LIMIT $3"
            } else {
                "SELECT episode_id, version_id, vector FROM archive_vectors \
                 WHERE model = $1 AND episode_id >= $2 ORDER BY episode_id LIMIT $3"
            };
            let rows = sqlx::query(sql)
                .bind(model)
                .bind(after.as_deref().unwrap_or(""))
                .bind(SCAN_PAGE)
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                let episode_id: String = r.try_get("episode_id")?;
                let vector = decode(&r.try_get::<Vec<u8>, _>("vector")?)?;
                if vector.len() != query.len() {
                    return Err(dimension_error(model, vector.len(), query.len()));
                }
                if exclude_episode != Some(episode_id.as_str()) {
                    hits.push(ArchiveHit {
                        score: dot(query, &vector),
                        version_id: r.try_get("version_id")?,
                        episode_id: episode_id.clone(),
                    });
                }
                after = Some(episode_id);
            }
            best_first(&mut hits, k);
            if (rows.len() as i64) < SCAN_PAGE {
                break;
            }
        }
        Ok(hits)
    }

    /// [`Store::search_archive`] in PostgreSQL: `<#>` is the negated inner product.
    async fn search_archive_pgvector(
        &self,
        model: &str,
        query: &[f32],
        k: usize,
        exclude_episode: Option<&str>,
    ) -> Result<Vec<ArchiveHit>> {
        let dim = sqlx::query("SELECT dim FROM archive_vectors WHERE model = $1 LIMIT 1")
            .bind(model)
            .fetch_optional(&self.pool)
            .await?;
        let Some(dim) = dim else {
            return Ok(Vec::new());
        };
        let dim: i64 = dim.try_get("dim")?;
        if dim != query.len() as i64 {
            return Err(dimension_error(model, dim as usize, query.len()));
        }
        if k == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT episode_id, version_id, \
             CAST(embedding <#> CAST($1 AS vector) AS DOUBLE PRECISION) AS negated \
             FROM archive_vectors WHERE model = $2 AND episode_id <> $3 \
             ORDER BY negated, episode_id, version_id LIMIT $4",
        )
        .bind(vector_literal(query))
        .bind(model)
        .bind(exclude_episode.unwrap_or(""))
        .bind(i64::try_from(k).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ArchiveHit {
                    episode_id: r.try_get("episode_id")?,
                    version_id: r.try_get("version_id")?,
                    score: -(r.try_get::<f64, _>("negated")? as f32),
                })
            })
            .collect()
    }

    /// Each episode's newest signed version that has no archive vector for `model` yet
    /// (none, or one of an older version), as `(episode_id, version_id)` by episode id.
    pub async fn archive_missing(&self, model: &str) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT v.episode_id, v.id FROM versions v \
             WHERE v.status = $1 \
             AND v.number = (SELECT MAX(s.number) FROM versions s \
                             WHERE s.episode_id = v.episode_id AND s.status = $1) \
             AND NOT EXISTS (SELECT 1 FROM archive_vectors a WHERE a.episode_id = v.episode_id \
                             AND a.model = $2 AND a.version_id >= v.id) \
             ORDER BY v.episode_id",
        )
        .bind(VersionStatus::Signed.as_str())
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("episode_id")?, r.try_get("id")?)))
            .collect()
    }
}

/// Sorts best first (score, then episode id, then version id) and keeps `k`.
fn best_first(hits: &mut Vec<ArchiveHit>, k: usize) {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.episode_id.cmp(&b.episode_id))
            .then_with(|| a.version_id.cmp(&b.version_id))
    });
    hits.truncate(k);
}

/// The dot product, summed in f64.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum::<f64>() as f32
}

fn check_model(model: &str) -> Result<()> {
    if model.trim().is_empty() {
        return Err(StoreError::Invalid(
            "a vector needs the name of the model that made it".to_string(),
        ));
    }
    Ok(())
}

fn check_vector(model: &str, v: &[f32]) -> Result<()> {
    if v.is_empty() {
        return Err(StoreError::Invalid(format!(
            "an empty vector for model {model:?}"
        )));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(StoreError::Invalid(format!(
            "a vector for model {model:?} is not finite at position {i} ({})",
            v[i]
        )));
    }
    Ok(())
}

fn dimension_error(model: &str, stored: usize, given: usize) -> StoreError {
    StoreError::Invalid(format!(
        "dimension mismatch for model {model:?}: its archived vectors have {stored} \
         dimensions, this one has {given}; embed with the same model, or give the other \
         model its own name"
    ))
}

/// pgvector's text form, `[0.1,0.2,…]`; Rust's shortest round-trip formatting keeps
/// every float exact.
fn vector_literal(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
    format!("[{}]", parts.join(","))
}

/// Little-endian binary32, back to back.
fn encode(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn decode(bytes: &[u8]) -> Result<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(StoreError::Db(format!(
            "a stored vector has {} bytes, not a multiple of 4",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn small(v: i64) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| StoreError::Db(format!("a stored passage field is out of range: {v}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_bit_for_bit() {
        let v = [
            0.0f32,
            -0.0,
            1.0,
            -1.5e-42,
            f32::MIN_POSITIVE,
            f32::MAX,
            0.1,
        ];
        let bytes = encode(&v);
        assert_eq!(bytes.len(), 28);
        assert_eq!(&bytes[4..8], &[0, 0, 0, 0x80]);
        let back = decode(&bytes).unwrap();
        assert_eq!(
            back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert!(decode(&[1, 2, 3]).is_err());
    }

    #[test]
    fn hits_sort_best_first_with_ties_by_id() {
        let hit = |e: &str, v: i64, score: f32| ArchiveHit {
            episode_id: e.into(),
            version_id: v,
            score,
        };
        let mut hits = vec![hit("b", 1, 0.5), hit("a", 2, 0.5), hit("c", 3, 0.9)];
        best_first(&mut hits, 2);
        assert_eq!(hits, vec![hit("c", 3, 0.9), hit("a", 2, 0.5)]);
    }

    #[test]
    fn vectors_are_checked() {
        assert!(check_vector("m", &[]).is_err());
        assert!(check_vector("m", &[1.0, f32::NAN]).is_err());
        assert!(check_vector("m", &[f32::INFINITY]).is_err());
        assert!(check_vector("m", &[0.0]).is_ok());
        assert!(check_model(" ").is_err());
        assert_eq!(dot(&[1.0, 2.0], &[3.0, 4.0]), 11.0);
    }
}
