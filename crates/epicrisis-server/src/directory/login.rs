//! What a login does with the directory's answer: the store's account of the person
//! (created, or its name, role and DN refreshed, at each login; disabled when the
//! directory no longer lets them in), the audit entry of every attempt (never a password;
//! a name only when it is a person's), and the page to show.
//!
//! The messages say why without telling an outsider more than the plain refusal does:
//! a wrong password, an unknown name and an account disabled in the directory read alike;
//! "no mapped group" and "disabled in epicrisis" come only after the password passed.

use super::{Directory, DirectoryError, Outcome};
use crate::AppState;
use crate::api::audit;
use crate::error::ApiError;
use crate::login::{Refusal, login_form};
use axum::http::StatusCode;
use epicrisis_store::{DirectoryAccount, User};
use serde_json::{Value, json};

/// The refusal everyone sees for a wrong password or an unknown name.
const WRONG: &str = "Usuario o contraseña incorrectos.";

/// Checks `username` and `password` with the directory; `account` is the store's
/// directory account of that name, if there is one. The account signing in and the
/// detail of its audit entry, or the refusal.
pub(crate) async fn sign_in(
    state: &AppState,
    dir: &Directory,
    username: &str,
    password: &str,
    account: Option<&User>,
) -> Result<(User, Value), Refusal> {
    let person = match dir.authenticate(username, password).await {
        Ok(Outcome::Authenticated(p)) => p,
        Ok(other) => return Err(refused(state, username, account, other).await),
        Err(e) => return Err(unavailable(state, account, e).await),
    };
    let Some(role) = person.role else {
        return Err(no_group(state, username).await);
    };
    let Ok(name) = crate::auth::check_username(username) else {
        failed(state, Some(username), "invalid_name").await;
        return Err(page(
            state,
            &format!(
                "El directorio lo reconoce, pero «{username}» no sirve como nombre en \
                 epicrisis (letras, números, «.», «_» o «-»); entre con su nombre corto."
            ),
            StatusCode::FORBIDDEN,
        )
        .into());
    };
    let sync = state
        .store
        .sync_directory_user(&DirectoryAccount {
            username: &name,
            display_name: &person.display_name,
            role,
            dn: &person.dn,
        })
        .await
        .map_err(|e| {
            page(
                state,
                &ApiError::from(e).message,
                StatusCode::SERVICE_UNAVAILABLE,
            )
        })?;
    if sync.user.disabled {
        failed(state, Some(&name), "disabled_here").await;
        return Err(page(
            state,
            "Su cuenta está deshabilitada en epicrisis; consulte a un administrador.",
            StatusCode::FORBIDDEN,
        )
        .into());
    }
    let detail = json!({
        "via": "directory",
        "role": role,
        "created": sync.created,
        "previous_role": sync.previous_role,
    });
    Ok((sync.user, detail))
}

/// A wrong password, an unknown name, a disabled or ambiguous entry: one message. The
/// store's account is disabled when the directory says the person is gone or disabled.
async fn refused(
    state: &AppState,
    username: &str,
    account: Option<&User>,
    outcome: Outcome,
) -> Refusal {
    let (reason, known) = match outcome {
        Outcome::BadPassword => ("bad_password", true),
        Outcome::UnknownUser => ("unknown_user", false),
        Outcome::Disabled => ("disabled_in_directory", true),
        Outcome::Ambiguous(_) => ("ambiguous", false),
        Outcome::Authenticated(_) => ("authenticated", true),
    };
    // The audit keeps a name only when it is a person's (a typed name that is no one's
    // is often a password typed in the wrong box).
    let name = (known || account.is_some()).then_some(username);
    failed(state, name, reason).await;
    if matches!(reason, "unknown_user" | "disabled_in_directory")
        && let Some(u) = account
    {
        disable(state, &u.username, reason).await;
    }
    page(state, WRONG, StatusCode::UNAUTHORIZED).into()
}

/// The password passed but no mapped group holds the person: refused, and their account
/// here (if any) disabled until a group lets them in again.
async fn no_group(state: &AppState, username: &str) -> Refusal {
    failed(state, Some(username), "no_group").await;
    if let Ok(name) = crate::auth::check_username(username) {
        disable(state, &name, "no_group").await;
    }
    page(
        state,
        "Su cuenta del directorio no pertenece a ningún grupo habilitado para epicrisis; \
         pida acceso a informática.",
        StatusCode::FORBIDDEN,
    )
    .into()
}

/// The directory did not answer, or refused the query: said plainly, detailed in the
/// server's log; the attempt does not count.
async fn unavailable(state: &AppState, account: Option<&User>, e: DirectoryError) -> Refusal {
    crate::api::warn("directory login", &e);
    let (reason, message) = match e {
        DirectoryError::Unreachable(_) => (
            "unreachable",
            "No se pudo contactar el directorio del hospital (LDAP / Active Directory). \
             Intente de nuevo en unos minutos; si sigue sin responder, avise a informática. \
             Las cuentas locales de emergencia siguen funcionando.",
        ),
        DirectoryError::Refused(_) => (
            "directory_refused",
            "El directorio del hospital no aceptó la consulta de epicrisis (configuración); \
             avise a informática. Las cuentas locales de emergencia siguen funcionando.",
        ),
    };
    failed(state, account.map(|u| u.username.as_str()), reason).await;
    Refusal {
        page: page(state, message, StatusCode::SERVICE_UNAVAILABLE),
        checked: false,
    }
}

/// Disables the store's directory account of `name`, with its audit entry.
async fn disable(state: &AppState, name: &str, reason: &str) {
    match state.store.disable_directory_user(name).await {
        Ok(true) => {
            let detail = json!({"user": name, "via": "directory", "reason": reason});
            let _ = audit(state, None, "user_disable", None, None, detail).await;
        }
        Ok(false) => {}
        Err(e) => crate::api::warn("a directory account could not be disabled", &e),
    }
}

/// The audit entry of a refused directory login.
async fn failed(state: &AppState, username: Option<&str>, reason: &str) {
    let detail = match username {
        Some(u) => json!({"via": "directory", "reason": reason, "username": u}),
        None => json!({"via": "directory", "reason": reason, "unknown_user": true}),
    };
    let _ = audit(state, None, "login_failed", None, None, detail).await;
}

fn page(state: &AppState, message: &str, status: StatusCode) -> axum::response::Response {
    login_form(state, Some(message), status)
}
