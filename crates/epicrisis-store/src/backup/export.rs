//! Writing a backup: one read snapshot, every table a page at a time in key order, to a
//! private file renamed into place only once it is complete.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sqlx::any::Any;
use sqlx::{Row, Transaction};

use super::tables::{DERIVED, LEFT_OUT, TABLES, Table, Value, row_line};
use super::{
    ANCHOR_SECTION, AuditSummary, BackupError, BackupResult, BackupSummary, FORMAT, FORMAT_VERSION,
    Header, Manifest, Section, io_error,
};
use crate::audit::{private_file, utc_text};
use crate::{Backend, Store, now_ms};

/// Rows read per query.
const PAGE: i64 = 500;

/// The file being written: its lines, the whole file's hash and size.
struct Out {
    path: PathBuf,
    w: BufWriter<File>,
    hash: Sha256,
    bytes: u64,
}

impl Out {
    /// One line (a newline is added); returns the bytes written, newline included.
    fn line(&mut self, text: &str) -> BackupResult<Vec<u8>> {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
        self.w
            .write_all(&bytes)
            .map_err(|e| io_error(&self.path, &e))?;
        self.hash.update(&bytes);
        self.bytes += bytes.len() as u64;
        Ok(bytes)
    }

    fn json<T: serde::Serialize>(&mut self, value: &T) -> BackupResult<()> {
        let text = serde_json::to_string(value).map_err(|e| BackupError::File {
            file: self.path.clone(),
            reason: format!("cannot write JSON: {e}"),
        })?;
        self.line(&text).map(|_| ())
    }

    /// Flushes and syncs the file to disk.
    fn finish(self) -> BackupResult<(String, u64)> {
        let path = self.path.clone();
        let file = self
            .w
            .into_inner()
            .map_err(|e| io_error(&path, e.error()))?;
        file.sync_all().map_err(|e| io_error(&path, &e))?;
        Ok((hex::encode(self.hash.finalize()), self.bytes))
    }
}

/// `FILE.parcial`: where the backup is written before it is renamed to `FILE`.
pub(crate) fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".parcial");
    PathBuf::from(name)
}

impl Store {
    /// Writes a backup of every table to `file` (mode 0600), from one snapshot, while
    /// servers keep running. `file` must not exist unless `replace`; it appears only when
    /// complete (written as `FILE.parcial`, synced, renamed). `progress` is called after
    /// each section with its name and rows. The audit key is never written; the anchor
    /// file's lines are (read before the snapshot, so that none is newer than it).
    pub async fn backup_to(
        &self,
        file: &Path,
        replace: bool,
        progress: &mut (dyn FnMut(&str, u64) + Send),
    ) -> BackupResult<BackupSummary> {
        if !replace && file.exists() {
            return Err(BackupError::Exists(file.to_path_buf()));
        }
        let partial = partial_path(file);
        let created = private_file(&partial, false).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                BackupError::PartialExists(partial.clone())
            } else {
                io_error(&partial, &e)
            }
        })?;
        let out = Out {
            path: partial.clone(),
            w: BufWriter::with_capacity(1 << 20, created),
            hash: Sha256::new(),
            bytes: 0,
        };
        let result = self.write_backup(out, progress).await;
        let result = result.and_then(|summary| {
            std::fs::rename(&partial, file).map_err(|e| io_error(file, &e))?;
            sync_folder(file);
            Ok(summary)
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result
    }

    async fn write_backup(
        &self,
        mut out: Out,
        progress: &mut (dyn FnMut(&str, u64) + Send),
    ) -> BackupResult<BackupSummary> {
        let anchors = self.anchor_lines()?;
        let mut tx = self.snapshot().await?;
        let created_at = now_ms();
        let schema_version: i64 =
            sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM _sqlx_migrations")
                .fetch_one(&mut *tx)
                .await?
                .try_get("v")?;
        let faults = column_faults(&mut tx, self.backend).await?;
        if !faults.is_empty() {
            return Err(BackupError::Schema(format!(
                "{}; this program does not match the database (use the epicrisis version \
                 that migrated it)",
                faults.join("; ")
            )));
        }
        let header = Header {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            program_version: env!("CARGO_PKG_VERSION").to_string(),
            schema_version,
            source_backend: self.backend,
            created_at,
        };
        out.json(&header)?;
        let mut sections = Vec::with_capacity(TABLES.len() + 1);
        for t in TABLES {
            let section = write_table(&mut tx, &mut out, t).await?;
            progress(t.name, section.rows);
            sections.push(section);
        }
        let audit = audit_summary(&mut tx).await?;
        // Read-only: nothing to keep.
        tx.rollback().await?;
        sections.push(write_anchor_lines(&mut out, &anchors)?);
        progress(ANCHOR_SECTION, anchors.len() as u64);
        let manifest = Manifest {
            format: header.format,
            format_version: header.format_version,
            program_version: header.program_version,
            schema_version,
            source_backend: self.backend,
            created_at,
            created_at_utc: utc_text(created_at),
            audit,
            sections,
            not_included: not_included(),
        };
        out.json(&serde_json::json!({ "manifest": &manifest }))?;
        let (file_sha256, bytes) = out.finish()?;
        Ok(BackupSummary {
            manifest,
            file_sha256,
            bytes,
        })
    }

    /// One read transaction that sees one state of the database throughout.
    async fn snapshot(&self) -> BackupResult<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN DEFERRED").await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        })
    }

    /// The anchor file's lines (none without an anchor file, or before its first line).
    fn anchor_lines(&self) -> BackupResult<Vec<String>> {
        let Some(path) = &self.seal.anchor else {
            return Ok(Vec::new());
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_error(path, &e)),
        }
    }
}

fn not_included() -> Vec<String> {
    [
        "the audit key file (EPICRISIS_AUDIT_KEY_FILE): back it up separately, apart from the backups",
        "sessions: everyone signs in again after a restore",
        "the settings (.env), the models folder and the program itself",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Writes one table's section; returns its manifest entry.
async fn write_table(
    tx: &mut Transaction<'static, Any>,
    out: &mut Out,
    t: &Table,
) -> BackupResult<Section> {
    out.json(&serde_json::json!({"table": t.name, "columns": t.column_names()}))?;
    let columns: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
    let key_list = t.key.join(", ");
    let mut hash = Sha256::new();
    let mut rows = 0u64;
    let mut after: Option<Vec<Value>> = None;
    loop {
        let filter = match &after {
            None => String::new(),
            Some(_) => {
                let marks: Vec<String> = (1..=t.key.len()).map(|i| format!("${i}")).collect();
                format!(" WHERE ({key_list}) > ({})", marks.join(", "))
            }
        };
        let sql = format!(
            "SELECT {} FROM {}{filter} ORDER BY {key_list} LIMIT {PAGE}",
            columns.join(", "),
            t.name
        );
        let mut q = sqlx::query(&sql);
        if let Some(last) = after.take() {
            for (v, k) in last.into_iter().zip(t.key) {
                q = v.bind(q, t.kind(k).unwrap_or(super::tables::Kind::Text));
            }
        }
        let page = q.fetch_all(&mut **tx).await?;
        for r in &page {
            let values = t
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, kind))| Value::read(r, i, *kind))
                .collect::<Result<Vec<_>, _>>()?;
            hash.update(out.line(&row_line(&values))?);
            rows += 1;
            after = Some(key_values(t, &values));
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    Ok(Section {
        name: t.name.to_string(),
        columns: t.column_names(),
        rows,
        sha256: hex::encode(hash.finalize()),
    })
}

/// The key columns' values of a row.
fn key_values(t: &Table, values: &[Value]) -> Vec<Value> {
    t.key
        .iter()
        .filter_map(|k| t.columns.iter().position(|(c, _)| c == k))
        .map(|i| values[i].clone())
        .collect()
}

fn write_anchor_lines(out: &mut Out, lines: &[String]) -> BackupResult<Section> {
    out.json(&serde_json::json!({"table": ANCHOR_SECTION, "columns": ["line"]}))?;
    let mut hash = Sha256::new();
    for l in lines {
        hash.update(out.line(&row_line(&[Value::Text(l.clone())]))?);
    }
    Ok(Section {
        name: ANCHOR_SECTION.to_string(),
        columns: vec!["line".to_string()],
        rows: lines.len() as u64,
        sha256: hex::encode(hash.finalize()),
    })
}

/// The trail's size, head and newest key id, in the snapshot.
async fn audit_summary(tx: &mut Transaction<'static, Any>) -> BackupResult<AuditSummary> {
    let rows: i64 = sqlx::query("SELECT COUNT(*) AS n FROM audit")
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
    let head = sqlx::query("SELECT last_id, last_hash FROM audit_head WHERE one = 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (head_id, head_hash) = match head {
        Some(h) => (h.try_get("last_id")?, h.try_get("last_hash")?),
        None => (0, String::new()),
    };
    let key_id: Option<String> = sqlx::query("SELECT key_id FROM audit ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get("key_id"))
        .transpose()?
        .flatten();
    Ok(AuditSummary {
        rows: rows.max(0) as u64,
        head_id,
        head_hash,
        key_id,
    })
}

/// The database's columns of `t`, by name.
pub(crate) async fn live_columns(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    table: &str,
) -> BackupResult<BTreeSet<String>> {
    let rows = match backend {
        Backend::Sqlite => {
            sqlx::query(&format!(
                "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
            ))
            .fetch_all(&mut *conn)
            .await?
        }
        Backend::Postgres => {
            sqlx::query(
                "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
            )
            .bind(table)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    rows.iter()
        .map(|r| r.try_get::<String, _>("name").map_err(BackupError::from))
        .collect()
}

/// What differs between the database's columns and [`TABLES`] (a migration added one
/// without updating the backup), per table, in words; empty when they match.
async fn column_faults(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
) -> BackupResult<Vec<String>> {
    let mut faults = Vec::new();
    for t in TABLES {
        let live = live_columns(conn, backend, t.name).await?;
        let ours: BTreeSet<String> = t.column_names().into_iter().collect();
        let extra: Vec<&String> = live
            .difference(&ours)
            .filter(|c| !DERIVED.contains(&(t.name, c.as_str())))
            .collect();
        let missing: Vec<&String> = ours.difference(&live).collect();
        if !extra.is_empty() || !missing.is_empty() {
            faults.push(format!(
                "table {}: columns not backed up {extra:?}, columns missing {missing:?}",
                t.name
            ));
        }
    }
    Ok(faults)
}

/// The database's tables (ours and any other), by name.
async fn live_tables(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
) -> BackupResult<BTreeSet<String>> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
    };
    sqlx::query(sql)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("name").map_err(BackupError::from))
        .collect()
}

impl Store {
    /// What a backup of this database would miss or not find, in words: columns of our
    /// tables that [`TABLES`] lacks or has in excess, and tables that are neither backed
    /// up nor deliberately left out. Empty when the backup covers the schema (a test runs
    /// it on both databases after the migrations).
    pub async fn backup_schema_faults(&self) -> BackupResult<Vec<String>> {
        let mut conn = self.pool.acquire().await?;
        let mut faults = column_faults(&mut conn, self.backend).await?;
        let known: BTreeSet<&str> = TABLES
            .iter()
            .map(|t| t.name)
            .chain(LEFT_OUT.iter().copied())
            .chain(["_sqlx_migrations", "schema_migrations"])
            .collect();
        for t in live_tables(&mut conn, self.backend).await? {
            if !known.contains(t.as_str()) {
                faults.push(format!("table {t} is neither backed up nor left out"));
            }
        }
        Ok(faults)
    }
}

/// Syncs the folder after a rename, so that the new name survives a crash (best effort).
fn sync_folder(file: &Path) {
    if let Some(dir) = file.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}
