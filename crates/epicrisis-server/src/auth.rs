//! Passwords (argon2id), session and API tokens (random, stored as SHA-256), CSRF, login
//! rate limiting, and the extractor that turns a request into a [`Principal`].

use crate::AppState;
use crate::error::ApiError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use epicrisis_store::{Role, User};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "epicrisis_session";
/// The cookie that carries the login form's CSRF token before there is a session.
pub const LOGIN_CSRF_COOKIE: &str = "epicrisis_login_csrf";

fn argon() -> Argon2<'static> {
    // OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane).
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// An argon2id hash (PHC string) of a password.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the stored hash (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(h) => argon().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// Refuses passwords a clinician's account should not have.
pub fn check_password_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < 10 {
        return Err("la contraseña debe tener al menos 10 caracteres".into());
    }
    Ok(())
}

/// A user name as stored (lower case), or why it cannot be one.
pub fn check_username(name: &str) -> Result<String, String> {
    let name = name.trim().to_lowercase();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err("the user name must be 1 to 64 letters, digits, '.', '_' or '-'".into());
    }
    Ok(name)
}

/// A random secret, URL-safe (32 bytes of entropy).
pub fn random_token() -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| {
        ApiError::internal(format!("the operating system gives no random numbers: {e}"))
    })?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// What the store keeps of a secret.
pub fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison of two strings.
pub fn same(a: &str, b: &str) -> bool {
    use subtle_eq::ct_eq;
    ct_eq(a.as_bytes(), b.as_bytes())
}

mod subtle_eq {
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// A cookie's value from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A cookie's name as sent: behind HTTPS (`secure`) with the `__Host-` prefix, which a
/// browser accepts only from this very host, over HTTPS, for the whole site, so that
/// neither a sibling subdomain nor a plain-HTTP page can plant or overwrite it.
pub fn cookie_name(name: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

/// A cookie of the request by its name as sent (see [`cookie_name`]).
pub fn our_cookie<'a>(headers: &'a HeaderMap, name: &str, secure: bool) -> Option<&'a str> {
    cookie(headers, &cookie_name(name, secure))
}

/// A `Set-Cookie` value.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> String {
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        cookie_name(name, secure),
        if secure { "; Secure" } else { "" }
    )
}

/// How the request proved who it is.
#[derive(Debug, Clone)]
pub enum Via {
    /// The browser session; state-changing requests must carry its CSRF token.
    Session { csrf: String, token_hash: String },
    /// An API token (integrations); no CSRF (no ambient credential).
    Token,
}

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub via: Via,
}

impl Principal {
    /// Refuses unless the user has one of the roles (admin may do everything).
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), ApiError> {
        if self.user.role == Role::Admin || roles.contains(&self.user.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "su rol ({}) no permite {what}",
                self.user.role.as_str()
            )))
        }
    }

    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            Via::Token => "",
        }
    }
}

/// Looks up the session cookie or the bearer token.
pub async fn principal(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, ApiError> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(token) = auth.strip_prefix("Bearer ")
    {
        let user = state
            .store
            .api_token_user(&token_hash(token.trim()), crate::now_ms())
            .await?;
        return match user {
            Some(user) => Ok(Some(Principal {
                user,
                via: Via::Token,
            })),
            // A wrong token is an error, not an anonymous request.
            None => Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "el token de API no es válido, expiró o fue revocado",
            )),
        };
    }
    if let Some(token) = our_cookie(headers, SESSION_COOKIE, state.settings.secure_cookies) {
        let hash = token_hash(token);
        if let Some((session, user)) = state.store.session(&hash, crate::now_ms()).await? {
            return Ok(Some(Principal {
                user,
                via: Via::Session {
                    csrf: session.csrf,
                    token_hash: hash,
                },
            }));
        }
    }
    Ok(None)
}

/// Extractor: an authenticated user, with the CSRF check done for state-changing
/// requests made with the session cookie.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let p = principal(state, &parts.headers)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        if let Via::Session { csrf, .. } = &p.via
            && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same(sent, csrf) {
                return Err(ApiError::forbidden(
                    "falta el token CSRF o no coincide; recargue la página",
                ));
            }
        }
        Ok(p)
    }
}

/// Login attempts per user name and per client address: 5 unsuccessful ones within 5
/// minutes lock that key for the rest of the window.
///
/// An attempt is counted *before* its password is checked ([`LoginLimiter::begin`]), so
/// guesses sent in parallel cannot all pass the check while the first ones are still
/// being verified; a successful login takes its own attempt back
/// ([`LoginLimiter::succeeded`]). Password checks (argon2id, 19 MiB each) run at most
/// [`LoginLimiter::verifying`] at a time. Keys whose attempts are all older than the
/// window are evicted when the table grows; past [`MAX_KEYS`] the keys with the oldest
/// attempts go first, so a flood of new names cannot wipe a lock that is in force.
pub struct LoginLimiter {
    attempts: Mutex<HashMap<String, Vec<Instant>>>,
    /// Password verifications that may run at once.
    pub verifying: tokio::sync::Semaphore,
}

const WINDOW: Duration = Duration::from_secs(300);
const MAX_FAILURES: usize = 5;
/// Keys the limiter keeps before it evicts.
pub const MAX_KEYS: usize = 50_000;
/// The longest user name a login form may carry (longer ones are refused before
/// anything is looked up or stored).
pub const MAX_USERNAME_CHARS: usize = 64;

impl Default for LoginLimiter {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        LoginLimiter {
            attempts: Mutex::new(HashMap::new()),
            verifying: tokio::sync::Semaphore::new(cores.clamp(1, 8)),
        }
    }
}

impl LoginLimiter {
    /// Counts an attempt for every key, or says how many seconds to wait when one of
    /// them is locked (then nothing is counted).
    pub fn begin(&self, keys: &[String]) -> Result<(), u64> {
        let Ok(mut map) = self.attempts.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        let mut wait = None;
        for k in keys {
            if let Some(v) = map.get_mut(k) {
                v.retain(|t| now.duration_since(*t) < WINDOW);
                if v.len() >= MAX_FAILURES {
                    let left = WINDOW.saturating_sub(now.duration_since(v[0])).as_secs() + 1;
                    wait = Some(wait.map_or(left, |w: u64| w.max(left)));
                }
            }
        }
        if let Some(w) = wait {
            return Err(w);
        }
        if map.len() + keys.len() > MAX_KEYS {
            evict(&mut map, now);
        }
        for k in keys {
            map.entry(k.clone()).or_default().push(now);
        }
        Ok(())
    }

    /// A successful login: the user name's count is cleared and every other key (the
    /// client address) gets back the attempt [`LoginLimiter::begin`] counted.
    pub fn succeeded(&self, keys: &[String]) {
        if let Ok(mut map) = self.attempts.lock() {
            for (i, k) in keys.iter().enumerate() {
                if i == 0 {
                    map.remove(k);
                } else if let Some(v) = map.get_mut(k) {
                    v.pop();
                    if v.is_empty() {
                        map.remove(k);
                    }
                }
            }
        }
    }

    /// An attempt that checked no password (the directory did not answer): every key
    /// gets back the attempt [`LoginLimiter::begin`] counted, so that an outage does not
    /// lock people, or the address of a ward's proxy, out of the emergency accounts.
    pub fn refund(&self, keys: &[String]) {
        if let Ok(mut map) = self.attempts.lock() {
            for k in keys {
                if let Some(v) = map.get_mut(k) {
                    v.pop();
                    if v.is_empty() {
                        map.remove(k);
                    }
                }
            }
        }
    }

    /// Keys currently held (for tests and the health view).
    pub fn len(&self) -> usize {
        self.attempts.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops keys whose attempts are all outside the window; if the table is still full,
/// a quarter of it: unlocked keys with the oldest latest attempt first, locked keys only
/// when nothing else is left.
fn evict(map: &mut HashMap<String, Vec<Instant>>, now: Instant) {
    map.retain(|_, v| v.last().is_some_and(|t| now.duration_since(*t) < WINDOW));
    if map.len() < MAX_KEYS {
        return;
    }
    let mut order: Vec<(bool, Instant, String)> = map
        .iter()
        .filter_map(|(k, v)| v.last().map(|t| (v.len() >= MAX_FAILURES, *t, k.clone())))
        .collect();
    order.sort();
    for (_, _, k) in order.into_iter().take(MAX_KEYS / 4) {
        map.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correcto caballo batería").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correcto caballo batería", &h));
        assert!(!verify_password("correcto caballo bateria", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = random_token().unwrap();
        assert_ne!(a, random_token().unwrap());
        assert_eq!(token_hash(&a).len(), 64);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, "x"));
    }

    #[test]
    fn limiter_counts_before_verifying_and_locks_after_five() {
        let l = LoginLimiter::default();
        let keys = vec!["u:ana".to_string(), "ip:127.0.0.1".to_string()];
        for _ in 0..5 {
            assert!(l.begin(&keys).is_ok());
        }
        // The sixth attempt is refused before any password is checked.
        assert!(l.begin(&keys).unwrap_err() > 0);
        assert!(l.begin(&["u:otro".to_string()]).is_ok());
        assert!(
            l.begin(&["u:otro".to_string(), "ip:127.0.0.1".to_string()])
                .is_err()
        );
    }

    #[test]
    fn a_good_login_takes_its_attempt_back() {
        let l = LoginLimiter::default();
        let keys = vec!["u:ana".to_string(), "ip:10.0.0.1".to_string()];
        // Ten good logins from one address in a row never lock it.
        for _ in 0..10 {
            l.begin(&keys).unwrap();
            l.succeeded(&keys);
        }
        assert!(l.is_empty());
    }

    #[test]
    fn an_unchecked_attempt_is_given_back() {
        let l = LoginLimiter::default();
        let keys = vec!["u:ana".to_string(), "ip:10.0.0.2".to_string()];
        l.begin(&keys).unwrap();
        // Many attempts while the directory is down never lock anyone.
        for _ in 0..10 {
            l.begin(&keys).unwrap();
            l.refund(&keys);
        }
        l.refund(&keys);
        assert!(l.is_empty());
    }

    #[test]
    fn a_flood_of_names_does_not_lift_a_lock() {
        let l = LoginLimiter::default();
        let victim = vec!["u:ana".to_string()];
        for _ in 0..5 {
            l.begin(&victim).unwrap();
        }
        for i in 0..MAX_KEYS + 10 {
            let _ = l.begin(&[format!("u:x{i}")]);
        }
        assert!(l.len() <= MAX_KEYS);
        assert!(
            l.begin(&victim).is_err(),
            "the newest lock survives eviction"
        );
    }

    #[test]
    fn cookies_are_read() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; epicrisis_session=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
        // Behind HTTPS only the __Host- cookie counts: a plain one may have been planted.
        assert_eq!(our_cookie(&h, SESSION_COOKIE, true), None);
        h.insert(
            header::COOKIE,
            "__Host-epicrisis_session=abc".parse().unwrap(),
        );
        assert_eq!(our_cookie(&h, SESSION_COOKIE, true), Some("abc"));
        let set = set_cookie(SESSION_COOKIE, "v", 60, true);
        assert!(
            set.starts_with("__Host-epicrisis_session=v; Path=/;") && set.ends_with("; Secure"),
            "{set}"
        );
        assert!(!set.contains("Domain"));
    }
}
