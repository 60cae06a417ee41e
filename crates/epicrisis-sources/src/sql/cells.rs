//! Reading cells of the hospital's rows: a document (text, JSON or bytes), an episode
//! key (text or an integer), or any value as JSON for a mapped row. Written once per
//! driver with a macro, since sqlx's row types share no trait that decodes by type.

use crate::SourceError;
use crate::settings::{SQL_DISCHARGES, SQL_EPISODE};
use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;
use sqlx::{Column, Row};

fn not_a_document(setting: &'static str) -> SourceError {
    SourceError::Answer {
        setting,
        detail: "la primera columna no es texto, JSON ni bytes; conviértala a texto en la \
                 consulta (::text en PostgreSQL, CAST(… AS CHAR) en MySQL)"
            .into(),
    }
}

fn not_a_key() -> SourceError {
    SourceError::Answer {
        setting: SQL_DISCHARGES,
        detail: "la primera columna no es texto ni un entero; conviértala a texto en la consulta"
            .into(),
    }
}

/// Reads the first column as the episode document (text, JSON or bytes); NULL is `None`.
macro_rules! document_reader {
    ($name:ident, $row:ty) => {
        pub(super) fn $name(row: &$row) -> Result<Option<Vec<u8>>, SourceError> {
            if row.columns().is_empty() {
                return Err(not_a_document(SQL_EPISODE));
            }
            if let Ok(v) = row.try_get::<Option<String>, _>(0) {
                return Ok(v.map(String::into_bytes));
            }
            if let Ok(v) = row.try_get::<Option<serde_json::Value>, _>(0) {
                return Ok(v.map(|v| v.to_string().into_bytes()));
            }
            if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(0) {
                return Ok(v);
            }
            Err(not_a_document(SQL_EPISODE))
        }
    };
}

/// Reads the first column as an episode key (text or an integer); NULL is `None`.
macro_rules! key_reader {
    ($name:ident, $row:ty) => {
        pub(super) fn $name(row: &$row) -> Result<Option<String>, SourceError> {
            if row.columns().is_empty() {
                return Err(not_a_key());
            }
            if let Ok(v) = row.try_get::<Option<String>, _>(0) {
                return Ok(v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
            }
            if let Ok(v) = row.try_get::<Option<i64>, _>(0) {
                return Ok(v.map(|n| n.to_string()));
            }
            if let Ok(v) = row.try_get::<Option<i32>, _>(0) {
                return Ok(v.map(|n| n.to_string()));
            }
            Err(not_a_key())
        }
    };
}

document_reader!(pg_document, PgRow);
document_reader!(my_document, MySqlRow);
key_reader!(pg_key, PgRow);

/// MySQL keys may also be unsigned integers.
pub(super) fn my_key(row: &MySqlRow) -> Result<Option<String>, SourceError> {
    if let Ok(v) = row.try_get::<Option<u64>, _>(0) {
        return Ok(v.map(|n| n.to_string()));
    }
    if let Ok(v) = row.try_get::<Option<u32>, _>(0) {
        return Ok(v.map(|n| n.to_string()));
    }
    my_key_signed(row)
}
key_reader!(my_key_signed, MySqlRow);

/// Reads every column of a row as JSON, by its name (`Column::name`): text, integers,
/// floats, booleans and JSON as themselves, NULL as null. Another type is an error
/// naming the column and saying to cast it to text in the query.
macro_rules! value_reader {
    ($name:ident, $row:ty, $($extra:ty),*) => {
        pub(super) fn $name(
            row: &$row,
            setting: &'static str,
        ) -> Result<Vec<(String, serde_json::Value)>, SourceError> {
            use serde_json::Value;
            let mut out = Vec::with_capacity(row.columns().len());
            for (i, col) in row.columns().iter().enumerate() {
                let v: Option<Value> = if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                    Some(v.map_or(Value::Null, Value::String))
                } else if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                    Some(v.map_or(Value::Null, Value::from))
                } else if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
                    Some(v.map_or(Value::Null, Value::from))
                } else if let Ok(v) = row.try_get::<Option<i16>, _>(i) {
                    Some(v.map_or(Value::Null, Value::from))
                } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
                    Some(v.map_or(Value::Null, Value::from))
                } else if let Ok(v) = row.try_get::<Option<f32>, _>(i) {
                    Some(v.map_or(Value::Null, Value::from))
                } else if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
                    Some(v.map_or(Value::Null, Value::from))
                } else if let Ok(v) = row.try_get::<Option<Value>, _>(i) {
                    Some(v.unwrap_or(Value::Null))
                } $(else if let Ok(v) = row.try_get::<Option<$extra>, _>(i) {
                    Some(v.map_or(Value::Null, Value::from))
                })* else {
                    None
                };
                let Some(v) = v else {
                    return Err(SourceError::Answer {
                        setting,
                        detail: format!(
                            "la columna «{}» no es texto, número, booleano ni JSON; conviértala \
                             a texto en la consulta (::text en PostgreSQL, CAST(… AS CHAR) en MySQL)",
                            col.name()
                        ),
                    });
                };
                out.push((col.name().to_string(), v));
            }
            Ok(out)
        }
    };
}

value_reader!(pg_values, PgRow,);
value_reader!(my_values, MySqlRow, u64, u32, i8, u8);
