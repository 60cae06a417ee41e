//! The append-only audit trail: each row carries the hash of the previous one, and
//! `audit_head` the last id and hash, so that [`Store::verify_audit`] finds a changed or
//! deleted row and a cut end. With an [`AuditKey`] (issue 17's anchoring) the hashes are
//! HMAC-SHA256 with a key kept outside the database, and [`Store::anchor_audit`] appends
//! the head to a file outside it, so that a rewrite by someone who can write the database
//! is found too ([`chain`] has the rules). The database refuses UPDATE and DELETE on these
//! rows (migration 7), which stops mistakes; the key and the anchors stop the rest.

mod chain;
mod seal;

use std::time::Duration;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Backend, Result, Store, StoreError, now_ms};
use chain::{ChainCheck, row_hash};
pub use seal::{Anchor, AuditKey, AuditSeal, MIN_KEY_BYTES};
pub(crate) use seal::{private_file, utc_text};

/// What happened, for the audit trail. `detail` never holds clinical text.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub user_id: Option<i64>,
    pub username: Option<String>,
    /// "view", "generate", "edit", "approve", "amend", "export", "import", "login",
    /// "login_failed", "logout", "user_add", "token_add", …
    pub action: String,
    pub episode_id: Option<String>,
    pub version_id: Option<i64>,
    /// Small JSON object (format of an export, engine, counts…).
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub action: String,
    pub episode_id: Option<String>,
    pub version_id: Option<i64>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
    /// The id of the key whose HMAC is `hash`; `None`: a plain SHA-256 row.
    pub key_id: Option<String>,
}

/// The result of checking the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditCheck {
    pub rows: i64,
    /// Rows sealed with an audit key, and rows with only the SHA-256 chain (written
    /// before the key was set up).
    pub keyed_rows: i64,
    pub unkeyed_rows: i64,
    /// The id of the key this check used, if any.
    pub key_id: Option<String>,
    /// Anchor lines compared with the trail.
    pub anchors: i64,
    /// Empty when the trail is intact; otherwise each problem found, naming the row id
    /// and whether it was changed, deleted, rewritten or the chain's end was cut.
    pub problems: Vec<String>,
    /// What the check could not cover and why (no key, no anchor file yet…).
    pub notes: Vec<String>,
}

impl Store {
    /// Seals the audit rows this store appends with `seal.key`, and anchors the chain in
    /// `seal.anchor` ([`Store::anchor_audit`]).
    pub fn with_audit_seal(mut self, seal: AuditSeal) -> Store {
        self.seal = std::sync::Arc::new(seal);
        self
    }

    /// The key this store seals with, if any.
    pub fn audit_key(&self) -> Option<&AuditKey> {
        self.seal.key.as_ref()
    }

    /// Refuses a key that does not fit the trail: once the newest row is sealed with a
    /// key, every later row must be sealed with the same one. Called when a program opens
    /// the store, so that a machine with the wrong key file stops at once, with the fix.
    pub async fn check_audit_key(&self) -> Result<()> {
        let newest: Option<Option<String>> =
            sqlx::query("SELECT key_id FROM audit ORDER BY id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get("key_id"))
                .transpose()?;
        self.key_fits(newest.flatten().as_deref())
    }

    fn key_fits(&self, newest_key: Option<&str>) -> Result<()> {
        let Some(sealed_with) = newest_key else {
            return Ok(());
        };
        let reason = match &self.seal.key {
            Some(k) if k.id() == sealed_with => return Ok(()),
            Some(k) => format!(
                "this key (id {}) is not the one the audit trail is sealed with (id \
                 {sealed_with}); every server and worker must read the same key file",
                k.id()
            ),
            None => format!(
                "the audit trail is sealed with the key {sealed_with}, and no key is set; set \
                 EPICRISIS_AUDIT_KEY_FILE to that key's file"
            ),
        };
        Err(StoreError::Seal {
            file: "EPICRISIS_AUDIT_KEY_FILE".to_string(),
            reason,
        })
    }

    /// Appends a row (serialised against concurrent appends) and returns it.
    pub async fn audit(&self, e: &AuditEntry) -> Result<AuditRow> {
        // SQLite: one appender at a time in this process (BEGIN IMMEDIATE covers the others).
        let _guard = match self.backend {
            Backend::Sqlite => Some(AUDIT_LOCK.lock().await),
            Backend::Postgres => None,
        };
        let mut tx = self.write_tx().await?;
        let head_sql = match self.backend {
            Backend::Sqlite => HEAD_SQL.to_string(),
            Backend::Postgres => format!("{HEAD_SQL} FOR UPDATE OF h"),
        };
        let head = sqlx::query(&head_sql).fetch_one(&mut *tx).await?;
        let last_id: i64 = head.try_get("last_id")?;
        let newest_key: Option<String> = head.try_get("key_id")?;
        self.key_fits(newest_key.as_deref())?;
        let key = self.seal.key.as_ref();
        let mut row = AuditRow {
            id: last_id + 1,
            at: now_ms(),
            user_id: e.user_id,
            username: e.username.clone(),
            action: e.action.clone(),
            episode_id: e.episode_id.clone(),
            version_id: e.version_id,
            detail: e.detail.clone(),
            prev_hash: head.try_get("last_hash")?,
            hash: String::new(),
            key_id: key.map(|k| k.id().to_string()),
        };
        row.hash = row_hash(&row, key);
        sqlx::query(
            "INSERT INTO audit (id, at, user_id, username, action, episode_id, version_id, detail, \
             prev_hash, hash, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(row.id)
        .bind(row.at)
        .bind(row.user_id)
        .bind(&row.username)
        .bind(&row.action)
        .bind(&row.episode_id)
        .bind(row.version_id)
        .bind(&row.detail)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .bind(&row.key_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE one = 1")
            .bind(row.id)
            .bind(&row.hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Newest first; only the episode's rows when `episode_id` is given.
    pub async fn audit_trail(&self, episode_id: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
        let limit = limit.clamp(0, 100_000);
        let rows = match episode_id {
            Some(ep) => sqlx::query(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE episode_id = $1 ORDER BY id DESC LIMIT $2"
            ))
            .bind(ep)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?,
            None => {
                sqlx::query(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit ORDER BY id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(audit_row).collect()
    }

    /// The chain's head: the last row's id and hash (`(0, zeros)` when empty).
    async fn audit_head(&self) -> Result<Option<(i64, String)>> {
        let head = sqlx::query("SELECT last_id, last_hash FROM audit_head WHERE one = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(match head {
            Some(h) => Some((
                h.try_get::<i64, _>("last_id")?,
                h.try_get::<String, _>("last_hash")?,
            )),
            None => None,
        })
    }

    /// Appends the chain's head to the anchor file, when the store has a key and an anchor
    /// file and the head moved since this store last wrote one. Returns what was written.
    pub async fn anchor_audit(&self) -> Result<Option<Anchor>> {
        let (Some(key), Some(path)) = (&self.seal.key, &self.seal.anchor) else {
            return Ok(None);
        };
        let Some((id, hash)) = self.audit_head().await? else {
            return Ok(None);
        };
        let mut last = self.last_anchor.lock().await;
        if id == 0 || *last == Some(id) {
            return Ok(None);
        }
        let anchor = Anchor::new(key, now_ms(), id, &hash);
        let path = path.clone();
        let line = anchor.clone();
        tokio::task::spawn_blocking(move || seal::append_anchor(&path, &line))
            .await
            .map_err(|e| StoreError::Invalid(format!("the anchor writer stopped: {e}")))??;
        *last = Some(id);
        Ok(Some(anchor))
    }

    /// Anchors the chain every `every` in a background task, for as long as the runtime
    /// lives; `None` when there is nothing to anchor with. A failure is said once on
    /// stderr (the file and the reason, nothing from the trail) until it succeeds again.
    pub fn spawn_anchoring(&self, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        self.seal.key.as_ref()?;
        self.seal.anchor.as_ref()?;
        let store = self.clone();
        Some(tokio::spawn(async move {
            let mut failing = false;
            loop {
                match store.anchor_audit().await {
                    Ok(_) => failing = false,
                    Err(e) if !failing => {
                        eprintln!("aviso: no se pudo anclar la bitácora: {e}");
                        failing = true;
                    }
                    Err(_) => {}
                }
                tokio::time::sleep(every).await;
            }
        }))
    }

    /// Recomputes the chain from the first row, and compares it with the anchor file.
    pub async fn verify_audit(&self) -> Result<AuditCheck> {
        let key = self.seal.key.as_ref();
        let (anchors, mut notes, mut problems) = self.read_anchors()?;
        let mut check = ChainCheck::new(key, &anchors);
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE id > $1 ORDER BY id LIMIT 1000"
            ))
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let row = audit_row(r)?;
                after = row.id;
                check.row(&row);
            }
        }
        let mut result = check.finish(self.audit_head().await?, &anchors);
        if key.is_none() {
            notes.push(
                "no audit key is set (EPICRISIS_AUDIT_KEY_FILE): rows were checked by their \
                 SHA-256 chain only, which whoever can write the database can recompute"
                    .to_string(),
            );
        }
        if result.unkeyed_rows > 0 && result.keyed_rows > 0 {
            notes.push(format!(
                "{} row(s) were written before the audit key was set up: they are checked by \
                 their SHA-256 chain only",
                result.unkeyed_rows
            ));
        }
        problems.append(&mut result.problems);
        result.problems = problems;
        result.notes = notes;
        Ok(result)
    }

    /// The anchor lines this store's key wrote; lines it did not write are problems.
    fn read_anchors(&self) -> Result<(Vec<Anchor>, Vec<String>, Vec<String>)> {
        let (mut notes, mut problems) = (Vec::new(), Vec::new());
        let Some(path) = &self.seal.anchor else {
            if self.seal.key.is_some() {
                notes.push(
                    "no anchor file is set (EPICRISIS_AUDIT_ANCHOR_FILE): a trail cut at its \
                     end together with its head row would not be found"
                        .to_string(),
                );
            }
            return Ok((Vec::new(), notes, problems));
        };
        let Some(key) = &self.seal.key else {
            return Ok((Vec::new(), notes, problems));
        };
        let Some(lines) = seal::read_anchors(path)? else {
            notes.push(format!(
                "the anchor file {} does not exist yet (the server writes it within a minute \
                 of the first audited action)",
                path.display()
            ));
            return Ok((Vec::new(), notes, problems));
        };
        let mut anchors = Vec::with_capacity(lines.len());
        for (n, line) in lines {
            match line {
                Some(a) if a.sealed_by(key) => anchors.push(a),
                _ => problems.push(format!(
                    "line {n} of the anchor file {} was not written with this audit key \
                     (changed by hand, or written with another key)",
                    path.display()
                )),
            }
        }
        Ok((anchors, notes, problems))
    }
}

static AUDIT_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const AUDIT_COLUMNS: &str =
    "id, at, user_id, username, action, episode_id, version_id, detail, prev_hash, hash, key_id";

/// The head and the newest row's key, read before an append.
const HEAD_SQL: &str = "SELECT h.last_id, h.last_hash, a.key_id FROM audit_head h \
     LEFT JOIN audit a ON a.id = h.last_id WHERE h.one = 1";

fn audit_row(r: &AnyRow) -> Result<AuditRow> {
    Ok(AuditRow {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        user_id: r.try_get("user_id")?,
        username: r.try_get("username")?,
        action: r.try_get("action")?,
        episode_id: r.try_get("episode_id")?,
        version_id: r.try_get("version_id")?,
        detail: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
        key_id: r.try_get("key_id")?,
    })
}
