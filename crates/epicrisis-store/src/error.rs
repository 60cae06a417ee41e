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
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_foreign_key_violation())
}
