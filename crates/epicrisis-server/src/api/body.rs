//! One way to read a JSON request body: [`JsonBody`]. A body that is too large, not JSON,
//! or not of the expected shape is a JSON error (400, or 413 for size) that names the
//! shape the route expects and what did not fit (serde names the field, line and
//! column) — the same answer on every route.

use crate::error::{ApiError, ApiResult};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// The largest body of a route that carries an epicrisis text (a version, a text to
/// validate, a prompt): 2 MiB, several hundred pages.
pub const TEXT_BODY: usize = 2 << 20;
/// The largest body of a route that carries a small object (an account, a token, a
/// search, a draft request, a list of episode ids): 64 KiB; 1 MiB for batches.
pub const SMALL_BODY: usize = 64 << 10;
pub const LIST_BODY: usize = 1 << 20;
// Episode imports and the predecessor's routes keep the server's limit (10 MiB).

/// The per-route body limit as a layer.
pub fn limit(bytes: usize) -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(bytes)
}

/// A request body type: the shape its errors name.
pub trait BodyShape: Sized {
    /// The body's fields as a reader writes them, e.g. `{text, parentId?, amend?}`.
    const SHAPE: &'static str;

    /// The value of an empty body, for routes whose body is optional; `None`: an
    /// empty body is an error like any other that does not fit.
    fn empty() -> Option<Self> {
        None
    }
}

/// A JSON body parsed into `T` before the handler runs.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + BodyShape,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::new(
                e.status(),
                format!(
                    "no se pudo leer el cuerpo ({}); envíe JSON {}",
                    e.body_text(),
                    T::SHAPE
                ),
            )
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace)
            && let Some(v) = T::empty()
        {
            return Ok(JsonBody(v));
        }
        parse(&bytes).map(JsonBody)
    }
}

/// `bytes` parsed into `T`, or the 400 that names `T`'s shape.
pub fn parse<T: DeserializeOwned + BodyShape>(bytes: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "el cuerpo debe ser un objeto JSON {}: {e}",
            T::SHAPE
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[derive(serde::Deserialize, Debug, Default, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Probe {
        text: String,
    }
    impl BodyShape for Probe {
        const SHAPE: &'static str = "{text}";
    }

    #[derive(serde::Deserialize, Debug, Default, PartialEq)]
    struct Optional {
        #[serde(default)]
        yes: bool,
    }
    impl BodyShape for Optional {
        const SHAPE: &'static str = "{yes?}";
        fn empty() -> Option<Self> {
            Some(Optional::default())
        }
    }

    async fn extract<T: DeserializeOwned + BodyShape>(body: &'static str) -> ApiResult<T> {
        let req = Request::builder()
            .method("POST")
            .body(axum::body::Body::from(body))
            .unwrap();
        JsonBody::<T>::from_request(req, &()).await.map(|b| b.0)
    }

    #[tokio::test]
    async fn a_body_that_does_not_fit_names_the_shape_and_the_field() {
        let ok: Probe = extract(r#"{"text": "x"}"#).await.unwrap();
        assert_eq!(ok.text, "x");
        let e = extract::<Probe>(r#"{"txt": "x"}"#).await.unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("{text}"), "{}", e.message);
        assert!(e.message.contains("txt"), "{}", e.message);
        let e = extract::<Probe>("").await.unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = extract::<Probe>("no es json").await.unwrap_err();
        assert!(e.message.contains("line 1"), "{}", e.message);
    }

    #[tokio::test]
    async fn an_optional_body_may_be_empty() {
        assert_eq!(extract::<Optional>("").await.unwrap(), Optional::default());
        assert!(extract::<Optional>(r#"{"yes": true}"#).await.unwrap().yes);
    }
}
