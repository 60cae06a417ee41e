//! The «Administración» page: accounts (plain forms with the session's CSRF token and
//! the API's rules), the server's state (database, engine, embeddings, uptime), the
//! drafting queue with each job's stage, and the latest entries of the audit trail with
//! the result of its check. Times are shown in the browser's local time.

use crate::AppState;
use crate::auth::{self, Principal, Via};
use crate::error::ApiError;
use crate::web::{engine_ctx, error_page, page, user_ctx, viewer};
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use epicrisis_store::AuditRow;
use epicrisis_store::Role;
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/administracion", get(admin_page))
        .route("/administracion/usuarios", post(admin_add))
        .route(
            "/administracion/usuarios/{name}/deshabilitar",
            post(admin_disable),
        )
        .route(
            "/administracion/usuarios/{name}/habilitar",
            post(admin_enable),
        )
        .route(
            "/administracion/usuarios/{name}/contrasena",
            post(admin_password),
        )
}

/// The signed-in user of a form post, with the form's CSRF token checked (the session's
/// token must come back in the `csrf` field). Anonymous: 401.
pub(crate) async fn form_poster(
    state: &AppState,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<Principal, Response> {
    match auth::principal(state, headers).await {
        Ok(Some(p)) => {
            if let Via::Session { csrf: expected, .. } = &p.via
                && !auth::same(expected, csrf.unwrap_or(""))
            {
                return Err(error_page(
                    state,
                    ApiError::forbidden(
                        "csrf: el token del formulario falta o no coincide; recargue la página",
                    ),
                ));
            }
            Ok(p)
        }
        Ok(None) => Err(error_page(state, ApiError::unauthorized())),
        Err(e) => Err(error_page(state, e)),
    }
}

/// An audit action as the page names it.
fn action_es(action: &str) -> &str {
    match action {
        "view" => "consulta",
        "generate" => "redacción pedida",
        "edit" => "edición",
        "approve" => "firma",
        "amend" => "enmienda",
        "export" => "exportación",
        "import" => "importación",
        "cancel" => "redacción cancelada",
        "validate" => "revisión de un texto",
        "search" => "búsqueda de casos similares",
        "login" => "inicio de sesión",
        "login_failed" => "inicio de sesión fallido",
        "logout" => "cierre de sesión",
        "user_add" => "cuenta creada",
        "user_disable" => "cuenta deshabilitada",
        "user_enable" => "cuenta habilitada",
        "user_passwd" => "contraseña cambiada",
        "token_add" => "token de API creado",
        "token_revoke" => "token de API revocado",
        "llm_completion" => "uso del modelo por la API",
        "verify" => "verificación de firma",
        "backup" => "respaldo de la base de datos",
        "restore" => "restauración de un respaldo",
        other => other,
    }
}

/// Why a login was refused or an account disabled, as the audit detail's `reason` says.
fn reason_es(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "bad_password" => "contraseña incorrecta",
        "unknown_user" => "usuario desconocido",
        "disabled_in_directory" => "cuenta deshabilitada en el directorio",
        "no_group" => "sin grupo habilitado en el directorio",
        "unreachable" => "directorio inalcanzable",
        "directory_refused" => "el directorio rechazó la consulta",
        "ambiguous" => "nombre ambiguo en el directorio",
        _ => return None,
    })
}

/// One audit entry as the page shows it: who (the account, the account a refused login
/// named, or the command line and its system user) and what, with the detail a person
/// needs (why a login failed, whose account changed, through the directory or not).
fn audit_line(r: &AuditRow) -> Value {
    let detail: Value = serde_json::from_str(&r.detail).unwrap_or(Value::Null);
    let text = |k: &str| detail.get(k).and_then(Value::as_str);
    let user = match r.username.as_deref().or(text("username")) {
        Some("cli:?") => Some("línea de comandos".to_string()),
        Some(u) => Some(match u.strip_prefix("cli:") {
            Some(system) => format!("línea de comandos ({system})"),
            None => u.to_string(),
        }),
        None => None,
    };
    let mut notes: Vec<String> = Vec::new();
    if let Some(whose) = text("user") {
        notes.push(format!("cuenta {whose}"));
    }
    if let Some(why) = text("reason").and_then(reason_es) {
        notes.push(why.to_string());
    } else if r.action == "login_failed" {
        notes.push(if detail.get("unknown_user").is_some() {
            "usuario desconocido".into()
        } else {
            "contraseña incorrecta o cuenta deshabilitada".into()
        });
    }
    let mut action = action_es(&r.action).to_string();
    if !notes.is_empty() {
        action = format!("{action}: {}", notes.join(", "));
    }
    if text("via") == Some("directory") && !action.contains("directorio") {
        action.push_str(" (directorio)");
    }
    json!({"at": r.at, "user": user, "action": action,
           "episode": r.episode_id, "version": r.version_id})
}

/// The server's state, the drafting queue and the latest audit entries, for the page.
async fn operations(state: &AppState, verify: bool) -> Value {
    let database_ok = state.store.episode_stamp("").await.is_ok();
    let (waiting, running) = state.store.job_counts().await.unwrap_or((0, 0));
    let mut jobs: Vec<Value> = Vec::new();
    for row in state.store.active_jobs().await.unwrap_or_default() {
        if let Ok(j) = crate::jobs::job_view(state, &row).await {
            jobs.push(
                json!({"episode": j.episode_id, "status": j.status, "stage": j.stage_label,
                   "ahead": j.ahead, "elapsed": j.elapsed_s,
                   "worker": row.lease_owner.as_deref().map(worker_host)}),
            );
        }
    }
    let audit: Vec<Value> = match state.store.audit_trail(None, 30).await {
        // Newest first, as the store gives them.
        Ok(rows) => rows.iter().map(audit_line).collect(),
        Err(e) => {
            crate::api::warn("the audit trail could not be read for the page", &e);
            Vec::new()
        }
    };
    let check = if verify {
        Some(match state.store.verify_audit().await {
            Ok(c) if c.problems.is_empty() => {
                json!({"ok": true, "text": format!("La bitácora está íntegra ({} entradas verificadas).", c.rows)})
            }
            Ok(c) => json!({"ok": false, "text": format!(
                "La bitácora tiene {} problema(s) en {} entradas: {}",
                c.problems.len(), c.rows, c.problems.join("; ")
            )}),
            Err(e) => json!({"ok": false, "text": ApiError::from(e).message}),
        })
    } else {
        None
    };
    json!({
        "database": {"backend": match state.store.backend() {
            epicrisis_store::Backend::Sqlite => "SQLite",
            epicrisis_store::Backend::Postgres => "PostgreSQL",
        }, "ok": database_ok},
        "engine": state.engine.name(),
        "embeddings": state.embedder.as_ref().map(|e| e.name().to_string()),
        "uptime_min": state.started.elapsed().as_secs() / 60,
        "version": env!("CARGO_PKG_VERSION"),
        "queue": {"waiting": waiting, "running": running, "capacity": state.settings.queue_capacity, "jobs": jobs,
                   "local_worker": state.settings.worker},
        "audit": audit, "check": check,
    })
}

/// A user name for a query string (stored names are letters, digits, `.`, `_`, `-`).
fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Deserialize)]
struct AdminQuery {
    aviso: Option<String>,
    usuario: Option<String>,
    /// `1`: check the audit chain (reads the whole trail, so only on request).
    verificar: Option<String>,
}

/// The administration page; `error` re-shows it after a refused form (with its status
/// and the values typed, never the password).
async fn admin_view(
    state: &AppState,
    p: &Principal,
    notice: Option<String>,
    error: Option<ApiError>,
    form: Value,
) -> Response {
    admin_view_checked(state, p, notice, error, form, false).await
}

async fn admin_view_checked(
    state: &AppState,
    p: &Principal,
    notice: Option<String>,
    error: Option<ApiError>,
    form: Value,
    verify: bool,
) -> Response {
    let users = match crate::api::users(state, p).await {
        Ok(u) => u,
        Err(e) => return error_page(state, e),
    };
    let list: Vec<Value> = users
        .iter()
        .map(|u| {
            json!({"username": u.username, "display_name": u.display_name,
                   "role": u.role.as_str(), "role_es": u.role.label_es(),
                   "disabled": u.disabled, "created": u.created_at,
                   "directory": u.source == epicrisis_store::UserSource::Directory})
        })
        .collect();
    let roles: Vec<Value> = [Role::Medico, Role::Administrativo, Role::Admin]
        .into_iter()
        .map(|r| json!({"value": r.as_str(), "label": r.label_es()}))
        .collect();
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status);
    let mut r = page(
        state,
        "admin.html",
        context! {
            user => user_ctx(p), csrf => p.csrf(), engine => engine_ctx(state),
            hospital => state.settings.hospital_name,
            users => list, roles => roles, notice => notice,
            error => error.map(|e| e.message), form => form,
            ops => operations(state, verify).await,
        },
    );
    *r.status_mut() = status;
    r
}

async fn admin_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AdminQuery>,
) -> Response {
    let p = match viewer(&state, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(e) = p.require(&[], "administrar usuarios") {
        return error_page(&state, e);
    }
    let who = q.usuario.unwrap_or_default();
    let notice = match q.aviso.as_deref() {
        Some("agregado") => Some(format!("Se agregó la cuenta {who}.")),
        Some("deshabilitado") => Some(format!(
            "Se deshabilitó la cuenta {who}; sus sesiones abiertas terminaron."
        )),
        Some("habilitado") => Some(format!("Se habilitó la cuenta {who}.")),
        Some("contrasena") => Some(format!("Se cambió la contraseña de {who}.")),
        _ => None,
    };
    let verify = q.verificar.as_deref() == Some("1");
    admin_view_checked(&state, &p, notice, None, json!({}), verify).await
}

fn done(what: &str, who: &str) -> Response {
    Redirect::to(&format!(
        "/administracion?aviso={what}&usuario={}",
        query_value(who)
    ))
    .into_response()
}

/// A form body that could not be read: 400, naming the fields expected.
fn bad_form(state: &AppState, fields: &str, e: FormRejection) -> Response {
    error_page(
        state,
        ApiError::bad_request(format!(
            "el formulario debe traer {fields} (application/x-www-form-urlencoded): {e}"
        )),
    )
}

#[derive(Deserialize)]
struct AddUserForm {
    csrf: Option<String>,
    username: Option<String>,
    display_name: Option<String>,
    role: Option<String>,
    password: Option<String>,
}

async fn admin_add(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<AddUserForm>, FormRejection>,
) -> Response {
    let csrf = form.as_ref().ok().and_then(|f| f.csrf.clone());
    let p = match form_poster(&state, &headers, csrf.as_deref()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Form(f) = match form {
        Ok(f) => f,
        Err(e) => return bad_form(&state, "csrf, username, display_name, role y password", e),
    };
    let typed = json!({"username": f.username, "display_name": f.display_name, "role": f.role});
    match crate::api::create_user(
        &state,
        &p,
        f.username.as_deref().unwrap_or(""),
        f.display_name,
        f.role.as_deref().unwrap_or(""),
        f.password.unwrap_or_default(),
    )
    .await
    {
        Ok(u) => done("agregado", &u.username),
        Err(e) => admin_view(&state, &p, None, Some(e), typed).await,
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn admin_switch(
    state: AppState,
    headers: HeaderMap,
    name: String,
    form: Result<Form<CsrfForm>, FormRejection>,
    disabled: bool,
) -> Response {
    let csrf = form.as_ref().ok().and_then(|f| f.csrf.clone());
    let p = match form_poster(&state, &headers, csrf.as_deref()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(e) = form {
        return bad_form(&state, "csrf", e);
    }
    match crate::api::set_disabled(&state, &p, &name, disabled).await {
        Ok(()) => done(
            if disabled {
                "deshabilitado"
            } else {
                "habilitado"
            },
            &name,
        ),
        Err(e) => admin_view(&state, &p, None, Some(e), json!({})).await,
    }
}

async fn admin_disable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    admin_switch(state, headers, name, form, true).await
}

async fn admin_enable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    admin_switch(state, headers, name, form, false).await
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: Option<String>,
    password: Option<String>,
    /// Asked when the account is the viewer's own.
    current_password: Option<String>,
}

async fn admin_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let csrf = form.as_ref().ok().and_then(|f| f.csrf.clone());
    let p = match form_poster(&state, &headers, csrf.as_deref()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Form(f) = match form {
        Ok(f) => f,
        Err(e) => return bad_form(&state, "csrf y password", e),
    };
    // The page is for admins (one's own password included); the rule is the API's.
    if let Err(e) = p.require(&[], "administrar usuarios") {
        return error_page(&state, e);
    }
    match crate::api::change_password(
        &state,
        &p,
        &name,
        f.password.unwrap_or_default(),
        f.current_password,
    )
    .await
    {
        Ok(()) => done("contrasena", &name),
        Err(e) => admin_view(&state, &p, None, Some(e), json!({})).await,
    }
}

/// The machine part of a worker's id (`host:pid:random`), for the page.
fn worker_host(owner: &str) -> String {
    owner.split(':').next().unwrap_or(owner).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(username: Option<&str>, action: &str, detail: Value) -> AuditRow {
        AuditRow {
            id: 1,
            at: 0,
            user_id: None,
            username: username.map(str::to_string),
            action: action.into(),
            episode_id: None,
            version_id: None,
            detail: detail.to_string(),
            prev_hash: String::new(),
            hash: String::new(),
            key_id: None,
        }
    }

    #[test]
    fn audit_lines_say_who_and_why_in_spanish() {
        let directory_refusal =
            json!({"via": "directory", "reason": "no_group", "username": "sinrol"});
        let directory_disable =
            json!({"user": "medico1", "via": "directory", "reason": "no_group"});
        let cases = [
            (
                row(None, "login_failed", directory_refusal),
                "sinrol",
                "inicio de sesión fallido: sin grupo habilitado en el directorio",
            ),
            (
                row(None, "login_failed", json!({"unknown_user": true})),
                "",
                "inicio de sesión fallido: usuario desconocido",
            ),
            (
                row(None, "login_failed", json!({"username": "ana"})),
                "ana",
                "inicio de sesión fallido: contraseña incorrecta o cuenta deshabilitada",
            ),
            (
                row(None, "user_disable", directory_disable),
                "",
                "cuenta deshabilitada: cuenta medico1, sin grupo habilitado en el directorio",
            ),
            (
                row(Some("jefa"), "login", json!({"via": "directory"})),
                "jefa",
                "inicio de sesión (directorio)",
            ),
            (
                row(Some("cli:?"), "backup", json!({})),
                "línea de comandos",
                "respaldo de la base de datos",
            ),
            (
                row(Some("cli:root"), "restore", json!({})),
                "línea de comandos (root)",
                "restauración de un respaldo",
            ),
        ];
        for (r, user, action) in cases {
            let v = audit_line(&r);
            assert_eq!(v["user"].as_str().unwrap_or(""), user, "{v}");
            assert_eq!(v["action"], action, "{v}");
        }
    }
}
