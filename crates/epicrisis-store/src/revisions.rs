//! The immutable signed record: revisions of an episode's data, and the hash that ties a
//! version to its text, to the data it was written from and to its metadata.
//!
//! **Revisions.** Every content an episode was imported with is kept in
//! `episode_revisions` (episode id, revision 1, 2, 3…, the episode JSON, its SHA-256, the
//! source's shape, when). [`Store::put_episode`] adds a revision only when the JSON
//! differs from the newest one (a re-import of identical data adds nothing), and points
//! the episode row at it (`episodes.revision`; `episodes.episode_json` is always the
//! newest revision's JSON). Revision rows are only ever inserted. Every version records
//! the revision it was written from (`versions.episode_revision`): a generated draft the
//! one the engine read, an edit the one it was validated against, a signature the one of
//! the version it signs. Exports of a version render from that revision, so a later
//! re-import with other doses or another name never changes a signed document.
//!
//! **Databases from before this module** (schema version 2) are migrated by schema
//! version 3: each episode's JSON *at the time of the migration* becomes its revision 1,
//! and every existing version refers to revision 1. That is the best that is known: the
//! data those versions were really written from was overwritten by any re-import before
//! the migration, and cannot be recovered.
//!
//! **The hash** (`versions.content_hash`, marked by `versions.hash_scheme`):
//! - scheme 1 (versions saved before the migration): SHA-256 of the text alone, kept and
//!   verified under that rule;
//! - scheme 2 (every version saved since): SHA-256, lower-case hex, of the UTF-8 bytes of
//!   the compact JSON array
//!   `["epicrisis-version/2", id, episode_id, number, kind, parent_id, amends, author_id,
//!   engine, created_at, episode_revision, episode_sha256, provenance_sha256, text]`
//!   — integers in decimal, `null` for an absent value, strings with only `"`, `\` and
//!   control characters escaped (as `serde_json` writes them), no whitespace. For these
//!   values (integers below 2^53, strings, null) that is also the RFC 8785 (JCS) form, so
//!   any JCS implementation reproduces it. `episode_sha256` is the SHA-256 of the
//!   revision's episode JSON, `provenance_sha256` that of the version's provenance JSON
//!   (the draft's parts and their origins, which decide how the document is laid out);
//!   `kind` is `generated`, `edited`, `signed` or `amendment`; times are Unix
//!   milliseconds. Each field is one array element, so no two records serialise alike.
//!   The validator's report is not covered: it does not reach the document.
//!
//! A signature is a version of its own (its author the signer, its time the signature's),
//! so its hash covers who signed and when. [`Store::verify_version`] recomputes a hash
//! from what is stored — the text, the revision's JSON (whose own SHA-256 is recomputed
//! too), the provenance and the metadata — and names what does not match. Nothing here
//! logs, and no message carries clinical text.

use crate::{
    Backend, Result, Store, StoreError, VersionKind, VersionRow, VersionStatus, sha256_hex,
};
use serde::Serialize;
use sqlx::Row;
use sqlx::Transaction;
use sqlx::any::Any;

/// `versions.hash_scheme` of a version saved before the signed-record migration: the
/// SHA-256 of its text alone.
pub const HASH_SCHEME_TEXT: i64 = 1;
/// `versions.hash_scheme` of every version saved since: the canonical record (see the
/// module documentation).
pub const HASH_SCHEME_RECORD: i64 = 2;

/// The first element of a scheme-2 record: names the layout of the array.
const RECORD_TAG: &str = "epicrisis-version/2";

/// One revision of an episode's data, with its JSON.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeRevision {
    pub episode_id: String,
    /// 1, 2, 3… per episode.
    pub revision: i64,
    /// The parsed `epicrisis_domain::Episode`, serialised as JSON, as imported.
    pub episode_json: String,
    /// SHA-256 (hex) of `episode_json`, recorded when the revision was stored.
    pub sha256: String,
    pub source_kind: String,
    /// When this content was imported (Unix milliseconds).
    pub imported_at: i64,
}

/// One revision of an episode's data, without its JSON (for lists).
#[derive(Debug, Clone, Serialize)]
pub struct RevisionInfo {
    pub revision: i64,
    pub sha256: String,
    pub source_kind: String,
    pub imported_at: i64,
}

/// Everything a scheme-2 hash covers, in the order it is serialised.
#[derive(Debug, Clone)]
pub struct RecordFields<'a> {
    pub version_id: i64,
    pub episode_id: &'a str,
    pub number: i64,
    pub kind: VersionKind,
    pub parent_id: Option<i64>,
    pub amends: Option<i64>,
    pub author_id: Option<i64>,
    pub engine: Option<&'a str>,
    pub created_at: i64,
    pub episode_revision: i64,
    /// SHA-256 (hex) of the revision's episode JSON.
    pub episode_sha256: &'a str,
    /// The version's provenance JSON (its SHA-256 is what is covered).
    pub provenance_json: &'a str,
    pub text: &'a str,
}

/// The canonical serialisation of a scheme-2 record (see the module documentation).
pub fn record_canonical(f: &RecordFields) -> String {
    serde_json::json!([
        RECORD_TAG,
        f.version_id,
        f.episode_id,
        f.number,
        f.kind.as_str(),
        f.parent_id,
        f.amends,
        f.author_id,
        f.engine,
        f.created_at,
        f.episode_revision,
        f.episode_sha256,
        sha256_hex(f.provenance_json.as_bytes()),
        f.text,
    ])
    .to_string()
}

/// The scheme-2 hash: SHA-256 (lower-case hex) of [`record_canonical`].
pub fn record_hash(f: &RecordFields) -> String {
    sha256_hex(record_canonical(f).as_bytes())
}

/// The result of recomputing a version's hash.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionCheck {
    pub version_id: i64,
    pub episode_id: String,
    /// The version's number within its episode.
    pub number: i64,
    pub status: VersionStatus,
    pub hash_scheme: i64,
    pub episode_revision: i64,
    /// What the hash covers, in words.
    pub covers: String,
    pub stored_hash: String,
    /// Empty when the hash could not be recomputed (an unknown scheme).
    pub computed_hash: String,
    pub matches: bool,
    /// Empty when it matches; otherwise each thing found wrong.
    pub problems: Vec<String>,
}

impl VersionCheck {
    /// One sentence naming the version and the verdict (Spanish, then English), and
    /// what to do when it does not match.
    pub fn message(&self) -> String {
        let who = format!(
            "la versión {} (id {}) del episodio {}",
            self.number, self.version_id, self.episode_id
        );
        let signed = if self.status == VersionStatus::Signed {
            "firmada"
        } else {
            "borrador"
        };
        if self.matches {
            format!(
                "{who} ({signed}) coincide con su huella SHA-256 {}… / version id {} matches \
                 its hash ({})",
                short(&self.stored_hash),
                self.version_id,
                self.covers
            )
        } else {
            format!(
                "{who} ({signed}) NO coincide con su huella SHA-256 {}…: fue modificada fuera \
                 de epicrisis; restáurela desde un respaldo y revise la bitácora (epicrisis \
                 audit verify) / version id {} does NOT match its hash: {}",
                short(&self.stored_hash),
                self.version_id,
                self.problems.join("; ")
            )
        }
    }
}

fn short(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

/// Recomputes a version's hash from its row and the revision it names (`None` when that
/// revision is missing). Pure: the store reads, this judges.
pub fn check_version(v: &VersionRow, revision: Option<&EpisodeRevision>) -> VersionCheck {
    let mut problems = Vec::new();
    let (covers, computed) = match v.hash_scheme {
        HASH_SCHEME_TEXT => (
            "scheme 1: the text only (saved before the signed-record migration)".to_string(),
            sha256_hex(v.text.as_bytes()),
        ),
        HASH_SCHEME_RECORD => {
            let covers = format!(
                "scheme 2: the text, episode data revision {}, the provenance and the metadata \
                 (id, episode, number, kind, parent, amends, author, engine, time)",
                v.episode_revision
            );
            match revision {
                None => {
                    problems.push(format!(
                        "revision {} of the episode data, which it was written from, is missing",
                        v.episode_revision
                    ));
                    (covers, String::new())
                }
                Some(r) => {
                    let sha = sha256_hex(r.episode_json.as_bytes());
                    if sha != r.sha256 {
                        problems.push(format!(
                            "revision {} of the episode data was changed after it was stored \
                             (its JSON no longer has the SHA-256 recorded with it)",
                            r.revision
                        ));
                    }
                    let computed = record_hash(&RecordFields {
                        version_id: v.id,
                        episode_id: &v.episode_id,
                        number: v.number,
                        kind: v.kind,
                        parent_id: v.parent_id,
                        amends: v.amends,
                        author_id: v.author_id,
                        engine: v.engine.as_deref(),
                        created_at: v.created_at,
                        episode_revision: v.episode_revision,
                        episode_sha256: &sha,
                        provenance_json: &v.provenance_json,
                        text: &v.text,
                    });
                    (covers, computed)
                }
            }
        }
        other => {
            problems.push(format!(
                "hash scheme {other} is unknown to this program: the version was written by a \
                 newer epicrisis; verify it with that version"
            ));
            (format!("scheme {other}: unknown"), String::new())
        }
    };
    if !computed.is_empty() && computed != v.content_hash {
        problems.push(match v.hash_scheme {
            HASH_SCHEME_TEXT => "its text is not the text that was hashed when it was saved".into(),
            _ => "its text, its data snapshot, its provenance or its metadata changed after it \
                  was saved (the recomputed hash differs from the stored one)"
                .to_string(),
        });
    }
    VersionCheck {
        version_id: v.id,
        episode_id: v.episode_id.clone(),
        number: v.number,
        status: v.status,
        hash_scheme: v.hash_scheme,
        episode_revision: v.episode_revision,
        covers,
        stored_hash: v.content_hash.clone(),
        computed_hash: computed,
        matches: problems.is_empty(),
        problems,
    }
}

impl Store {
    /// One revision of an episode's data, with its JSON.
    pub async fn episode_revision(
        &self,
        episode_id: &str,
        revision: i64,
    ) -> Result<Option<EpisodeRevision>> {
        let row = sqlx::query(
            "SELECT episode_id, revision, episode_json, sha256, source_kind, imported_at \
             FROM episode_revisions WHERE episode_id = $1 AND revision = $2",
        )
        .bind(episode_id)
        .bind(revision)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(EpisodeRevision {
                episode_id: r.try_get("episode_id")?,
                revision: r.try_get("revision")?,
                episode_json: r.try_get("episode_json")?,
                sha256: r.try_get("sha256")?,
                source_kind: r.try_get("source_kind")?,
                imported_at: r.try_get("imported_at")?,
            })
        })
        .transpose()
    }

    /// The revisions of an episode's data, oldest first (empty for an unknown episode).
    pub async fn episode_revisions(&self, episode_id: &str) -> Result<Vec<RevisionInfo>> {
        let rows = sqlx::query(
            "SELECT revision, sha256, source_kind, imported_at FROM episode_revisions \
             WHERE episode_id = $1 ORDER BY revision",
        )
        .bind(episode_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RevisionInfo {
                    revision: r.try_get("revision")?,
                    sha256: r.try_get("sha256")?,
                    source_kind: r.try_get("source_kind")?,
                    imported_at: r.try_get("imported_at")?,
                })
            })
            .collect()
    }

    /// The episode data a version was written from (what its documents are rendered
    /// from). `NotFound` when that revision is missing (the database was changed outside
    /// the program).
    pub async fn version_snapshot(&self, v: &VersionRow) -> Result<EpisodeRevision> {
        self.episode_revision(&v.episode_id, v.episode_revision)
            .await?
            .ok_or_else(|| {
                StoreError::NotFound(format!(
                    "revision {} of the data of episode {:?}, which version id {} was written \
                     from, is missing: the database was changed outside epicrisis; restore it \
                     from a backup",
                    v.episode_revision, v.episode_id, v.id
                ))
            })
    }

    /// Recomputes a version's hash from its stored text, data snapshot, provenance and
    /// metadata. `NotFound` for an unknown version.
    pub async fn verify_version(&self, id: i64) -> Result<VersionCheck> {
        let v = self.version(id).await?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "no version id {id}: the ids of an episode's versions are listed by \
                 GET /api/v1/episodes/{{episode}}/versions"
            ))
        })?;
        let revision = self
            .episode_revision(&v.episode_id, v.episode_revision)
            .await?;
        Ok(check_version(&v, revision.as_ref()))
    }

    /// [`Store::verify_version`] for every signed version, oldest first.
    pub async fn verify_signed_versions(&self) -> Result<Vec<VersionCheck>> {
        self.verify_versions(true).await
    }

    /// [`Store::verify_version`] for every version (only the signed ones with
    /// `signed_only`), oldest first, reading their ids 500 at a time.
    pub(crate) async fn verify_versions(&self, signed_only: bool) -> Result<Vec<VersionCheck>> {
        let mut checks = Vec::new();
        let mut after = 0i64;
        loop {
            let rows = if signed_only {
                sqlx::query(
                    "SELECT id FROM versions WHERE status = $1 AND id > $2 ORDER BY id LIMIT 500",
                )
                .bind(VersionStatus::Signed.as_str())
            } else {
                sqlx::query("SELECT id FROM versions WHERE id > $1 ORDER BY id LIMIT 500")
            }
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(checks);
            }
            for r in &rows {
                after = r.try_get("id")?;
                checks.push(self.verify_version(after).await?);
            }
        }
    }
}

/// Records an import's JSON as the episode's newest revision unless it equals the newest
/// one, and points the episode row (which must exist in `tx`) at it. Returns the
/// episode's revision after the import.
pub(crate) async fn record_import(
    tx: &mut Transaction<'static, Any>,
    episode_id: &str,
    episode_json: &str,
    source_kind: &str,
    now: i64,
) -> Result<i64> {
    let sha = sha256_hex(episode_json.as_bytes());
    let newest = sqlx::query(
        "SELECT revision, sha256 FROM episode_revisions WHERE episode_id = $1 \
         ORDER BY revision DESC LIMIT 1",
    )
    .bind(episode_id)
    .fetch_optional(&mut **tx)
    .await?;
    let next = match newest {
        Some(r) => {
            let revision: i64 = r.try_get("revision")?;
            if r.try_get::<String, _>("sha256")? == sha {
                return Ok(revision);
            }
            revision + 1
        }
        None => 1,
    };
    insert_revision(tx, episode_id, next, episode_json, &sha, source_kind, now).await?;
    sqlx::query("UPDATE episodes SET revision = $1 WHERE episode_id = $2")
        .bind(next)
        .bind(episode_id)
        .execute(&mut **tx)
        .await?;
    Ok(next)
}

async fn insert_revision(
    tx: &mut Transaction<'static, Any>,
    episode_id: &str,
    revision: i64,
    episode_json: &str,
    sha: &str,
    source_kind: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO episode_revisions (episode_id, revision, episode_json, sha256, source_kind, \
         imported_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(episode_id)
    .bind(revision)
    .bind(episode_json)
    .bind(sha)
    .bind(source_kind)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The revision a new version refers to and its SHA-256: `wanted`, which must exist, or
/// else the episode's current one. `NotFound` for an unknown episode or revision.
pub(crate) async fn resolve(
    tx: &mut Transaction<'static, Any>,
    episode_id: &str,
    wanted: Option<i64>,
) -> Result<(i64, String)> {
    let row = match wanted {
        Some(n) => {
            sqlx::query(
                "SELECT revision, sha256 FROM episode_revisions \
                 WHERE episode_id = $1 AND revision = $2",
            )
            .bind(episode_id)
            .bind(n)
            .fetch_optional(&mut **tx)
            .await?
        }
        None => {
            sqlx::query(
                "SELECT r.revision, r.sha256 FROM episodes e JOIN episode_revisions r \
                 ON r.episode_id = e.episode_id AND r.revision = e.revision \
                 WHERE e.episode_id = $1",
            )
            .bind(episode_id)
            .fetch_optional(&mut **tx)
            .await?
        }
    };
    match row {
        Some(r) => Ok((r.try_get("revision")?, r.try_get("sha256")?)),
        None => Err(StoreError::NotFound(match wanted {
            Some(n) => format!(
                "episode {episode_id:?} has no data revision {n}: a version must name a \
                 revision the episode was imported with; reload the episode and try again"
            ),
            None => format!(
                "episode {episode_id:?} has no current data revision: import it again \
                 (POST /api/v1/episodes)"
            ),
        })),
    }
}

/// The id the next version gets, taken before the insert because the hash covers it:
/// the identity sequence on PostgreSQL (safe under concurrency), the largest id plus one
/// on SQLite (whose `BEGIN IMMEDIATE` already serialises writers).
pub(crate) async fn next_version_id(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
) -> Result<i64> {
    let sql = match backend {
        Backend::Postgres => "SELECT nextval(pg_get_serial_sequence('versions', 'id')) AS id",
        Backend::Sqlite => "SELECT COALESCE(MAX(id), 0) + 1 AS id FROM versions",
    };
    let row = sqlx::query(sql).fetch_one(&mut **tx).await?;
    Ok(row.try_get("id")?)
}

/// Migration 3's step that SQL cannot do portably (SQLite has no SHA-256): each episode's
/// JSON at the time of the migration becomes its revision 1 (see the module doc). Run by
/// the migrator right after migration 3 is applied, in the same transaction
/// ([`crate::migrate`]); idempotent: it only touches episodes that have no revision.
pub(crate) async fn backfill(tx: &mut Transaction<'static, Any>) -> Result<()> {
    let mut after = String::new();
    loop {
        let rows = sqlx::query(
            "SELECT e.episode_id, e.episode_json, e.source_kind, e.updated_at FROM episodes e \
             WHERE e.episode_id > $1 AND NOT EXISTS (SELECT 1 FROM episode_revisions r \
             WHERE r.episode_id = e.episode_id) ORDER BY e.episode_id LIMIT 200",
        )
        .bind(&after)
        .fetch_all(&mut **tx)
        .await?;
        if rows.is_empty() {
            return Ok(());
        }
        for r in &rows {
            let id: String = r.try_get("episode_id")?;
            let json: String = r.try_get("episode_json")?;
            let kind: String = r.try_get("source_kind")?;
            let at: i64 = r.try_get("updated_at")?;
            insert_revision(tx, &id, 1, &json, &sha256_hex(json.as_bytes()), &kind, at).await?;
            after = id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(text: &'a str, engine: Option<&'a str>) -> RecordFields<'a> {
        RecordFields {
            version_id: 7,
            episode_id: "E1",
            number: 3,
            kind: VersionKind::Signed,
            parent_id: Some(6),
            amends: None,
            author_id: Some(2),
            engine,
            created_at: 1_700_000_000_123,
            episode_revision: 2,
            episode_sha256: "ab",
            provenance_json: "null",
            text,
        }
    }

    #[test]
    fn the_canonical_record_is_a_compact_json_array() {
        assert_eq!(
            record_canonical(&fields("Alta.\n\"x\"", Some("deterministic"))),
            format!(
                "[\"epicrisis-version/2\",7,\"E1\",3,\"signed\",6,null,2,\"deterministic\",\
                 1700000000123,2,\"ab\",\"{}\",\"Alta.\\n\\\"x\\\"\"]",
                sha256_hex(b"null")
            )
        );
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        // The same characters split differently between two fields hash differently.
        let a = record_hash(&fields("b", Some("a")));
        let b = record_hash(&fields("", Some("ab")));
        assert_ne!(a, b);
        assert_ne!(
            record_hash(&fields("x", None)),
            record_hash(&fields("x", Some("")))
        );
    }

    fn row(scheme: i64, text: &str, hash: String) -> VersionRow {
        VersionRow {
            id: 7,
            episode_id: "E1".into(),
            number: 3,
            kind: VersionKind::Signed,
            status: VersionStatus::Signed,
            text: text.into(),
            report_json: "{}".into(),
            provenance_json: "null".into(),
            engine: Some("deterministic".into()),
            author_id: Some(2),
            author_name: None,
            parent_id: Some(6),
            amends: None,
            content_hash: hash,
            hash_scheme: scheme,
            episode_revision: 2,
            created_at: 1_700_000_000_123,
        }
    }

    fn revision(json: &str) -> EpisodeRevision {
        EpisodeRevision {
            episode_id: "E1".into(),
            revision: 2,
            episode_json: json.into(),
            sha256: sha256_hex(json.as_bytes()),
            source_kind: "rich".into(),
            imported_at: 1,
        }
    }

    #[test]
    fn both_schemes_verify_and_name_what_changed() {
        // Scheme 1: the text alone.
        let old = row(HASH_SCHEME_TEXT, "uno", sha256_hex(b"uno"));
        assert!(check_version(&old, None).matches);
        let mut changed = old.clone();
        changed.text = "dos".into();
        let c = check_version(&changed, None);
        assert!(!c.matches);
        assert!(c.message().contains("id 7") && c.message().contains("NO coincide"));

        // Scheme 2: text, snapshot and metadata.
        let rev = revision("{\"id\":\"E1\"}");
        let mut v = row(HASH_SCHEME_RECORD, "uno", String::new());
        v.content_hash = record_hash(&RecordFields {
            episode_sha256: &rev.sha256,
            ..fields("uno", Some("deterministic"))
        });
        let ok = check_version(&v, Some(&rev));
        assert!(ok.matches, "{:?}", ok.problems);
        assert!(ok.message().contains("coincide"));

        let mut author = v.clone();
        author.author_id = Some(3);
        assert!(!check_version(&author, Some(&rev)).matches);

        let mut data = rev.clone();
        data.episode_json = "{\"id\":\"E2\"}".into();
        let c = check_version(&v, Some(&data));
        assert!(!c.matches);
        assert!(
            c.problems.iter().any(|p| p.contains("revision 2")),
            "{:?}",
            c.problems
        );

        let c = check_version(&v, None);
        assert!(!c.matches);
        assert!(c.problems[0].contains("missing"));

        let future = row(9, "uno", String::new());
        let c = check_version(&future, None);
        assert!(!c.matches && c.problems[0].contains("newer"));
    }
}
