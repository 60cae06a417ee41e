//! The Spanish web interface: server-rendered pages (minijinja templates compiled into
//! the binary), one small script and one style sheet, also embedded — no CDN, works
//! offline. The script streams drafts (Server-Sent Events), re-validates while the
//! clinician types and highlights every finding in place. Admins manage accounts on the
//! «Administración» page (plain forms with the session's CSRF token, the API's rules).

use crate::api::{audit, finding_class, parsed_episode, version_summary};
use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::{AppState, now_ms};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use epicrisis_domain::Episode;
use epicrisis_store::{Role, VersionRow};
use epicrisis_validate::Report;
use minijinja::{Environment, context};
use serde::Deserialize;
use serde_json::{Value, json};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("episodes.html", include_str!("../templates/episodes.html")),
    ("episode.html", include_str!("../templates/episode.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("admin.html", include_str!("../templates/admin.html")),
    ("similar.html", include_str!("../templates/similar.html")),
    ("api-docs.html", include_str!("../templates/api-docs.html")),
];
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// The compiled templates (a template error is a bug caught by the tests).
pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_filter("dmy", dmy);
    env.add_filter("engine_es", engine_es);
    for (name, src) in TEMPLATES {
        if let Err(e) = env.add_template(name, src) {
            tracing::error!("error en la plantilla {name}: {e}");
        }
    }
    env
}

/// `2025-12-26` as a Chilean reader writes it, `26/12/2025`; anything else as it is.
fn dmy(iso: String) -> String {
    match epicrisis_domain::Date::parse(&iso) {
        Ok(d) if iso.len() == 10 => d.to_dmy(),
        _ => iso,
    }
}

/// A drafting engine's name as a physician reads it in the version list.
fn engine_es(name: String) -> String {
    match name.as_str() {
        "deterministic" => "sin modelo".into(),
        "llama.cpp" => "modelo local".into(),
        "openai" | "anthropic" => format!("proveedor externo, {name}"),
        _ => name,
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/episodios") }))
        .merge(crate::login::routes())
        .route("/episodios", get(episodes_page))
        .route("/episodios/{id}", get(episode_page))
        .route("/casos-similares", get(similar_page))
        .route("/assets/app.js", get(js))
        .route("/assets/app.css", get(css))
        .merge(crate::admin::routes())
        .merge(crate::discharges::routes())
}

pub(crate) fn page(state: &AppState, name: &str, ctx: minijinja::Value) -> Response {
    let rendered = state
        .templates
        .get_template(name)
        .and_then(|t| t.render(ctx));
    match rendered {
        Ok(html) => {
            let mut r = Html(html).into_response();
            let h = r.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
                ),
            );
            r
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("error de plantilla: {e}"),
        )
            .into_response(),
    }
}

pub(crate) fn error_page(state: &AppState, e: ApiError) -> Response {
    let mut r = page(
        state,
        "error.html",
        context! { status => e.status.as_u16(), message => e.message,
        hospital => state.settings.hospital_name },
    );
    *r.status_mut() = e.status;
    r
}

/// A path no route serves: a JSON error under `/api`, a page in Spanish elsewhere.
pub async fn not_found(State(state): State<AppState>, uri: axum::http::Uri) -> Response {
    let e = ApiError::not_found(
        "no existe esa página; vuelva a la lista de episodios o revise la dirección",
    );
    if uri.path().starts_with("/api/") || uri.path().starts_with("/v1/") {
        return e.into_response();
    }
    error_page(&state, e)
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
        .into_response()
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response()
}

/// The signed-in user of a page, or the way to the login page.
pub(crate) async fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Principal, Response> {
    match auth::principal(state, headers).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(Redirect::to("/login").into_response()),
        Err(e) => Err(error_page(state, e)),
    }
}

pub(crate) fn user_ctx(p: &Principal) -> Value {
    json!({"name": p.user.display_name, "username": p.user.username, "role": p.user.role.as_str(),
           "role_label": p.user.role.label_es(),
           "can_edit": matches!(p.user.role, Role::Medico | Role::Admin)})
}

/// How drafts are written here, in words for the header: a local model, a provider
/// outside (with where de-identified text goes), or the writer without a model.
pub(crate) fn engine_ctx(state: &AppState) -> Value {
    use epicrisis_pipeline::engine::Engine;
    let to = state.settings.external_notice.as_deref();
    let (name, drafter) = if state.settings.worker {
        let drafter = match &state.engine {
            Engine::Deterministic => Drafter::Deterministic,
            Engine::Model { external: true, .. } => Drafter::External,
            Engine::Model { .. } if to.is_some() => Drafter::External,
            Engine::Model { .. } => Drafter::Local("del servidor"),
        };
        (state.engine.name().to_string(), drafter)
    } else {
        // A server that does not draft: what its workers draft with, as far as the
        // settings say.
        let engine = state.settings.workers_engine.as_deref();
        let drafter = match engine {
            Some("deterministic") => Drafter::Deterministic,
            Some("local") => Drafter::Local("del hospital"),
            Some(_) => Drafter::External,
            None => Drafter::Workers,
        };
        (engine.unwrap_or("worker").to_string(), drafter)
    };
    json!({"name": name, "external": to, "label": engine_label(drafter, to)})
}

/// Who writes the drafts, for the notice above the text.
enum Drafter {
    Deterministic,
    /// A local model, and where the data stays.
    Local(&'static str),
    External,
    /// Separate worker processes whose engine this server does not know.
    Workers,
}

fn engine_label(drafter: Drafter, external_to: Option<&str>) -> String {
    match drafter {
        Drafter::Deterministic => "Redacción sin modelo: texto armado con los datos".into(),
        Drafter::Local(place) => {
            format!("Redacción con modelo local: los datos no salen {place}")
        }
        Drafter::External => match external_to {
            Some(to) => format!(
                "Redacción con proveedor externo: salen solo datos desidentificados, a {to}"
            ),
            None => "Redacción con proveedor externo: salen solo datos desidentificados".into(),
        },
        Drafter::Workers => "Redactan los equipos de redacción del hospital".into(),
    }
}

// ------------------------------------------------------------------ pages

#[derive(Deserialize)]
struct ListParams {
    q: Option<String>,
    servicio: Option<String>,
    desde: Option<String>,
    hasta: Option<String>,
    /// `revision`: «Altas de hoy», ordered for review ([`review_rank`]).
    orden: Option<String>,
    /// `1`: only the episodes whose treating physician is the account's name.
    mias: Option<String>,
}

/// Whether a list asks for the physician's own episodes only (`mias=1`).
pub(crate) fn only_mine(mias: Option<&str>) -> bool {
    matches!(mias, Some("1" | "si" | "true"))
}

/// Today's date on the server's clock (UTC), `YYYY-MM-DD`.
fn today_iso() -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(now_ms() / 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The order of «Altas de hoy»: drafts ready to sign first (the work at hand), then
/// episodes without a draft (to draft), amendments awaiting signature, and signed ones.
fn review_rank(e: &epicrisis_store::EpisodeSummary) -> u8 {
    use epicrisis_store::VersionStatus::{Draft, Signed};
    match (e.latest_status, e.signed_number) {
        (Some(Draft), None) => 0,
        (None, _) => 1,
        (Some(Draft), Some(_)) => 2,
        (Some(Signed), _) => 3,
    }
}

async fn episodes_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListParams>,
) -> Response {
    let p = match viewer(&state, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let review = q.orden.as_deref() == Some("revision");
    let mut q = q;
    if review && q.desde.is_none() && q.hasta.is_none() {
        // Without dates (no script to send the browser's own date): today on the server.
        let today = today_iso();
        q.desde = Some(today.clone());
        q.hasta = Some(today);
    }
    let query = match crate::api::episode_query(
        q.q.clone(),
        q.servicio.clone(),
        q.desde.clone(),
        q.hasta.clone(),
        Some(200),
        None,
    ) {
        Ok(q) => q,
        Err(e) => return error_page(&state, e),
    };
    let mut rows = match state.store.list_episodes(&query).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, e.into()),
    };
    let mine = review && only_mine(q.mias.as_deref());
    let day_total = rows.len();
    if mine {
        rows.retain(|r| {
            r.physician
                .as_deref()
                .is_some_and(|doc| crate::listing::is_treating_physician(&p.user.display_name, doc))
        });
    }
    let (states, under_way) = if review {
        // Stable: within a rank, the store's order (newest discharge first).
        rows.sort_by_key(review_rank);
        crate::discharges::day_states(&state, &rows).await
    } else {
        Default::default()
    };
    let undrafted = rows
        .iter()
        .filter(|r| {
            r.latest_status.is_none() && states.get(&r.episode_id).is_none_or(|s| s.job.is_none())
        })
        .count();
    page(
        &state,
        "episodes.html",
        context! {
            user => user_ctx(&p), csrf => p.csrf(), engine => engine_ctx(&state),
            hospital => state.settings.hospital_name,
            episodes => rows, q => q.q, servicio => q.servicio, desde => q.desde, hasta => q.hasta,
            review => review, states => states, under_way => under_way, undrafted => undrafted,
            mine => mine, day_total => day_total,
        },
    )
}

fn num(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0')
        .trim_end_matches('.')
        .replace('.', ",")
}

fn lab_value(v: &epicrisis_domain::LabValue) -> Value {
    let range = match (v.range_low, v.range_high) {
        (Some(l), Some(h)) => format!("{}–{}", num(l), num(h)),
        (Some(l), None) => format!("≥ {}", num(l)),
        (None, Some(h)) => format!("≤ {}", num(h)),
        (None, None) => String::new(),
    };
    let value = format!(
        "{}{}",
        v.comparator.map_or("", |c| c.symbol()),
        num(v.value)
    );
    json!({"value": value, "date": v.date.map(|d| d.to_dmy()), "status": v.status,
           "status_es": v.status.as_es(), "range": range,
           "out": matches!(v.status, epicrisis_domain::LabStatus::High | epicrisis_domain::LabStatus::Low)})
}

/// What the episode page shows, already worded.
fn episode_view(ep: &Episode) -> Value {
    use epicrisis_pipeline::prose;
    let dx = |ds: &[epicrisis_domain::Diagnosis]| -> Vec<Value> {
        ds.iter()
            .map(|d| {
                let code = d.code.as_ref().map(|c| c.display());
                json!({"name": prose::list_name(&d.name), "code": code,
                       "doubt": code_doubt(ep, &d.name, code.as_deref())})
            })
            .collect()
    };
    let meds = |ms: &[epicrisis_domain::Medication]| -> Vec<Value> {
        ms.iter()
            .map(|m| {
                let code = m.code.as_ref().map(|c| c.display());
                json!({"text": prose::medication_item(m),
                       "doubt": code_doubt(ep, &m.name, code.as_deref())})
            })
            .collect()
    };
    // Notes by day, in order.
    let mut days: Vec<(String, Vec<String>)> = Vec::new();
    for n in &ep.evolution {
        let label = match (n.day, n.date) {
            (Some(d), Some(date)) => format!("Día {d} · {}", date.to_dmy()),
            (None, Some(date)) => date.to_dmy(),
            (Some(d), None) => format!("Día {d}"),
            (None, None) => "Sin fecha".into(),
        };
        match days.last_mut() {
            Some((l, notes)) if *l == label => notes.push(n.text.clone()),
            _ => days.push((label, vec![n.text.clone()])),
        }
    }
    json!({
        "patient": {
            "name": ep.patient.name, "identifier": ep.patient.identifier,
            "sex": ep.patient.sex.and_then(|x| serde_json::to_value(x).ok()).and_then(|v| v.as_str().map(|s| match s {
                "female" => "femenino".to_string(),
                "male" => "masculino".to_string(),
                other => other.to_string(),
            })),
            "age": ep.patient.age_es(),
        },
        "admission": ep.admission_date.map(|d| d.to_dmy()),
        "discharge": ep.discharge_date.map(|d| d.to_dmy()),
        "service": ep.service, "physician": ep.physician, "reason": ep.reason,
        "admission_dx": dx(&ep.admission_diagnoses),
        "discharge_dx": dx(&ep.discharge_diagnoses),
        "procedures": ep.procedures.iter().map(|p| prose::procedure_inline(p, true)).collect::<Vec<_>>(),
        "treatments": meds(&ep.treatments),
        "timeline": days.into_iter().map(|(l, n)| json!({"label": l, "notes": n})).collect::<Vec<_>>(),
        "labs": ep.labs.iter().map(|l| json!({
            "test": l.test, "unit": l.unit, "first": lab_value(&l.first),
            "last": l.last.as_ref().map(lab_value), "min": num(l.min), "max": num(l.max),
            // A range only when the values differ (one value has none).
            "spread": l.min != l.max,
        })).collect::<Vec<_>>(),
        "lab_findings": ep.lab_findings.iter().map(|f| json!({
            "test": f.test, "result": f.result, "date": f.date.map(|d| d.to_dmy()),
        })).collect::<Vec<_>>(),
        "discharge_meds": meds(&ep.discharge.medications),
        "controls": ep.discharge.controls, "care": ep.discharge.care,
        "warning_signs": ep.discharge.warning_signs, "recommendations": ep.discharge.recommendations,
    })
}

/// The doubt about an item's code, if the data has one: a code that belongs to another
/// drug or diagnosis, or a malformed one, found by the item's name or its code in the
/// warning's words.
fn code_doubt(ep: &Episode, name: &str, code: Option<&str>) -> Option<String> {
    use epicrisis_domain::WarningKind::{MalformedCode, SuspiciousCode};
    let quoted = format!("«{name}»");
    ep.warnings
        .iter()
        .filter(|w| matches!(w.kind, SuspiciousCode | MalformedCode))
        .find(|w| {
            let t = w.text_es();
            t.contains(&quoted) || code.is_some_and(|c| !c.is_empty() && t.contains(c))
        })
        .map(|w| w.text_es().to_string())
}

/// The data's warnings for the page, the most harmful first: each with its kind and
/// place in words; `minor` says it only rewrote a value into canonical form.
fn warnings_view(ep: &Episode) -> Vec<Value> {
    let mut ws: Vec<_> = ep.warnings.iter().collect();
    ws.sort_by_key(|w| w.kind.harm_rank());
    ws.iter()
        .map(|w| {
            json!({"kind": w.kind, "label": w.kind.label_es(), "place": w.place_es(),
                   "text": w.text_es(), "minor": w.kind == epicrisis_domain::WarningKind::Normalised})
        })
        .collect()
}

fn findings_ctx(report: &Report) -> Value {
    let list: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({"class": finding_class(f), "mention": f.mention, "message": f.message,
                        "span": f.span, "claim": f.claim, "category": f.category, "kind": f.kind})
        })
        .collect();
    json!(list)
}

async fn episode_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let p = match viewer(&state, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let stored = match parsed_episode(&state, &id).await {
        Ok(x) => x,
        Err(e) => return error_page(&state, e),
    };
    let ep = &stored.parsed.episode;
    let versions: Vec<VersionRow> = match state.store.versions(&id).await {
        Ok(v) => v,
        Err(e) => return error_page(&state, e.into()),
    };
    if let Err(e) = audit(
        &state,
        Some(&p),
        "view",
        Some(&id),
        None,
        json!({"page": true}),
    )
    .await
    {
        return error_page(&state, e);
    }
    let latest = versions.last();
    let revision = stored.meta.revision;
    // The latest version's evidence refers to the data it was written from.
    let evidence = match latest {
        Some(v) => match crate::record::version_data(&state, stored.clone(), v).await {
            Ok(data) => crate::api::version_evidence(v, data.parsed()),
            Err(e) => return error_page(&state, e),
        },
        None => Vec::new(),
    };
    let report: Report = latest
        .and_then(|v| serde_json::from_str(&v.report_json).ok())
        .unwrap_or_default();
    let summaries: Vec<_> = versions.iter().rev().map(version_summary).collect();
    // The draft queued or under way for this episode, followed after a reload.
    let job = match state.store.active_job(&id).await {
        Ok(Some(j)) => crate::jobs::job_view(&state, &j).await.ok(),
        _ => None,
    };
    page(
        &state,
        "episode.html",
        context! {
            user => user_ctx(&p), csrf => p.csrf(), engine => engine_ctx(&state),
            hospital => state.settings.hospital_name,
            id => stored.meta.episode_id, shape => stored.meta.source_kind, ep => episode_view(ep),
            latest => latest.map(|v| json!({"id": v.id, "number": v.number, "status": v.status, "text": v.text, "kind": v.kind, "episode_revision": v.episode_revision})),
            revision => revision,
            signed => versions.iter().rev().find(|v| v.status == epicrisis_store::VersionStatus::Signed)
                .map(|v| json!({"id": v.id, "number": v.number})),
            findings => findings_ctx(&report),
            evidence => evidence,
            origins => latest.map(|v| crate::origins::origin_spans(&v.text, &v.provenance_json)).unwrap_or_default(),
            has_similar_query => !crate::archive::episode_query(ep).is_empty(),
            versions => summaries,
            warnings => warnings_view(ep),
            job => job,
        },
    )
}

#[derive(serde::Deserialize)]
struct SimilarParams {
    q: Option<String>,
    k: Option<String>,
    /// An episode to leave out (the one the search started from).
    excluir: Option<String>,
    /// Search for cases like this episode: its reason, diagnoses and procedures become
    /// the query (built here, so that no clinical words travel in the link) and the
    /// episode itself is left out.
    episodio: Option<String>,
}

/// «Casos similares»: the archive of signed epicrisis searched by meaning. Without a
/// query, the form alone; a bad query or a server without an embeddings model is said on
/// the page, next to the form.
async fn similar_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SimilarParams>,
) -> Response {
    let p = match viewer(&state, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut q = q;
    if let Some(id) = q.episodio.take().filter(|id| !id.trim().is_empty()) {
        match parsed_episode(&state, &id).await {
            Ok(stored) => {
                q.q = Some(crate::archive::episode_query(&stored.parsed.episode));
                q.excluir = Some(id);
            }
            Err(e) => return error_page(&state, e),
        }
    }
    let text = q.q.clone().unwrap_or_default();
    let searched = !text.trim().is_empty();
    let (results, error, status) = if searched {
        let k = match q.k.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            None => Ok(None),
            Some(k) => k.parse::<usize>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "«Resultados» debe ser un número entre 1 y {}",
                    crate::api::ARCHIVE_MAX_K
                ))
            }),
        };
        let found = match k {
            Ok(k) => {
                crate::api::search_archive(&state, &p, q.q.clone(), k, q.excluir.clone()).await
            }
            Err(e) => Err(e),
        };
        match found {
            Ok(a) => (a, None, StatusCode::OK),
            // Not a mistake of the person searching: said as a notice, below.
            Err(e) if state.embedder.is_none() => (Default::default(), None, e.status),
            Err(e) => (Default::default(), Some(e.message), e.status),
        }
    } else {
        (Default::default(), None, StatusCode::OK)
    };
    let pending = results.pending;
    let results: Vec<Value> = results
        .results
        .iter()
        .map(|r| {
            json!({"episode_id": r.episode_id, "version_id": r.version_id,
                   "score": format!("{:.2}", r.score), "signed_at": r.signed_at, "snippet": r.snippet})
        })
        .collect();
    let mut r = page(
        &state,
        "similar.html",
        context! {
            user => user_ctx(&p), csrf => p.csrf(), engine => engine_ctx(&state),
            hospital => state.settings.hospital_name,
            q => text, k => q.k, excluir => q.excluir, searched => searched,
            results => results, error => error, pending => pending,
            model => state.embedder.as_ref().map(|e| e.name().to_string()),
            available => state.embedder.is_some(),
        },
    );
    *r.status_mut() = status;
    r
}
