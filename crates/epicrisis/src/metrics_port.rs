//! The separate metrics address (`EPICRISIS_METRICS_LISTEN`) of `serve` and `worker`, and
//! the metrics token (`EPICRISIS_METRICS_TOKEN_FILE`) as the server takes it. The routes
//! and the counting are `epicrisis_server::metrics`'.

use crate::Failure;
use crate::config::Config;
use epicrisis_server::AppState;
use epicrisis_server::metrics::{self, Exporter, Metrics, MetricsToken};
use epicrisis_store::Store;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The token a scraper must send, read from its file.
pub(crate) fn token(config: &Config) -> Result<Option<MetricsToken>, Failure> {
    Ok(config
        .observability
        .metrics_token()?
        .map(|s| MetricsToken::new(s.expose().to_string())))
}

/// The metrics address, bound; `None` when none is set.
async fn bind(config: &Config) -> Result<Option<TcpListener>, Failure> {
    let Some(addr) = config.observability.metrics_listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        Failure::Input(format!(
            "no se puede escuchar en {addr}: {e} (EPICRISIS_METRICS_LISTEN; ¿otro proceso usa \
             ese puerto?)"
        ))
    })?;
    let local = listener.local_addr()?;
    tracing::info!("métricas en http://{local}/metrics");
    Ok(Some(listener))
}

/// `serve`: `/metrics` on the metrics address too, when one is set (on its own port it
/// always answers, with a token).
pub(crate) async fn for_server(state: &AppState, config: &Config) -> Result<(), Failure> {
    if let Some(listener) = bind(config).await? {
        metrics::spawn(listener, metrics::admin_router(state.clone()));
    }
    Ok(())
}

/// `worker`: the metrics its drafts are counted in, served on the metrics address when
/// one is set (a worker has no other port).
pub(crate) async fn for_worker(store: &Store, config: &Config) -> Result<Arc<Metrics>, Failure> {
    let counted = Arc::new(Metrics::default());
    if let Some(listener) = bind(config).await? {
        let exporter = Exporter {
            metrics: counted.clone(),
            store: store.clone(),
            token: token(config)?,
        };
        metrics::spawn(listener, metrics::exporter_router(exporter));
    }
    Ok(counted)
}
