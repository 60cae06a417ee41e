//! The downloader: a model's files from the Hugging Face hub (or a mirror with the same
//! layout) into the models folder, resumable, retried, verified, and put in place
//! atomically.
//!
//! For each file: `{endpoint}/{repo}/resolve/{revision}/{path}` is fetched into
//! `<file>.part` next to its final place. An existing `.part` is resumed with
//! `Range: bytes=N-` (a server that ignores the range and answers 200 makes it start from
//! zero; a 416 for a complete `.part` means it is done). Timeouts, dropped connections,
//! 408, 429 and 5xx are retried with exponential backoff, keeping the bytes received; 401
//! and 403 (gated model, bad token) and 404 are not. When the transfer ends the size is
//! checked against `Content-Length`/`Content-Range` and the pin, and the sha256 against
//! the pin (catalogue) or against the hash recorded in `manifest.json` at the first
//! install; a mismatch deletes the `.part` and installs nothing. Only then is the file
//! synced and renamed into place and the manifest updated. A file already installed whose
//! size and sha256 check out is not fetched again.
//!
//! Redirects are followed (the hub sends large files to a CDN on another host); reqwest
//! drops the `Authorization` header on a redirect to another host or port, so the token
//! only ever goes to the configured endpoint.

mod disk;
mod fetch;
mod http;
mod hub;
mod install;
mod plan;
mod transfer;

use std::path::Path;

use reqwest::blocking::Client;
use reqwest::header::HeaderValue;

use crate::catalogue::ModelSpec;
use crate::error::{ModelsError, Result};
use crate::store::ModelsDir;

pub use disk::free_space;
pub use hub::{DEFAULT_ENDPOINT, HubConfig};
pub use install::{InstallOutcome, install};
pub use plan::{Plan, PlannedFile, plan};

type FreeSpaceFn = dyn Fn(&Path) -> std::io::Result<u64> + Send + Sync;

/// An HTTP client set up for the hub.
pub struct Downloader {
    config: HubConfig,
    client: Client,
    auth: Option<HeaderValue>,
    free_space: Box<FreeSpaceFn>,
}

impl std::fmt::Debug for Downloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downloader")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Downloader {
    pub fn new(config: HubConfig) -> Result<Self> {
        config.check()?;
        let auth = match &config.token {
            Some(t) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                    ModelsError::Invalid(
                        "HF_TOKEN contiene caracteres que no pueden ir en un encabezado HTTP; copie el token de nuevo desde la configuración de su cuenta de Hugging Face (Access Tokens)".to_string(),
                    )
                })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let client = Client::builder()
            .connect_timeout(config.connect_timeout)
            // In the blocking client this bounds the wait for the response and for each
            // read of the body: a stalled transfer fails instead of hanging.
            .timeout(config.read_timeout)
            .user_agent(concat!("epicrisis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ModelsError::Client(e.to_string()))?;
        Ok(Downloader {
            config,
            client,
            auth,
            free_space: Box::new(free_space),
        })
    }

    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// Replaces the free-space probe (for tests, or file systems where statvfs lies).
    pub fn with_free_space(
        mut self,
        f: impl Fn(&Path) -> std::io::Result<u64> + Send + Sync + 'static,
    ) -> Self {
        self.free_space = Box::new(f);
        self
    }

    /// What installing `spec` (`quant`: an LLM's quantization, `None` for Q4_K_M) involves.
    pub fn plan(&self, dir: &ModelsDir, spec: &ModelSpec, quant: Option<&str>) -> Result<Plan> {
        plan(dir, spec, quant, &self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_never_shown() {
        let c = HubConfig::new(None, Some("hf_secretsecret"));
        let d = format!("{c:?}");
        assert!(!d.contains("hf_secret"), "{d}");
        let dl = Downloader::new(c).unwrap();
        assert!(!format!("{dl:?}").contains("hf_secret"));
        let e = Downloader::new(HubConfig::new(None, Some("bad\ntoken")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("HF_TOKEN") && !e.contains("bad"), "{e}");
    }
}
