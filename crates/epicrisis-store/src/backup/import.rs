//! Reading a backup: the file alone ([`check_backup`]), then into an empty store
//! ([`Store::restore_backup`]), in one write transaction, INSERTs only.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sqlx::any::Any;
use sqlx::{Row, Transaction};

use super::tables::{Kind, LEFT_OUT, TABLES, Table, Value, table};
use super::{
    ANCHOR_SECTION, BACKED_UP_SCHEMA, BackupError, BackupResult, FORMAT, FORMAT_VERSION, Header,
    Manifest, OLDEST_SCHEMA, Section, io_error, known_schema,
};
use crate::{Backend, Store, VersionCheck};

/// The longest line read (an episode's JSON is far shorter).
const MAX_LINE: u64 = 1 << 30;
/// Values bound per INSERT (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_BINDS: usize = 4_000;

/// A backup's lines, each with its newline.
struct Lines {
    path: PathBuf,
    r: BufReader<File>,
    number: u64,
}

impl Lines {
    fn open(path: &Path) -> BackupResult<Lines> {
        let f = File::open(path).map_err(|e| io_error(path, &e))?;
        Ok(Lines {
            path: path.to_path_buf(),
            r: BufReader::with_capacity(1 << 20, f),
            number: 0,
        })
    }

    /// The next line, newline included; `None` at the end of the file.
    fn next(&mut self) -> BackupResult<Option<Vec<u8>>> {
        let mut buf = Vec::new();
        let n = (&mut self.r)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .map_err(|e| io_error(&self.path, &e))?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        if buf.last() != Some(&b'\n') {
            if n as u64 == MAX_LINE {
                return Err(self.bad("a line longer than 1 GiB"));
            }
            return Err(BackupError::Incomplete(self.path.clone()));
        }
        Ok(Some(buf))
    }

    fn bad(&self, reason: impl Into<String>) -> BackupError {
        BackupError::Format {
            file: self.path.clone(),
            line: self.number,
            reason: reason.into(),
        }
    }
}

/// What a line of the file is.
enum Event {
    /// A new section: a table of [`TABLES`] (`Some(index)`) or the anchor lines.
    Section(Option<usize>),
    Row(Vec<Value>),
    Manifest(Box<Manifest>),
}

/// The section being read.
struct Current {
    name: String,
    columns: Vec<String>,
    kinds: Vec<Kind>,
    hash: Sha256,
    rows: u64,
}

/// Reads a backup line by line, checking each against the format and computing each
/// section's count and SHA-256.
struct Reader {
    lines: Lines,
    header: Header,
    current: Option<Current>,
    /// Sections read to their end, as computed.
    seen: Vec<Section>,
    /// The index in [`TABLES`] of the last table section, and whether the anchor section
    /// came.
    last_table: Option<usize>,
    anchors_done: bool,
}

impl Reader {
    fn open(path: &Path) -> BackupResult<Reader> {
        let mut lines = Lines::open(path)?;
        let not_backup = || BackupError::NotABackup(path.to_path_buf());
        let first = lines.next()?.ok_or_else(not_backup)?;
        let header: Header = serde_json::from_slice(&first).map_err(|_| not_backup())?;
        if header.format != FORMAT {
            return Err(not_backup());
        }
        if header.format_version > FORMAT_VERSION {
            return Err(BackupError::NewerFormat {
                file: path.to_path_buf(),
                found: header.format_version,
                known: FORMAT_VERSION,
            });
        }
        let known = known_schema();
        if header.schema_version > known {
            return Err(BackupError::NewerSchema {
                found: header.schema_version,
                known,
            });
        }
        if header.schema_version < OLDEST_SCHEMA {
            return Err(lines.bad(format!(
                "schema version {} is older than any backup format 1 was written from",
                header.schema_version
            )));
        }
        Ok(Reader {
            lines,
            header,
            current: None,
            seen: Vec::new(),
            last_table: None,
            anchors_done: false,
        })
    }

    fn next(&mut self) -> BackupResult<Event> {
        let Some(line) = self.lines.next()? else {
            return Err(BackupError::Incomplete(self.lines.path.clone()));
        };
        if line.first() == Some(&b'[') {
            return self.row(&line).map(Event::Row);
        }
        let value: serde_json::Value = serde_json::from_slice(&line).map_err(|e| self.json(&e))?;
        if let Some(name) = value.get("table").and_then(|v| v.as_str()) {
            let columns = value.get("columns").cloned().unwrap_or_default();
            let columns: Vec<String> = serde_json::from_value(columns)
                .map_err(|_| self.lines.bad("a section without its list of columns"))?;
            return self.section(name, columns).map(Event::Section);
        }
        if let Some(m) = value.get("manifest") {
            self.close();
            let m: Manifest = serde_json::from_value(m.clone())
                .map_err(|e| self.lines.bad(format!("the manifest is not valid: {e}")))?;
            if self.lines.next()?.is_some() {
                return Err(self.lines.bad("lines after the manifest"));
            }
            return Ok(Event::Manifest(Box::new(m)));
        }
        Err(self.lines.bad("neither a row, a section nor the manifest"))
    }

    /// A JSON error in words that quote nothing of the line.
    fn json(&self, e: &serde_json::Error) -> BackupError {
        self.lines.bad(format!(
            "not valid JSON ({:?} error at column {})",
            e.classify(),
            e.column()
        ))
    }

    fn row(&mut self, line: &[u8]) -> BackupResult<Vec<Value>> {
        let Some(cur) = self.current.as_ref() else {
            return Err(self.lines.bad("a row before any section"));
        };
        let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| self.json(&e))?;
        let serde_json::Value::Array(items) = value else {
            return Err(self.lines.bad("a row that is not an array"));
        };
        if items.len() != cur.kinds.len() {
            return Err(self.lines.bad(format!(
                "a row of {} with {} values for {} columns",
                cur.name,
                items.len(),
                cur.kinds.len()
            )));
        }
        let mut values = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let v = Value::from_json(item, cur.kinds[i]).map_err(|why| {
                self.lines
                    .bad(format!("{}.{}: {why}", cur.name, cur.columns[i]))
            })?;
            values.push(v);
        }
        let cur = self.current.as_mut().expect("checked above");
        cur.hash.update(line);
        cur.rows += 1;
        Ok(values)
    }

    /// Starts a section after checking its name, place and columns.
    fn section(&mut self, name: &str, columns: Vec<String>) -> BackupResult<Option<usize>> {
        self.close();
        if self.anchors_done {
            return Err(self.lines.bad("a section after the anchor file's"));
        }
        if name == ANCHOR_SECTION {
            if columns != ["line"] {
                return Err(self
                    .lines
                    .bad("the anchor section's columns are not [\"line\"]"));
            }
            self.anchors_done = true;
            self.start(name, columns, vec![Kind::Text]);
            return Ok(None);
        }
        let Some((index, t)) = table(name) else {
            return Err(self
                .lines
                .bad("a section of a table this program does not know"));
        };
        if self.last_table.is_some_and(|last| last >= index) {
            return Err(self
                .lines
                .bad(format!("table {name} out of order or repeated")));
        }
        let kinds = self.columns_of(t, &columns)?;
        self.last_table = Some(index);
        self.start(name, columns, kinds);
        Ok(Some(index))
    }

    /// The kinds of a section's columns, which must be columns of `t`; a backup of the
    /// schema [`TABLES`] describes must have all of them.
    fn columns_of(&self, t: &Table, columns: &[String]) -> BackupResult<Vec<Kind>> {
        let mut kinds = Vec::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            let Some(kind) = t.kind(c) else {
                return Err(self.lines.bad(format!(
                    "table {}: a column this program does not know",
                    t.name
                )));
            };
            if columns[..i].contains(c) {
                return Err(self
                    .lines
                    .bad(format!("table {}: column {c} twice", t.name)));
            }
            kinds.push(kind);
        }
        let all = t.columns.len() == columns.len();
        if self.header.schema_version == BACKED_UP_SCHEMA && !all {
            return Err(self.lines.bad(format!(
                "table {}: columns missing for schema version {BACKED_UP_SCHEMA}",
                t.name
            )));
        }
        for k in t.key {
            if !columns.iter().any(|c| c == k) {
                return Err(self
                    .lines
                    .bad(format!("table {}: key column {k} missing", t.name)));
            }
        }
        Ok(kinds)
    }

    fn start(&mut self, name: &str, columns: Vec<String>, kinds: Vec<Kind>) {
        self.current = Some(Current {
            name: name.to_string(),
            columns,
            kinds,
            hash: Sha256::new(),
            rows: 0,
        });
    }

    /// Ends the current section, keeping its computed count and hash.
    fn close(&mut self) {
        if let Some(cur) = self.current.take() {
            self.seen.push(Section {
                name: cur.name,
                columns: cur.columns,
                rows: cur.rows,
                sha256: hex::encode(cur.hash.finalize()),
            });
        }
    }

    /// Compares what was read with the manifest (and the manifest with the header).
    fn agree(&self, m: &Manifest) -> BackupResult<()> {
        let file = self.lines.path.clone();
        let h = &self.header;
        if (
            m.format.as_str(),
            m.format_version,
            m.schema_version,
            m.source_backend,
            m.created_at,
        ) != (
            h.format.as_str(),
            h.format_version,
            h.schema_version,
            h.source_backend,
            h.created_at,
        ) {
            return Err(self
                .lines
                .bad("the manifest does not agree with the header"));
        }
        for expected in &m.sections {
            let found = self.seen.iter().find(|s| s.name == expected.name);
            let rows = found.map_or(0, |s| s.rows);
            if rows != expected.rows {
                return Err(BackupError::Count {
                    file,
                    section: expected.name.clone(),
                    expected: expected.rows,
                    found: rows,
                });
            }
            if found.is_none_or(|s| s.sha256 != expected.sha256 || s.columns != expected.columns) {
                return Err(BackupError::Checksum {
                    file,
                    section: expected.name.clone(),
                });
            }
        }
        if let Some(extra) = self.seen.iter().find(|s| m.section(&s.name).is_none()) {
            return Err(BackupError::Checksum {
                file,
                section: extra.name.clone(),
            });
        }
        Ok(())
    }
}

/// Checks a backup file without a database: its header, format and schema version (a
/// newer one is refused), every row against the columns this program knows, and each
/// section's rows and SHA-256 against the manifest. `progress` is called after each
/// section with its name and rows. Returns the manifest.
pub fn check_backup(
    path: &Path,
    progress: &mut (dyn FnMut(&str, u64) + Send),
) -> BackupResult<Manifest> {
    let mut reader = Reader::open(path)?;
    let mut reported = 0;
    let manifest = loop {
        let event = reader.next()?;
        while reported < reader.seen.len() {
            progress(&reader.seen[reported].name, reader.seen[reported].rows);
            reported += 1;
        }
        if let Event::Manifest(m) = event {
            break *m;
        }
    };
    reader.agree(&manifest)?;
    Ok(manifest)
}

/// The rows of one table waiting to be inserted together.
struct Batch {
    table: &'static Table,
    columns: Vec<String>,
    kinds: Vec<Kind>,
    rows: Vec<Vec<Value>>,
    done: u64,
}

impl Batch {
    fn full(&self) -> bool {
        (self.rows.len() + 1) * self.kinds.len().max(1) > MAX_BINDS
    }
}

/// One table's rows in the restored store, against the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: String,
    pub expected: u64,
    pub found: u64,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// Every table of the backup, counted again after the commit.
    pub tables: Vec<TableCount>,
    /// The anchor file written with the backup's anchor lines, and how many (none when
    /// the store has no anchor file set, or it already existed).
    pub anchors_written: Option<(PathBuf, u64)>,
    /// The backup's anchor lines.
    pub anchor_lines: u64,
}

impl RestoreReport {
    /// Whether every table has the rows the manifest says.
    pub fn counts_match(&self) -> bool {
        self.tables.iter().all(|t| t.expected == t.found)
    }
}

impl Store {
    /// Restores a backup that [`check_backup`] returned `manifest` for into this store,
    /// which must be empty (migrated, no rows), in one transaction: rows inserted with
    /// their ids in the file's order, checksums computed again on the way (a file changed
    /// since the check rolls everything back), `audit_head` set to the backup's,
    /// PostgreSQL's sequences moved past the restored ids. The append-only triggers stay.
    /// A keyed trail needs this store to have the same audit key. Then, when the store has
    /// an anchor file that does not exist yet, writes the backup's anchor lines to it.
    pub async fn restore_backup(
        &self,
        path: &Path,
        manifest: &Manifest,
        progress: &mut (dyn FnMut(&str, u64) + Send),
    ) -> BackupResult<RestoreReport> {
        if let Some(want) = &manifest.audit.key_id {
            let have = self.audit_key().map(|k| k.id().to_string());
            if have.as_deref() != Some(want.as_str()) {
                return Err(BackupError::KeyMismatch {
                    backup: want.clone(),
                    configured: have,
                });
            }
        }
        let mut tx = self.write_tx().await?;
        if self.backend == Backend::Postgres {
            let mut names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
            names.extend(LEFT_OUT);
            sqlx::query(&format!(
                "LOCK TABLE {} IN EXCLUSIVE MODE",
                names.join(", ")
            ))
            .execute(&mut *tx)
            .await?;
        }
        ensure_empty(&mut tx).await?;
        let anchors = insert_all(&mut tx, path, manifest, progress).await?;
        if self.backend == Backend::Postgres {
            reset_sequences(&mut tx).await?;
        }
        tx.commit().await?;
        if self.pgvector {
            // The `embedding` column, made from the restored vectors.
            self.enable_pgvector().await?;
        }
        let anchors_written = self.write_anchor_file(&anchors)?;
        Ok(RestoreReport {
            tables: self.count_tables(manifest).await?,
            anchors_written,
            anchor_lines: anchors.len() as u64,
        })
    }

    /// Writes the backup's anchor lines to the store's anchor file when it has one that
    /// does not exist yet (or is empty).
    fn write_anchor_file(&self, lines: &[String]) -> BackupResult<Option<(PathBuf, u64)>> {
        let Some(path) = self.seal.anchor.as_ref().filter(|_| !lines.is_empty()) else {
            return Ok(None);
        };
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            return Ok(None);
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io_error(path, &e))?;
        }
        let mut text = String::new();
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        use std::io::Write;
        let mut f = crate::audit::private_file(path, true).map_err(|e| io_error(path, &e))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| io_error(path, &e))?;
        Ok(Some((path.clone(), lines.len() as u64)))
    }

    async fn count_tables(&self, manifest: &Manifest) -> BackupResult<Vec<TableCount>> {
        let mut out = Vec::new();
        for s in manifest
            .sections
            .iter()
            .filter(|s| s.name != ANCHOR_SECTION)
        {
            let Some((_, t)) = table(&s.name) else {
                continue;
            };
            let n: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {}", t.name))
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
            out.push(TableCount {
                table: s.name.clone(),
                expected: s.rows,
                found: n.max(0) as u64,
            });
        }
        Ok(out)
    }

    /// [`Store::verify_version`] for every version, signed or not, oldest first.
    pub async fn verify_all_versions(&self) -> crate::Result<Vec<VersionCheck>> {
        self.verify_versions(false).await
    }
}

/// Refuses a store with rows in any of our tables (or an audit head that moved).
async fn ensure_empty(tx: &mut Transaction<'static, Any>) -> BackupResult<()> {
    let names = TABLES
        .iter()
        .map(|t| t.name)
        .filter(|n| *n != "audit_head")
        .chain(LEFT_OUT.iter().copied());
    for name in names {
        let any = sqlx::query(&format!("SELECT 1 AS x FROM {name} LIMIT 1"))
            .fetch_optional(&mut **tx)
            .await?;
        if any.is_some() {
            return Err(BackupError::NotEmpty(name.to_string()));
        }
    }
    let head: Option<i64> = sqlx::query("SELECT last_id FROM audit_head WHERE one = 1")
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get("last_id"))
        .transpose()?;
    if head.unwrap_or(0) != 0 {
        return Err(BackupError::NotEmpty("audit_head".to_string()));
    }
    Ok(())
}

/// Reads the file again and inserts its rows; returns the anchor lines. Refuses a file
/// that no longer matches `manifest`.
async fn insert_all(
    tx: &mut Transaction<'static, Any>,
    path: &Path,
    manifest: &Manifest,
    progress: &mut (dyn FnMut(&str, u64) + Send),
) -> BackupResult<Vec<String>> {
    let mut reader = Reader::open(path)?;
    let mut batch: Option<Batch> = None;
    let mut anchors = Vec::new();
    let read = loop {
        match reader.next()? {
            Event::Section(index) => {
                finish_batch(tx, batch.take(), progress).await?;
                let cur = reader.current.as_ref().expect("a section was started");
                batch = index.map(|i| Batch {
                    table: &TABLES[i],
                    columns: cur.columns.clone(),
                    kinds: cur.kinds.clone(),
                    rows: Vec::new(),
                    done: 0,
                });
            }
            Event::Row(values) => match batch.as_mut() {
                Some(b) => {
                    b.rows.push(values);
                    if b.full() {
                        flush(tx, b).await?;
                    }
                }
                None => {
                    if let Some(Value::Text(line)) = values.into_iter().next() {
                        anchors.push(line);
                    }
                }
            },
            Event::Manifest(m) => break m,
        }
    };
    finish_batch(tx, batch.take(), progress).await?;
    reader.agree(manifest)?;
    if *read != *manifest {
        return Err(BackupError::Format {
            file: path.to_path_buf(),
            line: reader.lines.number,
            reason: "the file changed since it was checked".to_string(),
        });
    }
    progress(ANCHOR_SECTION, anchors.len() as u64);
    Ok(anchors)
}

async fn finish_batch(
    tx: &mut Transaction<'static, Any>,
    batch: Option<Batch>,
    progress: &mut (dyn FnMut(&str, u64) + Send),
) -> BackupResult<()> {
    if let Some(mut b) = batch {
        flush(tx, &mut b).await?;
        progress(b.table.name, b.done);
    }
    Ok(())
}

/// Inserts the batch's rows in one statement (`audit_head`: sets its one row).
async fn flush(tx: &mut Transaction<'static, Any>, b: &mut Batch) -> BackupResult<()> {
    if b.rows.is_empty() {
        return Ok(());
    }
    let rows = std::mem::take(&mut b.rows);
    b.done += rows.len() as u64;
    if b.table.name == "audit_head" {
        return restore_head(tx, b, rows).await;
    }
    let n = b.columns.len();
    let tuples: Vec<String> = (0..rows.len())
        .map(|r| {
            let marks: Vec<String> = (1..=n).map(|c| format!("${}", r * n + c)).collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        b.table.name,
        b.columns.join(", "),
        tuples.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for row in rows {
        for (v, kind) in row.into_iter().zip(&b.kinds) {
            q = v.bind(q, *kind);
        }
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// `audit_head` has its one row from the migration: it takes the backup's values.
async fn restore_head(
    tx: &mut Transaction<'static, Any>,
    b: &Batch,
    rows: Vec<Vec<Value>>,
) -> BackupResult<()> {
    for row in rows {
        let get = |name: &str| {
            b.columns
                .iter()
                .position(|c| c == name)
                .map(|i| row[i].clone())
        };
        let (Some(Value::Int(last_id)), Some(Value::Text(last_hash))) =
            (get("last_id"), get("last_hash"))
        else {
            return Err(BackupError::Schema(
                "the backup's audit_head row has no last_id and last_hash".to_string(),
            ));
        };
        sqlx::query("UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE one = 1")
            .bind(last_id)
            .bind(last_hash)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// PostgreSQL: each identity column's next value follows the largest restored one.
async fn reset_sequences(tx: &mut Transaction<'static, Any>) -> BackupResult<()> {
    for (t, c) in [
        ("users", "id"),
        ("versions", "id"),
        ("api_tokens", "id"),
        ("draft_jobs", "seq"),
    ] {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), COALESCE(MAX({c}), 0) + 1, \
             false) AS v FROM {t}"
        ))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
