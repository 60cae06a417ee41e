//! One HTTP request to the hub and what its answer means: `Range` and `Authorization`
//! headers, `Content-Range`, which failures are worth retrying, and their messages.

use reqwest::StatusCode;
use reqwest::blocking::Response;
use reqwest::header::{AUTHORIZATION, RANGE};

use super::{Downloader, HubConfig, PlannedFile};
use crate::error::ModelsError;

/// Why an attempt failed.
pub(super) enum Failure {
    /// Worth retrying (timeouts, dropped connections, 5xx); the reason is for the user.
    Transient(String),
    Fatal(ModelsError),
}

impl From<ModelsError> for Failure {
    fn from(e: ModelsError) -> Self {
        Failure::Fatal(e)
    }
}

/// `bytes START-END/TOTAL` or `bytes */TOTAL` → (start, total).
pub(super) fn parse_content_range(v: &str) -> (Option<u64>, Option<u64>) {
    let v = v.trim();
    let Some(rest) = v.strip_prefix("bytes") else {
        return (None, None);
    };
    let rest = rest.trim();
    let (range, total) = rest.split_once('/').unwrap_or((rest, "*"));
    let total = total.trim().parse().ok();
    let start = range
        .split_once('-')
        .and_then(|(s, _)| s.trim().parse().ok());
    (start, total)
}

fn describe(e: &reqwest::Error, cfg: &HubConfig) -> String {
    if e.is_timeout() {
        return format!(
            "sin respuesta en {} s (se agotó el tiempo de espera)",
            cfg.read_timeout.as_secs_f64()
        );
    }
    let mut s = if e.is_connect() {
        "no se pudo conectar".to_string()
    } else {
        "falló la conexión".to_string()
    };
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

pub(super) fn describe_io(e: &std::io::Error) -> String {
    let mut s = format!("la conexión se cortó durante la transferencia: {e}");
    let mut src = e.get_ref().and_then(|i| i.source());
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// What a status with no body worth keeping means: 401 and 403 (gated model, bad token)
/// and 404 are fatal; 408, 429 and 5xx are worth retrying; anything else is fatal.
pub(super) fn refusal(status: StatusCode, f: &PlannedFile, repo: &str) -> Failure {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Failure::Fatal(ModelsError::Unauthorized {
                url: f.url.clone(),
                status: status.as_u16(),
                repo: repo.to_string(),
            })
        }
        StatusCode::NOT_FOUND => Failure::Fatal(ModelsError::NotFound { url: f.url.clone() }),
        s if s.is_server_error()
            || s == StatusCode::REQUEST_TIMEOUT
            || s == StatusCode::TOO_MANY_REQUESTS =>
        {
            Failure::Transient(format!("el servidor respondió HTTP {s}"))
        }
        s => {
            let detail = s
                .canonical_reason()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            Failure::Fatal(ModelsError::Http {
                url: f.url.clone(),
                status: s.as_u16(),
                detail,
            })
        }
    }
}

impl Downloader {
    pub(super) fn get(&self, url: &str, offset: u64) -> std::result::Result<Response, Failure> {
        let mut req = self.client.get(url);
        if offset > 0 {
            req = req.header(RANGE, format!("bytes={offset}-"));
        }
        if let Some(a) = &self.auth {
            req = req.header(AUTHORIZATION, a.clone());
        }
        req.send().map_err(|e| {
            if e.is_builder() {
                Failure::Fatal(ModelsError::Invalid(format!(
                    "{url}: no se puede hacer una solicitud a esta URL ({e}); revise --mirror o HF_ENDPOINT"
                )))
            } else {
                Failure::Transient(describe(&e, &self.config))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_read() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            (Some(100), Some(200))
        );
        assert_eq!(parse_content_range("bytes */200"), (None, Some(200)));
        assert_eq!(parse_content_range("bytes 0-9/*"), (Some(0), None));
        assert_eq!(parse_content_range("items 1-2/3"), (None, None));
    }
}
