//! Errors as JSON with a message a person can act on.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use epicrisis_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// An API error: a status and a message (Spanish first where a clinician reads it).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
    /// The request can be repeated with a confirmation (signing over findings):
    /// `"needsConfirmation": true` in the body, for the page to ask the person.
    pub needs_confirmation: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
            needs_confirmation: false,
        }
    }

    /// This error, marked as one a confirmation overrides.
    pub fn needing_confirmation(mut self) -> ApiError {
        self.needs_confirmation = true;
        self
    }
    pub fn bad_request(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn not_found(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, m)
    }
    pub fn forbidden(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, m)
    }
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "inicie sesión o envíe un token de API (Authorization: Bearer …)",
        )
    }
    pub fn conflict(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, m)
    }
    pub fn internal(m: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, m.to_string())
    }
    pub fn busy(message: impl Into<String>, retry_after: u64) -> ApiError {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: message.into(),
            retry_after: Some(retry_after),
            needs_confirmation: false,
        }
    }
}

/// The body of every error answer of the JSON API.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "El cuerpo de toda respuesta de error de la API JSON.")]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    // What went wrong and what to do, in Spanish.
    /// Qué falló y qué hacer, en español.
    pub error: String,
    // The HTTP status, repeated.
    /// El código de estado HTTP, repetido.
    pub status: u16,
    // On a 429: seconds to wait (also in `Retry-After`).
    /// En un 429: segundos que esperar (también en `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    // On a 409 from signing: the text has errors or the data wrong codes; the same
    // request with `acknowledgeFindings` signs.
    /// En un 409 al firmar: el texto tiene errores o los datos, códigos que no
    /// corresponden; la misma solicitud con `acknowledgeFindings` firma.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub needs_confirmation: bool,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            status: self.status.as_u16(),
            retry_after: self.retry_after,
            needs_confirmation: self.needs_confirmation,
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Conflict(m) => ApiError::conflict(m),
            // The database is down or failed: a clear 503 for whoever asked. The
            // driver's text (which may quote stored values) goes neither to the
            // client nor to the log.
            StoreError::Db(_) | StoreError::Open { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "La base de datos no respondió; no se guardó nada. Intente de nuevo en unos \
                 minutos; si persiste, avise a informática (`epicrisis doctor` revisa la \
                 conexión).",
            ),
            // No room to write: nothing was saved, and what was saved before is intact.
            StoreError::Full(reason) => {
                // The driver's words here name a file or a code, not stored values.
                crate::api::warn("the database could not write", &reason);
                ApiError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "No se pudo guardar: el disco del servidor está lleno o falla. No se \
                     guardó nada y lo guardado antes sigue intacto; avise a informática.",
                )
            }
            // The audit key or anchor file: a file path and what to do, never patient data.
            StoreError::Seal { .. } => {
                crate::api::warn("the audit trail could not be sealed", &e);
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "No se pudo sellar la bitácora de auditoría (clave o archivo de anclas); no \
                     se guardó nada. Avise a informática: `epicrisis doctor` dice qué revisar.",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<epicrisis_ingest::IngestError> for ApiError {
    /// In Spanish, naming the file and the field (the reader's English detail is for the
    /// command line).
    fn from(e: epicrisis_ingest::IngestError) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.message_es())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
