//! Logs and metrics (issue 22): how the program reports on itself.
//!
//! - `EPICRISIS_LOG`: which events are written, as `RUST_LOG`-style directives without
//!   span or field filters: a level (`error`, `warn`, `info`, `debug`, `trace`, `off`)
//!   and `target=level` pairs, comma-separated; default [`DEFAULT_FILTER`]. llama.cpp's
//!   events are always off (they may carry prompt text).
//! - `EPICRISIS_LOG_FORMAT`: `text` (default: one line per event) or `json` (one JSON
//!   object per line, for the hospital's log collector).
//! - `EPICRISIS_METRICS_LISTEN`: a separate address for `/metrics` (a port alone means
//!   loopback, `127.0.0.1:PORT`); `serve` also answers `/metrics` on its own port with
//!   a token, and `epicrisis worker` only here. An address other than loopback needs
//!   the token file: the metrics carry no patient data, but the load and the engine are
//!   nobody else's business.
//! - `EPICRISIS_METRICS_TOKEN_FILE`: a file holding the token a scraper sends
//!   (`Authorization: Bearer …`), read when the server starts.

use super::{Raw, Secret};
use crate::Failure;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use tracing_subscriber::filter::Targets;

/// Our crates at `info`, everything else (sqlx, hyper…) at `warn`.
pub const DEFAULT_FILTER: &str = "warn,epicrisis=info";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The logs' settings, read first by the binary ([`crate::logging`]).
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: Targets,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            filter: Targets::from_str(DEFAULT_FILTER).unwrap_or_default(),
        }
    }
}

impl LogSettings {
    pub fn from_raw(raw: &Raw) -> Result<LogSettings, Failure> {
        let format = match raw
            .string("EPICRISIS_LOG_FORMAT")
            .map(|v| v.to_ascii_lowercase())
        {
            None => LogFormat::Text,
            Some(v) if v == "text" => LogFormat::Text,
            Some(v) if v == "json" => LogFormat::Json,
            Some(_) => return Err(raw.bad("EPICRISIS_LOG_FORMAT", "text o json")),
        };
        let filter = match raw.string("EPICRISIS_LOG") {
            None => Targets::from_str(DEFAULT_FILTER).unwrap_or_default(),
            Some(v) => Targets::from_str(&v).map_err(|_| {
                raw.bad(
                    "EPICRISIS_LOG",
                    "un nivel (error, warn, info, debug, trace u off) o pares destino=nivel \
                     separados por comas, como warn,epicrisis=debug",
                )
            })?,
        };
        Ok(LogSettings { format, filter })
    }
}

/// Logs and metrics.
#[derive(Debug, Clone, Default)]
pub struct ObservabilitySettings {
    pub logs: LogSettings,
    /// `EPICRISIS_METRICS_LISTEN`.
    pub metrics_listen: Option<SocketAddr>,
    /// `EPICRISIS_METRICS_TOKEN_FILE`.
    pub metrics_token_file: Option<PathBuf>,
}

impl ObservabilitySettings {
    pub(super) fn from_raw(raw: &Raw) -> Result<ObservabilitySettings, Failure> {
        let key = "EPICRISIS_METRICS_LISTEN";
        let metrics_listen = match raw.string(key) {
            None => None,
            Some(v) => Some(match v.parse::<u16>() {
                Ok(port) => SocketAddr::from(([127, 0, 0, 1], port)),
                Err(_) => v.parse::<SocketAddr>().map_err(|_| {
                    raw.bad(
                        key,
                        "un puerto (se escucha en 127.0.0.1) o una dirección y un puerto, \
                         como 127.0.0.1:9464",
                    )
                })?,
            }),
        };
        let metrics_token_file = raw
            .string("EPICRISIS_METRICS_TOKEN_FILE")
            .map(PathBuf::from);
        if metrics_listen.is_some_and(|a| !a.ip().is_loopback()) && metrics_token_file.is_none() {
            return Err(raw.bad(
                key,
                "una dirección de loopback (127.0.0.1:PUERTO); para publicar las métricas \
                 en la red defina también EPICRISIS_METRICS_TOKEN_FILE (el token que envía \
                 Prometheus)",
            ));
        }
        Ok(ObservabilitySettings {
            logs: LogSettings::from_raw(raw)?,
            metrics_listen,
            metrics_token_file,
        })
    }

    /// The metrics token, read from its file: at least 16 visible characters (spaces
    /// and line feeds around it are trimmed).
    pub fn metrics_token(&self) -> Result<Option<Secret>, Failure> {
        let Some(path) = &self.metrics_token_file else {
            return Ok(None);
        };
        let named = || format!("EPICRISIS_METRICS_TOKEN_FILE={}", path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Input(format!("{}: no se pudo leer: {e}", named())))?;
        let token = text.trim();
        if token.chars().count() < 16 || !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Failure::Input(format!(
                "{}: el archivo debe contener un token de al menos 16 caracteres visibles, \
                 sin espacios (p. ej. `openssl rand -hex 32 > ARCHIVO`)",
                named()
            )));
        }
        Ok(Some(Secret(token.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(pairs: &[(&str, &str)]) -> String {
        match ObservabilitySettings::from_raw(&Raw::from_pairs(pairs)) {
            Err(Failure::Input(m)) => m,
            other => panic!("{pairs:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_text_logs_and_no_metrics_address() {
        let s = ObservabilitySettings::from_raw(&Raw::from_pairs(&[])).unwrap();
        assert_eq!(s.logs.format, LogFormat::Text);
        assert!(s.metrics_listen.is_none() && s.metrics_token_file.is_none());
        assert_eq!(s.metrics_token().unwrap(), None);
    }

    #[test]
    fn settings_are_read_and_bad_values_named() {
        let s = ObservabilitySettings::from_raw(&Raw::from_pairs(&[
            ("EPICRISIS_LOG_FORMAT", "JSON"),
            (
                "EPICRISIS_LOG",
                "warn,epicrisis::requests=off,epicrisis=debug",
            ),
            ("EPICRISIS_METRICS_LISTEN", "9464"),
        ]))
        .unwrap();
        assert_eq!(s.logs.format, LogFormat::Json);
        assert_eq!(
            s.metrics_listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 9464)))
        );
        assert!(err(&[("EPICRISIS_LOG_FORMAT", "xml")]).contains("EPICRISIS_LOG_FORMAT"));
        let m = err(&[("EPICRISIS_LOG", "info,epicrisis=ruidoso")]);
        assert!(
            m.starts_with("EPICRISIS_LOG=") && m.contains("destino=nivel"),
            "{m}"
        );
        let m = err(&[("EPICRISIS_METRICS_LISTEN", "por-ahi")]);
        assert!(
            m.contains("EPICRISIS_METRICS_LISTEN") && m.contains("puerto"),
            "{m}"
        );
    }

    #[test]
    fn metrics_off_loopback_need_a_token_and_the_token_is_checked() {
        let m = err(&[("EPICRISIS_METRICS_LISTEN", "0.0.0.0:9464")]);
        assert!(m.contains("EPICRISIS_METRICS_TOKEN_FILE"), "{m}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        let file_s = file.display().to_string();
        let s = ObservabilitySettings::from_raw(&Raw::from_pairs(&[
            ("EPICRISIS_METRICS_LISTEN", "0.0.0.0:9464"),
            ("EPICRISIS_METRICS_TOKEN_FILE", &file_s),
        ]))
        .unwrap();
        let e = format!("{:?}", s.metrics_token().unwrap_err());
        assert!(e.contains("no se pudo leer"), "{e}");
        std::fs::write(&file, "corto\n").unwrap();
        let e = format!("{:?}", s.metrics_token().unwrap_err());
        assert!(e.contains("16 caracteres") && !e.contains("corto"), "{e}");
        std::fs::write(&file, "0123456789abcdef0123\n").unwrap();
        let t = s.metrics_token().unwrap().unwrap();
        assert_eq!(t.expose(), "0123456789abcdef0123");
    }
}
