//! `epicrisis serve`: the clinician's workplace over HTTP.
//!
//! - [`api`]: the predecessor's REST paths (same JSON field names) and our versioned
//!   `/api/v1`;
//! - [`openapi`]: the OpenAPI 3.1 document of every JSON route, built from the handlers'
//!   own descriptions, at `/api/v1/openapi.json`, and its reading page `/api/v1/docs`;
//! - [`openai`]: an OpenAI-compatible `/v1/chat/completions` and `/v1/models` with the
//!   local model, behind the same authentication;
//! - [`web`]: the Spanish web interface, server-rendered, its assets embedded;
//! - [`jobs`]: the bounded generation queue and its worker;
//! - [`auth`]: passwords, sessions, API tokens, CSRF and login rate limiting;
//! - [`directory`]: logins checked by the hospital's LDAP / Active Directory;
//! - [`client`]: the client's address behind trusted reverse proxies;
//! - [`cache`]: parsed episodes and their validation index, shared between requests;
//! - [`tokens`]: API tokens — create (admins), list, revoke, with an expiry;
//! - [`metrics`]: Prometheus metrics at `/metrics` (requests by route pattern, drafts by
//!   engine and model, the queue, the pool, memory), and [`request_id`]: each request's
//!   id, in its log lines' span and the `X-Request-Id` answer header;
//! - [`record`]: the signed record — documents of a version rendered from the episode
//!   data it was written from, and the verification of a version's hash.
//!
//! Nothing here logs clinical text, patient identifiers or secrets: the request log line
//! carries the method, the route pattern (never the episode id), the status and the time.

pub mod admin;
pub mod api;
pub mod archive;
pub mod auth;
pub mod batches;
pub mod cache;
pub mod client;
pub mod directory;
pub mod discharges;
pub mod drafting;
pub mod error;
pub mod jobs;
pub mod listen;
pub mod listing;
pub mod login;
pub mod metrics;
pub mod openai;
pub mod openapi;
pub mod origins;
pub mod record;
pub mod request_id;
pub mod tls;
pub mod tokens;
pub mod web;
pub mod worker;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use epicrisis_pipeline::Layout;
use epicrisis_pipeline::engine::Engine;
use epicrisis_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings of the server (the command line fills them from the configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Jobs that may wait behind the running one before new ones get 429.
    pub queue_capacity: usize,
    /// `Secure` on cookies (set it when the server is behind HTTPS).
    pub secure_cookies: bool,
    pub session_hours: i64,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Connections, header and body timeouts ([`listen`]).
    pub limits: listen::Limits,
    /// `/v1`'s answer cap and per-user token budget ([`openai::budget`]).
    pub v1: openai::budget::V1Limits,
    pub hospital_name: String,
    pub logo: Option<epicrisis_export::Logo>,
    pub layout: Layout,
    /// How long a shutdown waits for the running job.
    pub shutdown_grace: Duration,
    /// Where external providers send text, for the interface's notice (None: local).
    pub external_notice: Option<String>,
    /// Request log lines on standard error.
    pub log_requests: bool,
    /// Parsed and indexed episodes kept in memory for validation and pages.
    pub episode_cache: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client
    /// (`EPICRISIS_TRUSTED_PROXIES`; empty: the header is ignored), see [`client`].
    pub trusted_proxies: Vec<client::IpNet>,
    /// Whether this server drafts (a worker in the process) or only queues, for
    /// separate `epicrisis worker` processes (`serve --no-worker`).
    pub worker: bool,
    /// How workers hold jobs.
    pub jobs: worker::WorkerSettings,
    /// How long a synchronous drafting route lets its job wait queued while nothing is
    /// drafted anywhere before it answers that no worker runs ([`jobs::wait`]).
    pub no_worker_after: Duration,
    /// With `worker` off: the engine the `epicrisis worker` processes are configured with
    /// (`--engine` or `MODEL_TYPE`: `local`, `deterministic`, `openai`, `anthropic`), for
    /// the page's notice; `None` when this server does not know it.
    pub workers_engine: Option<String>,
    /// The secret that lets a scraper read `/metrics` (`EPICRISIS_METRICS_TOKEN_FILE`;
    /// administrators' API tokens work too), see [`metrics`].
    pub metrics_token: Option<metrics::MetricsToken>,
    /// The hospital's directory (`EPICRISIS_LDAP_*`) for logins; `None`: local accounts
    /// only, see [`directory`].
    pub directory: Option<Arc<directory::Directory>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            queue_capacity: 8,
            secure_cookies: false,
            session_hours: 12,
            max_body_bytes: 10 * 1024 * 1024,
            limits: listen::Limits::default(),
            v1: openai::budget::V1Limits::default(),
            hospital_name: "Hospital".into(),
            logo: None,
            layout: Layout::Sections,
            shutdown_grace: Duration::from_secs(120),
            external_notice: None,
            log_requests: true,
            episode_cache: 256,
            trusted_proxies: Vec::new(),
            worker: true,
            jobs: worker::WorkerSettings::default(),
            no_worker_after: jobs::NO_WORKER_AFTER,
            workers_engine: None,
            metrics_token: None,
            directory: None,
        }
    }
}

pub struct Inner {
    pub store: Store,
    pub engine: Engine,
    /// Wakes this process's worker when a job is queued here.
    pub wake: Arc<worker::Wake>,
    pub settings: Settings,
    pub limiter: auth::LoginLimiter,
    pub templates: minijinja::Environment<'static>,
    pub started: Instant,
    /// Parsed episodes with their validation index, by id and row version.
    pub episodes: cache::EpisodeCache,
    /// The sentence-embedding model, when one is configured: the archive of signed
    /// epicrisis needs it; nothing else in the server does.
    pub embedder: Option<Arc<dyn epicrisis_embed::Embedder>>,
    /// The archive's background indexing (one run at a time).
    pub indexer: archive::Indexer,
    /// The typical draft duration, read from the store at most every half minute.
    pub typical: jobs::TypicalSeconds,
    /// Tokens each user spent on `/v1` over the last hour.
    pub v1_budget: openai::budget::TokenBudget,
    /// What this process counts for `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
}

/// Shared state of all handlers.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A running server's pieces (for `serve` and the tests).
pub struct Server {
    pub state: AppState,
}

impl Server {
    /// Builds the state. The worker starts with [`Server::run`] (after
    /// [`Server::with_embedder`]), unless `settings.worker` is off.
    pub fn new(store: Store, engine: Engine, settings: Settings) -> std::io::Result<Server> {
        let state = AppState(Arc::new(Inner {
            store,
            engine,
            wake: Arc::new(worker::Wake::default()),
            templates: web::templates(),
            limiter: auth::LoginLimiter::default(),
            started: Instant::now(),
            episodes: cache::EpisodeCache::new(settings.episode_cache),
            settings,
            embedder: None,
            indexer: archive::Indexer::default(),
            typical: jobs::TypicalSeconds::default(),
            v1_budget: openai::budget::TokenBudget::default(),
            metrics: Arc::new(metrics::Metrics::default()),
        }));
        Ok(Server { state })
    }

    /// Gives the server a sentence-embedding model (the archive's search). Call it right
    /// after [`Server::new`], before the state is shared; later it changes nothing.
    pub fn with_embedder(mut self, embedder: Option<Arc<dyn epicrisis_embed::Embedder>>) -> Server {
        if let Some(inner) = Arc::get_mut(&mut self.state.0) {
            inner.embedder = embedder;
        }
        self
    }

    pub fn router(&self) -> Router {
        router(self.state.clone())
    }

    /// Serves until `shutdown` resolves, then stops taking requests, finishes (and
    /// saves) the running job within the grace period and returns.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.run_with_tls(listener, None, shutdown).await
    }

    /// [`Server::run`], over TLS when `tls` is given ([`tls::Tls`]).
    pub async fn run_with_tls(
        self,
        listener: tokio::net::TcpListener,
        tls: Option<tls::Tls>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Signed epicrisis not yet in the archive (e.g. the embeddings model was just
        // configured) are embedded in the background; searches meanwhile say so.
        api::index_archive_later(&self.state);
        let state = self.state.clone();
        tokio::spawn(async move { listing::fill_list_columns(&state).await });
        // Expired sessions are deleted hourly (a worker prunes old draft jobs).
        let store = self.state.store.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = store.prune_sessions(now_ms()).await {
                    api::warn("expired sessions could not be deleted", &e);
                }
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        });
        let worker = match self.state.settings.worker {
            true => Some(
                worker::Worker::new(
                    self.state.store.clone(),
                    self.state.engine.clone(),
                    self.state.embedder.clone(),
                    self.state.settings.jobs.clone(),
                    tokio::runtime::Handle::current(),
                )
                .with_metrics(self.state.metrics.clone())
                .start(self.state.wake.clone())?,
            ),
            false => None,
        };
        let app = self.router();
        let grace = self.state.settings.shutdown_grace;
        let limits = self.state.settings.limits;
        listen::serve(listener, app, limits, tls, async move {
            shutdown.await;
            // Let the running job finish and be saved; streams then end on their own.
            if let Some(w) = worker {
                let _ = tokio::task::spawn_blocking(move || w.shutdown(grace)).await;
            }
        })
        .await
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_body_bytes;
    let (api, _) = openapi::api_routes().split_for_parts();
    Router::new()
        .merge(api)
        .merge(web::routes())
        .merge(metrics::routes())
        .fallback(web::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            state.settings.limits.body_timeout,
        ))
        .with_state(state)
}

/// One line per request (an event of target `epicrisis::requests` in the request's span):
/// method, route pattern, status, milliseconds, and the request id of the span; the same
/// in the metrics. Never the URI (it can hold an episode id) and never bodies.
async fn log_request(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let t = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(sin ruta)".into());
    // Every line of this request carries its id (the span); the answer names it too.
    let id = request_id::of(req.headers());
    let span = tracing::info_span!("request", request_id = %id);
    let mut resp = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(request_id::HEADER, v);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // Patient data must not stay in a browser's or a proxy's cache; only the embedded
    // script and style sheet may.
    if !route.starts_with("/assets/") && !h.contains_key("cache-control") {
        h.insert("cache-control", HeaderValue::from_static("no-store"));
    }
    let (status, elapsed) = (resp.status().as_u16(), t.elapsed());
    state
        .metrics
        .request(method.as_str(), &route, status, elapsed);
    if state.settings.log_requests {
        // Tenths of a millisecond, so that the message and the field say the same.
        let ms = (elapsed.as_secs_f64() * 1e4).round() / 10.0;
        span.in_scope(|| {
            tracing::info!(target: "epicrisis::requests", %method, %route, status,
                duration_ms = ms, "{method} {route} {status} {ms:.1} ms");
        });
    }
    resp
}
