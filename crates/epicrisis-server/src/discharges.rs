//! «Altas de hoy» as a day's work: each discharged episode with the state of its draft
//! (queued, being drafted, ready with n errors to fix, signed), and one button that
//! drafts, as a batch ([`crate::batches`]), every episode of the day still without a
//! draft. The list itself is the episode list's review order (`web.rs`).

use crate::AppState;
use crate::admin::form_poster;
use crate::batches::start_batch;
use crate::web::error_page;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use epicrisis_store::{EpisodeSummary, JobState, VersionStatus};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new().route("/episodios/lote", post(draft_the_day))
}

/// Where an episode's draft stands, beyond the list's columns.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DayState {
    /// `queued` or `running` while a draft job is under way.
    pub job: Option<&'static str>,
    /// Errors the check found in the newest draft.
    pub errors: Option<usize>,
}

/// The state of each listed episode's draft, by episode id; and whether a draft is
/// under way for any (the page then reloads itself).
pub async fn day_states(
    state: &AppState,
    rows: &[EpisodeSummary],
) -> (HashMap<String, DayState>, bool) {
    let mut out = HashMap::new();
    let mut under_way = false;
    // Two queries for the whole page: the jobs under way (the queue's length at most),
    // and the newest drafts. A failed query leaves the columns empty, not the page.
    let mut active: HashMap<String, JobState> = HashMap::new();
    match state.store.active_jobs().await {
        Ok(jobs) => {
            for j in jobs {
                if let Some(e) = j.episode_id {
                    active.insert(e, j.state);
                }
            }
        }
        Err(e) => crate::api::warn("the draft jobs under way could not be read", &e),
    }
    let drafts: Vec<String> = rows
        .iter()
        .filter(|r| r.latest_status == Some(VersionStatus::Draft))
        .filter(|r| !active.contains_key(&r.episode_id))
        .map(|r| r.episode_id.clone())
        .collect();
    let latest = state
        .store
        .latest_versions(&drafts)
        .await
        .unwrap_or_else(|e| {
            crate::api::warn("the newest drafts could not be read", &e);
            HashMap::new()
        });
    for r in rows {
        let mut s = DayState::default();
        if let Some(job) = active.get(&r.episode_id) {
            s.job = Some(match job {
                JobState::Running => "running",
                _ => "queued",
            });
            under_way = true;
        } else if let Some(v) = latest.get(&r.episode_id) {
            s.errors = Some(crate::api::report_of(v).error_count());
        }
        out.insert(r.episode_id.clone(), s);
    }
    (out, under_way)
}

#[derive(Debug, Deserialize)]
struct DayForm {
    csrf: Option<String>,
    desde: String,
    hasta: String,
    /// `1`: only the poster's own episodes (as «Mis altas de hoy» lists them).
    mias: Option<String>,
}

/// Drafts every episode discharged between the form's dates that has no version and no
/// draft under way, as one batch; back to the list.
async fn draft_the_day(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<DayForm>,
) -> Response {
    let p = match form_poster(&state, &headers, f.csrf.as_deref()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let query = match crate::api::episode_query(
        None,
        None,
        Some(f.desde.clone()),
        Some(f.hasta.clone()),
        Some(1000),
        None,
    ) {
        Ok(q) => q,
        Err(e) => return error_page(&state, e),
    };
    let rows = match state.store.list_episodes(&query).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, e.into()),
    };
    // The jobs under way, read once (an episode with one is left out; when they cannot
    // be read, every episode is, as one read per episode did).
    let busy: Option<std::collections::HashSet<String>> = state
        .store
        .active_jobs()
        .await
        .ok()
        .map(|jobs| jobs.into_iter().filter_map(|j| j.episode_id).collect());
    let mine = crate::web::only_mine(f.mias.as_deref());
    let is_listed = |r: &EpisodeSummary| {
        !mine
            || r.physician
                .as_deref()
                .is_some_and(|doc| crate::listing::is_treating_physician(&p.user.display_name, doc))
    };
    let ids: Vec<String> = match &busy {
        Some(busy) => rows
            .iter()
            .filter(|r| r.latest_status.is_none() && !busy.contains(&r.episode_id))
            .filter(|r| is_listed(r))
            .map(|r| r.episode_id.clone())
            .collect(),
        None => Vec::new(),
    };
    let name = if f.desde == f.hasta {
        format!("Altas del {}", f.desde)
    } else {
        format!("Altas del {} al {}", f.desde, f.hasta)
    };
    if !ids.is_empty()
        && let Err(e) = start_batch(&state, &p, &name, &ids).await
    {
        return error_page(&state, e);
    }
    let back = format!(
        "/episodios?orden=revision&desde={}&hasta={}{}",
        urlencoding(&f.desde),
        urlencoding(&f.hasta),
        if mine { "&mias=1" } else { "" }
    );
    Redirect::to(&back).into_response()
}

/// Dates go back into a URL: only what an ISO date holds is kept.
fn urlencoding(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_digit() || *c == '-')
        .collect()
}
