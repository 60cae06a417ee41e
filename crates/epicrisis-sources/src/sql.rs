//! The hospital's database as a source: PostgreSQL or MySQL/MariaDB, read-only.
//!
//! Two queries, written by the hospital's IT staff for their own schema:
//! - `EPICRISIS_SOURCE_SQL_EPISODE` returns one episode as JSON, given the episode's key as
//!   its only parameter (`$1` on PostgreSQL, `?` on MySQL). The first column of the first
//!   row is the document: JSON text, a `json`/`jsonb` value, or bytes, in any shape the
//!   readers accept (rich, compact, predecessor, FHIR Bundle). This is how the predecessor
//!   read episodes (`select get_discharge_summary_json($1)`). No row, or NULL, means the
//!   database has no such episode.
//! - `EPICRISIS_SOURCE_SQL_DISCHARGES` lists the episodes discharged on or after a date,
//!   given as text `YYYY-MM-DD` (cast it on PostgreSQL: `$1::date`); the first column of
//!   each row is the episode's key (text or an integer), in discharge order.
//!
//! The connection is read-only: on PostgreSQL every transaction is started read-only
//! (`default_transaction_read_only`) and statements time out on the server
//! (`statement_timeout`); on MySQL/MariaDB each connection runs `SET SESSION TRANSACTION
//! READ ONLY`. A query that tries to write fails, whatever the account may do; the account
//! should still be one that can only read the views or functions it needs.
//!
//! An Oracle site (or any other database) plugs in one of two ways: a PostgreSQL or
//! MariaDB server that reaches Oracle (PostgreSQL's `oracle_fdw`, MariaDB's CONNECT
//! engine over ODBC) and exposes the function or view, or a nightly export of the view
//! into one of them. See docs/sources.md.
//!
//! Errors name the setting and the SQLSTATE. The database's own message is shown only
//! for errors about the query or the account (classes 08, 25, 28, 3D, 42), which name
//! tables and columns, not values; a data error (class 22, say) could quote a value, so
//! only its code is shown.

use crate::settings::{SQL_DISCHARGES, SQL_EPISODE, SQL_URL};
use crate::{Discharge, Fetched, Retry, Secret, Since, SourceError};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Executor, Row};
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

/// The SQL source's settings.
#[derive(Debug, Clone)]
pub struct SqlConfig {
    /// `postgres://…` or `mysql://…` (MariaDB too); it may hold a password.
    pub url: Secret,
    /// The query that returns one episode's JSON.
    pub episode_query: String,
    /// The query that lists the discharges since a date; `None`: the source can read
    /// episodes by key (HL7 events, `pull --episode`) but not list them.
    pub discharges_query: Option<String>,
    pub timeout: Duration,
    pub retry: Retry,
}

enum Pool {
    Pg(PgPool),
    My(MySqlPool),
}

pub struct SqlSource {
    pool: Pool,
    config: SqlConfig,
}

impl SqlSource {
    /// Connects (one connection now, so that a wrong address or password is found at
    /// start), retrying while the server is unreachable.
    pub async fn connect(config: SqlConfig) -> Result<SqlSource, SourceError> {
        let url = config.url.expose();
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Pg(connect_pg(&config).await?)
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Pool::My(connect_my(&config).await?)
        } else {
            return Err(SourceError::Setting {
                setting: SQL_URL,
                message: format!(
                    "«{}» no es una dirección de PostgreSQL (postgres://usuario:clave@servidor/base) \
                     ni de MySQL/MariaDB (mysql://usuario:clave@servidor/base)",
                    crate::redact_url(url)
                ),
            });
        };
        Ok(SqlSource { pool, config })
    }

    pub async fn discharged_since(&self, since: Since) -> Result<Vec<Discharge>, SourceError> {
        let Some(query) = self.config.discharges_query.as_deref() else {
            return Err(SourceError::Setting {
                setting: SQL_DISCHARGES,
                message: "no está definida: sin ella la fuente lee episodios por número \
                          (mensajes HL7, `pull --episode`) pero no puede listar las altas"
                    .into(),
            });
        };
        let date = since.iso();
        let ids = match &self.pool {
            Pool::Pg(pool) => {
                let rows = self
                    .timed(SQL_DISCHARGES, || {
                        sqlx::query(query).bind(&date).fetch_all(pool)
                    })
                    .await?;
                rows.iter().map(pg_key).collect::<Result<Vec<_>, _>>()?
            }
            Pool::My(pool) => {
                let rows = self
                    .timed(SQL_DISCHARGES, || {
                        sqlx::query(query).bind(&date).fetch_all(pool)
                    })
                    .await?;
                rows.iter().map(my_key).collect::<Result<Vec<_>, _>>()?
            }
        };
        let mut seen = std::collections::HashSet::new();
        Ok(ids
            .into_iter()
            .flatten()
            .filter(|id| seen.insert(id.clone()))
            .map(|id| Discharge { id })
            .collect())
    }

    pub async fn episode(&self, id: &str) -> Result<Fetched, SourceError> {
        let query = self.config.episode_query.as_str();
        let cell = match &self.pool {
            Pool::Pg(pool) => {
                let row = self
                    .timed(SQL_EPISODE, || {
                        sqlx::query(query).bind(id).fetch_optional(pool)
                    })
                    .await?;
                row.as_ref().map(pg_document).transpose()?.flatten()
            }
            Pool::My(pool) => {
                let row = self
                    .timed(SQL_EPISODE, || {
                        sqlx::query(query).bind(id).fetch_optional(pool)
                    })
                    .await?;
                row.as_ref().map(my_document).transpose()?.flatten()
            }
        };
        let document = cell.ok_or_else(|| SourceError::NotFound {
            detail: format!("{SQL_EPISODE} no devolvió filas, o devolvió NULL"),
        })?;
        let summary = format!("{} bytes de JSON", document.len());
        Ok(Fetched {
            id: id.to_string(),
            document,
            summary,
        })
    }

    pub fn describe(&self) -> String {
        let kind = match self.pool {
            Pool::Pg(_) => "PostgreSQL",
            Pool::My(_) => "MySQL/MariaDB",
        };
        format!("{kind} {}", crate::redact_url(self.config.url.expose()))
    }

    /// Runs a query under the source's timeout, retrying while the server is away.
    async fn timed<T, Fut>(
        &self,
        setting: &'static str,
        call: impl Fn() -> Fut,
    ) -> Result<T, SourceError>
    where
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let timeout = self.config.timeout;
        self.config
            .retry
            .run(SourceError::is_transient, || async {
                match tokio::time::timeout(timeout, call()).await {
                    Ok(Ok(v)) => Ok(v),
                    Ok(Err(e)) => Err(sql_error(e, setting, &self.config.url)),
                    Err(_) => Err(SourceError::Remote {
                        setting,
                        detail: format!(
                            "la consulta no terminó en {} s ({})",
                            timeout.as_secs(),
                            crate::settings::TIMEOUT
                        ),
                    }),
                }
            })
            .await
    }
}

async fn connect_pg(config: &SqlConfig) -> Result<PgPool, SourceError> {
    let statement_ms = config.timeout.as_millis().to_string();
    let options = PgConnectOptions::from_str(config.url.expose())
        .map_err(|e| bad_url(e, &config.url))?
        .application_name("epicrisis-fuente")
        .options([
            ("default_transaction_read_only", "on"),
            ("statement_timeout", statement_ms.as_str()),
        ])
        .disable_statement_logging();
    let pool_options = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(config.timeout);
    config
        .retry
        .run(SourceError::is_transient, || async {
            pool_options
                .clone()
                .connect_with(options.clone())
                .await
                .map_err(|e| sql_error(e, SQL_URL, &config.url))
        })
        .await
}

async fn connect_my(config: &SqlConfig) -> Result<MySqlPool, SourceError> {
    let url = config.url.expose().replacen("mariadb://", "mysql://", 1);
    let options = MySqlConnectOptions::from_str(&url)
        .map_err(|e| bad_url(e, &config.url))?
        .disable_statement_logging();
    let pool_options = MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(config.timeout)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                Ok(())
            })
        });
    config
        .retry
        .run(SourceError::is_transient, || async {
            pool_options
                .clone()
                .connect_with(options.clone())
                .await
                .map_err(|e| sql_error(e, SQL_URL, &config.url))
        })
        .await
}

fn bad_url(e: sqlx::Error, url: &Secret) -> SourceError {
    SourceError::Setting {
        setting: SQL_URL,
        message: format!(
            "«{}» no se puede leer como dirección de base de datos ({})",
            crate::redact_url(url.expose()),
            scrub(&e.to_string(), url)
        ),
    }
}

/// What a database error says, in a message that names the setting and never a value.
fn sql_error(e: sqlx::Error, setting: &'static str, url: &Secret) -> SourceError {
    let target = crate::redact_url(url.expose());
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let class = code.get(..2).unwrap_or("");
            let shown = if matches!(class, "08" | "25" | "28" | "3D" | "42") {
                format!("SQLSTATE {code}: {}", scrub(db.message(), url))
            } else {
                format!("SQLSTATE {code}")
            };
            match class {
                "28" => SourceError::Refused {
                    setting: SQL_URL,
                    detail: shown,
                },
                "25" => SourceError::Remote {
                    setting,
                    detail: format!(
                        "{shown}; la conexión es de solo lectura y la consulta intenta escribir"
                    ),
                },
                "08" | "57" => SourceError::Unreachable {
                    setting: SQL_URL,
                    target,
                    detail: shown,
                },
                _ => SourceError::Remote {
                    setting,
                    detail: shown,
                },
            }
        }
        sqlx::Error::Io(io) => SourceError::Unreachable {
            setting: SQL_URL,
            target,
            detail: io.kind().to_string(),
        },
        sqlx::Error::Tls(t) => SourceError::Unreachable {
            setting: SQL_URL,
            target,
            detail: format!("TLS: {}", scrub(&t.to_string(), url)),
        },
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            SourceError::Unreachable {
                setting: SQL_URL,
                target,
                detail: "sin conexión disponible a tiempo".into(),
            }
        }
        sqlx::Error::Configuration(c) => SourceError::Setting {
            setting: SQL_URL,
            message: scrub(&c.to_string(), url),
        },
        sqlx::Error::ColumnIndexOutOfBounds { .. } => SourceError::Answer {
            setting,
            detail: "la consulta no devuelve columnas".into(),
        },
        other => SourceError::Remote {
            setting,
            detail: kind_of(&other).into(),
        },
    }
}

/// A short name for an error whose text might quote data.
fn kind_of(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::Protocol(_) => "error de protocolo",
        sqlx::Error::ColumnDecode { .. } => "una columna no se pudo leer",
        sqlx::Error::Decode(_) => "un valor no se pudo leer",
        sqlx::Error::TypeNotFound { .. } => "tipo desconocido",
        _ => "error de la base de datos",
    }
}

/// Removes the URL's password from a message, should a driver quote it.
fn scrub(text: &str, url: &Secret) -> String {
    match password_of(url.expose()) {
        Some(p) if !p.is_empty() => text.replace(p, "***"),
        _ => text.to_string(),
    }
}

fn password_of(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let creds = &rest[..rest.rfind('@')?];
    creds.split_once(':').map(|(_, p)| p)
}

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
        fn $name(row: &$row) -> Result<Option<Vec<u8>>, SourceError> {
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
        fn $name(row: &$row) -> Result<Option<String>, SourceError> {
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
fn my_key(row: &MySqlRow) -> Result<Option<String>, SourceError> {
    if let Ok(v) = row.try_get::<Option<u64>, _>(0) {
        return Ok(v.map(|n| n.to_string()));
    }
    if let Ok(v) = row.try_get::<Option<u32>, _>(0) {
        return Ok(v.map(|n| n.to_string()));
    }
    my_key_signed(row)
}
key_reader!(my_key_signed, MySqlRow);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_scrubbed() {
        let url = Secret::new("postgres://lector:s3cr3t@his.hospital.cl/his");
        assert_eq!(password_of(url.expose()), Some("s3cr3t"));
        assert_eq!(
            scrub("password authentication failed (s3cr3t)", &url),
            "password authentication failed (***)"
        );
        assert_eq!(password_of("postgres://lector@his/his"), None);
    }
}
