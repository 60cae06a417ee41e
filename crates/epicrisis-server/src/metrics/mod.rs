//! Prometheus metrics of a server or a worker (issue 22): what the process counts as it
//! goes (requests by route pattern, drafts by engine and model) and what a scrape reads
//! then (the queue in the store, the connection pool, the archive's backlog, memory).
//!
//! - [`exposition`]: the text format 0.0.4 and its counters and histograms;
//! - [`scrape`]: the figures read at scrape time, the `/metrics` routes and who may read
//!   them — on the server's port an administrator's API token or session, or the metrics
//!   token (`EPICRISIS_METRICS_TOKEN_FILE`); on the separate metrics address
//!   (`EPICRISIS_METRICS_LISTEN`, loopback by default) nothing or that token.
//!
//! Nothing here is about a patient: labels are route patterns (axum's `MatchedPath`,
//! never the URI, which holds episode numbers), methods, status codes, engine and model
//! names and outcomes.

pub mod exposition;
pub mod scrape;

use epicrisis_pipeline::engine::{Engine, Outcome};
use exposition::{Counter, Family, Histogram};
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

pub use scrape::{Exporter, Scrape, admin_router, exporter_router, routes, spawn};

/// Request latency buckets, in seconds (a synchronous draft waits minutes).
const HTTP_SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
/// Draft durations, in seconds.
const JOB_SECONDS: &[f64] = &[
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0,
];
/// Generation speed, in tokens per second.
const TOKENS_PER_SECOND: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0, 75.0, 100.0, 200.0];
/// Validator errors left in a saved draft.
const ERRORS: &[f64] = &[0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0];

/// The secret that lets a scraper read `/metrics` (`EPICRISIS_METRICS_TOKEN_FILE`); its
/// `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct MetricsToken(String);

impl MetricsToken {
    pub fn new(token: String) -> MetricsToken {
        MetricsToken(token)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MetricsToken(hidden)")
    }
}

/// Which engine drafts, as labels: `llama.cpp` and the model file's name, a provider
/// and its model, or `deterministic` and no model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineLabels {
    pub engine: String,
    pub model: String,
}

impl EngineLabels {
    /// The labels of `engine` (a local model's name may wait for its checksum: call it
    /// off the async runtime).
    pub fn of(engine: &Engine) -> EngineLabels {
        match engine {
            Engine::Deterministic => EngineLabels {
                engine: "deterministic".into(),
                model: String::new(),
            },
            Engine::Model { generator, .. } => {
                let info = generator.info();
                EngineLabels {
                    engine: info.backend,
                    model: info.name,
                }
            }
        }
    }
}

/// How a draft job ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Written: a version saved, or an inline request's draft kept.
    Done,
    Failed,
    Cancelled,
    /// Handed back to the queue at a stop.
    Released,
}

impl JobOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Done => "done",
            JobOutcome::Failed => "failed",
            JobOutcome::Cancelled => "cancelled",
            JobOutcome::Released => "released",
        }
    }
}

/// What one process counts. Shared (`Arc`) by its router, its worker and its scrapes.
pub struct Metrics {
    http_requests: Family<Counter>,
    http_seconds: Family<Histogram>,
    jobs_ended: Family<Counter>,
    job_seconds: Family<Histogram>,
    tokens_per_second: Family<Histogram>,
    generated_tokens: Family<Counter>,
    validation_errors: Family<Histogram>,
    /// Drafts under way in this process.
    drafting: AtomicI64,
    /// The engine this process drafts with, once known.
    engine: OnceLock<EngineLabels>,
    started: Instant,
    /// Unix seconds at start.
    started_unix: f64,
    pub(crate) cache: scrape::Cache,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            http_requests: Family::new(&["method", "route", "status", "status_class"]),
            http_seconds: Family::with_buckets(&["method", "route"], HTTP_SECONDS),
            jobs_ended: Family::new(&["engine", "outcome"]),
            job_seconds: Family::with_buckets(&["engine", "model"], JOB_SECONDS),
            tokens_per_second: Family::with_buckets(&["engine", "model"], TOKENS_PER_SECOND),
            generated_tokens: Family::new(&["engine", "model"]),
            validation_errors: Family::with_buckets(&["engine"], ERRORS),
            drafting: AtomicI64::new(0),
            engine: OnceLock::new(),
            started: Instant::now(),
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            cache: scrape::Cache::default(),
        }
    }
}

/// An HTTP method as a label: the standard ones, else `other` (a client may send any
/// word).
fn method_label(method: &str) -> &str {
    match method {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" => method,
        _ => "other",
    }
}

impl Metrics {
    /// One answered request: its method, route pattern (never the URI), status and time.
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let class = format!("{}xx", status / 100);
        self.http_requests
            .with(&[method, route, &status.to_string(), &class])
            .inc();
        self.http_seconds
            .with(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    /// The labels of this process's engine, worked out once.
    pub fn engine_labels(&self, engine: &Engine) -> &EngineLabels {
        self.engine.get_or_init(|| EngineLabels::of(engine))
    }

    /// A draft starts in this process.
    pub fn job_started(&self) {
        self.drafting.fetch_add(1, Ordering::Relaxed);
    }

    /// A draft of this process ended after `elapsed`; `draft` is the engine's outcome
    /// when one was written.
    pub fn job_ended(
        &self,
        labels: &EngineLabels,
        outcome: JobOutcome,
        elapsed: Duration,
        draft: Option<&Outcome>,
    ) {
        self.drafting.fetch_sub(1, Ordering::Relaxed);
        let (engine, model) = (labels.engine.as_str(), labels.model.as_str());
        self.jobs_ended.with(&[engine, outcome.as_str()]).inc();
        let Some(draft) = draft.filter(|_| outcome == JobOutcome::Done) else {
            return;
        };
        self.job_seconds
            .with(&[engine, model])
            .observe(elapsed.as_secs_f64());
        self.validation_errors
            .with(&[engine])
            .observe(draft.report.error_count() as f64);
        if let Some(t) = &draft.timings
            && t.generated_tokens > 0
            && t.generation_ms > 0.0
        {
            let tokens = f64::from(t.generated_tokens);
            self.generated_tokens.with(&[engine, model]).inc_by(tokens);
            self.tokens_per_second
                .with(&[engine, model])
                .observe(tokens / (t.generation_ms / 1e3));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_pattern_and_odd_methods_are_folded() {
        let m = Metrics::default();
        m.request(
            "GET",
            "/api/v1/episodes/{id}",
            200,
            Duration::from_millis(3),
        );
        m.request("BREW", "(sin ruta)", 404, Duration::from_millis(1));
        let mut e = exposition::Exposition::default();
        e.counters("r_total", "R.", &m.http_requests);
        let text = e.finish();
        assert!(
            text.contains(
                "r_total{method=\"GET\",route=\"/api/v1/episodes/{id}\",status=\"200\",status_class=\"2xx\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("method=\"other\""), "{text}");
    }

    #[test]
    fn a_token_is_never_shown() {
        let t = MetricsToken::new("s3cr3t-s3cr3t-s3cr3t".into());
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }
}
