//! Versions of an epicrisis: listing, reading (with evidence, resolved against the data
//! the version was written from), saving an edit or an amendment, and signing.

use super::body::{BodyShape, JsonBody};
use super::types::{SaveBody, SentenceEvidence, SignBody, Version, VersionList, VersionSummary};
use super::{
    audit, draft_of, index_archive_later, load_version, parsed_episode, report_of, unknown_episode,
};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use epicrisis_pipeline::writer;
use epicrisis_store::{NewVersion, Role, VersionKind, VersionRow};
use epicrisis_validate::{Kind, Report, Severity};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_versions, save_version))
        .routes(routes!(get_version))
        .routes(routes!(sign_version))
        .layer(super::body::limit(super::body::TEXT_BODY))
}

/// A version as lists show it.
pub fn version_summary(v: &VersionRow) -> VersionSummary {
    VersionSummary::of(v, &report_of(v))
}

/// Every version of an episode, oldest first.
#[utoipa::path(get, path = "/api/v1/episodes/{id}/versions", tag = "versiones",
    summary = "Listar las versiones de un episodio",
    description = "Todas las versiones de un episodio, la más antigua primero, sin su \
                   texto: número, tipo, estado, autor, huella y cuántos errores y \
                   advertencias tiene. Cualquier rol. Error 404 si el episodio no \
                   existe.",
    params(("id" = String, Path, description = "El número de episodio")),
    responses((status = 200, body = VersionList), (status = 404, body = ErrorBody)))]
async fn list_versions(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<VersionList>> {
    state
        .store
        .episode_stamp(&id)
        .await?
        .ok_or_else(|| unknown_episode(&id))?;
    let versions = state.store.versions(&id).await?;
    Ok(Json(VersionList {
        episode_id: id,
        versions: versions.iter().map(version_summary).collect(),
    }))
}

/// One version with its text, report, provenance and evidence.
#[utoipa::path(get, path = "/api/v1/versions/{id}", tag = "versiones",
    summary = "Leer una versión",
    description = "Una versión con su texto, el informe del validador, su procedencia y \
                   la evidencia de cada oración, resuelta contra los datos del episodio \
                   desde los que se escribió. Dice además la revisión actual de los \
                   datos y si la versión se escribió desde una revisión anterior. \
                   Cualquier rol. Se registra en la bitácora (`view`). Error 404 si la \
                   versión no existe.",
    params(("id" = i64, Path, description = "El id de la versión")),
    responses((status = 200, body = Version), (status = 404, body = ErrorBody)))]
async fn get_version(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Version>> {
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
    let mut full = Version::of(&v);
    full.evidence = Some(version_evidence(&v, data.parsed()));
    full.current_episode_revision = Some(current);
    full.written_from_older_revision = Some(v.episode_revision < current);
    Ok(Json(full))
}

/// The evidence of a version, resolved for the client: the one stored with it (by the
/// engine, or by the save), else computed now.
pub fn version_evidence(v: &VersionRow, parsed: &crate::cache::Parsed) -> Vec<SentenceEvidence> {
    let stored: Option<Vec<epicrisis_pipeline::evidence::SentenceEvidence>> =
        serde_json::from_str::<Value>(&v.provenance_json)
            .ok()
            .and_then(|p| p.get("evidence").cloned())
            .and_then(|e| serde_json::from_value(e).ok());
    let evidence = stored.unwrap_or_else(|| parsed.check(&v.text).1);
    parsed.evidence_view(&evidence)
}

impl BodyShape for SaveBody {
    const SHAPE: &'static str = "{text, parentId, amend?}";
}

/// Saves an edited text as a new version (validated now), or with `amend` an amendment
/// of the signed version.
#[utoipa::path(post, path = "/api/v1/episodes/{id}/versions", tag = "versiones",
    summary = "Guardar un texto editado como versión",
    description = "Guarda un texto editado como una versión nueva (validada en el \
                   momento) o, con `amend`, una enmienda de la versión firmada (un \
                   borrador nuevo que a su vez debe firmarse). `parentId` es la versión \
                   desde la que parte la edición: se conservan sus partes y sus \
                   orígenes. Responde 201 con la versión guardada y su evidencia. Solo \
                   médicos (y admin). Se registra en la bitácora (`edit` o `amend`, con \
                   el número de errores y advertencias). Errores: 400 si el texto está \
                   vacío o el cuerpo no es válido, 403 si el rol no lo permite, 404 si \
                   el episodio no existe.",
    params(("id" = String, Path, description = "El número de episodio")),
    request_body = SaveBody,
    responses((status = 201, body = Version), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn save_version(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<SaveBody>,
) -> ApiResult<(StatusCode, Json<Version>)> {
    p.require(&[Role::Medico], "editar borradores")?;
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
    let mut full = Version::of(&row);
    audit(
        &state,
        Some(&p),
        if b.amend { "amend" } else { "edit" },
        Some(&id),
        Some(row.id),
        json!({"errors": full.summary.errors, "warnings": full.summary.warnings}),
    )
    .await?;
    full.evidence = Some(stored.parsed.evidence_view(&evidence));
    Ok((StatusCode::CREATED, Json(full)))
}

impl BodyShape for SignBody {
    const SHAPE: &'static str = "{acknowledgeFindings?}";
    fn empty() -> Option<Self> {
        Some(SignBody::default())
    }
}

/// Approves and signs a version: the signed version is a new, immutable row with the
/// hash of its record. A text with errors, or data with wrong codes, is a 409 with
/// `needsConfirmation` unless `acknowledgeFindings` is sent.
#[utoipa::path(post, path = "/api/v1/versions/{id}/sign", tag = "versiones",
    summary = "Aprobar y firmar una versión",
    description = "Aprueba y firma una versión: la versión firmada es una fila nueva e \
                   inmutable con la huella (SHA-256) de su registro. Si el texto tiene \
                   errores, o los datos tienen códigos que no corresponden, responde 409 \
                   con `needsConfirmation` y un mensaje para confirmar; se firma de \
                   todas formas enviando `acknowledgeFindings: true`. El cuerpo es \
                   opcional. Solo médicos (y admin). Se registra en la bitácora \
                   (`approve`, con la huella y los hallazgos aceptados). Errores: 403 si \
                   el rol no lo permite, 404 si la versión no existe, 409 si hay \
                   hallazgos sin confirmar.",
    params(("id" = i64, Path, description = "El id de la versión")),
    request_body(content = SignBody, description = "Opcional"),
    responses((status = 201, body = Version), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn sign_version(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<SignBody>,
) -> ApiResult<(StatusCode, Json<Version>)> {
    p.require(&[Role::Medico], "aprobar y firmar")?;
    let v = load_version(&state, id).await?;
    let report = report_of(&v);
    let errors = report.error_count();
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
    Ok((StatusCode::CREATED, Json(Version::of(&signed))))
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
