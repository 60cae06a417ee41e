//! A scrape: the counters of [`Metrics`] and the figures read then — the draft queue
//! (one cheap query, kept [`QUEUE_FRESH`]), the archive's backlog (kept
//! [`ARCHIVE_FRESH`]), the connection pool, the process's memory and descriptors — and
//! the routes that serve it, with who may read them.

use super::exposition::Exposition;
use super::{Metrics, MetricsToken};
use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use epicrisis_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the queue's figures are reused.
pub const QUEUE_FRESH: Duration = Duration::from_secs(5);
/// How long the archive's backlog is reused (its query reads every signed version).
pub const ARCHIVE_FRESH: Duration = Duration::from_secs(60);

/// The content type of the text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

type Kept<T> = tokio::sync::Mutex<Option<(Instant, T)>>;

/// Store figures between scrapes. The lock is held over the query, so that several
/// scrapers at once make one.
#[derive(Default)]
pub struct Cache {
    /// (queued, running), or `None` when the database did not answer.
    queue: Kept<Option<(usize, usize)>>,
    /// The embeddings model and its signed epicrisis not yet embedded.
    archive: Kept<(String, Option<usize>)>,
}

/// Whether this process drafts, for the model's gauge.
pub enum Drafting<'a> {
    /// Its own worker drafts (the engine's labels are in [`Metrics`] once known).
    Here,
    /// Only `epicrisis worker` processes draft, configured with this engine if known.
    Elsewhere(Option<&'a str>),
}

/// What one scrape reads.
pub struct Scrape<'a> {
    pub metrics: &'a Metrics,
    pub store: &'a Store,
    /// `EPICRISIS_QUEUE_SIZE` (servers).
    pub queue_capacity: Option<usize>,
    /// The archive's embeddings model and whether indexing runs now (servers with one).
    pub archive: Option<(&'a str, bool)>,
    pub drafting: Drafting<'a>,
}

impl<'a> Scrape<'a> {
    /// A server's scrape.
    pub fn of(state: &'a AppState) -> Scrape<'a> {
        let indexing = state
            .indexer
            .running
            .load(std::sync::atomic::Ordering::Relaxed);
        Scrape {
            metrics: &state.metrics,
            store: &state.store,
            queue_capacity: Some(state.settings.queue_capacity),
            archive: state.embedder.as_ref().map(|e| (e.name(), indexing)),
            drafting: match state.settings.worker {
                true => Drafting::Here,
                false => Drafting::Elsewhere(state.settings.workers_engine.as_deref()),
            },
        }
    }
}

/// The resident memory of this process (Linux: `VmRSS` of /proc/self/status).
fn resident_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

/// The open file descriptors of this process (Linux).
fn open_fds() -> Option<f64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as f64)
}

fn process(e: &mut Exposition, m: &Metrics) {
    e.gauges(
        "epicrisis_build_info",
        "The running release (always 1).",
        &["version"],
        &[(&[env!("CARGO_PKG_VERSION")], 1.0)],
    );
    e.gauge(
        "epicrisis_uptime_seconds",
        "Seconds since this process started.",
        m.started.elapsed().as_secs_f64(),
    );
    e.gauge(
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch, in seconds.",
        m.started_unix,
    );
    if let Some(v) = resident_bytes() {
        e.gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            v,
        );
    }
    if let Some(v) = open_fds() {
        e.gauge("process_open_fds", "Number of open file descriptors.", v);
    }
}

fn counted(e: &mut Exposition, m: &Metrics) {
    e.counters(
        "epicrisis_http_requests_total",
        "HTTP requests answered, by method, route pattern and status.",
        &m.http_requests,
    );
    e.histograms(
        "epicrisis_http_request_duration_seconds",
        "Time to the answer's headers, by method and route pattern.",
        &m.http_seconds,
    );
    e.gauge(
        "epicrisis_drafts_in_progress",
        "Drafts this process is writing now.",
        m.drafting.load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    e.counters(
        "epicrisis_jobs_ended_total",
        "Draft jobs this process ended, by engine and outcome (done, failed, cancelled, released).",
        &m.jobs_ended,
    );
    e.histograms(
        "epicrisis_job_duration_seconds",
        "Seconds to write a draft that was saved, by engine and model.",
        &m.job_seconds,
    );
    e.histograms(
        "epicrisis_generation_tokens_per_second",
        "Generation speed of a saved draft's model answers, by engine and model.",
        &m.tokens_per_second,
    );
    e.counters(
        "epicrisis_generated_tokens_total",
        "Tokens the model generated for saved drafts, by engine and model.",
        &m.generated_tokens,
    );
    e.histograms(
        "epicrisis_draft_validation_errors",
        "Validator errors left in each saved draft, by engine.",
        &m.validation_errors,
    );
}

/// The queue from the store (shared by every server and worker of the database).
async fn queue(e: &mut Exposition, s: &Scrape<'_>) {
    let figures = {
        let mut kept = s.metrics.cache.queue.lock().await;
        match &*kept {
            Some((at, f)) if at.elapsed() < QUEUE_FRESH => *f,
            _ => {
                let f = s.store.job_counts().await.ok();
                *kept = Some((Instant::now(), f));
                f
            }
        }
    };
    e.gauge(
        "epicrisis_database_up",
        "Whether the database answered the last queue query (1) or not (0).",
        if figures.is_some() { 1.0 } else { 0.0 },
    );
    if let Some((queued, running)) = figures {
        e.gauges(
            "epicrisis_jobs",
            "Draft jobs in the database by state (the whole queue, all processes).",
            &["state"],
            &[(&["queued"], queued as f64), (&["running"], running as f64)],
        );
    }
    if let Some(c) = s.queue_capacity {
        e.gauge(
            "epicrisis_queue_capacity",
            "Jobs people asked for that may wait before new ones get 429 (EPICRISIS_QUEUE_SIZE).",
            c as f64,
        );
    }
    let (size, idle, max) = s.store.pool_stats();
    e.gauges(
        "epicrisis_db_pool_connections",
        "Database connections of this process's pool, by state.",
        &["state"],
        &[
            (&["idle"], idle as f64),
            (&["in_use"], (f64::from(size) - idle as f64).max(0.0)),
        ],
    );
    e.gauge(
        "epicrisis_db_pool_max_connections",
        "The most connections this process's pool opens.",
        f64::from(max),
    );
}

fn model(e: &mut Exposition, s: &Scrape<'_>) {
    let help = "Whether this process holds the drafting engine (1) or leaves drafting to workers (0), with the engine and model.";
    let labels = ["engine", "model"];
    match (&s.drafting, s.metrics.engine.get()) {
        (Drafting::Here, Some(l)) => e.gauges(
            "epicrisis_model_loaded",
            help,
            &labels,
            &[(&[&l.engine, &l.model], 1.0)],
        ),
        (Drafting::Elsewhere(engine), _) => e.gauges(
            "epicrisis_model_loaded",
            help,
            &labels,
            &[(&[engine.unwrap_or("unknown"), ""], 0.0)],
        ),
        // Still being worked out (a local model's checksum).
        (Drafting::Here, None) => {}
    }
}

/// Signed epicrisis waiting for their vectors (servers with an embeddings model).
async fn archive(e: &mut Exposition, s: &Scrape<'_>) {
    let Some((model, indexing)) = s.archive else {
        return;
    };
    let pending = {
        let mut kept = s.metrics.cache.archive.lock().await;
        match &*kept {
            Some((at, (m, n))) if at.elapsed() < ARCHIVE_FRESH && m == model => *n,
            _ => {
                let n = s.store.archive_missing(model).await.ok().map(|v| v.len());
                *kept = Some((Instant::now(), (model.to_string(), n)));
                n
            }
        }
    };
    if let Some(n) = pending {
        e.gauge(
            "epicrisis_archive_pending",
            "Signed epicrisis not yet embedded for the archive's search.",
            n as f64,
        );
    }
    e.gauge(
        "epicrisis_archive_indexing",
        "Whether the archive is being indexed now (1) or not (0).",
        if indexing { 1.0 } else { 0.0 },
    );
}

/// The text of one scrape.
pub async fn render(s: &Scrape<'_>) -> String {
    let mut e = Exposition::default();
    process(&mut e, s.metrics);
    counted(&mut e, s.metrics);
    queue(&mut e, s).await;
    model(&mut e, s);
    archive(&mut e, s).await;
    e.finish()
}

fn answer(text: String) -> Response {
    let mut r = text.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    r
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn is_metrics_token(expected: Option<&MetricsToken>, headers: &HeaderMap) -> bool {
    match (expected, bearer(headers)) {
        (Some(t), Some(given)) => crate::auth::same(t.expose(), given),
        _ => false,
    }
}

/// 401 with the way in.
fn refused(mut e: ApiError) -> Response {
    let unauthorized = e.status == StatusCode::UNAUTHORIZED;
    if unauthorized {
        e.message = "las métricas piden un token (Authorization: Bearer …): el de \
                     EPICRISIS_METRICS_TOKEN_FILE o un token de API de una cuenta admin"
            .into();
    }
    let mut r = e.into_response();
    if unauthorized {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"epicrisis-metrics\""),
        );
    }
    r
}

/// `/metrics` on the server's own port: the metrics token, or an administrator (API
/// token or session).
pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(on_server_port))
}

async fn on_server_port(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !is_metrics_token(state.settings.metrics_token.as_ref(), &headers) {
        let who = match crate::auth::principal(&state, &headers).await {
            Ok(Some(p)) => p.require(&[], "leer las métricas"),
            Ok(None) => Err(ApiError::unauthorized()),
            Err(e) => Err(e),
        };
        if let Err(e) = who {
            return refused(e);
        }
    }
    answer(render(&Scrape::of(&state)).await)
}

/// The separate metrics address of a server (`EPICRISIS_METRICS_LISTEN`): `/metrics`
/// only, with the metrics token when one is set.
pub fn admin_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(on_admin_port))
        .with_state(state)
}

async fn on_admin_port(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = state.settings.metrics_token.as_ref();
    if token.is_some() && !is_metrics_token(token, &headers) {
        return refused(ApiError::unauthorized());
    }
    answer(render(&Scrape::of(&state)).await)
}

/// What an `epicrisis worker` serves on its metrics address.
#[derive(Clone)]
pub struct Exporter {
    pub metrics: Arc<Metrics>,
    pub store: Store,
    pub token: Option<MetricsToken>,
}

/// A worker's metrics address: `/metrics` only, with the token when one is set.
pub fn exporter_router(exporter: Exporter) -> Router {
    Router::new()
        .route("/metrics", get(on_worker_port))
        .with_state(exporter)
}

async fn on_worker_port(State(x): State<Exporter>, headers: HeaderMap) -> Response {
    if x.token.is_some() && !is_metrics_token(x.token.as_ref(), &headers) {
        return refused(ApiError::unauthorized());
    }
    answer(
        render(&Scrape {
            metrics: &x.metrics,
            store: &x.store,
            queue_capacity: None,
            archive: None,
            drafting: Drafting::Here,
        })
        .await,
    )
}

/// Serves a metrics router on its own listener until the runtime stops: a few
/// connections at a time, the server's timeouts.
pub fn spawn(listener: tokio::net::TcpListener, app: Router) -> tokio::task::JoinHandle<()> {
    let limits = crate::listen::Limits {
        max_connections: 16,
        ..crate::listen::Limits::default()
    };
    tokio::spawn(async move {
        let _ = crate::listen::serve(listener, app, limits, None, std::future::pending()).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every metric a scrape can hold (also those without samples yet: their `# TYPE`).
    async fn every_name() -> BTreeSet<String> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("m.db").display());
        let store = Store::open(&url).await.unwrap();
        let metrics = Metrics::default();
        let text = render(&Scrape {
            metrics: &metrics,
            store: &store,
            queue_capacity: Some(8),
            archive: Some(("multilingual-e5-small", false)),
            drafting: Drafting::Elsewhere(None),
        })
        .await;
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .map(str::to_string)
            .collect()
    }

    #[tokio::test]
    async fn the_dashboard_and_the_guide_name_the_metrics_there_are() {
        let names = every_name().await;
        assert!(names.contains("epicrisis_archive_pending"), "{names:?}");
        let series: BTreeSet<String> = names
            .iter()
            .flat_map(|n| ["", "_bucket", "_sum", "_count"].map(|s| format!("{n}{s}")))
            .collect();
        let root = epicrisis_testkit::fixtures::workspace_root();
        let dashboard = std::fs::read_to_string(root.join("docs/grafana/epicrisis.json")).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
        assert!(parsed["panels"].as_array().is_some_and(|p| p.len() > 10));
        let used: BTreeSet<&str> = dashboard
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("epicrisis_") || w.starts_with("process_"))
            .collect();
        for w in &used {
            assert!(
                series.contains(*w),
                "the dashboard uses {w}, which is not served"
            );
        }
        let guide = std::fs::read_to_string(root.join("docs/operations.md")).unwrap();
        for n in &names {
            assert!(
                guide.contains(&format!("`{n}`")),
                "docs/operations.md does not describe {n}"
            );
            let shown = used.iter().any(|w| w.starts_with(n.as_str()));
            assert!(
                shown || n == "process_start_time_seconds",
                "no panel shows {n}"
            );
        }
    }
}
