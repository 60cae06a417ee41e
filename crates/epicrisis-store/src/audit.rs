//! The append-only audit trail and its hash chain: each row carries the SHA-256 of the
//! previous one, and `audit_head` the last id and hash, so that [`Store::verify_audit`]
//! finds a changed or deleted row and a cut end.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Backend, Result, Store, now_ms, sha256_hex};

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
}

/// The result of checking the audit chain.
#[derive(Debug, Clone, Serialize)]
pub struct AuditCheck {
    pub rows: i64,
    /// Empty when the chain is intact; otherwise each problem found, naming the row id
    /// and whether it was changed, deleted or the chain's end was cut.
    pub problems: Vec<String>,
}

impl Store {
    /// Appends a row (serialised against concurrent appends) and returns it.
    pub async fn audit(&self, e: &AuditEntry) -> Result<AuditRow> {
        // SQLite: one appender at a time in this process (BEGIN IMMEDIATE covers the others).
        let _guard = match self.backend {
            Backend::Sqlite => Some(AUDIT_LOCK.lock().await),
            Backend::Postgres => None,
        };
        let mut tx = self.write_tx().await?;
        let head_sql = match self.backend {
            Backend::Sqlite => "SELECT last_id, last_hash FROM audit_head WHERE one = 1",
            Backend::Postgres => {
                "SELECT last_id, last_hash FROM audit_head WHERE one = 1 FOR UPDATE"
            }
        };
        let head = sqlx::query(head_sql).fetch_one(&mut *tx).await?;
        let last_id: i64 = head.try_get("last_id")?;
        let prev_hash: String = head.try_get("last_hash")?;
        let mut row = AuditRow {
            id: last_id + 1,
            at: now_ms(),
            user_id: e.user_id,
            username: e.username.clone(),
            action: e.action.clone(),
            episode_id: e.episode_id.clone(),
            version_id: e.version_id,
            detail: e.detail.clone(),
            prev_hash,
            hash: String::new(),
        };
        row.hash = audit_hash(&row);
        sqlx::query(
            "INSERT INTO audit (id, at, user_id, username, action, episode_id, version_id, detail, \
             prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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

    /// Recomputes the chain from the first row.
    pub async fn verify_audit(&self) -> Result<AuditCheck> {
        let mut check = ChainCheck::default();
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
        let head = sqlx::query("SELECT last_id, last_hash FROM audit_head WHERE one = 1")
            .fetch_optional(&self.pool)
            .await?;
        let head = match head {
            Some(h) => Some((
                h.try_get::<i64, _>("last_id")?,
                h.try_get::<String, _>("last_hash")?,
            )),
            None => None,
        };
        Ok(check.finish(head))
    }
}

static AUDIT_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const AUDIT_COLUMNS: &str =
    "id, at, user_id, username, action, episode_id, version_id, detail, prev_hash, hash";

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
    })
}

/// The previous hash of the first audit row.
const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 (hex) of the canonical form of a row: the JSON array
/// `[id, at, user_id, username, action, episode_id, version_id, detail, prev_hash]`.
fn audit_hash(r: &AuditRow) -> String {
    let canonical = serde_json::json!([
        r.id,
        r.at,
        r.user_id,
        r.username,
        r.action,
        r.episode_id,
        r.version_id,
        r.detail,
        r.prev_hash
    ]);
    sha256_hex(canonical.to_string().as_bytes())
}

/// Walks the audit rows in id order.
#[derive(Default)]
struct ChainCheck {
    rows: i64,
    last: Option<(i64, String)>,
    problems: Vec<String>,
}

impl ChainCheck {
    fn row(&mut self, row: &AuditRow) {
        self.rows += 1;
        let (expected_id, expected_prev) = match &self.last {
            Some((id, hash)) => (id + 1, hash.as_str()),
            None => (1, GENESIS_HASH),
        };
        let gap = row.id != expected_id;
        if gap {
            let what = if row.id == expected_id + 1 {
                format!("row {expected_id} was deleted")
            } else {
                format!("rows {expected_id} to {} were deleted", row.id - 1)
            };
            self.problems.push(what);
        }
        if audit_hash(row) != row.hash {
            self.problems.push(format!(
                "row {} was changed (its hash does not match its contents)",
                row.id
            ));
        }
        if !gap && row.prev_hash != expected_prev {
            self.problems.push(format!(
                "row {} does not follow row {} (the previous row was changed or replaced)",
                row.id,
                row.id - 1
            ));
        }
        self.last = Some((row.id, row.hash.clone()));
    }

    fn finish(mut self, head: Option<(i64, String)>) -> AuditCheck {
        let (last_id, last_hash) = self.last.clone().unwrap_or((0, GENESIS_HASH.to_string()));
        match head {
            None => self
                .problems
                .push("the audit head row is missing".to_string()),
            Some((head_id, head_hash)) => {
                if head_id > last_id {
                    self.problems.push(if head_id == last_id + 1 {
                        format!("the chain's end was cut: row {head_id} was deleted")
                    } else {
                        format!(
                            "the chain's end was cut: rows {} to {head_id} were deleted",
                            last_id + 1
                        )
                    });
                } else if head_id < last_id {
                    self.problems.push(format!(
                        "rows {} to {last_id} were added outside the store (the head says {head_id})",
                        head_id + 1
                    ));
                } else if head_hash != last_hash {
                    self.problems.push(format!(
                        "row {last_id} does not match the recorded end of the chain (changed or replaced)"
                    ));
                }
            }
        }
        AuditCheck {
            rows: self.rows,
            problems: self.problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chained(n: i64) -> Vec<AuditRow> {
        let mut rows: Vec<AuditRow> = Vec::new();
        for id in 1..=n {
            let mut r = AuditRow {
                id,
                at: 1000 + id,
                user_id: Some(1),
                username: Some("ana".into()),
                action: "view".into(),
                episode_id: Some("E1".into()),
                version_id: None,
                detail: "{}".into(),
                prev_hash: rows
                    .last()
                    .map_or(GENESIS_HASH.to_string(), |p| p.hash.clone()),
                hash: String::new(),
            };
            r.hash = audit_hash(&r);
            rows.push(r);
        }
        rows
    }

    fn check(rows: &[AuditRow], head: Option<(i64, String)>) -> AuditCheck {
        let mut c = ChainCheck::default();
        rows.iter().for_each(|r| c.row(r));
        c.finish(head)
    }

    #[test]
    fn the_chain_finds_changes_deletions_and_a_cut_end() {
        let rows = chained(5);
        let head = Some((5, rows[4].hash.clone()));
        assert!(check(&rows, head.clone()).problems.is_empty());

        let mut changed = rows.clone();
        changed[2].detail = "{\"x\":1}".into();
        let p = check(&changed, head.clone()).problems;
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("row 3 was changed"), "{p:?}");

        let mut deleted = rows.clone();
        deleted.remove(1);
        let p = check(&deleted, head.clone()).problems;
        assert!(p.iter().any(|m| m.contains("row 2 was deleted")), "{p:?}");

        let p = check(&rows[..4], head.clone()).problems;
        assert!(
            p.iter()
                .any(|m| m.contains("end was cut") && m.contains("row 5")),
            "{p:?}"
        );

        let p = check(&rows[1..], head).problems;
        assert!(p.iter().any(|m| m.contains("row 1 was deleted")), "{p:?}");

        assert!(
            check(&[], Some((0, GENESIS_HASH.into())))
                .problems
                .is_empty()
        );
    }
}
