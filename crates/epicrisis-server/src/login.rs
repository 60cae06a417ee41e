//! Signing in and out of the web interface: the login form (a double-submit CSRF
//! token in a cookie of its own), the login limiter and argon2 check, the session
//! cookie, and the audit entries of each attempt.
//!
//! With a directory configured ([`crate::directory`]), a name is checked in this order:
//! a local account's name by its password here, and only here (the directory never takes
//! over a local name, so the emergency accounts work whether the directory answers or
//! not, and no one in the directory can become them); a directory account's name, or a
//! name no account has, by the directory ([`crate::directory::login`]). The limiter counts
//! both alike; an attempt the directory could not check (unreachable) is given back.

use crate::api::audit;
use crate::auth::{self, LOGIN_CSRF_COOKIE, Principal, SESSION_COOKIE, Via};
use crate::error::ApiError;
use crate::web::{error_page, page};
use crate::{AppState, now_ms};
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use epicrisis_store::{User, UserSource};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;

/// The largest login form accepted (a user name, a password and a CSRF token fit in a
/// few hundred bytes); a larger body is refused with 413 before anything is read.
pub const LOGIN_BODY_BYTES: usize = 8 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/login",
            get(login_page)
                .post(login)
                .layer(DefaultBodyLimit::max(LOGIN_BODY_BYTES)),
        )
        .route("/logout", post(logout))
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = auth::principal(&state, &headers).await {
        return Redirect::to("/episodios").into_response();
    }
    login_form(&state, None, StatusCode::OK)
}

pub(crate) fn login_form(state: &AppState, error: Option<&str>, status: StatusCode) -> Response {
    let csrf = match auth::random_token() {
        Ok(t) => t,
        Err(e) => return error_page(state, e),
    };
    let mut r = page(
        state,
        "login.html",
        context! { csrf => csrf, error => error, hospital => state.settings.hospital_name },
    );
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(
        LOGIN_CSRF_COOKIE,
        &csrf,
        3600,
        state.settings.secure_cookies,
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if let Some(refused) = login_form_refused(&state, &headers, &f) {
        return refused;
    }
    let username = f.username.trim().to_lowercase();
    if f.password.is_empty() {
        // Never sent anywhere: to a directory, an empty password is an anonymous bind.
        return login_form(
            &state,
            Some("Escriba su contraseña."),
            StatusCode::BAD_REQUEST,
        );
    }
    let ip = crate::client::client_ip(addr.ip(), &headers, &state.settings.trusted_proxies);
    let keys = vec![format!("u:{username}"), format!("ip:{ip}")];
    // Counted before the password is checked: parallel guesses cannot all pass.
    if let Err(wait) = state.limiter.begin(&keys) {
        let mut r = login_form(
            &state,
            Some(&format!(
                "Demasiados intentos fallidos. Espere {wait} segundos."
            )),
            StatusCode::TOO_MANY_REQUESTS,
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    match signed_in(&state, &username, f.password).await {
        Ok((user, detail)) => {
            state.limiter.succeeded(&keys);
            start_session(&state, user, detail).await
        }
        Err(refusal) => {
            if !refusal.checked {
                state.limiter.refund(&keys);
            }
            refusal.page
        }
    }
}

/// A refused login: the page to show, and whether a password was checked at all (an
/// attempt the directory could not check does not count towards the lock).
pub(crate) struct Refusal {
    pub page: Response,
    pub checked: bool,
}

impl From<Response> for Refusal {
    fn from(page: Response) -> Refusal {
        Refusal {
            page,
            checked: true,
        }
    }
}

/// The account signing in and the audit entry's detail, in the order of the module's
/// documentation: a local account here, anything else by the directory when there is one.
async fn signed_in(
    state: &AppState,
    username: &str,
    password: String,
) -> Result<(User, Value), Refusal> {
    let user = state.store.user_by_name(username).await.map_err(|e| {
        login_form(
            state,
            Some(&ApiError::from(e).message),
            StatusCode::SERVICE_UNAVAILABLE,
        )
    })?;
    if let Some(dir) = &state.settings.directory
        && user
            .as_ref()
            .is_none_or(|u| u.source == UserSource::Directory)
    {
        return crate::directory::login::sign_in(state, dir, username, &password, user.as_ref())
            .await;
    }
    let user = checked_user(state, username, user, password).await?;
    Ok((user, json!({})))
}

/// The login form's own faults: an expired form (the double-submit token must match the
/// cookie set with the form) or a user name too long to be anyone's.
fn login_form_refused(state: &AppState, headers: &HeaderMap, f: &LoginForm) -> Option<Response> {
    let cookie_csrf =
        auth::our_cookie(headers, LOGIN_CSRF_COOKIE, state.settings.secure_cookies).unwrap_or("");
    if cookie_csrf.is_empty() || !auth::same(cookie_csrf, &f.csrf) {
        return Some(login_form(
            state,
            Some("El formulario expiró; intente de nuevo."),
            StatusCode::FORBIDDEN,
        ));
    }
    if f.username.trim().chars().count() > auth::MAX_USERNAME_CHARS {
        return Some(login_form(
            state,
            Some(&format!(
                "El nombre de usuario tiene más de {} caracteres; revise lo que escribió.",
                auth::MAX_USERNAME_CHARS
            )),
            StatusCode::BAD_REQUEST,
        ));
    }
    None
}

/// The enabled account whose password this is; otherwise the form again, with the failed
/// attempt audited. The password is checked even for an unknown name, so that timing
/// does not tell which names exist, and at most a few argon2 checks run at once (19 MiB
/// and a core each).
async fn checked_user(
    state: &AppState,
    username: &str,
    user: Option<User>,
    password: String,
) -> Result<User, Response> {
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| {
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3Tq0T3sVSLQbAx0AiiQ0fMBVWjvgVS9NWuJaBlJXZhU".into()
    });
    let ok = match state.limiter.verifying.acquire().await {
        Ok(_permit) => tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
            .await
            .unwrap_or(false),
        Err(_) => false,
    };
    match user {
        Some(u) if ok && !u.disabled => Ok(u),
        _ => {
            // The audit keeps a name only when it is an account's: a typed name that
            // is no one's (often a password typed in the wrong box) is not stored.
            let detail = match &user {
                Some(_) => json!({"username": username}),
                None => json!({"unknown_user": true}),
            };
            let _ = audit(state, None, "login_failed", None, None, detail).await;
            Err(login_form(
                state,
                Some("Usuario o contraseña incorrectos."),
                StatusCode::UNAUTHORIZED,
            ))
        }
    }
}

/// A new session for `user`: its cookie, the login form's cookie cleared, the audit
/// entry (with `detail`), and on to the episode list.
async fn start_session(state: &AppState, user: User, detail: Value) -> Response {
    let (token, csrf) = match (auth::random_token(), auth::random_token()) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error_page(state, e),
    };
    let hours = state.settings.session_hours;
    if let Err(e) = state
        .store
        .create_session(
            &auth::token_hash(&token),
            user.id,
            &csrf,
            now_ms() + hours * 3_600_000,
        )
        .await
    {
        return error_page(state, e.into());
    }
    let p = Principal {
        user,
        via: Via::Token,
    };
    let _ = audit(state, Some(&p), "login", None, None, detail).await;
    let mut r = Redirect::to("/episodios").into_response();
    for c in [
        auth::set_cookie(
            SESSION_COOKIE,
            &token,
            hours * 3600,
            state.settings.secure_cookies,
        ),
        auth::set_cookie(LOGIN_CSRF_COOKIE, "", 0, state.settings.secure_cookies),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Response {
    if let Ok(Some(p)) = auth::principal(&state, &headers).await
        && let Via::Session { csrf, token_hash } = &p.via
    {
        if !auth::same(csrf, &f.csrf) {
            return error_page(
                &state,
                ApiError::forbidden("token CSRF incorrecto; recargue la página"),
            );
        }
        let _ = state.store.delete_session(token_hash).await;
        let _ = audit(&state, Some(&p), "logout", None, None, json!({})).await;
    }
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(
        SESSION_COOKIE,
        "",
        0,
        state.settings.secure_cookies,
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}
