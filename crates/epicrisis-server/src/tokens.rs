//! API tokens over HTTP: `POST /api/v1/tokens` `{name, days?}` creates one (admins only;
//! the secret is shown once), `GET /api/v1/tokens` lists them (an admin every token,
//! anyone else their own), `POST /api/v1/tokens/{id}/revoke` revokes one (an admin any,
//! anyone else their own). A token lasts `days` (1 to 365; [`TOKEN_DAYS`] by default);
//! only a session may create one, so a token cannot breed more tokens. Every change is
//! audited with the token's id, never its secret.

use crate::AppState;
use crate::api::{audit, json_body};
use crate::auth::{Principal, Via};
use crate::error::{ApiError, ApiResult};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use epicrisis_store::{ApiToken, Role, TOKEN_DAYS};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}/revoke", post(revoke_token))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    name: String,
    days: Option<i64>,
}

async fn create_token(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> ApiResult<Response> {
    p.require(&[], "crear tokens de API")?;
    if matches!(p.via, Via::Token) {
        return Err(ApiError::forbidden(
            "un token de API no puede crear otros tokens; hágalo con una sesión de administrador",
        ));
    }
    let b: TokenBody = json_body(&body, "{name, days?}")?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "name: un nombre de 1 a 100 caracteres para el token",
        ));
    }
    let days = b.days.unwrap_or(TOKEN_DAYS);
    if !(1..=365).contains(&days) {
        return Err(ApiError::bad_request(
            "days: la vigencia del token, de 1 a 365 días",
        ));
    }
    let token = crate::auth::random_token()?;
    let expires_at = crate::now_ms() + days * 86_400_000;
    let id = state
        .store
        .add_api_token(
            p.user.id,
            name,
            &crate::auth::token_hash(&token),
            expires_at,
        )
        .await?;
    audit(
        &state,
        Some(&p),
        "token_add",
        None,
        None,
        json!({"tokenId": id, "days": days}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "token": token, "expiresAt": expires_at,
                    "note": "guárdelo ahora: no se vuelve a mostrar"})),
    )
        .into_response())
}

async fn list_tokens(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Vec<ApiToken>>> {
    let owner = (p.user.role != Role::Admin).then_some(p.user.id);
    Ok(Json(state.store.api_tokens(owner).await?))
}

async fn revoke_token(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApiToken>> {
    let owner = (p.user.role != Role::Admin).then_some(p.user.id);
    let t = state
        .store
        .revoke_api_token(id, owner)
        .await
        .map_err(|e| match e {
            epicrisis_store::StoreError::NotFound(_) => {
                ApiError::not_found(format!("no hay un token {id} suyo"))
            }
            other => other.into(),
        })?;
    audit(
        &state,
        Some(&p),
        "token_revoke",
        None,
        None,
        json!({"tokenId": id}),
    )
    .await?;
    Ok(Json(t))
}
