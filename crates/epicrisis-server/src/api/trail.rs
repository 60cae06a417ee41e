//! The audit trail over the API: an episode's rows (anyone signed in), all rows and the
//! chain's verification (admins only). Newest first.

use super::types::{AuditItem, AuditTrail, AuditVerification};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(episode_audit))
        .routes(routes!(full_audit))
        .routes(routes!(verify_audit))
        .layer(super::body::limit(super::body::SMALL_BODY))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    // Rows, 1 to 5000 (200 by default).
    /// Filas, de 1 a 5000 (predeterminado: 200).
    limit: Option<i64>,
}

fn trail(rows: Vec<epicrisis_store::AuditRow>) -> AuditTrail {
    AuditTrail {
        audit: rows.into_iter().map(AuditItem::of).collect(),
    }
}

/// What was done with one episode, by whom and when.
#[utoipa::path(get, path = "/api/v1/episodes/{id}/audit", tag = "bitácora",
    summary = "Bitácora de un episodio",
    description = "Lo que se hizo con un episodio, quién lo hizo y cuándo, lo más \
                   reciente primero. Cualquier rol.",
    params(("id" = String, Path, description = "El número de episodio"), AuditQuery),
    responses((status = 200, body = AuditTrail)))]
async fn episode_audit(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditTrail>> {
    let rows = state
        .store
        .audit_trail(Some(&id), q.limit.unwrap_or(200).clamp(1, 5000))
        .await?;
    Ok(Json(trail(rows)))
}

/// The whole trail (admins only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "bitácora", params(AuditQuery),
    summary = "Bitácora completa",
    description = "Todas las filas de la bitácora, lo más reciente primero. Solo \
                   administradores; error 403 para los demás roles.",
    responses((status = 200, body = AuditTrail), (status = 403, body = ErrorBody)))]
async fn full_audit(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditTrail>> {
    p.require(&[], "leer toda la bitácora")?;
    let rows = state
        .store
        .audit_trail(None, q.limit.unwrap_or(200).clamp(1, 5000))
        .await?;
    Ok(Json(trail(rows)))
}

/// Recomputes the trail's hash chain (admins only): every changed, deleted or cut row.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "bitácora",
    summary = "Verificar la cadena de la bitácora",
    description = "Recalcula la cadena de hashes de la bitácora y nombra, por id, cada \
                   fila modificada, borrada o cortada. Solo administradores; error 403 \
                   para los demás roles.",
    responses((status = 200, body = AuditVerification), (status = 403, body = ErrorBody)))]
async fn verify_audit(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<AuditVerification>> {
    p.require(&[], "verificar la bitácora")?;
    let check = state.store.verify_audit().await?;
    Ok(Json(AuditVerification {
        ok: check.problems.is_empty(),
        rows: check.rows,
        problems: check.problems,
    }))
}
