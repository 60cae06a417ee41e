//! Where and how to download: the hub's address (or a mirror's), the token, timeouts,
//! retries and the free-space margin, and the URL of a file on the hub.

use std::time::Duration;

use crate::error::{ModelsError, Result};

/// The Hugging Face hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where and how to download. The binary fills it from `--mirror`/`HF_ENDPOINT` and
/// `HF_TOKEN`; the library never reads the environment.
#[derive(Clone)]
pub struct HubConfig {
    /// Base URL of the hub or of a mirror with its layout (`https://hf-mirror.com`).
    pub endpoint: String,
    /// Access token for gated models, sent as `Authorization: Bearer …` to the endpoint
    /// only. Never printed (see the `Debug` impl) nor put in an error.
    pub token: Option<String>,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Limit for waiting for the response or for the next bytes of the body.
    pub read_timeout: Duration,
    /// Retries after the first attempt of a file (timeouts, dropped connections, 5xx).
    pub retries: u32,
    /// Wait before the first retry; doubled at each further retry, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Free space to leave on the disk beyond the download itself.
    pub space_margin: u64,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            token: None,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            retries: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            space_margin: 100_000_000,
        }
    }
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<set, not shown>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("max_backoff", &self.max_backoff)
            .field("space_margin", &self.space_margin)
            .finish()
    }
}

impl HubConfig {
    /// The defaults with an endpoint (`--mirror` or `HF_ENDPOINT`) and a token
    /// (`HF_TOKEN`); blank values count as absent.
    pub fn new(endpoint: Option<&str>, token: Option<&str>) -> Self {
        let given = |s: &&str| !s.trim().is_empty();
        HubConfig {
            endpoint: endpoint
                .filter(given)
                .map(|e| e.trim().trim_end_matches('/').to_string())
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string()),
            token: token.filter(given).map(|t| t.trim().to_string()),
            ..HubConfig::default()
        }
    }

    fn base(&self) -> &str {
        self.endpoint.trim_end_matches('/')
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{path}`.
    pub fn file_url(&self, repo: &str, revision: &str, path: &str) -> String {
        format!("{}/{repo}/resolve/{revision}/{path}", self.base())
    }

    /// Checks the endpoint is an http(s) URL.
    pub fn check(&self) -> Result<()> {
        let e = self.base();
        let ok = (e.starts_with("https://") || e.starts_with("http://"))
            && reqwest::Url::parse(e).is_ok_and(|u| u.host_str().is_some());
        if ok {
            Ok(())
        } else {
            Err(ModelsError::Invalid(format!(
                "la dirección de descarga {e:?} (--mirror o HF_ENDPOINT) no es una URL http(s); use, p. ej., https://huggingface.co o https://hf-mirror.com"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_hub_layout() {
        let c = HubConfig::new(Some("https://hf-mirror.com/ "), Some("  "));
        assert_eq!(
            c.file_url("Qwen/X-GGUF", "main", "x-q4_k_m.gguf"),
            "https://hf-mirror.com/Qwen/X-GGUF/resolve/main/x-q4_k_m.gguf"
        );
        assert!(c.token.is_none());
        assert_eq!(HubConfig::new(None, None).endpoint, DEFAULT_ENDPOINT);
        assert!(HubConfig::new(Some("hf-mirror.com"), None).check().is_err());
        assert!(c.check().is_ok());
    }
}
