//! FHIR R4 REST client: the discharged Encounters since a date, and each one's resources
//! gathered into one `collection` Bundle that `epicrisis-ingest` reads like any other.
//!
//! - Listing: `Encounter?status=finished&date=ge<since>&_count=<page_size>`, following the
//!   Bundle's `next` links; servers differ on what `date=ge` matches for a period (its end,
//!   or any overlap), so an encounter whose `period.end` is before `since` is dropped here.
//!   Oldest discharge first.
//! - One episode: `Encounter/{id}`, its subject `Patient`, then one search per kind by
//!   encounter (`Condition`, `Procedure`, `MedicationStatement` and
//!   `MedicationAdministration` by `context`, `MedicationRequest`, `Observation`,
//!   `DocumentReference`), the Conditions that `Encounter.diagnosis` names and no search
//!   returned, the `Medication`s that drug resources reference, and the patient's
//!   `AllergyIntolerance`s; or, with [`FhirConfig::everything`], one
//!   `Encounter/{id}/$everything`. Text attachments given by `url` (a `Binary` on the same
//!   server) are fetched and inlined as base64 `data`, since the reader reads `data` only.
//! - Authentication ([`FhirAuth`]): none, a fixed bearer token, or OAuth2
//!   client_credentials (HTTP Basic first, then the credentials in the form; the token is
//!   kept until shortly before it expires and renewed once on a 401).
//! - Every request has the configured timeout and is retried ([`Retry`]) on connection
//!   errors, timeouts, 429 and 5xx, waiting what `Retry-After` asks (bounded).
//!
//! Nothing is logged. Errors name the setting to look at, the HTTP status and the
//! `OperationOutcome.issue[].code`s, never a body's text (it may hold patient data) nor a
//! credential. Links and attachment URLs are followed only on the configured server's
//! origin, so a token is never sent elsewhere.

mod auth;
mod bundle;
mod client;
mod gather;
mod send;

pub use send::{OutgoingDocument, Sent, VERSION_SYSTEM};

use crate::{Discharge, Fetched, Retry, Secret, Since, SourceError, settings};
use std::time::Duration;

/// How to authenticate to the FHIR server.
#[derive(Debug, Clone)]
pub enum FhirAuth {
    None,
    /// A fixed bearer token.
    Bearer(Secret),
    /// OAuth2 client credentials: a token from `token_url`, renewed before it expires.
    ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: Secret,
        scope: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct FhirConfig {
    /// The server's base, e.g. `https://fhir.hospital.cl/fhir/R4` (no trailing slash
    /// needed).
    pub base_url: String,
    pub auth: FhirAuth,
    /// Read an encounter with `Encounter/{id}/$everything` instead of one search per kind.
    pub everything: bool,
    /// The limit on each request (connection, answer and body).
    pub timeout: Duration,
    pub retry: Retry,
}

impl FhirConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// A configuration with the defaults: per-kind searches, a 30 s timeout, the default
    /// [`Retry`].
    pub fn new(base_url: impl Into<String>, auth: FhirAuth) -> FhirConfig {
        FhirConfig {
            base_url: base_url.into(),
            auth,
            everything: false,
            timeout: FhirConfig::DEFAULT_TIMEOUT,
            retry: Retry::default(),
        }
    }
}

/// A FHIR R4 server as a source of episodes.
pub struct FhirSource {
    /// Boxed: the HTTP client, base URL and credentials are large, and [`crate::Source`]
    /// holds this or an SQL source.
    http: Box<client::Http>,
    everything: bool,
    /// [`FhirSource::describe`], made once.
    description: String,
}

impl FhirSource {
    pub const DEFAULT_PAGE_SIZE: u32 = 50;
    pub const DEFAULT_MAX_PAGES: u32 = 1000;

    /// Checks the configuration (URLs, credentials that can travel in a header) and
    /// prepares the HTTP client; connects to nothing yet.
    pub fn new(config: FhirConfig) -> Result<FhirSource, SourceError> {
        if config.timeout.is_zero() {
            return Err(SourceError::Setting {
                setting: settings::TIMEOUT,
                message: "el plazo de espera debe ser mayor que cero".into(),
            });
        }
        let http = Box::new(client::Http::new(&config)?);
        let auth = match &config.auth {
            FhirAuth::None => "sin autenticación".to_string(),
            FhirAuth::Bearer(_) => "token fijo".to_string(),
            FhirAuth::ClientCredentials { client_id, .. } => {
                format!("OAuth2 client credentials, cliente «{}»", client_id.trim())
            }
        };
        let everything = if config.everything {
            ", Encounter/$everything"
        } else {
            ""
        };
        let description = format!("FHIR {} ({auth}{everything})", http.base_text());
        Ok(FhirSource {
            http,
            everything: config.everything,
            description,
        })
    }

    /// Entries asked per page of a search (`_count`), 1 to 1000; default
    /// [`FhirSource::DEFAULT_PAGE_SIZE`].
    pub fn with_page_size(mut self, entries: u32) -> FhirSource {
        self.http.page_size = entries.clamp(1, 1000);
        self
    }

    /// The most pages one search may take before the source gives up (a server whose
    /// `next` links never end); default [`FhirSource::DEFAULT_MAX_PAGES`].
    pub fn with_max_pages(mut self, pages: u32) -> FhirSource {
        self.http.max_pages = pages.max(1);
        self
    }

    /// Sends a signed epicrisis to the server as a `DocumentReference` (see `send.rs`).
    pub async fn send_document(&self, doc: &OutgoingDocument) -> Result<Sent, SourceError> {
        send::send(&self.http, doc).await
    }

    /// The encounters discharged on or after `since`, oldest discharge first.
    pub async fn discharged_since(&self, since: Since) -> Result<Vec<Discharge>, SourceError> {
        gather::discharges(&self.http, since).await
    }

    /// One encounter's resources as a FHIR `collection` Bundle (Encounter first, then the
    /// Patient, then the rest), with counts by resource type as its summary.
    pub async fn episode(&self, id: &str) -> Result<Fetched, SourceError> {
        gather::episode(&self.http, id, self.everything).await
    }

    /// Where it reads from and how it authenticates, for messages: no credentials.
    pub fn describe(&self) -> String {
        self.description.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str, auth: FhirAuth) -> FhirConfig {
        FhirConfig::new(base, auth)
    }

    #[test]
    fn the_base_url_is_normalised_and_checked() {
        let s = FhirSource::new(config(
            " https://fhir.example.cl/fhir/R4// ",
            FhirAuth::None,
        ));
        assert_eq!(
            s.unwrap().describe(),
            "FHIR https://fhir.example.cl/fhir/R4 (sin autenticación)"
        );
        for bad in [
            "fhir.example.cl/R4",
            "ftp://fhir.example.cl/R4",
            "https://fhir.example.cl/R4?x=1",
        ] {
            let e = FhirSource::new(config(bad, FhirAuth::None)).err().unwrap();
            assert!(
                matches!(e, SourceError::Setting { setting, .. } if setting == settings::FHIR_URL),
                "{bad}: {e}"
            );
        }
        let e = FhirSource::new(config(
            "https://ana:clave@fhir.example.cl/R4",
            FhirAuth::None,
        ))
        .err()
        .unwrap();
        assert!(!e.to_string().contains("clave"), "{e}");
    }

    #[test]
    fn credentials_are_checked_and_never_described() {
        let bearer = FhirAuth::Bearer(Secret::new("tok-1234567890"));
        let s = FhirSource::new(config("http://127.0.0.1:9/fhir", bearer)).unwrap();
        assert!(!s.describe().contains("tok-"), "{}", s.describe());
        let bad = FhirAuth::Bearer(Secret::new("línea\nnueva"));
        let e = FhirSource::new(config("http://127.0.0.1:9/fhir", bad))
            .err()
            .unwrap();
        assert!(
            matches!(&e, SourceError::Setting { setting, .. } if *setting == settings::FHIR_TOKEN_FILE),
            "{e}"
        );
        assert!(!e.to_string().contains("nueva"), "{e}");
        let cc = FhirAuth::ClientCredentials {
            token_url: "no es url".into(),
            client_id: "epicrisis".into(),
            client_secret: Secret::new("s3creto"),
            scope: None,
        };
        let e = FhirSource::new(config("http://127.0.0.1:9/fhir", cc))
            .err()
            .unwrap();
        assert!(
            matches!(&e, SourceError::Setting { setting, .. } if *setting == settings::FHIR_TOKEN_URL),
            "{e}"
        );
    }

    #[test]
    fn the_futures_can_move_between_threads() {
        fn send<T: Send>(_: &T) {}
        let s = FhirSource::new(config("http://127.0.0.1:9/fhir", FhirAuth::None)).unwrap();
        send(&s.episode("x"));
        send(&s.discharged_since(Since::parse("2025-01-01").unwrap()));
    }
}
