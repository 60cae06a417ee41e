//! The JSON API: the predecessor's paths (its frontend and scripts keep working) and our
//! versioned `/api/v1`. Bodies are parsed into domain types before any work; every route
//! but `/api/health` needs a session or an API token; every read or change of a patient's
//! episode is written to the audit trail.

use crate::auth::{Principal, Via};
use crate::cache::{Parsed, StoredEpisode, StoredMeta};
use crate::drafting::{busy, queue_draft, wait};
use crate::error::{ApiError, ApiResult};
use crate::jobs::Status;
use crate::{AppState, now_ms};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use epicrisis_domain::Episode;
use epicrisis_pipeline::engine::{Engine, Guidance, Outcome};
use epicrisis_pipeline::grounded::evolution_paragraph;
use epicrisis_pipeline::{Draft, writer};
use epicrisis_store::{
    AuditEntry, EpisodeQuery, EpisodeRow, NewEpisode, NewVersion, Role, VersionKind, VersionRow,
    VersionStatus,
};
use epicrisis_validate::{Category, Finding, Kind, Report, Severity};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

pub fn routes() -> Router<AppState> {
    Router::new()
        // The predecessor's surface.
        .route("/api/health", get(health))
        .route("/api/episodes/{id}", get(legacy_episode))
        .route("/api/generate-epicrisis", post(legacy_generate))
        .route("/api/regenerate-epicrisis", post(legacy_regenerate))
        .route("/api/validate-epicrisis", post(legacy_validate))
        .route("/api/export/pdf", post(legacy_export_pdf))
        .route("/api/export/word", post(legacy_export_word))
        // Ours.
        .route("/api/v1/me", get(me))
        .route("/api/v1/episodes", get(list_episodes).post(import_episode))
        .route("/api/v1/episodes/{id}", get(get_episode))
        .route(
            "/api/v1/episodes/{id}/versions",
            get(list_versions).post(save_version),
        )
        .route("/api/v1/episodes/{id}/validate", post(validate_text))
        .route("/api/v1/episodes/{id}/audit", get(episode_audit))
        .route("/api/v1/versions/{id}", get(get_version))
        .route("/api/v1/versions/{id}/sign", post(sign_version))
        .route("/api/v1/archive/search", get(archive_search))
        .route("/api/v1/audit", get(full_audit))
        .route("/api/v1/audit/verify", get(verify_audit))
        .route("/api/v1/users", get(list_users).post(add_user))
        .route("/api/v1/users/{name}/disable", post(disable_user))
        .route("/api/v1/users/{name}/enable", post(enable_user))
        .route("/api/v1/users/{name}/password", post(set_user_password))
}

// ---------------------------------------------------------------- shared helpers

/// Writes one audit row; a failure to audit fails the request (nothing unaudited).
pub async fn audit(
    state: &AppState,
    p: Option<&Principal>,
    action: &str,
    episode_id: Option<&str>,
    version_id: Option<i64>,
    detail: Value,
) -> ApiResult<()> {
    state
        .store
        .audit(&AuditEntry {
            user_id: p.map(|p| p.user.id),
            username: p.map(|p| p.user.username.clone()),
            action: action.into(),
            episode_id: episode_id.map(str::to_string),
            version_id,
            detail: detail.to_string(),
        })
        .await?;
    Ok(())
}

/// Reads an episode of any shape the readers accept.
pub fn read_episode(bytes: &[u8], name: &str) -> ApiResult<Episode> {
    Ok(epicrisis_ingest::read_episode(bytes, name)?)
}

pub(crate) fn unknown_episode(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no existe el episodio {id:?}; impórtelo primero (POST /api/v1/episodes)"
    ))
}

/// The stored episode, parsed (with its source document, which the cache does not keep).
pub async fn load_episode(state: &AppState, id: &str) -> ApiResult<(EpisodeRow, Episode)> {
    let row = state
        .store
        .episode(id)
        .await?
        .ok_or_else(|| unknown_episode(id))?;
    let ep: Episode = serde_json::from_str(&row.episode_json)
        .map_err(|e| ApiError::internal(format!("stored episode {id:?} cannot be read: {e}")))?;
    Ok((row, ep))
}

/// The stored episode, parsed and indexed for validation: from the cache while the
/// store's row is unchanged (one small query), else read, parsed, indexed and cached.
/// Runs CPU-bound work (reading an episode, indexing it, validating a text) on the
/// blocking pool, so one large request cannot stall the async threads that serve
/// everybody else.
pub async fn blocking<T, F>(f: F) -> ApiResult<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

pub async fn parsed_episode(state: &AppState, id: &str) -> ApiResult<Arc<StoredEpisode>> {
    let stamp = state
        .store
        .episode_stamp(id)
        .await?
        .ok_or_else(|| unknown_episode(id))?;
    if let Some(hit) = state.episodes.get(id, stamp) {
        return Ok(hit);
    }
    let (row, ep) = load_episode(state, id).await?;
    let meta = StoredMeta {
        content_sha256: row.content_sha256(),
        revision: row.revision,
        episode_id: row.episode_id,
        source_kind: row.source_kind,
        imported_at: row.imported_at,
        updated_at: row.updated_at,
    };
    // Indexing takes a few milliseconds of CPU: off the async threads.
    let stored = tokio::task::spawn_blocking(move || StoredEpisode {
        meta,
        parsed: Parsed::new(ep),
    })
    .await
    .map_err(ApiError::internal)?;
    let stored = Arc::new(stored);
    state
        .episodes
        .put(id, stored.meta.updated_at, stored.clone());
    Ok(stored)
}

/// Stores an episode read from `bytes`; `id` overrides (or supplies) its id.
pub async fn store_episode(
    state: &AppState,
    bytes: &[u8],
    id: Option<String>,
) -> ApiResult<(EpisodeRow, Episode)> {
    let owned = bytes.to_vec();
    let mut ep = blocking(move || read_episode(&owned, "episode")).await??;
    if let Some(id) = id {
        ep.id = Some(id);
    }
    let episode_id = match ep.id.clone().filter(|s| !s.trim().is_empty()) {
        Some(id) => id,
        None => {
            let id = crate::listing::assigned_id(&ep)?;
            ep.warnings.push(epicrisis_domain::SourceWarning {
                kind: epicrisis_domain::WarningKind::Normalised,
                path: "id".into(),
                message: format!(
                    "the record has no episode number (id_atencion, episodeId or Encounter.id); \
                     it was given {id:?}, derived from its contents"
                ),
                message_es: format!(
                    "El registro no trae número de episodio (id_atencion); se le asignó «{id}» \
                     a partir de su contenido. Importar el mismo archivo otra vez abre este \
                     episodio; para que un archivo corregido lo actualice, agregue id_atencion."
                ),
            });
            ep.id = Some(id.clone());
            id
        }
    };
    if episode_id.len() > 128 || episode_id.contains(['/', '?', '#']) {
        return Err(ApiError::bad_request(
            "el identificador del episodio debe tener hasta 128 caracteres, sin / ? #; corríjalo en el archivo o indíquelo con ?id=…",
        ));
    }
    let row = state
        .store
        .put_episode(&NewEpisode {
            episode_id,
            service: ep.service.clone(),
            admission_date: ep.admission_date.map(|d| d.to_string()),
            discharge_date: ep.discharge_date.map(|d| d.to_string()),
            episode_json: serde_json::to_string(&ep).map_err(ApiError::internal)?,
            source: String::from_utf8_lossy(bytes).into_owned(),
            source_kind: ep.shape.as_str().to_string(),
            patient_name: ep.patient.name.clone(),
            diagnosis: crate::listing::main_diagnosis(&ep),
            search_text: Some(crate::listing::search_text(
                &ep.id.clone().unwrap_or_default(),
                &ep,
            )),
        })
        .await?;
    // The stamp moved on anyway; forgetting the old copy frees its memory now.
    state.episodes.invalidate(&row.episode_id);
    Ok((row, ep))
}

fn report_of(v: &VersionRow) -> Report {
    serde_json::from_str(&v.report_json).unwrap_or_default()
}

/// The draft structure of a version (its parts), for documents. `ep`: the episode data
/// the version was written from (`record::snapshot_episode`).
pub(crate) fn draft_of(v: &VersionRow, ep: &Episode, layout: epicrisis_pipeline::Layout) -> Draft {
    let stored: Option<Draft> = serde_json::from_str::<Value>(&v.provenance_json)
        .ok()
        .and_then(|p| p.get("draft").cloned())
        .and_then(|d| serde_json::from_value(d).ok());
    let template = stored.unwrap_or_else(|| writer::write(ep, layout));
    template.from_edited_text(&v.text)
}

fn counts(r: &Report) -> (usize, usize) {
    let e = r.error_count();
    (e, r.findings.len() - e)
}

pub fn version_summary(v: &VersionRow) -> Value {
    let (errors, warnings) = counts(&report_of(v));
    json!({
        "id": v.id, "number": v.number, "kind": v.kind, "status": v.status,
        "engine": v.engine, "author": v.author_name, "parentId": v.parent_id,
        "amends": v.amends, "contentHash": v.content_hash, "hashScheme": v.hash_scheme,
        "episodeRevision": v.episode_revision, "createdAt": v.created_at,
        "errors": errors, "warnings": warnings,
    })
}

fn version_full(v: &VersionRow) -> Value {
    let mut s = version_summary(v);
    s["text"] = json!(v.text);
    s["report"] = serde_json::from_str(&v.report_json).unwrap_or(Value::Null);
    s["provenance"] = serde_json::from_str(&v.provenance_json).unwrap_or(Value::Null);
    s
}

/// What is saved with a generated version: the parts (with their origin) and the
/// provenance, attempts and timings.
pub(crate) fn provenance_json(o: &Outcome) -> String {
    json!({
        "draft": o.draft,
        "provenance": o.provenance,
        "external": o.external,
        "attempts": o.attempts,
        "narrative": o.narrative,
        "timings": o.timings,
        "generateMs": o.generate_ms,
        "evidence": o.evidence,
    })
    .to_string()
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A problem that costs a convenience, not a request: one line on stderr (never patient
/// text: the store's and the model's errors name files, settings and shapes).
pub(crate) fn warn(what: &str, e: &dyn std::fmt::Display) {
    eprintln!("aviso: {what}: {e}");
}

// ---------------------------------------------------------------- predecessor

/// `GET /api/health`: «alive» for anyone (a load balancer's probe); the engine,
/// database and queue only for a signed-in caller.
async fn health(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    if !matches!(crate::auth::principal(&state, &headers).await, Ok(Some(_))) {
        return Json(json!({"status": "ok"}));
    }
    let (waiting, running) = state.queue.load();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "engine": state.engine.name(),
        "external": state.engine.is_external(),
        "database": state.store.backend(),
        "queue": {"waiting": waiting, "running": running, "capacity": state.queue.capacity()},
        "uptimeS": state.started.elapsed().as_secs(),
    }))
}

async fn legacy_episode(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (row, ep) = load_episode(&state, &id).await?;
    audit(
        &state,
        Some(&p),
        "view",
        Some(&id),
        None,
        json!({"api": "legacy"}),
    )
    .await?;
    let source: Value = serde_json::from_str(&row.source).unwrap_or(Value::Null);
    let (clinical, patient) = if let Some(cd) = source.get("clinicalData") {
        (cd.clone(), source.get("patientInfo").cloned())
    } else if source.get("resourceType").is_some() || source.is_null() {
        (serde_json::to_value(&ep).unwrap_or(Value::Null), None)
    } else if let Some(input) = source.get("input").filter(|v| v.is_object()) {
        (input.clone(), None)
    } else {
        (source, None)
    };
    let mut out = json!({"episodeId": id, "clinicalData": clinical});
    if let Some(pi) = patient {
        out["patientInfo"] = pi;
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyRequest {
    episode_id: Option<Value>,
    clinical_data: Option<Value>,
    patient_info: Option<Value>,
    text: Option<String>,
}

fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A JSON body parsed into `T`; one that does not fit is a 400 naming the expected
/// `shape` (every JSON route answers bad bodies the same way, as JSON).
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("el cuerpo debe ser JSON {shape}: {e}")))
}

fn parse_legacy(body: &Bytes) -> ApiResult<LegacyRequest> {
    json_body(body, "{episodeId?, clinicalData?, text?}")
}

/// A stored version, or 404.
pub(crate) async fn load_version(state: &AppState, id: i64) -> ApiResult<VersionRow> {
    state
        .store
        .version(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no existe la versión {id}")))
}

/// The episode of a predecessor request: sent inline, or stored (and cached).
enum Named {
    Inline(Box<Parsed>),
    Stored(Arc<StoredEpisode>),
}

impl Named {
    fn parsed(&self) -> &Parsed {
        match self {
            Named::Inline(p) => p,
            Named::Stored(s) => &s.parsed,
        }
    }

    /// The stored episode's id.
    fn id(&self) -> Option<&str> {
        match self {
            Named::Inline(_) => None,
            Named::Stored(s) => Some(&s.meta.episode_id),
        }
    }
}

/// The episode a predecessor request names: inline `clinicalData` (not stored) or a
/// stored `episodeId`.
async fn legacy_episode_of(state: &AppState, req: &LegacyRequest) -> ApiResult<Named> {
    if let Some(cd) = &req.clinical_data {
        let mut wrapper = json!({"clinicalData": cd});
        if let Some(id) = &req.episode_id {
            wrapper["episodeId"] = id.clone();
        }
        if let Some(pi) = &req.patient_info {
            wrapper["patientInfo"] = pi.clone();
        }
        let bytes = serde_json::to_vec(&wrapper).map_err(ApiError::internal)?;
        let parsed =
            blocking(move || read_episode(&bytes, "clinicalData").map(Parsed::new)).await??;
        return Ok(Named::Inline(Box::new(parsed)));
    }
    let Some(id) = req.episode_id.as_ref().and_then(id_string) else {
        return Err(ApiError::bad_request(
            "falta episodeId o clinicalData / send episodeId or clinicalData",
        ));
    };
    Ok(Named::Stored(parsed_episode(state, &id).await?))
}

fn legacy_type(c: Category) -> &'static str {
    match c {
        Category::Diagnosis | Category::Code => "dx",
        Category::Procedure => "proc",
        Category::Medication | Category::Dose | Category::Allergy => "med",
        Category::Number => "number",
        Category::Lab => "lab",
        Category::Date => "date",
        Category::Control => "control",
        Category::Other => "other",
    }
}

fn legacy_item(f: &Finding) -> Value {
    json!({"type": legacy_type(f.category), "mention": f.mention, "reason": f.message})
}

fn legacy_validation(r: &Report) -> Value {
    let violations: Vec<Value> = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(legacy_item)
        .collect();
    let warnings: Vec<Value> = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(legacy_item)
        .collect();
    json!({"ok": r.ok, "violations": violations, "warnings": warnings})
}

async fn legacy_generate(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let t = Instant::now();
    let req = parse_legacy(&body)?;
    Ok(Json(legacy_draft(&state, &p, &req, Vec::new(), t).await?))
}

const REGENERATE_SHAPE: &str =
    "{episodeId|clinicalData, previousEpicrisis?, violations: [{type, mention, reason}]}";

fn regenerate_error(m: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("{m} / the body must be JSON {REGENERATE_SHAPE}"))
}

/// The mentions of a regeneration's `violations` (the predecessor's
/// `[{type, mention, reason}]`, as `/api/generate-epicrisis` answered them). Absent or
/// null: none. Anything else malformed is refused, naming the item and field.
fn previous_violations(body: &Value) -> ApiResult<Vec<String>> {
    let items = match body.get("violations") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(regenerate_error(
                "violations: debe ser una lista [{type, mention, reason}]",
            ));
        }
    };
    if items.len() > 500 {
        return Err(regenerate_error(
            "violations: a lo sumo 500 elementos / at most 500",
        ));
    }
    let mut mentions = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(o) = item.as_object() else {
            return Err(regenerate_error(format!(
                "violations[{i}]: debe ser un objeto {{type, mention, reason}}"
            )));
        };
        let mention = match o.get("mention") {
            Some(Value::String(m)) if !m.trim().is_empty() => m.trim(),
            Some(Value::String(_)) => {
                return Err(regenerate_error(format!(
                    "violations[{i}].mention: está vacío / is empty"
                )));
            }
            Some(_) => {
                return Err(regenerate_error(format!(
                    "violations[{i}].mention: debe ser texto / must be a string"
                )));
            }
            None => {
                return Err(regenerate_error(format!(
                    "violations[{i}].mention: falta / is missing"
                )));
            }
        };
        if mention.chars().count() > 200 {
            return Err(regenerate_error(format!(
                "violations[{i}].mention: a lo sumo 200 caracteres / at most 200 characters"
            )));
        }
        for field in ["type", "reason"] {
            if o.get(field).is_some_and(|v| !v.is_string() && !v.is_null()) {
                return Err(regenerate_error(format!(
                    "violations[{i}].{field}: debe ser texto / must be a string"
                )));
            }
        }
        mentions.push(mention.to_string());
    }
    Ok(mentions)
}

/// `POST /api/regenerate-epicrisis`: a new draft, with the previous draft's violations
/// passed to the engine, so that a model is told from its first round which words the
/// data did not support. The deterministic writer only writes what the data says: with
/// it the violations change nothing and the answer is a fresh validated draft.
/// `previousEpicrisis` is accepted (the predecessor's clients send it) but not shown to
/// the model: small models copy what they are shown, so only the faulted words are named.
async fn legacy_regenerate(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let t = Instant::now();
    let raw: Value = json_body(&body, REGENERATE_SHAPE)?;
    if !raw.is_object() {
        return Err(regenerate_error("el cuerpo debe ser un objeto JSON"));
    }
    let avoid = previous_violations(&raw)?;
    if raw
        .get("previousEpicrisis")
        .is_some_and(|v| !v.is_string() && !v.is_null())
    {
        return Err(regenerate_error(
            "previousEpicrisis: debe ser texto / must be a string",
        ));
    }
    let req: LegacyRequest = serde_json::from_value(raw)
        .map_err(|e| regenerate_error(format!("el cuerpo no se pudo leer: {e}")))?;
    let received = avoid.len();
    let told = received > 0 && matches!(state.engine, Engine::Model { .. });
    let mut out = legacy_draft(&state, &p, &req, avoid, t).await?;
    out["regeneration"] = json!({"violations": received, "toldTheModel": told});
    Ok(Json(out))
}

/// Drafts the episode of a predecessor request and waits for the result.
async fn legacy_draft(
    state: &AppState,
    p: &Principal,
    req: &LegacyRequest,
    avoid: Vec<String>,
    t: Instant,
) -> ApiResult<Value> {
    let named = legacy_episode_of(state, req).await?;
    let regenerate = !avoid.is_empty();
    let job = match &named {
        Named::Stored(s) => queue_draft(state, p, &s.meta.episode_id, avoid).await?.job,
        Named::Inline(parsed) => {
            p.require(&[Role::Medico], "generar borradores")?;
            let job = state
                .queue
                .submit(
                    parsed.episode.clone(),
                    None,
                    p.user.id,
                    state.settings.layout,
                    Box::new(move || Guidance {
                        avoid,
                        ..Guidance::default()
                    }),
                    Box::new(|_| Ok(None)),
                )
                .map_err(busy)?
                .job;
            audit(
                state,
                Some(p),
                "generate",
                None,
                None,
                json!({"inline": true, "regenerate": regenerate}),
            )
            .await?;
            job
        }
    };
    wait(&job).await;
    let st = job
        .state
        .lock()
        .map_err(|_| ApiError::internal("job state poisoned"))?;
    match (&st.status, &st.result) {
        (Status::Done, Some(f)) => Ok(json!({
            "text": f.outcome.text,
            "validation": legacy_validation(&f.outcome.report),
            "generatedAt": rfc3339(now_ms()),
            "processingTimeMs": t.elapsed().as_millis() as u64,
            "versionId": f.version_id,
            "engine": state.engine.name(),
        })),
        (Status::Cancelled, _) => Err(ApiError::conflict(
            "la generación fue cancelada / generation cancelled",
        )),
        _ => Err(ApiError::internal(
            st.message
                .clone()
                .unwrap_or_else(|| "generation failed".into()),
        )),
    }
}

async fn legacy_validate(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req = parse_legacy(&body)?;
    let text = req
        .text
        .clone()
        .ok_or_else(|| ApiError::bad_request("falta text / send the text to validate"))?;
    let named = legacy_episode_of(&state, &req).await?;
    let (named, report) = blocking(move || {
        let report = named.parsed().validate(&text);
        (named, report)
    })
    .await?;
    audit(&state, Some(&p), "validate", named.id(), None, json!({})).await?;
    let mut out = legacy_validation(&report);
    out["findings"] = serde_json::to_value(&report.findings).unwrap_or(Value::Null);
    Ok(Json(out))
}

async fn legacy_export_pdf(
    state: State<AppState>,
    p: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    legacy_export(state, p, body, epicrisis_export::Format::Pdf).await
}

async fn legacy_export_word(
    state: State<AppState>,
    p: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    legacy_export(state, p, body, epicrisis_export::Format::Docx).await
}

async fn legacy_export(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
    format: epicrisis_export::Format,
) -> ApiResult<Response> {
    let req = parse_legacy(&body)?;
    let named = legacy_episode_of(&state, &req).await?;
    let ep = named.parsed().episode.clone();
    let stored = named.id().map(str::to_string);
    let template = writer::write(&ep, state.settings.layout);
    let draft = match &req.text {
        Some(t) => template.from_edited_text(t),
        None => template,
    };
    let meta = meta(&state, None, None);
    let bytes = render(format, ep, draft, meta).await?;
    audit(
        &state,
        Some(&p),
        "export",
        stored.as_deref(),
        None,
        json!({"format": format.as_str()}),
    )
    .await?;
    Ok(file_response(
        format,
        stored.as_deref().unwrap_or("epicrisis"),
        bytes,
    ))
}

// ---------------------------------------------------------------- documents

/// What a document says about itself. A signed version's document is stamped with its
/// signature time, not the export's, so that it is the same document at every export.
pub(crate) fn meta(
    state: &AppState,
    v: Option<&VersionRow>,
    signer: Option<String>,
) -> epicrisis_export::DocumentMeta {
    use epicrisis_export::{DocumentMeta, DocumentState, Signature};
    let mut m = DocumentMeta {
        hospital_name: state.settings.hospital_name.clone(),
        logo: state.settings.logo.clone(),
        generated_at: Some(rfc3339(now_ms())),
        ..DocumentMeta::default()
    };
    if let Some(v) = v {
        m.version = u32::try_from(v.number).unwrap_or(1);
        if v.status == VersionStatus::Signed {
            m.state = DocumentState::Signed;
            m.generated_at = Some(rfc3339(v.created_at));
            m.signature = Some(Signature {
                signer: signer.or_else(|| v.author_name.clone()).unwrap_or_default(),
                signed_at: rfc3339(v.created_at),
                version: m.version,
                content_hash: v.content_hash.clone(),
            });
        }
    }
    m
}

pub(crate) async fn render(
    format: epicrisis_export::Format,
    ep: Episode,
    draft: Draft,
    meta: epicrisis_export::DocumentMeta,
) -> ApiResult<Vec<u8>> {
    // Typesetting takes tens of milliseconds of CPU: off the async threads.
    tokio::task::spawn_blocking(move || epicrisis_export::export(format, &ep, &draft, &meta))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

pub(crate) fn file_response(
    format: epicrisis_export::Format,
    name: &str,
    bytes: Vec<u8>,
) -> Response {
    use epicrisis_export::Format;
    let (mime, ext) = match format {
        Format::Pdf => ("application/pdf", "pdf"),
        Format::Docx => (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
        Format::Fhir => ("application/fhir+json", "json"),
        Format::Markdown => ("text/markdown; charset=utf-8", "md"),
        Format::Text => ("text/plain; charset=utf-8", "txt"),
    };
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"epicrisis-{safe}.{ext}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

// ---------------------------------------------------------------- /api/v1

async fn me(p: Principal) -> Json<Value> {
    Json(json!({
        "id": p.user.id, "username": p.user.username, "displayName": p.user.display_name,
        "role": p.user.role, "csrf": p.csrf(),
    }))
}

#[derive(Deserialize)]
struct ImportQuery {
    id: Option<String>,
}

async fn import_episode(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    p.require(&[Role::Medico, Role::Administrativo], "importar episodios")?;
    let (row, ep) = store_episode(&state, &body, q.id).await?;
    audit(
        &state,
        Some(&p),
        "import",
        Some(&row.episode_id),
        None,
        json!({"shape": row.source_kind}),
    )
    .await?;
    let warnings: Vec<&str> = ep.warnings.iter().map(|w| w.message_es.as_str()).collect();
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"episodeId": row.episode_id, "shape": row.source_kind,
                    "revision": row.revision, "warnings": warnings}),
        ),
    )
        .into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    service: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn check_date(field: &str, v: &Option<String>) -> ApiResult<()> {
    if let Some(d) = v
        && !d.is_empty()
        && (d.len() != 10 || epicrisis_domain::Date::parse(d).is_err())
    {
        return Err(ApiError::bad_request(format!(
            "{field}={d:?} no es una fecha AAAA-MM-DD"
        )));
    }
    Ok(())
}

pub fn episode_query(
    q: Option<String>,
    service: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
) -> ApiResult<EpisodeQuery> {
    check_date("from", &from)?;
    check_date("to", &to)?;
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let q = nonempty(q);
    Ok(EpisodeQuery {
        terms: q
            .as_deref()
            .map(crate::listing::search_terms)
            .unwrap_or_default(),
        text: q,
        service: nonempty(service),
        discharged_from: nonempty(from),
        discharged_to: nonempty(to),
        limit,
        offset,
    })
}

async fn list_episodes(
    State(state): State<AppState>,
    _p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let query = episode_query(q.q, q.service, q.from, q.to, q.limit, q.offset)?;
    let rows = state.store.list_episodes(&query).await?;
    Ok(Json(json!({"episodes": rows})))
}

async fn get_episode(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let stored = parsed_episode(&state, &id).await?;
    let latest = state.store.latest_version(&id).await?;
    audit(&state, Some(&p), "view", Some(&id), None, json!({})).await?;
    let m = &stored.meta;
    Ok(Json(json!({
        "episodeId": m.episode_id, "shape": m.source_kind, "importedAt": m.imported_at,
        "revision": m.revision,
        "episode": stored.parsed.episode, "latestVersion": latest.as_ref().map(version_full),
    })))
}

async fn list_versions(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    state
        .store
        .episode_stamp(&id)
        .await?
        .ok_or_else(|| unknown_episode(&id))?;
    let versions = state.store.versions(&id).await?;
    let list: Vec<Value> = versions.iter().map(version_summary).collect();
    Ok(Json(json!({"episodeId": id, "versions": list})))
}

async fn get_version(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let v = load_version(&state, id).await?;
    audit(
        &state,
        Some(&p),
        "view",
        Some(&v.episode_id),
        Some(v.id),
        json!({}),
    )
    .await?;
    let stored = parsed_episode(&state, &v.episode_id).await?;
    let current = stored.meta.revision;
    // Evidence refers to the notes of the data the version was written from.
    let data = crate::record::version_data(&state, stored, &v).await?;
    let mut full = version_full(&v);
    full["evidence"] = version_evidence(&v, data.parsed());
    full["currentEpisodeRevision"] = json!(current);
    full["writtenFromOlderRevision"] = json!(v.episode_revision < current);
    Ok(Json(full))
}

/// The evidence of a version, resolved for the client: the one stored with it (by the
/// engine, or by the save), else computed now.
pub fn version_evidence(v: &VersionRow, parsed: &crate::cache::Parsed) -> Value {
    let stored: Option<Vec<epicrisis_pipeline::evidence::SentenceEvidence>> =
        serde_json::from_str::<Value>(&v.provenance_json)
            .ok()
            .and_then(|p| p.get("evidence").cloned())
            .and_then(|e| serde_json::from_value(e).ok());
    let evidence = stored.unwrap_or_else(|| parsed.check(&v.text).1);
    parsed.evidence_json(&evidence)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SaveBody {
    text: String,
    parent_id: Option<i64>,
    #[serde(default)]
    amend: bool,
}

async fn save_version(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    p.require(&[Role::Medico], "editar borradores")?;
    let b: SaveBody = json_body(&body, "{text, parentId, amend?}")?;
    if b.text.trim().is_empty() {
        return Err(ApiError::bad_request("el texto está vacío"));
    }
    let stored = parsed_episode(&state, &id).await?;
    let (report, evidence) = stored.parsed.check(&b.text);
    let ep = &stored.parsed.episode;
    let kind = if b.amend {
        VersionKind::Amendment
    } else {
        VersionKind::Edited
    };
    // Keep the parts' structure (and origins) of the version this edit starts from.
    let template = match b.parent_id {
        Some(pid) => state
            .store
            .version(pid)
            .await?
            .map(|v| draft_of(&v, ep, state.settings.layout)),
        None => None,
    }
    .unwrap_or_else(|| writer::write(ep, state.settings.layout));
    let draft = template.from_edited_text(&b.text);
    let row = state
        .store
        .add_version(&NewVersion {
            episode_id: id.clone(),
            kind,
            text: b.text,
            report_json: serde_json::to_string(&report).map_err(ApiError::internal)?,
            provenance_json:
                json!({"draft": draft, "editedBy": p.user.username, "evidence": evidence})
                    .to_string(),
            engine: None,
            author_id: Some(p.user.id),
            parent_id: b.parent_id,
            // The data the text was just validated against.
            episode_revision: Some(stored.meta.revision),
        })
        .await?;
    let (errors, warnings) = counts(&report);
    audit(
        &state,
        Some(&p),
        if b.amend { "amend" } else { "edit" },
        Some(&id),
        Some(row.id),
        json!({"errors": errors, "warnings": warnings}),
    )
    .await?;
    let mut full = version_full(&row);
    full["evidence"] = stored.parsed.evidence_json(&evidence);
    Ok((StatusCode::CREATED, Json(full)).into_response())
}

#[derive(Deserialize)]
struct ValidateBody {
    text: String,
}

async fn validate_text(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let b: ValidateBody = json_body(&body, "{text}")?;
    let stored = parsed_episode(&state, &id).await?;
    // Live validation while typing: not audited row by row (saving is). Lexical
    // evidence only, so it stays fast; still off the async threads.
    let checked = stored.clone();
    let (report, evidence) = blocking(move || checked.parsed.check(&b.text)).await?;
    Ok(Json(json!({
        "ok": report.ok,
        "findings": report.findings,
        "evidence": stored.parsed.evidence_json(&evidence),
    })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SignBody {
    #[serde(default)]
    acknowledge_findings: bool,
}

async fn sign_version(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Response> {
    p.require(&[Role::Medico], "aprobar y firmar")?;
    let b: SignBody = if body.is_empty() {
        SignBody::default()
    } else {
        json_body(&body, "{acknowledgeFindings?}")?
    };
    let v = load_version(&state, id).await?;
    let report = report_of(&v);
    let (errors, _) = counts(&report);
    // The codes in the data that belong to another drug or diagnosis go into the signed
    // document as they are: they are named here too.
    let stored = parsed_episode(&state, &v.episode_id).await?;
    let data = crate::record::version_data(&state, stored, &v).await?;
    let wrong_codes: Vec<String> = data
        .parsed()
        .episode
        .warnings
        .iter()
        .filter(|w| w.kind == epicrisis_domain::WarningKind::SuspiciousCode)
        .map(|w| w.text_es().to_string())
        .collect();
    if (errors > 0 || !wrong_codes.is_empty()) && !b.acknowledge_findings {
        return Err(
            ApiError::conflict(sign_objection(v.number, &report, &wrong_codes))
                .needing_confirmation(),
        );
    }
    let signed = state.store.sign(id, p.user.id).await?;
    audit(
        &state,
        Some(&p),
        "approve",
        Some(&signed.episode_id),
        Some(signed.id),
        json!({"signs": id, "contentHash": signed.content_hash, "acknowledgedFindings": errors,
               "acknowledgedWrongCodes": wrong_codes.len()}),
    )
    .await?;
    index_archive_later(&state);
    Ok((StatusCode::CREATED, Json(version_full(&signed))).into_response())
}

/// Why a version should not be signed as it is, in words for the confirmation dialog:
/// claims the data does not support, what it leaves out, and codes of the data that
/// belong to something else.
fn sign_objection(number: i64, report: &Report, wrong_codes: &[String]) -> String {
    let errors = |kind: Kind| {
        report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error && f.kind == kind)
            .count()
    };
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let unsupported = errors(Kind::Unsupported);
    let omitted = errors(Kind::Omission);
    let other = report.error_count() - unsupported - omitted;
    let mut said = Vec::new();
    if unsupported > 0 {
        said.push(plural(
            unsupported,
            "afirmación que los datos no respaldan",
            "afirmaciones que los datos no respaldan",
        ));
    }
    if omitted > 0 {
        said.push(
            plural(omitted, "omisión", "omisiones")
                + " (datos del episodio que el texto no menciona)",
        );
    }
    if other > 0 {
        said.push(plural(other, "otro error", "otros errores"));
    }
    let mut m = if said.is_empty() {
        format!("La versión {number} no tiene errores en el texto.")
    } else {
        format!("La versión {number} tiene {}.", said.join(" y "))
    };
    if !wrong_codes.is_empty() {
        m += &format!(
            " Los datos del episodio tienen {} que irá tal cual al documento firmado: {}",
            plural(
                wrong_codes.len(),
                "código que no corresponde",
                "códigos que no corresponden"
            ),
            wrong_codes.join(" ")
        );
    }
    m + " Corríjalo antes de firmar, o confirme para firmar de todas formas."
}

/// Embeds newly signed epicrisis into the archive in the background, when the server
/// has an embeddings model (a search indexes whatever is still missing anyway).
pub(crate) fn index_archive_later(state: &AppState) {
    use std::sync::atomic::Ordering::SeqCst;
    if state.embedder.is_none() {
        return;
    }
    if state.indexer.running.swap(true, SeqCst) {
        // A run is under way: it looks again before it stops.
        state.indexer.again.store(true, SeqCst);
        return;
    }
    let state = state.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let Some(embedder) = state.embedder.clone() else {
            return;
        };
        loop {
            state.indexer.again.store(false, SeqCst);
            if let Err(e) = handle.block_on(crate::archive::index_missing(
                &state.store,
                embedder.as_ref(),
            )) {
                warn("the archive could not be indexed", &e);
            }
            if state.indexer.again.load(SeqCst) {
                continue;
            }
            state.indexer.running.store(false, SeqCst);
            // A request between the check and the store above: run once more, unless
            // another caller has started a run meanwhile.
            if !state.indexer.again.load(SeqCst) || state.indexer.running.swap(true, SeqCst) {
                break;
            }
        }
    });
}

/// Most results one archive search returns.
pub const ARCHIVE_MAX_K: usize = 50;
/// Longest archive query, in characters.
pub const ARCHIVE_MAX_QUERY: usize = 2000;

/// One similar past case, as the API and the web page show it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveResult {
    pub episode_id: String,
    pub version_id: i64,
    pub score: f32,
    pub signed_at: String,
    /// The evolution paragraph, else the text's first 400 characters.
    pub snippet: String,
}

/// Searches the archive of signed epicrisis for `q` (validated here: empty, too long or
/// a `k` outside 1..=50 is a 400 naming the parameter; no embeddings model is a 503
/// naming `EMBEDDINGS_MODEL`). Audited as `search` with the number of results — never
/// the query's words, which may name a patient.
pub async fn search_archive(
    state: &AppState,
    p: &Principal,
    q: Option<String>,
    k: Option<usize>,
    exclude: Option<String>,
) -> ApiResult<ArchiveAnswer> {
    let q = q.unwrap_or_default();
    let q = q.trim().to_string();
    if q.is_empty() {
        return Err(ApiError::bad_request(
            "falta el texto a buscar: use ?q=texto",
        ));
    }
    if q.chars().count() > ARCHIVE_MAX_QUERY {
        return Err(ApiError::bad_request(format!(
            "el texto a buscar (q) es demasiado largo: máximo {ARCHIVE_MAX_QUERY} caracteres"
        )));
    }
    let k = k.unwrap_or(5);
    if !(1..=ARCHIVE_MAX_K).contains(&k) {
        return Err(ApiError::bad_request(format!(
            "k debe estar entre 1 y {ARCHIVE_MAX_K}"
        )));
    }
    let Some(embedder) = state.embedder.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "la búsqueda de casos similares necesita un modelo de embeddings: configure EMBEDDINGS_MODEL (por ejemplo models/embeddings/multilingual-e5-small) y reinicie el servidor",
        ));
    };
    // Signed epicrisis the background indexing has not reached yet: not searched now
    // (a first run over thousands takes minutes), but said, and indexing nudged.
    let pending = state.store.archive_missing(embedder.name()).await?.len();
    if pending > 0 {
        index_archive_later(state);
    }
    let store = state.store.clone();
    let handle = tokio::runtime::Handle::current();
    let matches = tokio::task::spawn_blocking(move || {
        handle.block_on(crate::archive::search_indexed(
            &store,
            embedder.as_ref(),
            &q,
            k,
            exclude.as_deref(),
        ))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| match e {
        crate::archive::ArchiveError::Store(e) => ApiError::from(e),
        crate::archive::ArchiveError::Embed(e) => {
            ApiError::internal(format!("el modelo de embeddings falló: {e}"))
        }
    })?;
    let results: Vec<ArchiveResult> = matches
        .into_iter()
        .map(|m| ArchiveResult {
            snippet: evolution_paragraph(&m.text)
                .unwrap_or_else(|| m.text.split_whitespace().collect::<Vec<_>>().join(" "))
                .chars()
                .take(400)
                .collect(),
            episode_id: m.episode_id,
            version_id: m.version_id,
            score: m.score,
            signed_at: rfc3339(m.signed_at),
        })
        .collect();
    audit(
        state,
        Some(p),
        "search",
        None,
        None,
        json!({"k": k, "results": results.len()}),
    )
    .await?;
    Ok(ArchiveAnswer { results, pending })
}

/// An archive search's answer.
#[derive(Default)]
pub struct ArchiveAnswer {
    pub results: Vec<ArchiveResult>,
    /// Signed epicrisis not yet indexed (so not searched): being embedded in the
    /// background.
    pub pending: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchiveQuery {
    q: Option<String>,
    k: Option<usize>,
    exclude: Option<String>,
}

async fn archive_search(
    State(state): State<AppState>,
    p: Principal,
    q: Result<Query<ArchiveQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q.map_err(|e| {
        ApiError::bad_request(format!(
            "parámetros no válidos ({e}): use ?q=texto&k=1..{ARCHIVE_MAX_K}&exclude=episodio"
        ))
    })?;
    let model = state.embedder.as_ref().map(|e| e.name().to_string());
    let answer = search_archive(&state, &p, q.q, q.k, q.exclude).await?;
    Ok(Json(
        json!({"model": model, "results": answer.results, "pending": answer.pending}),
    ))
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<i64>,
}

fn audit_json(rows: Vec<epicrisis_store::AuditRow>) -> Value {
    let list: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({"id": r.id, "at": rfc3339(r.at), "user": r.username, "action": r.action,
                   "episodeId": r.episode_id, "versionId": r.version_id,
                   "detail": serde_json::from_str::<Value>(&r.detail).unwrap_or(Value::Null),
                   "hash": r.hash})
        })
        .collect();
    json!({"audit": list})
}

async fn episode_audit(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let rows = state
        .store
        .audit_trail(Some(&id), q.limit.unwrap_or(200).clamp(1, 5000))
        .await?;
    Ok(Json(audit_json(rows)))
}

async fn full_audit(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    p.require(&[], "leer toda la bitácora")?;
    let rows = state
        .store
        .audit_trail(None, q.limit.unwrap_or(200).clamp(1, 5000))
        .await?;
    Ok(Json(audit_json(rows)))
}

async fn verify_audit(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    p.require(&[], "verificar la bitácora")?;
    let check = state.store.verify_audit().await?;
    Ok(Json(
        json!({"ok": check.problems.is_empty(), "rows": check.rows, "problems": check.problems}),
    ))
}

/// Used by the web pages: a version's findings with the kind of highlight.
pub fn finding_class(f: &Finding) -> &'static str {
    match (f.severity, f.kind) {
        (Severity::Error, _) => "error",
        (_, Kind::Omission) => "omission",
        _ => "warning",
    }
}

// ---------------------------------------------------------------- users (admin)

fn user_json(u: &epicrisis_store::User) -> Value {
    json!({"username": u.username, "displayName": u.display_name, "role": u.role,
           "disabled": u.disabled, "createdAt": u.created_at})
}

/// The accounts (admins only); `GET /api/v1/users` and the administration page.
pub async fn users(state: &AppState, p: &Principal) -> ApiResult<Vec<epicrisis_store::User>> {
    p.require(&[], "administrar usuarios")?;
    Ok(state.store.users().await?)
}

async fn list_users(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    let users = users(&state, &p).await?;
    Ok(Json(
        json!({"users": users.iter().map(user_json).collect::<Vec<_>>()}),
    ))
}

/// An argon2id hash of an acceptable password, computed off the async threads.
async fn new_password_hash(password: String) -> ApiResult<String> {
    crate::auth::check_password_strength(&password).map_err(ApiError::bad_request)?;
    tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewUserBody {
    username: String,
    display_name: Option<String>,
    role: String,
    password: String,
}

/// Adds an account (admins only): the rules of `POST /api/v1/users` and of the
/// administration page's form.
pub async fn create_user(
    state: &AppState,
    p: &Principal,
    username: &str,
    display_name: Option<String>,
    role: &str,
    password: String,
) -> ApiResult<epicrisis_store::User> {
    p.require(&[], "administrar usuarios")?;
    let username = crate::auth::check_username(username).map_err(ApiError::bad_request)?;
    let role = Role::parse(role).ok_or_else(|| {
        ApiError::bad_request(format!(
            "role {role:?}: use medico, administrativo or admin"
        ))
    })?;
    let hash = new_password_hash(password).await?;
    let display = display_name
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| username.clone());
    let u = state
        .store
        .add_user(&username, &display, role, &hash)
        .await?;
    audit(
        state,
        Some(p),
        "user_add",
        None,
        None,
        json!({"user": u.username, "role": role}),
    )
    .await?;
    Ok(u)
}

async fn add_user(State(state): State<AppState>, p: Principal, body: Bytes) -> ApiResult<Response> {
    p.require(&[], "administrar usuarios")?;
    let b: NewUserBody = json_body(&body, "{username, displayName?, role, password}")?;
    let u = create_user(&state, &p, &b.username, b.display_name, &b.role, b.password).await?;
    Ok((StatusCode::CREATED, Json(user_json(&u))).into_response())
}

/// Disables or enables an account (admins only; never one's own).
pub async fn set_disabled(
    state: &AppState,
    p: &Principal,
    name: &str,
    disabled: bool,
) -> ApiResult<()> {
    p.require(&[], "administrar usuarios")?;
    if disabled && name == p.user.username {
        return Err(ApiError::conflict("no puede deshabilitar su propia cuenta"));
    }
    state.store.set_disabled(name, disabled).await?;
    audit(
        state,
        Some(p),
        if disabled {
            "user_disable"
        } else {
            "user_enable"
        },
        None,
        None,
        json!({"user": name}),
    )
    .await
}

async fn disable_user(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    set_disabled(&state, &p, &name, true).await?;
    Ok(Json(json!({"username": name, "disabled": true})))
}

async fn enable_user(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    set_disabled(&state, &p, &name, false).await?;
    Ok(Json(json!({"username": name, "disabled": false})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
struct PasswordBody {
    password: String,
    /// Required when the account is the caller's own.
    current_password: Option<String>,
}

async fn set_user_password(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let b: PasswordBody = json_body(&body, "{password, currentPassword?}")?;
    change_password(&state, &p, &name, b.password, b.current_password).await?;
    Ok(Json(json!({"username": name, "changed": true})))
}

/// Sets a password: anyone their own (with the current one), an admin anyone's. Every
/// other session of the account ends and its API tokens are revoked
/// ([`epicrisis_store::Store::set_password`]); the session that asked stays open.
pub async fn change_password(
    state: &AppState,
    p: &Principal,
    name: &str,
    password: String,
    current: Option<String>,
) -> ApiResult<()> {
    let own = name == p.user.username;
    if !own {
        p.require(&[], "cambiar la contraseña de otra persona")?;
    } else {
        let current = current.unwrap_or_default();
        let hash = p.user.password_hash.clone();
        let ok = match state.limiter.verifying.acquire().await {
            Ok(_permit) => {
                tokio::task::spawn_blocking(move || crate::auth::verify_password(&current, &hash))
                    .await
                    .unwrap_or(false)
            }
            Err(_) => false,
        };
        if !ok {
            return Err(ApiError::forbidden(
                "la contraseña actual no es correcta; escríbala para cambiarla \
                 (currentPassword)",
            ));
        }
    }
    let hash = new_password_hash(password).await?;
    let keep = match &p.via {
        Via::Session { token_hash, .. } if own => Some(token_hash.as_str()),
        _ => None,
    };
    state.store.set_password(name, &hash, keep).await?;
    audit(
        state,
        Some(p),
        "user_passwd",
        None,
        None,
        json!({"user": name}),
    )
    .await
}
