//! HTTP providers: the OpenAI Chat Completions API (and every server that speaks it —
//! llama.cpp's server, vLLM, Ollama) and the Anthropic Messages API.
//!
//! Both are [`Generator`](crate::Generator)s like the in-process backend: `start` spawns a
//! thread that sends one streaming request, reads the server-sent events line by line and
//! forwards the text through the same channel and [`StopMatcher`]. What differs between
//! providers (the request body, the headers, the event names, the error bodies) is a
//! [`Dialect`]; everything else — timeouts, retries with backoff honouring `Retry-After`,
//! the errors a person can act on — is shared here.
//!
//! These backends know nothing of patients: de-identifying what they send is the caller's
//! job (the `epicrisis-deid` crate, applied by the binary for every external provider).

pub mod anthropic;
pub mod openai;
mod stream;

pub use stream::{Chunk, SseEvent, SseReader};
use stream::{Flow, Streamed};

use crate::generator::{
    CancelToken, Event, Generation, GenerationError, GenerationRequest, GenerationStats, StopReason,
};
use std::fmt;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An API key: usable, never displayed (its `Debug` says only that it is set).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey(set, {} characters)", self.0.chars().count())
    }
}

/// How to reach a provider.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `https://api.openai.com/v1`, `http://10.0.0.5:8080/v1`, `https://api.anthropic.com`.
    pub base_url: String,
    /// Optional for self-hosted OpenAI-compatible servers.
    pub api_key: Option<ApiKey>,
    pub model: String,
    /// Time to open the connection.
    pub connect_timeout: Duration,
    /// Time to the response headers, and the longest silence between two chunks of the
    /// stream (each read of the body).
    pub read_timeout: Duration,
    /// Retries after a 429, a 5xx, a connection error or a stream cut before any text.
    pub max_retries: u32,
    /// First backoff; doubled on each retry.
    pub backoff: Duration,
    /// The longest wait between two tries, even when `Retry-After` asks for more.
    pub max_backoff: Duration,
}

impl HttpSettings {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        HttpSettings {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            api_key: None,
            model: model.into(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            max_retries: 4,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// Why a provider failed, in words a person can act on. Never contains the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error(
        "{provider} at {base_url} refused the API key (HTTP {status}); check {key_setting}: {message}"
    )]
    BadKey {
        provider: &'static str,
        base_url: String,
        status: u16,
        key_setting: &'static str,
        message: String,
    },
    #[error(
        "{provider} at {base_url} does not know the model «{model}» (HTTP {status}); check {model_setting}: {message}"
    )]
    UnknownModel {
        provider: &'static str,
        base_url: String,
        model: String,
        status: u16,
        model_setting: &'static str,
        message: String,
    },
    #[error("{provider} refused the request (HTTP {status}): {message}")]
    Refused {
        provider: &'static str,
        status: u16,
        message: String,
    },
    #[error("{provider} at {base_url} kept failing after {tries} tries; last: {last}")]
    GaveUp {
        provider: &'static str,
        base_url: String,
        tries: u32,
        last: String,
    },
    #[error(
        "{provider}'s stream was cut before it ended ({received} characters received); the draft was not finished"
    )]
    CutStream {
        provider: &'static str,
        received: usize,
    },
    #[error("{provider} sent an error in the stream: {message}")]
    StreamError {
        provider: &'static str,
        message: String,
    },
}

impl From<ProviderError> for GenerationError {
    fn from(e: ProviderError) -> Self {
        GenerationError::Backend(e.to_string())
    }
}

/// What differs between providers.
pub trait Dialect: Send + Sync + 'static {
    /// `openai`, `anthropic`.
    fn name(&self) -> &'static str;
    /// The setting that holds the key and the model (for error messages).
    fn key_setting(&self) -> &'static str;
    fn model_setting(&self) -> &'static str;
    /// The endpoint URL.
    fn url(&self, settings: &HttpSettings) -> String;
    /// Headers besides the content type.
    fn headers(&self, settings: &HttpSettings) -> Vec<(&'static str, String, bool)>;
    /// The JSON body.
    fn body(&self, settings: &HttpSettings, request: &GenerationRequest) -> serde_json::Value;
    /// One event of the stream; `Err` is the provider's error message.
    fn parse(&self, event: &SseEvent) -> Result<Chunk, String>;
    /// Whether an error body says the model is unknown.
    fn is_unknown_model(&self, status: u16, body: &serde_json::Value) -> bool;
    /// Whether the API takes a GBNF grammar (llama.cpp's `grammar` field). A request
    /// with one is refused before anything is sent to an API that would ignore it.
    fn takes_grammar(&self) -> bool {
        false
    }
}

/// A sampling value as JSON: the decimal the person wrote (0.9), not the nearest f32
/// (0.8999999761581421).
pub fn decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// The error message inside a provider's error body (`{"error": {"message": …}}`), or the
/// body itself, shortened.
pub fn error_message(body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            match e {
                serde_json::Value::String(s) => Some(s.clone()),
                _ => e.get("message")?.as_str().map(str::to_string),
            }
        });
    let s = from_json.unwrap_or_else(|| body.trim().to_string());
    let s: String = s.chars().take(400).collect();
    if s.is_empty() {
        "(no message)".into()
    } else {
        s
    }
}

/// How long `Retry-After` asks to wait: seconds, or an HTTP date.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs >= 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs));
    }
    let at = parse_http_date(v)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate) → seconds since the epoch.
fn parse_http_date(s: &str) -> Option<u64> {
    let rest = s.split_once(", ").map(|(_, r)| r).unwrap_or(s);
    let mut parts = rest.split_whitespace();
    let day: u32 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let year: i64 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(month))? as i64 + 1;
    let mut t = time.split(':').map(|x| x.parse::<u64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    // Days from civil (Howard Hinnant's algorithm).
    let (y, mm) = if m <= 2 {
        (year - 1, m + 9)
    } else {
        (year, m - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * mm + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days)
        .ok()
        .map(|d| d * 86_400 + h * 3600 + mi * 60 + se)
}

/// A generator that talks to a provider over HTTP.
pub struct HttpGenerator<D: Dialect> {
    dialect: std::sync::Arc<D>,
    settings: HttpSettings,
    client: reqwest::blocking::Client,
}

impl<D: Dialect> HttpGenerator<D> {
    pub fn new(dialect: D, settings: HttpSettings) -> Result<Self, GenerationError> {
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.read_timeout)
            .user_agent(concat!("epicrisis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GenerationError::Backend(format!("HTTP client: {e}")))?;
        Ok(HttpGenerator {
            dialect: std::sync::Arc::new(dialect),
            settings,
            client,
        })
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// The JSON body that would be sent (what leaves the machine), for the record.
    pub fn body(&self, request: &GenerationRequest) -> serde_json::Value {
        self.dialect.body(&self.settings, request)
    }
}

impl<D: Dialect> crate::Generator for HttpGenerator<D> {
    fn info(&self) -> crate::ModelInfo {
        crate::ModelInfo {
            backend: self.dialect.name().into(),
            name: self.settings.model.clone(),
            path: Some(self.settings.base_url.clone()),
            size_bytes: None,
            sha256: None,
            quantization: None,
            architecture: None,
            template: format!("provider:{}", self.dialect.name()),
            context_size: 0,
            threads: None,
            gpu_layers: None,
            draft_tokens: None,
            parallel: None,
            flash_attention: None,
        }
    }

    fn start(&self, request: GenerationRequest) -> Result<Generation, GenerationError> {
        request.settings.validate()?;
        if request.settings.grammar.is_some() && !self.dialect.takes_grammar() {
            return Err(GenerationError::Settings(crate::generator::SettingsError {
                name: "grammar",
                value: self.dialect.name().to_string(),
                allowed: "no grammar: only the local engine and OpenAI-compatible servers take one",
            }));
        }
        let (tx, rx) = mpsc::channel();
        let cancel = request.cancel.clone();
        let job = Job {
            dialect: self.dialect.clone(),
            settings: self.settings.clone(),
            client: self.client.clone(),
            cancel: cancel.clone(),
            tx,
        };
        std::thread::Builder::new()
            .name(format!("{}-stream", self.dialect.name()))
            .spawn(move || job.run(request))
            .map_err(|e| GenerationError::Backend(format!("cannot start a thread: {e}")))?;
        Ok(Generation { events: rx, cancel })
    }

    fn render_prompt(&self, messages: &[crate::ChatMessage]) -> Result<String, GenerationError> {
        let req = GenerationRequest::new(messages.to_vec(), Default::default());
        serde_json::to_string_pretty(&self.body(&req))
            .map_err(|e| GenerationError::Backend(e.to_string()))
    }
}

struct Job<D: Dialect> {
    dialect: std::sync::Arc<D>,
    settings: HttpSettings,
    client: reqwest::blocking::Client,
    cancel: CancelToken,
    tx: mpsc::Sender<Event>,
}

/// How one try ended.
enum Try {
    Finished,
    /// Worth another try (nothing was streamed yet): the reason and how long to wait.
    Retry(String, Option<Duration>),
    Fatal(GenerationError),
}

impl<D: Dialect> Job<D> {
    fn run(self, request: GenerationRequest) {
        let _ = self.tx.send(Event::Started);
        let t0 = Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            match self.try_once(&request, t0) {
                Try::Finished => return,
                Try::Fatal(e) => {
                    let _ = self.tx.send(Event::Failed(e));
                    return;
                }
                Try::Retry(why, wait) => {
                    if tries > self.settings.max_retries {
                        let _ = self.tx.send(Event::Failed(
                            ProviderError::GaveUp {
                                provider: self.dialect.name(),
                                base_url: self.settings.base_url.clone(),
                                tries,
                                last: why,
                            }
                            .into(),
                        ));
                        return;
                    }
                    let backoff = self.settings.backoff * 2u32.saturating_pow(tries - 1);
                    let wait = wait.unwrap_or(backoff).min(self.settings.max_backoff);
                    if self.sleep_or_cancel(wait) {
                        self.done_cancelled(t0, GenerationStats::default());
                        return;
                    }
                }
            }
        }
    }

    /// Sleeps; true when cancelled meanwhile.
    fn sleep_or_cancel(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.cancel.is_cancelled() {
                return true;
            }
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(20)));
        }
        self.cancel.is_cancelled()
    }

    fn done_cancelled(&self, t0: Instant, mut stats: GenerationStats) {
        stats.stop_reason = Some(StopReason::Cancelled);
        stats.generation_ms = t0.elapsed().as_secs_f64() * 1e3;
        let _ = self.tx.send(Event::Done(stats));
    }

    fn try_once(&self, request: &GenerationRequest, t0: Instant) -> Try {
        match self.send(request) {
            Ok(resp) => self.stream(resp, request, t0),
            Err(t) => t,
        }
    }

    /// Sends the request; a refusal (any status but 2xx) or a failed connection is the
    /// try's end.
    fn send(&self, request: &GenerationRequest) -> Result<reqwest::blocking::Response, Try> {
        let d = &*self.dialect;
        let s = &self.settings;
        let mut rb = self
            .client
            .post(d.url(s))
            .header("content-type", "application/json")
            .header("accept", "text/event-stream");
        for (name, value, sensitive) in d.headers(s) {
            let mut v = match reqwest::header::HeaderValue::from_str(&value) {
                Ok(v) => v,
                Err(_) => {
                    return Err(Try::Fatal(GenerationError::Backend(format!(
                        "the {name} header has characters HTTP does not allow (check {})",
                        d.key_setting()
                    ))));
                }
            };
            v.set_sensitive(sensitive);
            rb = rb.header(name, v);
        }
        let body = d.body(s, request);
        let bytes = match serde_json::to_vec(&body) {
            Ok(b) => b,
            Err(e) => return Err(Try::Fatal(GenerationError::Backend(e.to_string()))),
        };
        let resp = match rb.body(bytes).send() {
            Ok(r) => r,
            Err(e) => {
                let what = if e.is_timeout() {
                    "no answer within the read timeout".to_string()
                } else if e.is_connect() {
                    "cannot connect".to_string()
                } else {
                    "request failed".to_string()
                };
                // reqwest's message names the URL only, never headers.
                return Err(Try::Retry(format!("{what} ({e})"), None));
            }
        };
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            Ok(resp)
        } else {
            Err(self.refused(status, resp))
        }
    }

    /// What a refusal means: retry later (429, 5xx, with the server's Retry-After), a wrong
    /// key, an unknown model, or another refusal, each naming the setting to fix.
    fn refused(&self, status: u16, resp: reqwest::blocking::Response) -> Try {
        let d = &*self.dialect;
        let s = &self.settings;
        let wait = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, SystemTime::now()));
        let text = resp.text().unwrap_or_default();
        let message = error_message(&text);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        match status {
            429 | 500..=599 => Try::Retry(format!("HTTP {status}: {message}"), wait),
            401 | 403 => Try::Fatal(
                ProviderError::BadKey {
                    provider: d.name(),
                    base_url: s.base_url.clone(),
                    status,
                    key_setting: d.key_setting(),
                    message,
                }
                .into(),
            ),
            _ if status == 404 || d.is_unknown_model(status, &json) => Try::Fatal(
                ProviderError::UnknownModel {
                    provider: d.name(),
                    base_url: s.base_url.clone(),
                    model: s.model.clone(),
                    status,
                    model_setting: d.model_setting(),
                    message,
                }
                .into(),
            ),
            _ => Try::Fatal(
                ProviderError::Refused {
                    provider: d.name(),
                    status,
                    message,
                }
                .into(),
            ),
        }
    }

    /// Reads the answer's stream to its end, passing its text on.
    fn stream(
        &self,
        resp: reqwest::blocking::Response,
        request: &GenerationRequest,
        t0: Instant,
    ) -> Try {
        let d = &*self.dialect;
        let mut st = Streamed::new(request, t0);
        let mut reader = SseReader::new(resp);
        loop {
            if self.cancel.is_cancelled() {
                self.done_cancelled(t0, st.stats);
                return Try::Finished;
            }
            let ev = match reader.next_event() {
                Ok(Some(ev)) => ev,
                Ok(None) => {
                    if st.finish.is_some() {
                        break;
                    }
                    return self.cut(st.received, "the connection closed".into());
                }
                Err(e) => return self.cut(st.received, e.to_string()),
            };
            let chunk = match d.parse(&ev) {
                Ok(c) => c,
                Err(message) if st.received == 0 => {
                    return Try::Retry(format!("stream error: {message}"), None);
                }
                Err(message) => {
                    return Try::Fatal(
                        ProviderError::StreamError {
                            provider: d.name(),
                            message,
                        }
                        .into(),
                    );
                }
            };
            match st.take(chunk, &self.tx, request.settings.max_tokens) {
                Flow::More => {}
                Flow::End => break,
                Flow::Gone => return Try::Finished,
            }
        }
        st.end(&self.tx);
        Try::Finished
    }

    /// A stream that ended without its final event: retried when nothing was streamed
    /// yet, an error otherwise (the caller already has part of a text).
    fn cut(&self, received: usize, why: String) -> Try {
        if received == 0 {
            Try::Retry(format!("stream cut before any text ({why})"), None)
        } else {
            Try::Fatal(
                ProviderError::CutStream {
                    provider: self.dialect.name(),
                    received,
                }
                .into(),
            )
        }
    }
}

/// Whether a base URL points at this machine (nothing leaves it).
pub fn is_loopback(base_url: &str) -> bool {
    host_of(base_url).is_some_and(|h| {
        h == "localhost"
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// Whether a base URL points at a private network address (inside the hospital) or this
/// machine.
pub fn is_private_network(base_url: &str) -> bool {
    is_loopback(base_url)
        || host_of(base_url).is_some_and(|h| match h.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(v4)) => v4.is_private() || v4.is_link_local(),
            Ok(std::net::IpAddr::V6(v6)) => (v6.segments()[0] & 0xfe00) == 0xfc00,
            Err(_) => h.ends_with(".local") || h.ends_with(".internal") || !h.contains('.'),
        })
}

fn host_of(base_url: &str) -> Option<String> {
    let rest = base_url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map(|x| x.1).unwrap_or(authority);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?.to_string()
    } else {
        authority.split(':').next()?.to_string()
    };
    Some(host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn sse_events_are_framed() {
        let body = ": ping\nevent: a\ndata: {\"x\":1}\n\ndata: one\ndata: two\n\ndata: [DONE]";
        let mut r = SseReader::new(body.as_bytes());
        let a = r.next_event().unwrap().unwrap();
        assert_eq!(
            (a.event.as_deref(), a.data.as_str()),
            (Some("a"), "{\"x\":1}")
        );
        assert_eq!(r.next_event().unwrap().unwrap().data, "one\ntwo");
        assert_eq!(r.next_event().unwrap().unwrap().data, "[DONE]");
        assert_eq!(r.next_event().unwrap(), None);
    }

    #[test]
    fn keys_never_show() {
        let k = ApiKey::new("sk-verysecret");
        assert!(!format!("{k:?}").contains("verysecret"));
    }

    #[test]
    fn where_a_url_points() {
        assert!(is_loopback("http://127.0.0.1:8080/v1"));
        assert!(is_loopback("http://localhost/v1"));
        assert!(is_loopback("http://[::1]:9/v1"));
        assert!(!is_loopback("https://api.openai.com/v1"));
        assert!(is_private_network("http://10.2.3.4:8000/v1"));
        assert!(is_private_network("http://gpu-node:8000/v1"));
        assert!(!is_private_network("https://api.anthropic.com"));
    }

    #[test]
    fn error_messages_are_read_from_bodies() {
        assert_eq!(
            error_message(r#"{"error":{"message":"bad model","type":"x"}}"#),
            "bad model"
        );
        assert_eq!(error_message("plain"), "plain");
    }
}
