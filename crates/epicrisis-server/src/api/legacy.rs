//! The predecessor's paths, so its frontend and scripts keep working: `/api/health`,
//! `/api/episodes/{id}`, `/api/generate-epicrisis`, `/api/regenerate-epicrisis`,
//! `/api/validate-epicrisis` and `/api/export/{pdf,word}`. Their bodies keep the
//! predecessor's shapes (an episode inline as `clinicalData`, or a stored `episodeId`).

use super::body::{BodyShape, JsonBody};
use super::documents::{file_response, meta, render};
use super::{audit, blocking, load_episode, parsed_episode, read_episode, rfc3339};
use crate::auth::Principal;
use crate::cache::{Parsed, StoredEpisode};
use crate::drafting::{enqueue, queue_draft};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::jobs::{JobOptions, Status, wait};
use crate::worker::InlineResult;
use crate::{AppState, now_ms};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use epicrisis_pipeline::engine::Engine;
use epicrisis_pipeline::writer;
use epicrisis_store::{NewJob, Role};
use epicrisis_validate::{Category, Finding, Report, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(legacy_episode))
        .routes(routes!(legacy_generate))
        .routes(routes!(legacy_regenerate))
        .routes(routes!(legacy_validate))
        .routes(routes!(legacy_export_pdf))
        .routes(routes!(legacy_export_word))
}

/// `GET /api/health`: «alive» for anyone (a load balancer's probe); the engine,
/// database and queue only for a signed-in caller.
#[utoipa::path(get, path = "/api/health", tag = "predecesor",
    summary = "Estado del servidor",
    description = "Responde «ok» a cualquiera, sin autenticación (la sonda de un \
                   balanceador de carga ve solo `status`); con una sesión o un token de \
                   API, además la versión, el motor de redacción, la base de datos, la \
                   carga de la cola y el tiempo en marcha.",
    responses((status = 200, body = super::types::Health)))]
async fn health(State(state): State<AppState>, headers: HeaderMap) -> Json<super::types::Health> {
    use super::types::{Health, QueueLoad};
    if !matches!(crate::auth::principal(&state, &headers).await, Ok(Some(_))) {
        return Json(Health {
            status: "ok",
            version: None,
            engine: None,
            external: None,
            database: None,
            queue: None,
            uptime_s: None,
        });
    }
    let (waiting, running) = state.store.job_counts().await.unwrap_or((0, 0));
    Json(Health {
        status: "ok",
        version: Some(env!("CARGO_PKG_VERSION")),
        engine: Some(state.engine.name().to_string()),
        external: Some(state.engine.is_external()),
        database: Some(state.store.backend()),
        queue: Some(QueueLoad {
            waiting,
            running,
            capacity: state.settings.queue_capacity,
        }),
        uptime_s: Some(state.started.elapsed().as_secs()),
    })
}

/// An episode as the predecessor answered it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Un episodio, como lo respondía el sistema anterior.")]
#[serde(rename_all = "camelCase")]
struct LegacyEpisode {
    episode_id: String,
    // The episode's clinical data as it was imported.
    /// Los datos clínicos del episodio, tal como se importaron.
    #[schema(value_type = Object)]
    clinical_data: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    patient_info: Option<Value>,
}

/// The stored episode in the predecessor's shape: the source's `clinicalData` (and
/// `patientInfo`) when it was imported in that shape, else the data as read.
#[utoipa::path(get, path = "/api/episodes/{id}", tag = "predecesor",
    summary = "Leer un episodio (forma del sistema anterior)",
    description = "El episodio guardado en la forma del sistema anterior: el \
                   `clinicalData` (y `patientInfo`) de origen cuando se importó en esa \
                   forma; si no, los datos tal como se leyeron. Cualquier rol. Se \
                   registra en la bitácora (`view`). Error 404 si el episodio no existe.",
    params(("id" = String, Path, description = "El número de episodio")),
    responses((status = 200, body = LegacyEpisode), (status = 404, body = ErrorBody)))]
async fn legacy_episode(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<LegacyEpisode>> {
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
    let (clinical_data, patient_info) = if let Some(cd) = source.get("clinicalData") {
        (cd.clone(), source.get("patientInfo").cloned())
    } else if source.get("resourceType").is_some() || source.is_null() {
        (serde_json::to_value(&ep).unwrap_or(Value::Null), None)
    } else if let Some(input) = source.get("input").filter(|v| v.is_object()) {
        (input.clone(), None)
    } else {
        (source, None)
    };
    Ok(Json(LegacyEpisode {
        episode_id: id,
        clinical_data,
        patient_info,
    }))
}

/// A predecessor request: an episode inline (`clinicalData`) or stored (`episodeId`),
/// and for validation and export the text.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(
    description = "Una solicitud del sistema anterior: un episodio en línea \
                   (`clinicalData`) o guardado (`episodeId`) y, para validar y exportar, \
                   el texto."
)]
#[serde(rename_all = "camelCase")]
struct LegacyRequest {
    // A number or a string.
    /// Un número o un texto.
    #[schema(value_type = Option<String>)]
    episode_id: Option<Value>,
    // The episode inline, in the predecessor's shape (not stored).
    /// El episodio en línea, en la forma del sistema anterior (no se guarda).
    #[schema(value_type = Option<Object>)]
    clinical_data: Option<Value>,
    #[schema(value_type = Option<Object>)]
    patient_info: Option<Value>,
    text: Option<String>,
}

impl BodyShape for LegacyRequest {
    const SHAPE: &'static str = "{episodeId?, clinicalData?, text?}";
}

fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
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

/// One finding, as the predecessor listed it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Un hallazgo, como lo listaba el sistema anterior.")]
struct LegacyItem {
    // `dx`, `proc`, `med`, `number`, `lab`, `date`, `control` or `other`.
    /// `dx`, `proc`, `med`, `number`, `lab`, `date`, `control` u `other`.
    #[serde(rename = "type")]
    kind: &'static str,
    mention: String,
    reason: String,
}

/// The predecessor's validation: errors as `violations`, the rest as `warnings`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(
    description = "La validación del sistema anterior: los errores en `violations`, el \
                   resto en `warnings`."
)]
struct LegacyValidation {
    ok: bool,
    violations: Vec<LegacyItem>,
    warnings: Vec<LegacyItem>,
    // Ours, with positions and categories (`/api/validate-epicrisis` only).
    /// Nuestros hallazgos, con posiciones y categorías (solo en
    /// `/api/validate-epicrisis`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    findings: Option<Vec<Finding>>,
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

fn legacy_validation(r: &Report) -> LegacyValidation {
    let items = |severity: Severity| {
        r.findings
            .iter()
            .filter(|f| f.severity == severity)
            .map(|f| LegacyItem {
                kind: legacy_type(f.category),
                mention: f.mention.clone(),
                reason: f.message.clone(),
            })
            .collect()
    };
    LegacyValidation {
        ok: r.ok,
        violations: items(Severity::Error),
        warnings: items(Severity::Warning),
        findings: None,
    }
}

/// A draft, as the predecessor answered it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Un borrador, como lo respondía el sistema anterior.")]
#[serde(rename_all = "camelCase")]
struct LegacyDraft {
    text: String,
    validation: LegacyValidation,
    /// RFC 3339.
    generated_at: String,
    processing_time_ms: u64,
    // The version saved (a stored episode), none for an inline one.
    /// La versión guardada (episodio guardado); vacío para un episodio en línea.
    version_id: Option<i64>,
    engine: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    regeneration: Option<Regeneration>,
}

/// What a regeneration did with the previous draft's violations.
#[derive(Debug, Serialize, ToSchema)]
#[schema(
    description = "Lo que hizo una regeneración con las violaciones del borrador \
                   anterior."
)]
#[serde(rename_all = "camelCase")]
struct Regeneration {
    violations: usize,
    // Whether the engine is a model that was told the faulted words.
    /// Si el motor es un modelo al que se le dijeron las palabras objetadas.
    told_the_model: bool,
}

/// Drafts the episode (stored: saved as a new version) and waits for the draft.
#[utoipa::path(post, path = "/api/generate-epicrisis", tag = "predecesor",
    summary = "Redactar un borrador y esperarlo (sistema anterior)",
    description = "Redacta un borrador del episodio y espera el resultado: un episodio \
                   guardado (`episodeId`; el borrador se guarda como una versión nueva) \
                   o uno en línea (`clinicalData`; no se guarda). Solo médicos (y \
                   admin). Se registra en la bitácora (`generate`). Errores: 400 si \
                   falta `episodeId` o `clinicalData`, 422 si `clinicalData` no se puede \
                   leer, 403 si el rol no lo permite, 404 si el episodio no existe, 429 \
                   si la cola está llena, 503 si ningún proceso está redactando, 504 si \
                   el borrador tarda demasiado (el trabajo sigue en curso).",
    request_body = LegacyRequest,
    responses((status = 200, body = LegacyDraft), (status = 400, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
              (status = 504, body = ErrorBody)))]
async fn legacy_generate(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(req): JsonBody<LegacyRequest>,
) -> ApiResult<Json<LegacyDraft>> {
    let t = Instant::now();
    Ok(Json(legacy_draft(&state, &p, &req, Vec::new(), t).await?))
}

/// `POST /api/regenerate-epicrisis`'s body.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(description = "El cuerpo de `POST /api/regenerate-epicrisis`.")]
#[serde(rename_all = "camelCase")]
struct RegenerateBody {
    #[serde(flatten)]
    request: LegacyRequest,
    // Accepted, not shown to the model (small models copy what they are shown).
    /// Se acepta, pero no se muestra al modelo (los modelos pequeños copian lo que se les
    /// muestra).
    #[schema(value_type = Option<String>)]
    previous_epicrisis: Option<Value>,
    // `[{type, mention, reason}]`, as `/api/generate-epicrisis` answered them.
    /// `[{type, mention, reason}]`, como las respondió `/api/generate-epicrisis`.
    #[schema(value_type = Option<Vec<Object>>)]
    violations: Option<Value>,
}

impl BodyShape for RegenerateBody {
    const SHAPE: &'static str =
        "{episodeId|clinicalData, previousEpicrisis?, violations: [{type, mention, reason}]}";
}

fn regenerate_error(m: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "{m} / the body must be JSON {}",
        RegenerateBody::SHAPE
    ))
}

/// The mentions of a regeneration's `violations`. Absent or null: none. Anything else
/// malformed is refused, naming the item and field.
fn previous_violations(violations: &Option<Value>) -> ApiResult<Vec<String>> {
    let items = match violations {
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
    items
        .iter()
        .enumerate()
        .map(|(i, item)| violation_mention(i, item))
        .collect()
}

/// The mention of `violations[i]`, checked.
fn violation_mention(i: usize, item: &Value) -> ApiResult<String> {
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
    Ok(mention.to_string())
}

/// A new draft, with the previous draft's violations passed to the engine, so that a
/// model is told from its first round which words the data did not support. The
/// deterministic writer only writes what the data says: with it the violations change
/// nothing and the answer is a fresh validated draft.
#[utoipa::path(post, path = "/api/regenerate-epicrisis", tag = "predecesor",
    summary = "Redactar de nuevo evitando las violaciones (sistema anterior)",
    description = "Un borrador nuevo en que las violaciones del borrador anterior \
                   (`violations`, como las respondió `/api/generate-epicrisis`) se pasan \
                   al motor, para que un modelo sepa desde su primera ronda qué palabras \
                   los datos no respaldaron. El redactor determinista solo escribe lo \
                   que dicen los datos: con él las violaciones no cambian nada y la \
                   respuesta es un borrador validado nuevo. `previousEpicrisis` se \
                   acepta pero no se muestra al modelo. Roles, bitácora y errores como \
                   en `/api/generate-epicrisis`; además 400 si `violations` está mal \
                   formado (hasta 500 elementos, cada `mention` con texto de hasta 200 \
                   caracteres).",
    request_body = RegenerateBody,
    responses((status = 200, body = LegacyDraft), (status = 400, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
              (status = 504, body = ErrorBody)))]
async fn legacy_regenerate(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<RegenerateBody>,
) -> ApiResult<Json<LegacyDraft>> {
    let t = Instant::now();
    let avoid = previous_violations(&body.violations)?;
    if body
        .previous_epicrisis
        .as_ref()
        .is_some_and(|v| !v.is_string() && !v.is_null())
    {
        return Err(regenerate_error(
            "previousEpicrisis: debe ser texto / must be a string",
        ));
    }
    let received = avoid.len();
    let told = received > 0 && matches!(state.engine, Engine::Model { .. });
    let mut out = legacy_draft(&state, &p, &body.request, avoid, t).await?;
    out.regeneration = Some(Regeneration {
        violations: received,
        told_the_model: told,
    });
    Ok(Json(out))
}

/// Drafts the episode of a predecessor request and waits for the result.
async fn legacy_draft(
    state: &AppState,
    p: &Principal,
    req: &LegacyRequest,
    avoid: Vec<String>,
    t: Instant,
) -> ApiResult<LegacyDraft> {
    let named = legacy_episode_of(state, req).await?;
    let regenerate = !avoid.is_empty();
    let job = match &named {
        Named::Stored(s) => queue_draft(state, p, &s.meta.episode_id, avoid).await?.job,
        Named::Inline(parsed) => {
            p.require(&[Role::Medico], "generar borradores")?;
            let options = JobOptions {
                layout: state.settings.layout,
                avoid,
            };
            let job = NewJob {
                episode_id: None,
                episode_revision: None,
                // Kept in the job only until a worker has drafted it.
                inline_json: Some(
                    serde_json::to_string(&parsed.episode).map_err(ApiError::internal)?,
                ),
                options_json: serde_json::to_string(&options).map_err(ApiError::internal)?,
                requested_by: p.user.id,
                batch: false,
            };
            let job = enqueue(state, &job).await?.job;
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
    let job = wait(state, &job.id)
        .await?
        .ok_or_else(|| ApiError::internal("the draft job vanished"))?;
    let (text, report, version_id, engine) = match (job.state, job.version_id, &job.result_json) {
        (Status::Done, Some(id), _) => {
            let v = state
                .store
                .version(id)
                .await?
                .ok_or_else(|| ApiError::internal("the saved draft vanished"))?;
            let report = super::report_of(&v);
            (v.text, report, Some(id), v.engine.unwrap_or_default())
        }
        (Status::Done, None, Some(r)) => {
            let r: InlineResult = serde_json::from_str(r).map_err(ApiError::internal)?;
            (r.text, r.report, None, r.engine)
        }
        (Status::Cancelled, _, _) => {
            return Err(ApiError::conflict(
                "la generación fue cancelada / generation cancelled",
            ));
        }
        _ => {
            return Err(ApiError::internal(
                job.message.unwrap_or_else(|| "generation failed".into()),
            ));
        }
    };
    Ok(LegacyDraft {
        text,
        validation: legacy_validation(&report),
        generated_at: rfc3339(now_ms()),
        processing_time_ms: t.elapsed().as_millis() as u64,
        version_id,
        engine,
        regeneration: None,
    })
}

/// Validates `text` against the episode.
#[utoipa::path(post, path = "/api/validate-epicrisis", tag = "predecesor",
    summary = "Validar un texto (sistema anterior)",
    description = "Valida `text` contra el episodio (en línea o guardado): los errores \
                   en `violations`, el resto en `warnings` y nuestros hallazgos, con \
                   posiciones y categorías, en `findings`. Cualquier rol. Se registra en \
                   la bitácora (`validate`). Errores: 400 si falta `text` o el episodio, \
                   422 si `clinicalData` no se puede leer, 404 si el episodio guardado \
                   no existe.",
    request_body = LegacyRequest,
    responses((status = 200, body = LegacyValidation), (status = 400, body = ErrorBody)))]
async fn legacy_validate(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(req): JsonBody<LegacyRequest>,
) -> ApiResult<Json<LegacyValidation>> {
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
    out.findings = Some(report.findings);
    Ok(Json(out))
}

/// The episode (with `text`, else the deterministic draft) as a PDF.
#[utoipa::path(post, path = "/api/export/pdf", tag = "predecesor",
    summary = "Exportar a PDF (sistema anterior)",
    description = "El episodio (con `text`, o si no el borrador determinista) como PDF. \
                   Cualquier rol. Se registra en la bitácora (`export`). Errores: 400 si \
                   falta el episodio, 422 si `clinicalData` no se puede leer, 404 si el \
                   episodio guardado no existe.",
    request_body = LegacyRequest,
    responses((status = 200, description = "El PDF", content_type = "application/pdf"),
              (status = 400, body = ErrorBody)))]
async fn legacy_export_pdf(
    state: State<AppState>,
    p: Principal,
    body: JsonBody<LegacyRequest>,
) -> ApiResult<Response> {
    legacy_export(state, p, body, epicrisis_export::Format::Pdf).await
}

/// The episode (with `text`, else the deterministic draft) as a Word document.
#[utoipa::path(post, path = "/api/export/word", tag = "predecesor",
    summary = "Exportar a Word (sistema anterior)",
    description = "El episodio (con `text`, o si no el borrador determinista) como \
                   documento Word. Cualquier rol. Se registra en la bitácora (`export`). \
                   Errores: 400 si falta el episodio, 422 si `clinicalData` no se puede \
                   leer, 404 si el episodio guardado no existe.",
    request_body = LegacyRequest,
    responses((status = 200, description = "El documento Word",
               content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
              (status = 400, body = ErrorBody)))]
async fn legacy_export_word(
    state: State<AppState>,
    p: Principal,
    body: JsonBody<LegacyRequest>,
) -> ApiResult<Response> {
    legacy_export(state, p, body, epicrisis_export::Format::Docx).await
}

async fn legacy_export(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(req): JsonBody<LegacyRequest>,
    format: epicrisis_export::Format,
) -> ApiResult<Response> {
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
