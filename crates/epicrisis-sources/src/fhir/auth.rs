//! Credentials for the FHIR server: none, a fixed bearer token, or an OAuth2
//! client_credentials grant (RFC 6749 4.4) whose token is kept until shortly before it
//! expires. The client authenticates with HTTP Basic first (RFC 6749 2.3.1: what servers
//! must support) and, when the token endpoint refuses that, with `client_id` and
//! `client_secret` in the form; the way that worked is kept. Header values are marked
//! sensitive, and no credential reaches an error or `Debug`.

use super::FhirAuth;
use super::client::{Answer, Target, Transport};
use crate::{Secret, SourceError, settings};
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A token's lifetime when the token endpoint does not say (`expires_in` is optional).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// The most a token is renewed ahead of its expiry.
const MAX_MARGIN: Duration = Duration::from_secs(60);

pub(super) enum Auth {
    None,
    Bearer(HeaderValue),
    Client(Box<ClientCredentials>),
}

impl Auth {
    pub fn new(auth: &FhirAuth) -> Result<Auth, SourceError> {
        match auth {
            FhirAuth::None => Ok(Auth::None),
            FhirAuth::Bearer(token) => {
                bearer(token.expose().trim())
                    .map(Auth::Bearer)
                    .ok_or_else(|| SourceError::Setting {
                        setting: settings::FHIR_TOKEN_FILE,
                        message: "el token está vacío o tiene caracteres que no caben en una \
                              cabecera HTTP (¿un salto de línea en medio?)"
                            .into(),
                    })
            }
            FhirAuth::ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope,
            } => ClientCredentials::new(token_url, client_id, client_secret, scope.as_deref())
                .map(|c| Auth::Client(Box::new(c))),
        }
    }

    /// The setting a refusal names.
    pub fn setting(&self) -> &'static str {
        match self {
            Auth::Client(_) => settings::FHIR_CLIENT_ID,
            Auth::None | Auth::Bearer(_) => settings::FHIR_TOKEN_FILE,
        }
    }

    /// Whether a refused token can be replaced by a new one.
    pub fn renewable(&self) -> bool {
        matches!(self, Auth::Client(_))
    }

    /// The `Authorization` value to send, and whether it was obtained just now.
    pub async fn header(&self, t: &Transport) -> Result<(Option<HeaderValue>, bool), SourceError> {
        match self {
            Auth::None => Ok((None, false)),
            Auth::Bearer(h) => Ok((Some(h.clone()), false)),
            Auth::Client(c) => c.header(t).await.map(|(h, fresh)| (Some(h), fresh)),
        }
    }

    /// Drops the kept token if it is `used` (the server refused it).
    pub async fn forget(&self, used: Option<&HeaderValue>) {
        if let Auth::Client(c) = self {
            let mut state = c.state.lock().await;
            if state.token.as_ref().map(|t| &t.header) == used {
                state.token = None;
            }
        }
    }
}

/// `Bearer <token>`, sensitive; `None` when empty or not a valid header value.
fn bearer(token: &str) -> Option<HeaderValue> {
    if token.is_empty() {
        return None;
    }
    let mut h = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    h.set_sensitive(true);
    Some(h)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// HTTP Basic with the form-encoded id and secret.
    Basic,
    /// `client_id` and `client_secret` in the form.
    Form,
}

/// A token and when to stop using it.
#[derive(Clone)]
struct Token {
    header: HeaderValue,
    renew_at: Instant,
}

impl Token {
    fn valid_at(&self, now: Instant) -> bool {
        now < self.renew_at
    }
}

struct State {
    token: Option<Token>,
    method: Method,
}

pub(super) struct ClientCredentials {
    token_url: Url,
    token_url_text: String,
    client_id: String,
    secret: Secret,
    scope: Option<String>,
    state: Mutex<State>,
}

impl ClientCredentials {
    fn new(
        token_url: &str,
        client_id: &str,
        secret: &Secret,
        scope: Option<&str>,
    ) -> Result<ClientCredentials, SourceError> {
        let setting = |setting, message: &str| SourceError::Setting {
            setting,
            message: message.to_string(),
        };
        let url = Url::parse(token_url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.username().is_empty())
            .filter(|u| u.password().is_none() && u.host_str().is_some())
            .ok_or_else(|| {
                setting(
                    settings::FHIR_TOKEN_URL,
                    "no es una URL http(s) válida del servidor de autorización (sin credenciales en ella)",
                )
            })?;
        if client_id.trim().is_empty() {
            return Err(setting(
                settings::FHIR_CLIENT_ID,
                "falta el identificador del cliente",
            ));
        }
        if secret.expose().trim().is_empty() {
            return Err(setting(
                settings::FHIR_CLIENT_SECRET_FILE,
                "el secreto del cliente está vacío",
            ));
        }
        Ok(ClientCredentials {
            token_url_text: url.as_str().to_string(),
            token_url: url,
            client_id: client_id.trim().to_string(),
            secret: Secret::new(secret.expose().trim()),
            scope: scope
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            state: Mutex::new(State {
                token: None,
                method: Method::Basic,
            }),
        })
    }

    /// The kept token while it is good, else a new one (`true`: new).
    async fn header(&self, t: &Transport) -> Result<(HeaderValue, bool), SourceError> {
        let mut state = self.state.lock().await;
        if let Some(token) = &state.token
            && token.valid_at(Instant::now())
        {
            return Ok((token.header.clone(), false));
        }
        let token = self.obtain(t, &mut state.method).await?;
        let header = token.header.clone();
        state.token = Some(token);
        Ok((header, true))
    }

    /// Asks the token endpoint, with the form when it refuses Basic.
    async fn obtain(&self, t: &Transport, method: &mut Method) -> Result<Token, SourceError> {
        let mut answer = self.request(t, *method).await?;
        if *method == Method::Basic && client_refused(&answer) {
            answer = self.request(t, Method::Form).await?;
            if answer.ok() {
                *method = Method::Form;
            }
        }
        if !answer.ok() {
            return Err(self.refusal(&answer, t));
        }
        parse_token(&answer.body, Instant::now()).map_err(|detail| SourceError::Answer {
            setting: settings::FHIR_TOKEN_URL,
            detail,
        })
    }

    async fn request(&self, t: &Transport, method: Method) -> Result<Answer, SourceError> {
        let mut pairs = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.scope {
            pairs.push(("scope", scope));
        }
        if method == Method::Form {
            pairs.push(("client_id", &self.client_id));
            pairs.push(("client_secret", self.secret.expose()));
        }
        let body = form(&pairs);
        let basic = (method == Method::Basic).then(|| self.basic());
        let build = || {
            let r = t
                .client()
                .post(self.token_url.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ACCEPT, "application/json")
                .body(body.clone());
            match &basic {
                Some(h) => r.header(AUTHORIZATION, h.clone()),
                None => r,
            }
        };
        let target = Target {
            setting: settings::FHIR_TOKEN_URL,
            url: &self.token_url_text,
        };
        t.send(&build, target).await
    }

    /// `Basic base64(urlencode(id):urlencode(secret))`, sensitive.
    fn basic(&self) -> HeaderValue {
        let plain = format!(
            "{}:{}",
            form_encode(&self.client_id),
            form_encode(self.secret.expose())
        );
        let mut h = HeaderValue::from_str(&format!("Basic {}", base64(plain.as_bytes())))
            .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
        h.set_sensitive(true);
        h
    }

    /// What a refusing token endpoint means: credentials (or scope) refused, busy, or an
    /// error of its own. Only its standard `error` code is quoted.
    fn refusal(&self, answer: &Answer, t: &Transport) -> SourceError {
        let code = oauth_error(&answer.body);
        let said = match &code {
            Some(c) => format!("HTTP {} ({c})", answer.status),
            None => format!("HTTP {}", answer.status),
        };
        match answer.status {
            400 | 401 | 403 => SourceError::Refused {
                setting: match code.as_deref() {
                    Some("invalid_scope") => settings::FHIR_SCOPE,
                    _ => settings::FHIR_CLIENT_ID,
                },
                detail: format!(
                    "el servidor de autorización respondió {said}; revise {} y {}",
                    settings::FHIR_CLIENT_ID,
                    settings::FHIR_CLIENT_SECRET_FILE
                ),
            },
            429 | 502 | 503 | 504 => SourceError::Unreachable {
                setting: settings::FHIR_TOKEN_URL,
                target: self.token_url_text.clone(),
                detail: format!("sigue ocupado ({said}) tras {} intento(s)", t.tries()),
            },
            _ => SourceError::Remote {
                setting: settings::FHIR_TOKEN_URL,
                detail: format!("el servidor de autorización respondió {said}"),
            },
        }
    }
}

/// A refusal of the client's authentication, worth trying the other way.
fn client_refused(answer: &Answer) -> bool {
    answer.status == 401
        || (answer.status == 400
            && matches!(
                oauth_error(&answer.body).as_deref(),
                Some("invalid_client" | "invalid_request" | "unauthorized_client")
            ))
}

/// The OAuth2 `error` code of an answer, when it looks like one (`invalid_client`).
fn oauth_error(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let code = v.get("error")?.as_str()?;
    let plain = !code.is_empty()
        && code.len() <= 40
        && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    plain.then(|| code.to_string())
}

/// Reads a token answer: `access_token`, `token_type` Bearer (when given), `expires_in`.
fn parse_token(body: &[u8], now: Instant) -> Result<Token, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| "la respuesta del servidor de autorización no es JSON".to_string())?;
    let token = v
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or("la respuesta del servidor de autorización no trae access_token")?;
    if let Some(kind) = v.get("token_type").and_then(Value::as_str)
        && !kind.eq_ignore_ascii_case("bearer")
    {
        let kind: String = kind
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(20)
            .collect();
        return Err(format!(
            "el token es de tipo «{kind}»; solo se admite Bearer"
        ));
    }
    let expires_in = match v.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    let header = bearer(token)
        .ok_or("el access_token tiene caracteres que no caben en una cabecera HTTP")?;
    Ok(Token {
        header,
        renew_at: now + usable_for(expires_in),
    })
}

/// How long a token is used: its lifetime (`expires_in`, else [`DEFAULT_LIFETIME`]) less
/// a tenth of it, at most [`MAX_MARGIN`], so that it is renewed before it expires.
fn usable_for(expires_in: Option<u64>) -> Duration {
    let life = expires_in.map_or(DEFAULT_LIFETIME, Duration::from_secs);
    life - (life / 10).min(MAX_MARGIN)
}

/// `application/x-www-form-urlencoded` pairs.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// One form value: unreserved bytes as they are, space as `+`, the rest `%XX`.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Standard base64 with padding.
pub(super) fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_form_encoding_follow_the_rfcs() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64("Día 3: afebril".as_bytes()), "RMOtYSAzOiBhZmVicmls");
        assert_eq!(form_encode("a b+c/é"), "a+b%2Bc%2F%C3%A9");
        assert_eq!(
            form(&[
                ("grant_type", "client_credentials"),
                ("scope", "system/*.read")
            ]),
            "grant_type=client_credentials&scope=system%2F*.read"
        );
    }

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        assert_eq!(usable_for(Some(3600)), Duration::from_secs(3540));
        assert_eq!(usable_for(Some(300)), Duration::from_secs(270));
        assert_eq!(usable_for(Some(10)), Duration::from_secs(9));
        assert_eq!(usable_for(Some(0)), Duration::ZERO);
        assert_eq!(usable_for(None), Duration::from_secs(270));
        let now = Instant::now();
        let t = parse_token(
            br#"{"access_token":"abc","token_type":"bearer","expires_in":"100"}"#,
            now,
        )
        .unwrap();
        assert!(t.valid_at(now + Duration::from_secs(89)));
        assert!(!t.valid_at(now + Duration::from_secs(90)));
        assert!(t.header.is_sensitive());
        assert_eq!(t.header.to_str().unwrap(), "Bearer abc");
    }

    #[test]
    fn bad_token_answers_say_why_without_the_token() {
        let now = Instant::now();
        let err = |b: &[u8]| parse_token(b, now).err().unwrap();
        assert!(err(b"<html>").contains("no es JSON"));
        assert!(err(br#"{"token_type":"Bearer"}"#).contains("access_token"));
        let e = err(br#"{"access_token":"secreto-123","token_type":"DPoP"}"#);
        assert!(e.contains("DPoP") && !e.contains("secreto"), "{e}");
        let e = err(br#"{"access_token":"mal\ntoken"}"#);
        assert!(!e.contains("token\n"), "{e}");
    }

    #[test]
    fn oauth_errors_are_quoted_only_when_they_look_like_codes() {
        assert_eq!(
            oauth_error(br#"{"error":"invalid_client","error_description":"Ana"}"#).as_deref(),
            Some("invalid_client")
        );
        assert_eq!(
            oauth_error(r#"{"error":"Paciente Ana Pérez"}"#.as_bytes()),
            None
        );
        assert_eq!(oauth_error(b"no json"), None);
        let refused = |status, body: &[u8]| {
            client_refused(&Answer {
                status,
                content_type: None,
                body: body.to_vec(),
            })
        };
        assert!(refused(401, b""));
        assert!(refused(400, br#"{"error":"invalid_client"}"#));
        assert!(!refused(400, br#"{"error":"invalid_scope"}"#));
        assert!(!refused(503, b""));
    }

    #[test]
    fn client_credentials_are_checked_and_hidden() {
        let secret = Secret::new("s3creto");
        let bad = ClientCredentials::new("https://u:p@auth.example.cl/token", "c", &secret, None);
        assert!(
            matches!(bad, Err(SourceError::Setting { setting, .. }) if setting == settings::FHIR_TOKEN_URL)
        );
        let none = ClientCredentials::new("https://auth.example.cl/token", " ", &secret, None);
        assert!(
            matches!(none, Err(SourceError::Setting { setting, .. }) if setting == settings::FHIR_CLIENT_ID)
        );
        let c = ClientCredentials::new("https://auth.example.cl/token", "epi", &secret, Some(" "))
            .unwrap();
        assert_eq!(c.scope, None);
        let basic = c.basic();
        assert!(basic.is_sensitive());
        assert_eq!(
            basic.to_str().unwrap(),
            format!("Basic {}", base64(b"epi:s3creto"))
        );
        assert!(!format!("{basic:?}").contains(&base64(b"epi:s3creto")));
    }
}
