//! HTTP for the FHIR source: one [`Transport`] (timeouts, retries, `Retry-After`, a bound
//! on bodies) shared by the FHIR server and the token endpoint, and [`Http`], the FHIR
//! server itself (base URL, URLs on it, credentials, and what its statuses mean).

use super::FhirConfig;
use super::auth::Auth;
use super::bundle::{issue_codes, same_origin};
use crate::{Retry, SourceError, settings};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, Url};
use serde_json::Value;
use std::time::Duration;

/// The largest answer read (a page of a search, a Binary): 32 MiB.
pub(super) const MAX_BODY: usize = 32 * 1024 * 1024;
/// The longest `Retry-After` honoured.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);
pub(super) const FHIR_JSON: &str = "application/fhir+json";

/// A request that builds itself again for every try.
pub(super) type Build<'a> = &'a (dyn Fn() -> RequestBuilder + Send + Sync);

/// Where a request goes, for errors: the setting to look at and the address.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target<'a> {
    pub setting: &'static str,
    pub url: &'a str,
}

/// An answer for the caller to judge (no `Debug`: the body may hold patient data).
pub(super) struct Answer {
    pub status: u16,
    /// The media type, without parameters.
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `HTTP 400 (OperationOutcome: invalid, not-supported)`: the status and the issue
    /// codes, never the body's text.
    pub fn describe(&self) -> String {
        let codes = issue_codes(&self.body);
        if codes.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!(
                "HTTP {} (OperationOutcome: {})",
                self.status,
                codes.join(", ")
            )
        }
    }
}

/// Whether a status is worth another try.
fn busy(status: u16) -> bool {
    status == 429 || (status >= 500 && status != 501 && status != 505)
}

/// What one try gave when it did not give an answer to judge.
enum Attempt {
    /// The connection failed or timed out (detail without URL or body).
    Transport(String),
    /// A busy answer (429, 5xx); after the last try it is judged like any other.
    Busy(Answer),
    /// No use trying again.
    Final(SourceError),
}

impl Attempt {
    fn transient(&self) -> bool {
        matches!(self, Attempt::Transport(_) | Attempt::Busy(_))
    }
}

/// The HTTP client with its limits and retries.
pub(super) struct Transport {
    client: reqwest::Client,
    retry: Retry,
    timeout: Duration,
}

impl Transport {
    fn new(config: &FhirConfig) -> Result<Transport, SourceError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("epicrisis-sources/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError::Setting {
                setting: settings::FHIR_URL,
                message: format!("no se pudo preparar el cliente HTTP: {e}"),
            })?;
        Ok(Transport {
            client,
            retry: config.retry,
            timeout: config.timeout,
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// How many tries a request gets in all.
    pub fn tries(&self) -> u32 {
        self.retry.retries.saturating_add(1)
    }

    /// Sends the request built by `build`, again on connection errors, timeouts and busy
    /// answers; gives back the last answer, whatever its status, or `Unreachable`.
    pub async fn send(&self, build: Build<'_>, target: Target<'_>) -> Result<Answer, SourceError> {
        let mut n = 0u32;
        let out = self
            .retry
            .run(Attempt::transient, || {
                n += 1;
                self.attempt(build, n, target)
            })
            .await;
        match out {
            Ok(answer) | Err(Attempt::Busy(answer)) => Ok(answer),
            Err(Attempt::Final(e)) => Err(e),
            Err(Attempt::Transport(detail)) => Err(SourceError::Unreachable {
                setting: target.setting,
                target: target.url.to_string(),
                detail: format!("{detail} ({n} intento(s))"),
            }),
        }
    }

    /// One try (`n`, 1-based). A busy answer with `Retry-After` waits here for what the
    /// server asked beyond the backoff that [`Retry::run`] waits next.
    async fn attempt(
        &self,
        build: Build<'_>,
        n: u32,
        target: Target<'_>,
    ) -> Result<Answer, Attempt> {
        let resp = build()
            .send()
            .await
            .map_err(|e| Attempt::Transport(self.transport_detail(&e)))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(media_type);
        let retry_after = retry_after(resp.headers());
        let body = self.read_body(resp, target).await?;
        let answer = Answer {
            status,
            content_type,
            body,
        };
        if !busy(status) {
            return Ok(answer);
        }
        if n <= self.retry.retries
            && let Some(asked) = retry_after
        {
            let extra = asked
                .min(RETRY_AFTER_CAP)
                .saturating_sub(self.retry.wait(n));
            tokio::time::sleep(extra).await;
        }
        Err(Attempt::Busy(answer))
    }

    /// The body, refusing one over [`MAX_BODY`].
    async fn read_body(
        &self,
        mut resp: reqwest::Response,
        target: Target<'_>,
    ) -> Result<Vec<u8>, Attempt> {
        let too_large = || {
            Attempt::Final(SourceError::Answer {
                setting: target.setting,
                detail: format!(
                    "la respuesta pesa más de {} MiB; no se leyó",
                    MAX_BODY / (1024 * 1024)
                ),
            })
        };
        if resp.content_length().is_some_and(|l| l > MAX_BODY as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| Attempt::Transport(self.transport_detail(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// What went wrong with the connection, in words, with the innermost cause (an OS
    /// error, a TLS alert) and without the URL.
    fn transport_detail(&self, e: &reqwest::Error) -> String {
        if e.is_timeout() {
            return format!("sin respuesta en {:?}", self.timeout);
        }
        let what = if e.is_connect() {
            "no se pudo abrir la conexión"
        } else if e.is_body() || e.is_decode() {
            "la conexión se cortó durante la respuesta"
        } else if e.is_redirect() {
            "demasiadas redirecciones"
        } else {
            "la conexión falló"
        };
        // reqwest's own message names the URL; its innermost cause does not.
        let Some(mut root) = std::error::Error::source(e) else {
            return what.to_string();
        };
        while let Some(inner) = root.source() {
            root = inner;
        }
        format!("{what}: {root}")
    }
}

/// `text/html; charset=utf-8` → `text/html`.
fn media_type(value: &str) -> String {
    let t = value.split(';').next().unwrap_or("").trim();
    t.chars().take(80).collect::<String>().to_ascii_lowercase()
}

/// `Retry-After` in seconds (the HTTP-date form is not honoured).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<u64>().ok().map(Duration::from_secs)
}

/// What a FHIR read or search gave: JSON, or a 4xx status (other than 401 and 403) for
/// the caller to judge (404 on an encounter is `NotFound`, on a search an error).
pub(super) enum Reply {
    Json(Value),
    Status(Answer),
}

/// The FHIR server: its base, its credentials, and what its answers mean.
pub(super) struct Http {
    transport: Transport,
    base: Url,
    base_text: String,
    auth: Auth,
    pub page_size: u32,
    pub max_pages: u32,
}

impl Http {
    pub fn new(config: &FhirConfig) -> Result<Http, SourceError> {
        let base = parse_base(&config.base_url)?;
        let base_text = base.as_str().trim_end_matches('/').to_string();
        Ok(Http {
            transport: Transport::new(config)?,
            base,
            base_text,
            auth: Auth::new(&config.auth)?,
            page_size: super::FhirSource::DEFAULT_PAGE_SIZE,
            max_pages: super::FhirSource::DEFAULT_MAX_PAGES,
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The base without a trailing slash, for messages and `fullUrl`s.
    pub fn base_text(&self) -> &str {
        &self.base_text
    }

    /// `base/seg/seg?k=v`, every part encoded.
    pub fn url(&self, path: &[&str], query: &[(&str, &str)]) -> Url {
        let mut u = self.base.clone();
        if let Ok(mut segments) = u.path_segments_mut() {
            segments.pop_if_empty().extend(path);
        }
        if !query.is_empty() {
            u.query_pairs_mut().extend_pairs(query);
        }
        u
    }

    /// A reference or attachment URL as a URL on this server: `Type/id` (relative to the
    /// base) or an absolute URL of the same origin; `None` for anything else (contained,
    /// `urn:`, another server: a credential is never sent there).
    pub fn resolve(&self, reference: &str) -> Option<Url> {
        let r = reference.trim();
        if r.starts_with("http://") || r.starts_with("https://") {
            let u = Url::parse(r).ok()?;
            return same_origin(&u, &self.base).then_some(u);
        }
        let relative = !r.is_empty()
            && !r.starts_with('#')
            && !r.starts_with('/')
            && !r.contains([':', '?', '#']);
        relative.then(|| self.url(&r.split('/').collect::<Vec<_>>(), &[]))
    }

    /// A GET with the credentials, renewing a client-credentials token once on a 401.
    /// 401/403 are `Refused`, busy answers after the retries `Unreachable`, other 5xx
    /// `Remote`; any other answer is the caller's.
    pub async fn fetch(&self, url: &Url, what: &str) -> Result<Answer, SourceError> {
        self.exchange(url, None, what).await
    }

    /// [`Http::fetch`], or a POST of `outgoing` when given. A POST is retried only when it
    /// is a conditional create (`If-None-Exist`): the server then makes one resource
    /// however many times it is sent.
    pub async fn exchange(
        &self,
        url: &Url,
        outgoing: Option<&Outgoing>,
        what: &str,
    ) -> Result<Answer, SourceError> {
        let target = Target {
            setting: settings::FHIR_URL,
            url: &self.base_text,
        };
        let mut renewed = false;
        loop {
            let (auth, fresh) = self.auth.header(&self.transport).await?;
            let build = || {
                let client = self.transport.client();
                let r = match outgoing {
                    None => client.get(url.clone()),
                    Some(o) => {
                        let r = client
                            .post(url.clone())
                            .header(CONTENT_TYPE, FHIR_JSON)
                            .body(o.body.clone());
                        match &o.if_none_exist {
                            Some(q) => r.header("If-None-Exist", q.as_str()),
                            None => r,
                        }
                    }
                };
                let r = r.header(ACCEPT, FHIR_JSON);
                match &auth {
                    Some(h) => r.header(AUTHORIZATION, h.clone()),
                    None => r,
                }
            };
            let answer = self.transport.send(&build, target).await?;
            match answer.status {
                401 if !fresh && !renewed && self.auth.renewable() => {
                    self.auth.forget(auth.as_ref()).await;
                    renewed = true;
                }
                401 | 403 => return Err(self.refused(&answer, what)),
                s if s < 500 => return Ok(answer),
                _ => return Err(self.server_error(&answer, what)),
            }
        }
    }

    /// [`Http::fetch`] of a JSON object: 2xx must be JSON (else `Answer`); a 4xx comes back
    /// as [`Reply::Status`].
    pub async fn get_json(&self, url: &Url, what: &str) -> Result<Reply, SourceError> {
        let answer = self.fetch(url, what).await?;
        if !answer.ok() {
            return Ok(Reply::Status(answer));
        }
        match serde_json::from_slice::<Value>(&answer.body) {
            Ok(v) if v.is_object() => Ok(Reply::Json(v)),
            Ok(_) => Err(self.answer_error(what, "la respuesta es JSON pero no un recurso FHIR")),
            Err(_) => {
                let ct = answer.content_type.as_deref().unwrap_or("sin Content-Type");
                Err(self.answer_error(what, &format!("la respuesta no es JSON ({ct})")))
            }
        }
    }

    /// A 4xx that the caller does not expect: `Remote` with the status and issue codes.
    pub fn remote(&self, answer: &Answer, what: &str) -> SourceError {
        SourceError::Remote {
            setting: settings::FHIR_URL,
            detail: format!("{what}: {}", answer.describe()),
        }
    }

    /// An answer that is not what was asked for.
    pub fn answer_error(&self, what: &str, detail: &str) -> SourceError {
        SourceError::Answer {
            setting: settings::FHIR_URL,
            detail: format!("{what}: {detail}"),
        }
    }

    fn refused(&self, answer: &Answer, what: &str) -> SourceError {
        let why = if answer.status == 403 {
            "las credenciales no dan acceso a lo pedido"
        } else {
            "faltan credenciales, vencieron o no son válidas"
        };
        SourceError::Refused {
            setting: self.auth.setting(),
            detail: format!("{what}: {}; {why}", answer.describe()),
        }
    }

    fn server_error(&self, answer: &Answer, what: &str) -> SourceError {
        if matches!(answer.status, 429 | 502 | 503 | 504) {
            SourceError::Unreachable {
                setting: settings::FHIR_URL,
                target: self.base_text.clone(),
                detail: format!(
                    "{what}: el servidor sigue ocupado o no disponible ({}) tras {} intento(s)",
                    answer.describe(),
                    self.transport.tries()
                ),
            }
        } else {
            self.remote(answer, what)
        }
    }
}

/// A resource to create.
pub(super) struct Outgoing {
    pub body: Vec<u8>,
    /// The search that finds the resource if it exists already (conditional create).
    pub if_none_exist: Option<String>,
}

/// The configured base: http(s), no credentials, query or fragment, no trailing slash.
fn parse_base(raw: &str) -> Result<Url, SourceError> {
    let bad = |message: &str| SourceError::Setting {
        setting: settings::FHIR_URL,
        message: message.to_string(),
    };
    let mut url = Url::parse(raw.trim()).map_err(|_| {
        bad("no es una URL válida; se espera la base del servidor FHIR, por ejemplo https://fhir.hospital.cl/fhir/R4")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("la URL debe ser http:// o https:// con un servidor"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(&format!(
            "no ponga credenciales en la URL; use {} o {}",
            settings::FHIR_TOKEN_FILE,
            settings::FHIR_CLIENT_ID
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("la URL base no lleva consulta (?…) ni fragmento (#…)"));
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::{FhirAuth, FhirConfig};

    fn http(base: &str) -> Http {
        Http::new(&FhirConfig::new(base, FhirAuth::None)).unwrap()
    }

    #[test]
    fn urls_are_built_on_the_base() {
        let h = http("https://fhir.example.cl/fhir/R4/");
        assert_eq!(h.base_text(), "https://fhir.example.cl/fhir/R4");
        let u = h.url(
            &["Encounter", "e 1", "$everything"],
            &[("_count", "50"), ("encounter", "Encounter/e1")],
        );
        assert_eq!(
            u.as_str(),
            "https://fhir.example.cl/fhir/R4/Encounter/e%201/$everything?_count=50&encounter=Encounter%2Fe1"
        );
        let root = http("https://fhir.example.cl");
        assert_eq!(
            root.url(&["Patient", "p"], &[]).as_str(),
            "https://fhir.example.cl/Patient/p"
        );
    }

    #[test]
    fn only_references_on_the_same_server_resolve() {
        let h = http("https://fhir.example.cl/fhir/R4");
        let r = |s: &str| h.resolve(s).map(|u| u.to_string());
        assert_eq!(
            r("Binary/b1").as_deref(),
            Some("https://fhir.example.cl/fhir/R4/Binary/b1")
        );
        assert_eq!(
            r("https://fhir.example.cl/fhir/R4/Binary/b1").as_deref(),
            Some("https://fhir.example.cl/fhir/R4/Binary/b1")
        );
        for other in [
            "https://otro.example.cl/fhir/R4/Binary/b1",
            "http://fhir.example.cl/fhir/R4/Binary/b1",
            "https://fhir.example.cl:8443/fhir/R4/Binary/b1",
            "#contenido",
            "urn:uuid:1234",
            "/Binary/b1",
            "",
        ] {
            assert_eq!(r(other), None, "{other}");
        }
    }

    #[test]
    fn answers_are_described_by_status_and_codes_only() {
        let body = r#"{"resourceType":"OperationOutcome","issue":[
            {"severity":"error","code":"invalid","diagnostics":"Paciente Ana Pérez, RUN 11.111.111-1"},
            {"severity":"error","code":"not-supported"}]}"#;
        let a = Answer {
            status: 400,
            content_type: None,
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            a.describe(),
            "HTTP 400 (OperationOutcome: invalid, not-supported)"
        );
        let plain = Answer {
            status: 502,
            content_type: Some("text/html".into()),
            body: b"<h1>Bad gateway para Ana</h1>".to_vec(),
        };
        assert_eq!(plain.describe(), "HTTP 502");
        assert!(busy(429) && busy(500) && busy(503) && !busy(501) && !busy(404));
    }

    #[test]
    fn media_types_and_retry_after_are_read() {
        assert_eq!(
            media_type("Application/FHIR+JSON; charset=UTF-8"),
            "application/fhir+json"
        );
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }
}
