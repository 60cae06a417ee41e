//! Accounts over the API (admins only, except one's own password): list, add, disable
//! and enable, set a password. The administration page uses the same rules.

use super::audit;
use super::body::{BodyShape, JsonBody};
use super::types::{NewUserBody, PasswordBody, PasswordChanged, UserItem, UserList, UserState};
use crate::AppState;
use crate::auth::{Principal, Via};
use crate::error::{ApiError, ApiResult, ErrorBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use epicrisis_store::Role;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, add_user))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(set_user_password))
        .layer(super::body::limit(super::body::SMALL_BODY))
}

/// The accounts (admins only); `GET /api/v1/users` and the administration page.
pub async fn users(state: &AppState, p: &Principal) -> ApiResult<Vec<epicrisis_store::User>> {
    p.require(&[], "administrar usuarios")?;
    Ok(state.store.users().await?)
}

/// The accounts.
#[utoipa::path(get, path = "/api/v1/users", tag = "usuarios",
    summary = "Listar cuentas",
    description = "Las cuentas, con su rol y si están deshabilitadas. Solo \
                   administradores; error 403 para los demás roles.",
    responses((status = 200, body = UserList), (status = 403, body = ErrorBody)))]
async fn list_users(State(state): State<AppState>, p: Principal) -> ApiResult<Json<UserList>> {
    let users = users(&state, &p).await?;
    Ok(Json(UserList {
        users: users.iter().map(UserItem::from).collect(),
    }))
}

/// An argon2id hash of an acceptable password, computed off the async threads.
async fn new_password_hash(password: String) -> ApiResult<String> {
    crate::auth::check_password_strength(&password).map_err(ApiError::bad_request)?;
    tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

impl BodyShape for NewUserBody {
    const SHAPE: &'static str = "{username, displayName?, role, password}";
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

/// Adds an account.
#[utoipa::path(post, path = "/api/v1/users", tag = "usuarios", request_body = NewUserBody,
    summary = "Crear una cuenta",
    description = "Crea una cuenta con `username`, `displayName` (opcional), `role` \
                   (`medico`, `administrativo` o `admin`) y `password`. Solo \
                   administradores. Se registra en la bitácora (`user_add`). Errores: \
                   400 si el nombre de usuario, el rol o la contraseña no son \
                   aceptables, 403 si el rol no lo permite, 409 si la cuenta ya existe.",
    responses((status = 201, body = UserItem), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add_user(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(b): JsonBody<NewUserBody>,
) -> ApiResult<(StatusCode, Json<UserItem>)> {
    p.require(&[], "administrar usuarios")?;
    let u = create_user(&state, &p, &b.username, b.display_name, &b.role, b.password).await?;
    Ok((StatusCode::CREATED, Json(UserItem::from(&u))))
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

/// Disables an account (never one's own): its sessions end.
#[utoipa::path(post, path = "/api/v1/users/{name}/disable", tag = "usuarios",
    summary = "Deshabilitar una cuenta",
    description = "Deshabilita una cuenta: sus sesiones terminan. Nunca la propia. Solo \
                   administradores. Se registra en la bitácora (`user_disable`). \
                   Errores: 403 si el rol no lo permite, 404 si la cuenta no existe, 409 \
                   si es la cuenta propia.",
    params(("name" = String, Path, description = "El nombre de usuario")),
    responses((status = 200, body = UserState), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn disable_user(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<UserState>> {
    set_disabled(&state, &p, &name, true).await?;
    Ok(Json(UserState {
        username: name,
        disabled: true,
    }))
}

/// Enables an account again.
#[utoipa::path(post, path = "/api/v1/users/{name}/enable", tag = "usuarios",
    summary = "Habilitar una cuenta",
    description = "Vuelve a habilitar una cuenta deshabilitada. Solo administradores. Se \
                   registra en la bitácora (`user_enable`). Errores: 403 si el rol no lo \
                   permite, 404 si la cuenta no existe.",
    params(("name" = String, Path, description = "El nombre de usuario")),
    responses((status = 200, body = UserState), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn enable_user(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<UserState>> {
    set_disabled(&state, &p, &name, false).await?;
    Ok(Json(UserState {
        username: name,
        disabled: false,
    }))
}

impl BodyShape for PasswordBody {
    const SHAPE: &'static str = "{password, currentPassword?}";
}

/// Sets a password: one's own (with `currentPassword`), or as an admin anyone's.
#[utoipa::path(post, path = "/api/v1/users/{name}/password", tag = "usuarios",
    summary = "Cambiar una contraseña",
    description = "Cambia una contraseña: la propia (con `currentPassword`, cualquier \
                   rol) o, como administrador, la de cualquier cuenta. Terminan las \
                   demás sesiones de la cuenta y se revocan sus tokens de API; la sesión \
                   que lo pidió sigue abierta. Una cuenta del directorio del hospital \
                   cambia su contraseña en el directorio (409). Se registra en la \
                   bitácora (`user_passwd`). Errores: 400 si la contraseña nueva no es \
                   aceptable, 403 si la contraseña actual no es correcta o el rol no lo \
                   permite, 404 si la cuenta no existe.",
    params(("name" = String, Path, description = "El nombre de usuario")), request_body = PasswordBody,
    responses((status = 200, body = PasswordChanged), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_user_password(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<PasswordBody>,
) -> ApiResult<Json<PasswordChanged>> {
    change_password(&state, &p, &name, b.password, b.current_password).await?;
    Ok(Json(PasswordChanged {
        username: name,
        changed: true,
    }))
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
    if own && p.user.source == epicrisis_store::UserSource::Directory {
        // Anyone else's directory account: the store refuses it (409) below.
        return Err(ApiError::conflict(
            "su contraseña es la del directorio del hospital: cámbiela allí, no en epicrisis",
        ));
    }
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
