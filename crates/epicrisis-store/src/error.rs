//! The store's error and result types, and how sqlx's errors become them.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is not `sqlite:PATH`, `sqlite://PATH` or `postgres(ql)://…`.
    #[error(
        "DATABASE_URL {0:?} is not understood: use sqlite:PATH (e.g. sqlite:epicrisis.db) or postgres://user:password@host/database"
    )]
    BadUrl(String),
    /// Could not open or reach the database; the message says which and why (password masked).
    #[error("cannot open the database {place}: {reason}")]
    Open { place: String, reason: String },
    /// Something that the caller asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The operation would break an invariant (e.g. editing after a signature).
    #[error("{0}")]
    Conflict(String),
    /// The arguments cannot be stored or compared as given (e.g. an empty or non-finite
    /// vector, or one whose dimension differs from the model's vectors already stored).
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Db(String),
    /// The database could not write: the disk (or the file-size limit) is full, or it
    /// fails. The transaction was rolled back; what was saved before is intact.
    #[error("the database could not write (disk full or failing): {0}")]
    Full(String),
    /// The audit key or anchor file cannot be read or written, or the key does not fit
    /// the trail; `file` names it and `reason` says what to do.
    #[error("audit seal file {file}: {reason}")]
    Seal { file: String, reason: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How many SQLite connections to check on their way back to the pool: set after a write
/// failed for lack of room ([`StoreError::Full`]). Such a failure can leave a connection
/// that sqlx believes still inside a transaction (its COMMIT failed, and the ROLLBACK
/// that followed found none to undo), so that every later write on it is refused; the
/// pool closes such a connection instead of keeping it ([`crate::open`]).
pub(crate) static SUSPECT_RELEASES: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_full(&e) {
            SUSPECT_RELEASES.store(64, std::sync::atomic::Ordering::SeqCst);
            StoreError::Full(e.to_string())
        } else {
            StoreError::Db(e.to_string())
        }
    }
}

/// A write that failed for lack of room or a failing disk: SQLite's `SQLITE_FULL` (13)
/// and `SQLITE_IOERR` family (10 and its extended codes), PostgreSQL's class 53
/// (insufficient resources: disk full, out of memory) and `58030` (I/O error).
fn is_full(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(d) = e else {
        return false;
    };
    let Some(code) = d.code() else {
        return false;
    };
    if let Ok(n) = code.parse::<i64>() {
        return n == 13 || n & 0xff == 10;
    }
    code.starts_with("53") || code == "58030"
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_foreign_key_violation())
}
