//! Where episodes come from besides files and uploads: the hospital's own systems.
//!
//! - [`fhir`]: a FHIR R4 REST server. Discharged Encounters since a date, then each
//!   encounter's resources (Patient, Conditions, Procedures, medications, Observations,
//!   DocumentReferences), gathered into one `collection` Bundle that the FHIR reader of
//!   `epicrisis-ingest` reads like any other Bundle.
//! - [`sql`]: a query or stored function on the hospital's PostgreSQL or MySQL/MariaDB
//!   that returns an episode as JSON (as the predecessor's `get_discharge_summary_json`
//!   did), on a read-only connection.
//! - [`hl7v2`] and [`mllp`]: HL7 v2 messages over MLLP; a discharge (ADT^A03) names an
//!   episode that is then read from the configured source.
//!
//! Why a crate of its own: these are network clients with their own failure modes
//! (timeouts, retries, authentication) and their own settings; the readers stay pure, and
//! the store and the server know nothing of a hospital's systems. What this crate hands
//! on is a [`Fetched`] document in one of the shapes the readers accept.
//!
//! Errors ([`SourceError`]) name the setting and the remote answer (status, FHIR issue
//! code, SQL state) and never carry patient data or credentials: a remote body is never
//! quoted, and secrets are [`Secret`]s, which do not print.

pub mod fhir;
pub mod hl7v2;
pub mod mllp;
mod retry;
pub mod sql;

pub use retry::Retry;

use std::fmt;

/// The settings this crate's errors name (their values come from `.env` or the
/// environment; the `epicrisis` binary reads them).
pub mod settings {
    pub const SOURCE: &str = "EPICRISIS_SOURCE";
    pub const FHIR_URL: &str = "EPICRISIS_SOURCE_FHIR_URL";
    pub const FHIR_TOKEN_FILE: &str = "EPICRISIS_SOURCE_FHIR_TOKEN_FILE";
    pub const FHIR_CLIENT_ID: &str = "EPICRISIS_SOURCE_FHIR_CLIENT_ID";
    pub const FHIR_CLIENT_SECRET_FILE: &str = "EPICRISIS_SOURCE_FHIR_CLIENT_SECRET_FILE";
    pub const FHIR_TOKEN_URL: &str = "EPICRISIS_SOURCE_FHIR_TOKEN_URL";
    pub const FHIR_SCOPE: &str = "EPICRISIS_SOURCE_FHIR_SCOPE";
    pub const FHIR_EVERYTHING: &str = "EPICRISIS_SOURCE_FHIR_EVERYTHING";
    pub const SQL_URL: &str = "EPICRISIS_SOURCE_SQL_URL";
    pub const SQL_EPISODE: &str = "EPICRISIS_SOURCE_SQL_EPISODE";
    pub const SQL_MAPPING: &str = "EPICRISIS_SOURCE_SQL_MAPPING";
    pub const SQL_DISCHARGES: &str = "EPICRISIS_SOURCE_SQL_DISCHARGES";
    pub const TIMEOUT: &str = "EPICRISIS_SOURCE_TIMEOUT_SECONDS";
    pub const RETRIES: &str = "EPICRISIS_SOURCE_RETRIES";
    pub const MLLP_LISTEN: &str = "EPICRISIS_MLLP_LISTEN";
}

/// A secret value (a token, a client secret, a password): usable, never displayed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(set, {} characters)", self.0.chars().count())
    }
}

/// Hides the password of a URL (`postgres://user:***@host/db`).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A discharged episode as the source lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discharge {
    /// The source's key for the episode: the Encounter's id, or the episode number the
    /// SQL query returns. [`Source::episode`] takes it back.
    pub id: String,
}

/// One episode's document, in a shape the readers accept (FHIR Bundle, rich, compact or
/// predecessor JSON).
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The source's key ([`Discharge::id`]).
    pub id: String,
    pub document: Vec<u8>,
    /// What was read, for `sources check` and logs: counts by kind, never contents.
    pub summary: String,
}

/// The earliest discharge date to list, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since(pub time::Date);

impl Since {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Since, String> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(text.trim(), &format)
            .map(Since)
            .map_err(|_| format!("«{text}» no es una fecha AAAA-MM-DD (por ejemplo 2026-03-01)"))
    }
    /// `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        let d = self.0;
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }
}

/// Why a source could not answer. Every message names the setting to look at and what the
/// remote side said (a status, an error code), never patient data or a credential.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A setting is missing or wrong.
    #[error("{setting}: {message}")]
    Setting {
        setting: &'static str,
        message: String,
    },
    /// The server or database could not be reached (after the retries).
    #[error("{setting}: no se pudo conectar con {target}: {detail}")]
    Unreachable {
        setting: &'static str,
        target: String,
        detail: String,
    },
    /// The credentials were refused.
    #[error("{setting}: la fuente rechazó las credenciales ({detail})")]
    Refused {
        setting: &'static str,
        detail: String,
    },
    /// The remote side answered with an error.
    #[error("{setting}: la fuente respondió con un error: {detail}")]
    Remote {
        setting: &'static str,
        detail: String,
    },
    /// The source has no such episode.
    #[error("la fuente no tiene el episodio pedido ({detail})")]
    NotFound { detail: String },
    /// The answer was not what the setting promised (not JSON, no rows, a wrong column).
    #[error("{setting}: la respuesta no sirve: {detail}")]
    Answer {
        setting: &'static str,
        detail: String,
    },
}

impl SourceError {
    /// Worth trying again later (the source was away or busy)?
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Unreachable { .. })
    }
}

/// Which source, with its settings.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    Fhir(fhir::FhirConfig),
    Sql(sql::SqlConfig),
}

/// A configured source.
pub enum Source {
    Fhir(fhir::FhirSource),
    Sql(sql::SqlSource),
}

impl Source {
    /// Connects: a SQL source opens a connection now, a FHIR source checks its URL (the
    /// first request shows whether the server answers).
    pub async fn connect(config: SourceConfig) -> Result<Source, SourceError> {
        Ok(match config {
            SourceConfig::Fhir(c) => Source::Fhir(fhir::FhirSource::new(c)?),
            SourceConfig::Sql(c) => Source::Sql(sql::SqlSource::connect(c).await?),
        })
    }

    /// The episodes discharged on or after `since`, oldest first.
    pub async fn discharged_since(&self, since: Since) -> Result<Vec<Discharge>, SourceError> {
        match self {
            Source::Fhir(s) => s.discharged_since(since).await,
            Source::Sql(s) => s.discharged_since(since).await,
        }
    }

    /// One episode's document, by the source's key.
    pub async fn episode(&self, id: &str) -> Result<Fetched, SourceError> {
        match self {
            Source::Fhir(s) => s.episode(id).await,
            Source::Sql(s) => s.episode(id).await,
        }
    }

    /// Sends a signed epicrisis back (FHIR only: a database source is read-only).
    pub async fn send_document(
        &self,
        doc: &fhir::OutgoingDocument,
    ) -> Result<fhir::Sent, SourceError> {
        match self {
            Source::Fhir(s) => s.send_document(doc).await,
            Source::Sql(_) => Err(SourceError::Setting {
                setting: settings::SOURCE,
                message: "la fuente es una base de datos, de solo lectura: solo un servidor FHIR \
                          (EPICRISIS_SOURCE=fhir) recibe las epicrisis firmadas"
                    .into(),
            }),
        }
    }

    /// Where it reads from, for messages: no credentials.
    pub fn describe(&self) -> String {
        match self {
            Source::Fhir(s) => s.describe(),
            Source::Sql(s) => s.describe(),
        }
    }
}
