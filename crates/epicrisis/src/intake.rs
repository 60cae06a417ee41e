//! Episodes from the hospital's systems into the store, and their drafts queued: what
//! `epicrisis pull`, the pull schedule of `serve` and the HL7 v2 listener share.
//!
//! Idempotent by construction: an episode whose data did not change adds no data revision
//! (the store compares the parsed episode), and one that is signed or already has a draft
//! of its current data is not drafted again (`batches::draft_if_needed`). A changed
//! source episode becomes a new revision; if its draft was signed, the physician sees the
//! notice of new data on the episode's page.
//!
//! Nothing here prints an episode's number or contents: the schedule's line gives counts,
//! and each refusal's reason names the setting and the remote answer.

use epicrisis_server::AppState;
use epicrisis_server::auth::Principal;
use epicrisis_server::batches::Refused;
use epicrisis_sources::{Since, Source, SourceError};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// One episode document read from the source.
pub(crate) struct Pulled {
    /// The source's key, for reports (the operator's own terminal or file).
    pub key: String,
    pub document: Vec<u8>,
}

/// What a pull read: the documents, the episodes the source could not give, and how many
/// the listing named.
pub(crate) struct Fetch {
    pub pulled: Vec<Pulled>,
    pub refused: Vec<Refused>,
    pub listed: usize,
}

/// Lists the discharges since `since` (when given), adds `keys`, and reads each episode.
/// A listing that fails is an error; an episode that fails is a refusal with its reason.
pub(crate) async fn fetch(
    source: &Source,
    since: Option<Since>,
    keys: &[String],
) -> Result<Fetch, SourceError> {
    let mut wanted: Vec<String> = Vec::new();
    if let Some(since) = since {
        wanted.extend(
            source
                .discharged_since(since)
                .await?
                .into_iter()
                .map(|d| d.id),
        );
    }
    let listed = wanted.len();
    for k in keys {
        if !wanted.contains(k) {
            wanted.push(k.clone());
        }
    }
    let mut pulled = Vec::new();
    let mut refused = Vec::new();
    for key in wanted {
        match source.episode(&key).await {
            Ok(f) => pulled.push(Pulled {
                key,
                document: f.document,
            }),
            Err(e) => refused.push(Refused {
                episode_id: key,
                reason: e.to_string(),
            }),
        }
    }
    Ok(Fetch {
        pulled,
        refused,
        listed,
    })
}

/// Imports what was read: the stored episodes' ids, and the documents the readers refused.
pub(crate) async fn import(state: &AppState, pulled: &[Pulled]) -> (Vec<String>, Vec<Refused>) {
    let mut ids = Vec::new();
    let mut refused = Vec::new();
    for p in pulled {
        match epicrisis_server::api::store_episode(state, &p.document, None).await {
            Ok((row, _)) => ids.push(row.episode_id),
            Err(e) => refused.push(Refused {
                episode_id: p.key.clone(),
                reason: e.message,
            }),
        }
    }
    (ids, refused)
}

/// Records a pull in the audit trail: where from and how many, no episode numbers.
pub(crate) async fn audit_pull(
    state: &AppState,
    p: &Principal,
    source: &Source,
    how: &str,
    imported: usize,
    refused: usize,
) {
    let detail = json!({"source": source.describe(), "how": how, "imported": imported,
                        "refused": refused});
    if let Err(e) = epicrisis_server::api::audit(state, Some(p), "pull", None, None, detail).await {
        tracing::warn!(
            "aviso: no se pudo registrar la importación en la auditoría: {}",
            e.message
        );
    }
}

/// The first day a scheduled pull looks at: today (UTC) and the `days - 1` before it.
pub(crate) fn since_days(days: u32) -> Since {
    let today = time::OffsetDateTime::now_utc().date();
    Since(today - time::Duration::days(i64::from(days.saturating_sub(1))))
}

/// One scheduled pull: imports the discharges of the last `days` days and queues, as one
/// batch, the drafts that are needed. Returns the line for the server's log (counts only).
pub(crate) async fn scheduled_pull(
    state: &AppState,
    source: &Source,
    p: &Principal,
    days: u32,
) -> String {
    let since = since_days(days);
    let fetched = match fetch(source, Some(since), &[]).await {
        Ok(f) => f,
        Err(e) => return format!("importación programada: falló: {e}"),
    };
    let (ids, mut refused) = import(state, &fetched.pulled).await;
    refused.extend(fetched.refused);
    audit_pull(state, p, source, "programada", ids.len(), refused.len()).await;
    let mut needed = Vec::new();
    for id in &ids {
        match epicrisis_server::batches::needs_draft(state, id).await {
            Ok(true) => needed.push(id.clone()),
            Ok(false) => {}
            Err(e) => refused.push(Refused {
                episode_id: id.clone(),
                reason: e.message,
            }),
        }
    }
    let mut line = format!(
        "importación programada desde {}: {} altas, {} importadas, {} por redactar, {} con problemas",
        since.iso(),
        fetched.listed,
        ids.len(),
        needed.len(),
        refused.len()
    );
    if !needed.is_empty() {
        let name = format!("Altas desde {} (fuente)", since.iso());
        if let Err(e) = epicrisis_server::batches::start_batch(state, p, &name, &needed).await {
            line.push_str(&format!("; el lote no se pudo crear: {}", e.message));
        }
    }
    line
}

/// The pull schedule of `serve`: the first pull ten seconds after start, then every `every`.
pub(crate) fn spawn_schedule(
    state: AppState,
    source: Arc<Source>,
    p: Principal,
    every: Duration,
    days: u32,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10).min(every)).await;
        loop {
            let line = scheduled_pull(&state, &source, &p, days).await;
            tracing::info!("{line}");
            tokio::time::sleep(every).await;
        }
    })
}

/// A discharge announced by an HL7 ADT^A03: reads the episode `key` (PV1-19) from the
/// source, imports it and queues its draft. `Ok`: the AA text; `Err`: the AE text. Both
/// are Spanish and carry no patient data.
pub(crate) async fn on_discharge(
    state: &AppState,
    source: &Source,
    p: &Principal,
    key: &str,
) -> Result<String, String> {
    let fetched = source
        .episode(key)
        .await
        .map_err(|e| format!("no se pudo leer el episodio de la fuente: {e}"))?;
    let (row, _) = epicrisis_server::api::store_episode(state, &fetched.document, None)
        .await
        .map_err(|e| format!("el episodio llegó, pero no se pudo importar: {}", e.message))?;
    audit_pull(state, p, source, "hl7", 1, 0).await;
    match epicrisis_server::batches::draft_if_needed(state, p, &row.episode_id).await {
        Ok(Some(_)) => Ok("episodio importado; borrador en cola".into()),
        Ok(None) => {
            Ok("episodio importado; ya tenía borrador de estos datos o está firmado".into())
        }
        Err(e) => Err(format!(
            "episodio importado, pero su borrador no se pudo encolar: {}",
            e.message
        )),
    }
}

/// What `serve` runs besides HTTP when a source is configured: the pull schedule and the
/// HL7 v2 listener.
pub(crate) struct Services {
    schedule: Option<tokio::task::JoinHandle<()>>,
    mllp: Option<(
        tokio::task::JoinHandle<epicrisis_sources::mllp::MllpCounts>,
        tokio::sync::watch::Sender<bool>,
    )>,
}

impl Services {
    /// Starts what the settings ask for; nothing when no source is configured.
    pub(crate) async fn start(
        state: &AppState,
        config: &crate::config::Config,
    ) -> Result<Services, crate::Failure> {
        let s = &config.sources;
        let mut services = Services {
            schedule: None,
            mllp: None,
        };
        if s.pull_every.is_none() && s.mllp_listen.is_none() {
            return Ok(services);
        }
        let source = Arc::new(crate::sources_cmd::connect(config).await?);
        let user = s.pull_as.as_deref().unwrap_or_default();
        let p = crate::batch_cmd::physician(&state.store, user, "EPICRISIS_PULL_AS").await?;
        tracing::info!("fuente de episodios: {}", source.describe());
        if let Some(every) = s.pull_every {
            tracing::info!(
                "importación programada: cada {} min, a nombre de {user}",
                every.as_secs() / 60
            );
            services.schedule = Some(spawn_schedule(
                state.clone(),
                source.clone(),
                p.clone(),
                every,
                s.pull_days,
            ));
        }
        if let Some(addr) = s.mllp_listen {
            services.mllp = Some(spawn_mllp(state, source, p, addr).await?);
        }
        Ok(services)
    }

    /// Stops the schedule at once and lets the HL7 listener answer what it was answering.
    pub(crate) async fn stop(self) {
        if let Some(h) = self.schedule {
            h.abort();
        }
        if let Some((h, stop)) = self.mllp {
            let _ = stop.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(30), h).await;
        }
    }
}

async fn spawn_mllp(
    state: &AppState,
    source: Arc<Source>,
    p: Principal,
    addr: std::net::SocketAddr,
) -> Result<
    (
        tokio::task::JoinHandle<epicrisis_sources::mllp::MllpCounts>,
        tokio::sync::watch::Sender<bool>,
    ),
    crate::Failure,
> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        crate::Failure::Input(format!(
            "EPICRISIS_MLLP_LISTEN={addr}: no se pudo escuchar ahí: {e} (¿otro programa usa ese puerto?)"
        ))
    })?;
    let local = listener.local_addr()?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let state = state.clone();
    let handler = move |event: epicrisis_sources::hl7v2::DischargeEvent| {
        let (state, source, p) = (state.clone(), source.clone(), p.clone());
        async move { on_discharge(&state, &source, &p, &event.visit_number).await }
    };
    let shutdown = async move {
        let _ = stopped.wait_for(|v| *v).await;
    };
    let task = tokio::spawn(epicrisis_sources::mllp::serve(
        listener,
        epicrisis_sources::mllp::MllpSettings::default(),
        handler,
        shutdown,
    ));
    tracing::info!("HL7 v2: escuchando MLLP en {local}");
    Ok((task, stop))
}
