//! The hospital's database as a source: PostgreSQL or MySQL/MariaDB, read-only.
//!
//! Queries written by the hospital's IT staff for their own schema:
//! - `EPICRISIS_SOURCE_SQL_EPISODE` returns one episode as JSON, given the episode's key as
//!   its only parameter (`$1` on PostgreSQL, `?` on MySQL). The first column of the first
//!   row is the document: JSON text, a `json`/`jsonb` value, or bytes, in any shape the
//!   readers accept (rich, compact, predecessor, FHIR Bundle). This is how the predecessor
//!   read episodes (`select get_discharge_summary_json($1)`). No row, or NULL, means the
//!   database has no such episode.
//! - or, instead, `EPICRISIS_SOURCE_SQL_MAPPING`: a file of queries whose columns are
//!   named as the rich format's fields ([`mapping`]), for a schema of plain tables.
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

mod cells;
pub mod mapping;

pub use mapping::Mapping;

use crate::settings::{SQL_DISCHARGES, SQL_EPISODE, SQL_MAPPING, SQL_URL};
use crate::{Discharge, Fetched, Retry, Secret, Since, SourceError};
use cells::{my_document, my_key, pg_document, pg_key};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Executor};
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

/// The SQL source's settings.
#[derive(Debug, Clone)]
pub struct SqlConfig {
    /// `postgres://…` or `mysql://…` (MariaDB too); it may hold a password.
    pub url: Secret,
    /// How one episode is read: a query returning its JSON, or mapped rows.
    pub episode: EpisodeQuery,
    /// The query that lists the discharges since a date; `None`: the source can read
    /// episodes by key (HL7 events, `pull --episode`) but not list them.
    pub discharges_query: Option<String>,
    pub timeout: Duration,
    pub retry: Retry,
}

/// How the source reads one episode.
#[derive(Debug, Clone)]
pub enum EpisodeQuery {
    /// `EPICRISIS_SOURCE_SQL_EPISODE`: the first column of the first row is the JSON.
    Json(String),
    /// `EPICRISIS_SOURCE_SQL_MAPPING`: rows mapped by declared columns ([`Mapping`]).
    Mapped(Mapping),
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
        let document = match &self.config.episode {
            EpisodeQuery::Json(query) => self.json_document(query, id).await?,
            EpisodeQuery::Mapped(m) => self.mapped_document(m, id).await?,
        };
        let document = document.ok_or_else(|| SourceError::NotFound {
            detail: "la consulta del episodio no devolvió filas, o devolvió NULL".into(),
        })?;
        let summary = format!("{} bytes de JSON", document.len());
        Ok(Fetched {
            id: id.to_string(),
            document,
            summary,
        })
    }

    /// The JSON the episode query returns; `None`: no row or NULL.
    async fn json_document(&self, query: &str, id: &str) -> Result<Option<Vec<u8>>, SourceError> {
        Ok(match &self.pool {
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
        })
    }

    /// The episode built from the mapping's rows; `None`: the episode query has no row.
    async fn mapped_document(&self, m: &Mapping, id: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let Some(episode) = self
            .rows(&m.episodio.consulta, id)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let mut lists = Vec::with_capacity(m.listas.len());
        for l in &m.listas {
            lists.push((l.campo.as_str(), self.rows(&l.consulta, id).await?));
        }
        let doc = mapping::build(episode, lists).map_err(|detail| SourceError::Answer {
            setting: SQL_MAPPING,
            detail,
        })?;
        Ok(Some(doc.to_string().into_bytes()))
    }

    /// Every row of a mapping's query, as named JSON cells.
    async fn rows(&self, query: &str, id: &str) -> Result<Vec<mapping::Cells>, SourceError> {
        match &self.pool {
            Pool::Pg(pool) => {
                let rows = self
                    .timed(SQL_MAPPING, || sqlx::query(query).bind(id).fetch_all(pool))
                    .await?;
                rows.iter()
                    .map(|r| cells::pg_values(r, SQL_MAPPING))
                    .collect()
            }
            Pool::My(pool) => {
                let rows = self
                    .timed(SQL_MAPPING, || sqlx::query(query).bind(id).fetch_all(pool))
                    .await?;
                rows.iter()
                    .map(|r| cells::my_values(r, SQL_MAPPING))
                    .collect()
            }
        }
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
    connect_retrying(config, pool_options, options).await
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
    connect_retrying(config, pool_options, options).await
}

/// Opens the pool (one connection now), trying again while the server is unreachable.
async fn connect_retrying<DB: sqlx::Database>(
    config: &SqlConfig,
    pool_options: sqlx::pool::PoolOptions<DB>,
    options: <DB::Connection as sqlx::Connection>::Options,
) -> Result<sqlx::Pool<DB>, SourceError> {
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
