//! The Spanish web interface: server-rendered pages (minijinja templates compiled into
//! the binary), one small script and one style sheet, also embedded — no CDN, works
//! offline. The script streams drafts (Server-Sent Events), re-validates while the
//! clinician types and highlights every finding in place. Admins manage accounts on the
//! «Administración» page (plain forms with the session's CSRF token, the API's rules).

use crate::api::{audit, finding_class, parsed_episode, version_summary};
use crate::auth::{self, LOGIN_CSRF_COOKIE, Principal, SESSION_COOKIE, Via};
use crate::error::ApiError;
use crate::{AppState, now_ms};
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use epicrisis_domain::Episode;
use epicrisis_store::{Role, VersionRow};
use epicrisis_validate::Report;
use minijinja::{Environment, context};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("episodes.html", include_str!("../templates/episodes.html")),
    ("episode.html", include_str!("../templates/episode.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("admin.html", include_str!("../templates/admin.html")),
    ("similar.html", include_str!("../templates/similar.html")),
];
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// The compiled templates (a template error is a bug caught by the tests).
pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    for (name, src) in TEMPLATES {
        if let Err(e) = env.add_template(name, src) {
            eprintln!("error en la plantilla {name}: {e}");
        }
    }
    env
}

/// The largest login form accepted (a user name, a password and a CSRF token fit in a
/// few hundred bytes); a larger body is refused with 413 before anything is read.
pub const LOGIN_BODY_BYTES: usize = 8 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/episodios") }))
        .route(
            "/login",
            get(login_page)
                .post(login)
                .layer(DefaultBodyLimit::max(LOGIN_BODY_BYTES)),
        )
        .route("/logout", post(logout))
        .route("/episodios", get(episodes_page))
        .route("/episodios/{id}", get(episode_page))
        .route("/casos-similares", get(similar_page))
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
        .route("/assets/app.js", get(js))
        .route("/assets/app.css", get(css))
}

fn page(state: &AppState, name: &str, ctx: minijinja::Value) -> Response {
    let rendered = state
        .templates
        .get_template(name)
        .and_then(|t| t.render(ctx));
    match rendered {
        Ok(html) => {
            let mut r = Html(html).into_response();
            let h = r.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
                ),
            );
            r
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("error de plantilla: {e}"),
        )
            .into_response(),
    }
}

fn error_page(state: &AppState, e: ApiError) -> Response {
    let mut r = page(
        state,
        "error.html",
        context! { status => e.status.as_u16(), message => e.message },
    );
    *r.status_mut() = e.status;
    r
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
        .into_response()
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response()
}

/// The signed-in user of a page, or the way to the login page.
async fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Principal, Response> {
    match auth::principal(state, headers).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(Redirect::to("/login").into_response()),
        Err(e) => Err(error_page(state, e)),
    }
}

fn user_ctx(p: &Principal) -> Value {
    json!({"name": p.user.display_name, "username": p.user.username, "role": p.user.role.as_str(),
           "can_edit": matches!(p.user.role, Role::Medico | Role::Admin)})
}

fn engine_ctx(state: &AppState) -> Value {
    json!({"name": state.engine.name(), "external": state.settings.external_notice})
}

// ------------------------------------------------------------------ login

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = auth::principal(&state, &headers).await {
        return Redirect::to("/episodios").into_response();
    }
    login_form(&state, None, StatusCode::OK)
}

fn login_form(state: &AppState, error: Option<&str>, status: StatusCode) -> Response {
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
    // Double-submit check: the form's token must match the cookie set with the form.
    let cookie_csrf = auth::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if cookie_csrf.is_empty() || !auth::same(cookie_csrf, &f.csrf) {
        return login_form(
            &state,
            Some("El formulario expiró; intente de nuevo."),
            StatusCode::FORBIDDEN,
        );
    }
    let username = f.username.trim().to_lowercase();
    if username.chars().count() > auth::MAX_USERNAME_CHARS {
        return login_form(
            &state,
            Some(&format!(
                "El nombre de usuario tiene más de {} caracteres; revise lo que escribió.",
                auth::MAX_USERNAME_CHARS
            )),
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
    let user = match state.store.user_by_name(&username).await {
        Ok(u) => u,
        Err(e) => {
            return login_form(
                &state,
                Some(&ApiError::from(e).message),
                StatusCode::SERVICE_UNAVAILABLE,
            );
        }
    };
    // Verify even for an unknown user, so timing does not tell which names exist.
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| {
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3Tq0T3sVSLQbAx0AiiQ0fMBVWjvgVS9NWuJaBlJXZhU".into()
    });
    let password = f.password.clone();
    // At most a few argon2 checks at once (19 MiB and a core each).
    let ok = match state.limiter.verifying.acquire().await {
        Ok(_permit) => tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
            .await
            .unwrap_or(false),
        Err(_) => false,
    };
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        _ => {
            // The audit keeps a name only when it is an account's: a typed name that
            // is no one's (often a password typed in the wrong box) is not stored.
            let detail = match &user {
                Some(_) => json!({"username": username}),
                None => json!({"unknown_user": true}),
            };
            let _ = audit(&state, None, "login_failed", None, None, detail).await;
            return login_form(
                &state,
                Some("Usuario o contraseña incorrectos."),
                StatusCode::UNAUTHORIZED,
            );
        }
    };
    state.limiter.succeeded(&keys);
    let (token, csrf) = match (auth::random_token(), auth::random_token()) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error_page(&state, e),
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
        return error_page(&state, e.into());
    }
    let p = Principal {
        user,
        via: Via::Token,
    };
    let _ = audit(&state, Some(&p), "login", None, None, json!({})).await;
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

// ------------------------------------------------------------------ pages

#[derive(Deserialize)]
struct ListParams {
    q: Option<String>,
    servicio: Option<String>,
    desde: Option<String>,
    hasta: Option<String>,
}

async fn episodes_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListParams>,
) -> Response {
    let p = match viewer(&state, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let query = match crate::api::episode_query(
        q.q.clone(),
        q.servicio.clone(),
        q.desde.clone(),
        q.hasta.clone(),
        Some(200),
        None,
    ) {
        Ok(q) => q,
        Err(e) => return error_page(&state, e),
    };
    let rows = match state.store.list_episodes(&query).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, e.into()),
    };
    page(
        &state,
        "episodes.html",
        context! {
            user => user_ctx(&p), csrf => p.csrf(), engine => engine_ctx(&state),
            hospital => state.settings.hospital_name,
            episodes => rows, q => q.q, servicio => q.servicio, desde => q.desde, hasta => q.hasta,
        },
    )
}

fn num(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0')
        .trim_end_matches('.')
        .replace('.', ",")
}

fn lab_value(v: &epicrisis_domain::LabValue) -> Value {
    let range = match (v.range_low, v.range_high) {
        (Some(l), Some(h)) => format!("{}–{}", num(l), num(h)),
        (Some(l), None) => format!("≥ {}", num(l)),
        (None, Some(h)) => format!("≤ {}", num(h)),
        (None, None) => String::new(),
    };
    let value = format!(
        "{}{}",
        v.comparator.map_or("", |c| c.symbol()),
        num(v.value)
    );
    json!({"value": value, "date": v.date.map(|d| d.to_dmy()), "status": v.status,
           "status_es": v.status.as_es(), "range": range,
           "out": matches!(v.status, epicrisis_domain::LabStatus::High | epicrisis_domain::LabStatus::Low)})
}

/// What the episode page shows, already worded.
fn episode_view(ep: &Episode) -> Value {
    use epicrisis_pipeline::prose;
    let dx = |ds: &[epicrisis_domain::Diagnosis]| -> Vec<Value> {
        ds.iter()
            .map(|d| json!({"name": prose::list_name(&d.name), "code": d.code.as_ref().map(|c| c.display())}))
            .collect()
    };
    // Notes by day, in order.
    let mut days: Vec<(String, Vec<String>)> = Vec::new();
    for n in &ep.evolution {
        let label = match (n.day, n.date) {
            (Some(d), Some(date)) => format!("Día {d} · {}", date.to_dmy()),
            (None, Some(date)) => date.to_dmy(),
            (Some(d), None) => format!("Día {d}"),
            (None, None) => "Sin fecha".into(),
        };
        match days.last_mut() {
            Some((l, notes)) if *l == label => notes.push(n.text.clone()),
            _ => days.push((label, vec![n.text.clone()])),
        }
    }
    json!({
        "patient": {
            "name": ep.patient.name, "identifier": ep.patient.identifier,
            "sex": ep.patient.sex.and_then(|x| serde_json::to_value(x).ok()).and_then(|v| v.as_str().map(|s| match s {
                "female" => "femenino".to_string(),
                "male" => "masculino".to_string(),
                other => other.to_string(),
            })),
            "age": ep.patient.age_es(),
        },
        "admission": ep.admission_date.map(|d| d.to_dmy()),
        "discharge": ep.discharge_date.map(|d| d.to_dmy()),
        "service": ep.service, "physician": ep.physician, "reason": ep.reason,
        "admission_dx": dx(&ep.admission_diagnoses),
        "discharge_dx": dx(&ep.discharge_diagnoses),
        "procedures": ep.procedures.iter().map(|p| prose::procedure_inline(p, true)).collect::<Vec<_>>(),
        "treatments": ep.treatments.iter().map(prose::medication_item).collect::<Vec<_>>(),
        "timeline": days.into_iter().map(|(l, n)| json!({"label": l, "notes": n})).collect::<Vec<_>>(),
        "labs": ep.labs.iter().map(|l| json!({
            "test": l.test, "unit": l.unit, "first": lab_value(&l.first),
            "last": l.last.as_ref().map(lab_value), "min": num(l.min), "max": num(l.max),
        })).collect::<Vec<_>>(),
        "lab_findings": ep.lab_findings.iter().map(|f| json!({
            "test": f.test, "result": f.result, "date": f.date.map(|d| d.to_dmy()),
        })).collect::<Vec<_>>(),
        "discharge_meds": ep.discharge.medications.iter().map(prose::medication_item).collect::<Vec<_>>(),
        "controls": ep.discharge.controls, "care": ep.discharge.care,
        "warning_signs": ep.discharge.warning_signs, "recommendations": ep.discharge.recommendations,
    })
}

fn findings_ctx(report: &Report) -> Value {
    let list: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({"class": finding_class(f), "mention": f.mention, "message": f.message,
                        "span": f.span, "category": f.category, "kind": f.kind})
        })
        .collect();
    json!(list)
}

async fn episode_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let p = match viewer(&state, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let stored = match parsed_episode(&state, &id).await {
        Ok(x) => x,
        Err(e) => return error_page(&state, e),
    };
    let ep = &stored.parsed.episode;
    let versions: Vec<VersionRow> = match state.store.versions(&id).await {
        Ok(v) => v,
        Err(e) => return error_page(&state, e.into()),
    };
    if let Err(e) = audit(
        &state,
        Some(&p),
        "view",
        Some(&id),
        None,
        json!({"page": true}),
    )
    .await
    {
        return error_page(&state, e);
    }
    let latest = versions.last();
    let revision = stored.meta.revision;
    // The latest version's evidence refers to the data it was written from.
    let evidence = match latest {
        Some(v) => match crate::record::version_data(&state, stored.clone(), v).await {
            Ok(data) => crate::api::version_evidence(v, data.parsed()),
            Err(e) => return error_page(&state, e),
        },
        None => json!([]),
    };
    let report: Report = latest
        .and_then(|v| serde_json::from_str(&v.report_json).ok())
        .unwrap_or_default();
    let summaries: Vec<Value> = versions.iter().rev().map(version_summary).collect();
    page(
        &state,
        "episode.html",
        context! {
            user => user_ctx(&p), csrf => p.csrf(), engine => engine_ctx(&state),
            hospital => state.settings.hospital_name,
            id => stored.meta.episode_id, shape => stored.meta.source_kind, ep => episode_view(ep),
            latest => latest.map(|v| json!({"id": v.id, "number": v.number, "status": v.status, "text": v.text, "kind": v.kind, "episode_revision": v.episode_revision})),
            revision => revision,
            findings => findings_ctx(&report),
            evidence => evidence,
            origins => latest.map(|v| crate::origins::origin_spans(&v.text, &v.provenance_json)).unwrap_or_default(),
            has_similar_query => !crate::archive::episode_query(ep).is_empty(),
            versions => summaries,
            warnings => ep.warnings.iter().map(|w| w.message_es.clone()).collect::<Vec<_>>(),
        },
    )
}

#[derive(serde::Deserialize)]
struct SimilarParams {
    q: Option<String>,
    k: Option<String>,
    /// An episode to leave out (the one the search started from).
    excluir: Option<String>,
    /// Search for cases like this episode: its reason, diagnoses and procedures become
    /// the query (built here, so that no clinical words travel in the link) and the
    /// episode itself is left out.
    episodio: Option<String>,
}

/// «Casos similares»: the archive of signed epicrisis searched by meaning. Without a
/// query, the form alone; a bad query or a server without an embeddings model is said on
/// the page, next to the form.
async fn similar_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SimilarParams>,
) -> Response {
    let p = match viewer(&state, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut q = q;
    if let Some(id) = q.episodio.take().filter(|id| !id.trim().is_empty()) {
        match parsed_episode(&state, &id).await {
            Ok(stored) => {
                q.q = Some(crate::archive::episode_query(&stored.parsed.episode));
                q.excluir = Some(id);
            }
            Err(e) => return error_page(&state, e),
        }
    }
    let text = q.q.clone().unwrap_or_default();
    let searched = !text.trim().is_empty();
    let (results, error, status) = if searched {
        let k = match q.k.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            None => Ok(None),
            Some(k) => k.parse::<usize>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "«Resultados» debe ser un número entre 1 y {}",
                    crate::api::ARCHIVE_MAX_K
                ))
            }),
        };
        let found = match k {
            Ok(k) => {
                crate::api::search_archive(&state, &p, q.q.clone(), k, q.excluir.clone()).await
            }
            Err(e) => Err(e),
        };
        match found {
            Ok(a) => (a, None, StatusCode::OK),
            Err(e) => (Default::default(), Some(e.message), e.status),
        }
    } else {
        (Default::default(), None, StatusCode::OK)
    };
    let pending = results.pending;
    let results: Vec<Value> = results
        .results
        .iter()
        .map(|r| {
            json!({"episode_id": r.episode_id, "version_id": r.version_id,
                   "score": format!("{:.2}", r.score), "signed_at": r.signed_at, "snippet": r.snippet})
        })
        .collect();
    let mut r = page(
        &state,
        "similar.html",
        context! {
            user => user_ctx(&p), csrf => p.csrf(), engine => engine_ctx(&state),
            hospital => state.settings.hospital_name,
            q => text, k => q.k, excluir => q.excluir, searched => searched,
            results => results, error => error, pending => pending,
            model => state.embedder.as_ref().map(|e| e.name().to_string()),
        },
    );
    *r.status_mut() = status;
    r
}

// ------------------------------------------------------------------ administration

/// The signed-in user of a form post, with the form's CSRF token checked (the session's
/// token must come back in the `csrf` field). Anonymous: 401.
async fn form_poster(
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
                        "csrf: el token del formulario falta o no coincide; recargue la página / missing or wrong form token",
                    ),
                ));
            }
            Ok(p)
        }
        Ok(None) => Err(error_page(state, ApiError::unauthorized())),
        Err(e) => Err(error_page(state, e)),
    }
}

fn role_es(r: Role) -> &'static str {
    match r {
        Role::Medico => "Médico",
        Role::Administrativo => "Administrativo",
        Role::Admin => "Administrador",
    }
}

/// Unix milliseconds as `AAAA-MM-DD HH:MM` (UTC).
fn date_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
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
    let users = match crate::api::users(state, p).await {
        Ok(u) => u,
        Err(e) => return error_page(state, e),
    };
    let list: Vec<Value> = users
        .iter()
        .map(|u| {
            json!({"username": u.username, "display_name": u.display_name,
                   "role": u.role.as_str(), "role_es": role_es(u.role),
                   "disabled": u.disabled, "created": date_time(u.created_at)})
        })
        .collect();
    let roles: Vec<Value> = [Role::Medico, Role::Administrativo, Role::Admin]
        .into_iter()
        .map(|r| json!({"value": r.as_str(), "label": role_es(r)}))
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
    admin_view(&state, &p, notice, None, json!({})).await
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
