//! The tables a backup holds, in restore order (what a row refers to comes before it),
//! with each column's kind; how a value is read from a row, written as JSON, read back
//! and bound to a statement.

use sqlx::Row;
use sqlx::any::{Any, AnyArguments, AnyRow};
use sqlx::query::Query;

/// How a column's values are stored and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// BIGINT (booleans are 0/1 integers).
    Int,
    /// TEXT (JSON included).
    Text,
    /// BLOB / BYTEA (vectors), written as hex.
    Blob,
}

use Kind::{Blob, Int, Text};

/// A table of the store.
pub(crate) struct Table {
    pub name: &'static str,
    /// The primary key: rows are read in its order, a page at a time.
    pub key: &'static [&'static str],
    pub columns: &'static [(&'static str, Kind)],
}

impl Table {
    pub fn kind(&self, column: &str) -> Option<Kind> {
        self.columns
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, k)| *k)
    }

    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|(c, _)| c.to_string()).collect()
    }
}

/// Every table a backup holds, in restore order. `sessions` is left out (everyone signs
/// in again after a restore); sqlx's ledger is the target's own.
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "users",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("username", Text),
            ("display_name", Text),
            ("role", Text),
            ("password_hash", Text),
            ("disabled", Int),
            ("created_at", Int),
            // Schema 8 (directory accounts).
            ("source", Text),
            ("directory_dn", Text),
        ],
    },
    Table {
        name: "episodes",
        key: &["episode_id"],
        columns: &[
            ("episode_id", Text),
            ("service", Text),
            ("admission_date", Text),
            ("discharge_date", Text),
            ("episode_json", Text),
            ("source", Text),
            ("source_kind", Text),
            ("imported_at", Int),
            ("updated_at", Int),
            ("revision", Int),
            ("patient_name", Text),
            ("diagnosis", Text),
            ("search_text", Text),
            ("physician", Text),
        ],
    },
    Table {
        name: "episode_revisions",
        key: &["episode_id", "revision"],
        columns: &[
            ("episode_id", Text),
            ("revision", Int),
            ("episode_json", Text),
            ("sha256", Text),
            ("source_kind", Text),
            ("imported_at", Int),
        ],
    },
    Table {
        name: "versions",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("episode_id", Text),
            ("number", Int),
            ("kind", Text),
            ("status", Text),
            ("text", Text),
            ("report_json", Text),
            ("provenance_json", Text),
            ("engine", Text),
            ("author_id", Int),
            ("parent_id", Int),
            ("amends", Int),
            ("content_hash", Text),
            ("created_at", Int),
            ("episode_revision", Int),
            ("hash_scheme", Int),
            ("job_id", Text),
        ],
    },
    Table {
        name: "api_tokens",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("name", Text),
            ("token_hash", Text),
            ("created_at", Int),
            ("revoked_at", Int),
            ("expires_at", Int),
        ],
    },
    Table {
        name: "audit",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("at", Int),
            ("user_id", Int),
            ("username", Text),
            ("action", Text),
            ("episode_id", Text),
            ("version_id", Int),
            ("detail", Text),
            ("prev_hash", Text),
            ("hash", Text),
            ("key_id", Text),
        ],
    },
    // One row, restored by UPDATE (the migration made it).
    Table {
        name: "audit_head",
        key: &["one"],
        columns: &[("one", Int), ("last_id", Int), ("last_hash", Text)],
    },
    Table {
        name: "draft_jobs",
        key: &["id"],
        columns: &[
            ("id", Text),
            ("seq", Int),
            ("episode_id", Text),
            ("episode_revision", Int),
            ("inline_json", Text),
            ("options_json", Text),
            ("requested_by", Int),
            ("priority", Int),
            ("state", Text),
            ("attempts", Int),
            ("lease_owner", Text),
            ("lease_until", Int),
            ("cancel_requested", Int),
            ("stage_json", Text),
            ("partial_text", Text),
            ("message", Text),
            ("version_id", Int),
            ("result_json", Text),
            ("engine", Text),
            ("created_at", Int),
            ("started_at", Int),
            ("finished_at", Int),
        ],
    },
    Table {
        name: "draft_batches",
        key: &["id"],
        columns: &[
            ("id", Text),
            ("name", Text),
            ("created_by", Int),
            ("created_at", Int),
        ],
    },
    Table {
        name: "draft_batch_items",
        key: &["batch_id", "episode_id"],
        columns: &[
            ("batch_id", Text),
            ("position", Int),
            ("episode_id", Text),
            ("job_id", Text),
        ],
    },
    Table {
        name: "passage_sets",
        key: &["episode_id", "model"],
        columns: &[
            ("episode_id", Text),
            ("model", Text),
            ("episode_sha256", Text),
            ("passages", Int),
            ("created_at", Int),
        ],
    },
    Table {
        name: "passage_vectors",
        key: &["episode_id", "model", "ordinal"],
        columns: &[
            ("episode_id", Text),
            ("model", Text),
            ("ordinal", Int),
            ("note_index", Int),
            ("day", Int),
            ("char_start", Int),
            ("char_end", Int),
            ("vector", Blob),
        ],
    },
    // PostgreSQL with pgvector also has `embedding`, made from `vector` (filled again
    // after a restore).
    Table {
        name: "archive_vectors",
        key: &["episode_id", "model"],
        columns: &[
            ("episode_id", Text),
            ("model", Text),
            ("version_id", Int),
            ("dim", Int),
            ("vector", Blob),
            ("created_at", Int),
        ],
    },
];

/// Tables of the store that a backup leaves out but a restore target must have empty.
pub(crate) const LEFT_OUT: &[&str] = &["sessions"];

/// Columns the database may have beyond [`TABLES`]: derived, rebuilt after a restore.
pub(crate) const DERIVED: &[(&str, &str)] = &[("archive_vectors", "embedding")];

pub(crate) fn table(name: &str) -> Option<(usize, &'static Table)> {
    TABLES.iter().enumerate().find(|(_, t)| t.name == name)
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    /// Column `i` of a row, read as `kind`.
    pub fn read(row: &AnyRow, i: usize, kind: Kind) -> Result<Value, sqlx::Error> {
        Ok(match kind {
            Int => row
                .try_get::<Option<i64>, _>(i)?
                .map_or(Value::Null, Value::Int),
            Text => row
                .try_get::<Option<String>, _>(i)?
                .map_or(Value::Null, Value::Text),
            Blob => row
                .try_get::<Option<Vec<u8>>, _>(i)?
                .map_or(Value::Null, Value::Blob),
        })
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Int(n) => serde_json::Value::from(*n),
            Value::Text(s) => serde_json::Value::String(s.clone()),
            Value::Blob(b) => serde_json::Value::String(hex::encode(b)),
        }
    }

    /// A JSON value as a column of `kind`; the error says what was expected, never what
    /// was found.
    pub fn from_json(v: serde_json::Value, kind: Kind) -> Result<Value, &'static str> {
        match (v, kind) {
            (serde_json::Value::Null, _) => Ok(Value::Null),
            (serde_json::Value::Number(n), Int) => n
                .as_i64()
                .map(Value::Int)
                .ok_or("expected a 64-bit integer"),
            (serde_json::Value::String(s), Text) => Ok(Value::Text(s)),
            (serde_json::Value::String(s), Blob) => hex::decode(s)
                .map(Value::Blob)
                .map_err(|_| "expected hexadecimal bytes"),
            (_, Int) => Err("expected an integer or null"),
            (_, Text) => Err("expected a string or null"),
            (_, Blob) => Err("expected a hexadecimal string or null"),
        }
    }

    /// Binds the value as a column of `kind` (a NULL keeps the column's type, which
    /// PostgreSQL needs).
    pub fn bind<'q>(
        self,
        q: Query<'q, Any, AnyArguments<'q>>,
        kind: Kind,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        match (self, kind) {
            (Value::Int(n), _) => q.bind(n),
            (Value::Text(s), _) => q.bind(s),
            (Value::Blob(b), _) => q.bind(b),
            (Value::Null, Int) => q.bind(None::<i64>),
            (Value::Null, Text) => q.bind(None::<String>),
            (Value::Null, Blob) => q.bind(None::<Vec<u8>>),
        }
    }
}

/// A row as one line of the file (without its newline).
pub(crate) fn row_line(values: &[Value]) -> String {
    serde_json::Value::Array(values.iter().map(Value::to_json).collect()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_json_and_errors_quote_nothing() {
        let row = vec![
            Value::Int(-7),
            Value::Text("línea\n\"dos\"".into()),
            Value::Blob(vec![0, 255, 16]),
            Value::Null,
        ];
        let line = row_line(&row);
        assert!(!line.contains('\n'), "{line}");
        let kinds = [Int, Text, Blob, Int];
        let back: Vec<Value> = match serde_json::from_str::<serde_json::Value>(&line).unwrap() {
            serde_json::Value::Array(a) => a
                .into_iter()
                .zip(kinds)
                .map(|(v, k)| Value::from_json(v, k).unwrap())
                .collect(),
            _ => panic!("not an array"),
        };
        assert_eq!(back, row);
        let e = Value::from_json(serde_json::json!("secreto"), Int).unwrap_err();
        assert!(!e.contains("secreto"));
        assert!(Value::from_json(serde_json::json!(1.5), Int).is_err());
        assert!(Value::from_json(serde_json::json!("zz"), Blob).is_err());
    }

    #[test]
    fn every_table_has_its_key_among_its_columns_and_unique_names() {
        let mut names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLES.len());
        for t in TABLES {
            for k in t.key {
                assert!(t.kind(k).is_some(), "{}.{k}", t.name);
            }
        }
    }
}
