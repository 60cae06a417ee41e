//! Where episodes come from besides files (see `epicrisis_sources` and docs/sources.md):
//!
//! - `EPICRISIS_SOURCE`: `fhir` or `sql` (unset: no source; files and uploads only).
//! - FHIR: `EPICRISIS_SOURCE_FHIR_URL`, and for authentication either
//!   `EPICRISIS_SOURCE_FHIR_TOKEN_FILE` (a bearer token) or OAuth2 client credentials
//!   (`…_CLIENT_ID`, `…_CLIENT_SECRET_FILE`, `…_TOKEN_URL`, `…_SCOPE`);
//!   `EPICRISIS_SOURCE_FHIR_EVERYTHING` reads an encounter with `$everything`.
//! - SQL: `EPICRISIS_SOURCE_SQL_URL`, `EPICRISIS_SOURCE_SQL_EPISODE` (the query that returns
//!   one episode's JSON) or `EPICRISIS_SOURCE_SQL_MAPPING` (a file of queries whose
//!   columns are mapped to the rich format's fields), `EPICRISIS_SOURCE_SQL_DISCHARGES` (the
//!   query that lists the discharges since a date).
//! - Both: `EPICRISIS_SOURCE_TIMEOUT_SECONDS` (30), `EPICRISIS_SOURCE_RETRIES` (3).
//! - `EPICRISIS_MLLP_LISTEN`: where `serve` listens for HL7 v2 discharge messages.
//! - `EPICRISIS_PULL_EVERY_MINUTES`: `serve` pulls the discharges of the last
//!   `EPICRISIS_PULL_DAYS` days (1) this often and drafts them, on behalf of the physician
//!   account `EPICRISIS_PULL_AS` (also what HL7 discharges are drafted for).
//!
//! Secrets are read from files (a token in an environment variable ends up in process
//! listings and crash reports); a file that cannot be read is an error naming its setting.

use super::{Failure, Raw};
use epicrisis_sources::fhir::{FhirAuth, FhirConfig};
use epicrisis_sources::settings as names;
use epicrisis_sources::sql::{EpisodeQuery, Mapping, SqlConfig};
use epicrisis_sources::{Retry, Secret, SourceConfig};
use std::net::SocketAddr;
use std::time::Duration;

/// The source settings, validated.
#[derive(Debug, Clone, Default)]
pub struct SourceSettings {
    pub source: Option<SourceConfig>,
    pub mllp_listen: Option<SocketAddr>,
    /// How often `serve` pulls; `None`: never.
    pub pull_every: Option<Duration>,
    /// How many days back a scheduled pull looks (today included).
    pub pull_days: u32,
    /// The physician account drafts from sources are asked for by.
    pub pull_as: Option<String>,
}

impl SourceSettings {
    pub(super) fn from_raw(raw: &Raw) -> Result<SourceSettings, Failure> {
        let timeout = Duration::from_secs(u64::from(
            raw.parse::<u32>(
                names::TIMEOUT,
                "un número de segundos entre 1 y 600",
                |v| (1..=600).contains(v),
            )?
            .unwrap_or(30),
        ));
        let retry = Retry {
            retries: raw
                .parse::<u32>(names::RETRIES, "un número entre 0 y 10", |v| *v <= 10)?
                .unwrap_or(3),
            ..Retry::default()
        };
        let source = match raw.string(names::SOURCE).map(|v| v.to_ascii_lowercase()) {
            None => None,
            Some(v) if v == "fhir" => Some(SourceConfig::Fhir(fhir(raw, timeout, retry)?)),
            Some(v) if v == "sql" => Some(SourceConfig::Sql(sql(raw, timeout, retry)?)),
            Some(_) => return Err(raw.bad(names::SOURCE, "fhir o sql")),
        };
        let mllp_listen = match raw.string(names::MLLP_LISTEN) {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| {
                raw.bad(
                    names::MLLP_LISTEN,
                    "una dirección y un puerto, como 0.0.0.0:2575",
                )
            })?),
        };
        let pull_every = raw
            .parse::<u32>(
                "EPICRISIS_PULL_EVERY_MINUTES",
                "un número de minutos entre 5 y 1440",
                |v| (5..=1440).contains(v),
            )?
            .map(|m| Duration::from_secs(u64::from(m) * 60));
        let pull_days = raw
            .parse::<u32>(
                "EPICRISIS_PULL_DAYS",
                "un número de días entre 1 y 31",
                |v| (1..=31).contains(v),
            )?
            .unwrap_or(1);
        let pull_as = raw.string("EPICRISIS_PULL_AS");
        let settings = SourceSettings {
            source,
            mllp_listen,
            pull_every,
            pull_days,
            pull_as,
        };
        settings.check_needs(raw)?;
        Ok(settings)
    }

    /// A schedule or a listener needs a source and an account.
    fn check_needs(&self, raw: &Raw) -> Result<(), Failure> {
        for (key, set) in [
            ("EPICRISIS_PULL_EVERY_MINUTES", self.pull_every.is_some()),
            (names::MLLP_LISTEN, self.mllp_listen.is_some()),
        ] {
            if !set {
                continue;
            }
            if self.source.is_none() {
                return Err(Failure::Input(format!(
                    "{}: necesita una fuente de episodios; defina {} (fhir o sql)",
                    raw.name_of(key),
                    names::SOURCE
                )));
            }
            if self.pull_as.is_none() {
                return Err(Failure::Input(format!(
                    "{}: necesita EPICRISIS_PULL_AS, la cuenta de médico a cuyo nombre se piden \
                     los borradores (queda en la auditoría)",
                    raw.name_of(key)
                )));
            }
        }
        Ok(())
    }
}

fn required(raw: &Raw, key: &'static str, what: &str) -> Result<String, Failure> {
    raw.string(key).ok_or_else(|| {
        Failure::Input(format!(
            "{}={}: falta {key}, {what}",
            names::SOURCE,
            raw.string(names::SOURCE).unwrap_or_default()
        ))
    })
}

/// A secret read from the file a setting names.
fn secret_file(raw: &Raw, key: &'static str) -> Result<Option<Secret>, Failure> {
    let Some(path) = raw.string(key) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::Input(format!(
            "{}: no se pudo leer el archivo {path}: {e} (debe existir y ser legible por el \
             usuario del servicio)",
            raw.name_of(key)
        ))
    })?;
    let value = text.trim();
    if value.is_empty() {
        return Err(Failure::Input(format!(
            "{}: el archivo {path} está vacío",
            raw.name_of(key)
        )));
    }
    Ok(Some(Secret::new(value)))
}

fn fhir(raw: &Raw, timeout: Duration, retry: Retry) -> Result<FhirConfig, Failure> {
    let base_url = required(raw, names::FHIR_URL, "la URL base del servidor FHIR R4")?;
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(raw.bad(names::FHIR_URL, "una URL http:// o https://"));
    }
    let token = secret_file(raw, names::FHIR_TOKEN_FILE)?;
    let client_id = raw.string(names::FHIR_CLIENT_ID);
    let auth = match (token, client_id) {
        (Some(_), Some(_)) => {
            return Err(Failure::Input(format!(
                "{} y {}: use uno de los dos (un token fijo, o credenciales de cliente OAuth2)",
                raw.name_of(names::FHIR_TOKEN_FILE),
                raw.name_of(names::FHIR_CLIENT_ID)
            )));
        }
        (Some(t), None) => FhirAuth::Bearer(t),
        (None, Some(client_id)) => FhirAuth::ClientCredentials {
            token_url: required(
                raw,
                names::FHIR_TOKEN_URL,
                "la URL de tokens del servidor de autorización (OAuth2)",
            )?,
            client_id,
            client_secret: secret_file(raw, names::FHIR_CLIENT_SECRET_FILE)?.ok_or_else(|| {
                Failure::Input(format!(
                    "{}: falta {}, el archivo con el secreto del cliente",
                    raw.name_of(names::FHIR_CLIENT_ID),
                    names::FHIR_CLIENT_SECRET_FILE
                ))
            })?,
            scope: raw.string(names::FHIR_SCOPE),
        },
        (None, None) => FhirAuth::None,
    };
    Ok(FhirConfig {
        base_url: base_url.trim_end_matches('/').to_string(),
        auth,
        everything: super::settings::bool_value(raw, names::FHIR_EVERYTHING)?,
        timeout,
        retry,
    })
}

fn sql(raw: &Raw, timeout: Duration, retry: Retry) -> Result<SqlConfig, Failure> {
    let url = required(
        raw,
        names::SQL_URL,
        "la dirección de la base de datos (postgres://… o mysql://…), de una cuenta de solo lectura",
    )?;
    if !["postgres://", "postgresql://", "mysql://", "mariadb://"]
        .iter()
        .any(|p| url.starts_with(p))
    {
        return Err(raw.bad(
            names::SQL_URL,
            "postgres://usuario:clave@servidor/base o mysql://usuario:clave@servidor/base",
        ));
    }
    Ok(SqlConfig {
        url: Secret::new(url),
        episode: episode_query(raw)?,
        discharges_query: raw.string(names::SQL_DISCHARGES),
        timeout,
        retry,
    })
}

/// `EPICRISIS_SOURCE_SQL_EPISODE` (a query returning JSON) or `EPICRISIS_SOURCE_SQL_MAPPING`
/// (a file of mapped queries): exactly one.
fn episode_query(raw: &Raw) -> Result<EpisodeQuery, Failure> {
    match (
        raw.string(names::SQL_EPISODE),
        raw.string(names::SQL_MAPPING),
    ) {
        (Some(q), None) => Ok(EpisodeQuery::Json(q)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Failure::Input(format!(
                    "{}: no se pudo leer el archivo {path}: {e}",
                    raw.name_of(names::SQL_MAPPING)
                ))
            })?;
            let mapping = Mapping::parse(&text).map_err(|e| {
                Failure::Input(format!(
                    "{}: el archivo {path} no es un mapeo válido: {e} (docs/sources.md)",
                    raw.name_of(names::SQL_MAPPING)
                ))
            })?;
            Ok(EpisodeQuery::Mapped(mapping))
        }
        (Some(_), Some(_)) => Err(Failure::Input(format!(
            "{} y {}: use uno de los dos (una consulta que devuelve el JSON del episodio, o un \
             archivo de mapeo de columnas)",
            raw.name_of(names::SQL_EPISODE),
            raw.name_of(names::SQL_MAPPING)
        ))),
        (None, None) => Err(Failure::Input(format!(
            "{}=sql: falta {} (la consulta que devuelve el JSON de un episodio dado su número, \
             por ejemplo SELECT get_discharge_summary_json($1)) o {} (un archivo de mapeo de \
             columnas)",
            names::SOURCE,
            names::SQL_EPISODE,
            names::SQL_MAPPING
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<SourceSettings, Failure> {
        SourceSettings::from_raw(&Raw::from_pairs(pairs))
    }

    fn message(r: Result<SourceSettings, Failure>) -> String {
        match r {
            Err(Failure::Input(m)) => m,
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    #[test]
    fn no_source_by_default() {
        let s = settings(&[]).unwrap();
        assert!(s.source.is_none() && s.mllp_listen.is_none() && s.pull_every.is_none());
    }

    #[test]
    fn sql_needs_its_url_and_query() {
        let m = message(settings(&[("EPICRISIS_SOURCE", "sql")]));
        assert!(m.contains("EPICRISIS_SOURCE_SQL_URL"), "{m}");
        let m = message(settings(&[
            ("EPICRISIS_SOURCE", "sql"),
            ("EPICRISIS_SOURCE_SQL_URL", "oracle://x@y/z"),
        ]));
        assert!(
            m.contains("EPICRISIS_SOURCE_SQL_URL") && m.contains("mysql://"),
            "{m}"
        );
        let s = settings(&[
            ("EPICRISIS_SOURCE", "SQL"),
            (
                "EPICRISIS_SOURCE_SQL_URL",
                "postgres://lector:clave@his/his",
            ),
            ("EPICRISIS_SOURCE_SQL_EPISODE", "SELECT f($1)"),
        ])
        .unwrap();
        let Some(SourceConfig::Sql(c)) = s.source else {
            panic!()
        };
        assert!(matches!(&c.episode, EpisodeQuery::Json(q) if q == "SELECT f($1)"));
        assert!(!format!("{c:?}").contains("clave"));
    }

    #[test]
    fn fhir_auth_is_one_or_the_other_and_files_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "abc123\n").unwrap();
        let token = token.to_str().unwrap();
        let base = [
            ("EPICRISIS_SOURCE", "fhir"),
            (
                "EPICRISIS_SOURCE_FHIR_URL",
                "https://fhir.hospital.cl/fhir/R4/",
            ),
        ];
        let s = settings(&[
            base[0],
            base[1],
            ("EPICRISIS_SOURCE_FHIR_TOKEN_FILE", token),
        ])
        .unwrap();
        let Some(SourceConfig::Fhir(c)) = s.source else {
            panic!()
        };
        assert_eq!(c.base_url, "https://fhir.hospital.cl/fhir/R4");
        assert!(matches!(&c.auth, FhirAuth::Bearer(t) if t.expose() == "abc123"));
        let m = message(settings(&[
            base[0],
            base[1],
            ("EPICRISIS_SOURCE_FHIR_TOKEN_FILE", "/no/existe"),
        ]));
        assert!(
            m.contains("EPICRISIS_SOURCE_FHIR_TOKEN_FILE") && m.contains("/no/existe"),
            "{m}"
        );
        let m = message(settings(&[
            base[0],
            base[1],
            ("EPICRISIS_SOURCE_FHIR_TOKEN_FILE", token),
            ("EPICRISIS_SOURCE_FHIR_CLIENT_ID", "epicrisis"),
        ]));
        assert!(m.contains("uno de los dos"), "{m}");
        let m = message(settings(&[
            base[0],
            base[1],
            ("EPICRISIS_SOURCE_FHIR_CLIENT_ID", "epicrisis"),
            ("EPICRISIS_SOURCE_FHIR_TOKEN_URL", "https://auth/token"),
        ]));
        assert!(
            m.contains("EPICRISIS_SOURCE_FHIR_CLIENT_SECRET_FILE"),
            "{m}"
        );
    }

    #[test]
    fn a_schedule_or_listener_needs_a_source_and_an_account() {
        let m = message(settings(&[("EPICRISIS_MLLP_LISTEN", "127.0.0.1:2575")]));
        assert!(m.contains("EPICRISIS_SOURCE"), "{m}");
        let m = message(settings(&[
            ("EPICRISIS_SOURCE", "fhir"),
            ("EPICRISIS_SOURCE_FHIR_URL", "http://127.0.0.1:8080/fhir"),
            ("EPICRISIS_PULL_EVERY_MINUTES", "60"),
        ]));
        assert!(m.contains("EPICRISIS_PULL_AS"), "{m}");
        let m = message(settings(&[("EPICRISIS_PULL_EVERY_MINUTES", "1")]));
        assert!(m.contains("entre 5 y 1440"), "{m}");
        let m = message(settings(&[("EPICRISIS_MLLP_LISTEN", "2575")]));
        assert!(m.contains("0.0.0.0:2575"), "{m}");
    }
}
