//! API tokens over HTTP: `POST /api/v1/tokens` `{name, days?}` creates one (admins only;
//! the secret is shown once), `GET /api/v1/tokens` lists them (an admin every token,
//! anyone else their own), `POST /api/v1/tokens/{id}/revoke` revokes one (an admin any,
//! anyone else their own). A token lasts `days` (1 to 365; [`TOKEN_DAYS`] by default);
//! only a session may create one, so a token cannot breed more tokens. Every change is
//! audited with the token's id, never its secret.

use crate::AppState;
use crate::api::audit;
use crate::api::body::{BodyShape, JsonBody};
use crate::api::types::{NewToken, TokenBody, TokenItem};
use crate::auth::{Principal, Via};
use crate::error::{ApiError, ApiResult, ErrorBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use epicrisis_store::{Role, TOKEN_DAYS};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .layer(crate::api::body::limit(crate::api::body::SMALL_BODY))
}

impl BodyShape for TokenBody {
    const SHAPE: &'static str = "{name, days?}";
}

/// Creates a token for the calling admin (a session, not a token); the secret is in
/// this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = TokenBody,
    summary = "Crear un token de API",
    description = "Crea un token de API para el administrador que llama, con `name` y \
                   `days` (vigencia de 1 a 365 días; 90 si se omite). Se crea solo desde \
                   una sesión: un token de API no puede crear otros. El secreto aparece \
                   solo en esta respuesta: guárdelo. Se registra en la bitácora \
                   (`token_add`, con el id, nunca el secreto). Errores: 400 si `name` \
                   está vacío o supera 100 caracteres o si `days` está fuera de rango, \
                   403 si quien llama no es administrador o usa un token de API.",
    responses((status = 201, body = NewToken), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(b): JsonBody<TokenBody>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    p.require(&[], "crear tokens de API")?;
    if matches!(p.via, Via::Token) {
        return Err(ApiError::forbidden(
            "un token de API no puede crear otros tokens; hágalo con una sesión de administrador",
        ));
    }
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
        Json(NewToken {
            id,
            token,
            expires_at,
            note: "guárdelo ahora: no se vuelve a mostrar",
        }),
    ))
}

/// The tokens: an admin's list has everybody's, anyone else's their own.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    summary = "Listar tokens de API",
    description = "Los tokens de API, nunca su secreto: un administrador ve los de todas \
                   las cuentas; los demás roles, solo los propios.",
    responses((status = 200, body = Vec<TokenItem>)))]
async fn list_tokens(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Vec<TokenItem>>> {
    let owner = (p.user.role != Role::Admin).then_some(p.user.id);
    let tokens = state.store.api_tokens(owner).await?;
    Ok(Json(tokens.into_iter().map(TokenItem::from).collect()))
}

/// Revokes a token (an admin any, anyone else their own).
#[utoipa::path(post, path = "/api/v1/tokens/{id}/revoke", tag = "tokens",
    summary = "Revocar un token de API",
    description = "Revoca un token de API: un administrador, cualquiera; los demás \
                   roles, solo los propios. Se registra en la bitácora (`token_revoke`, \
                   con el id). Error 404 si no existe un token de API con ese id a su \
                   nombre.",
    params(("id" = i64, Path, description = "El id del token de API")),
    responses((status = 200, body = TokenItem), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<TokenItem>> {
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
    Ok(Json(TokenItem::from(t)))
}
