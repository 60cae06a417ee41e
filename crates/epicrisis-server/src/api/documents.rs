//! Documents of a version or of a predecessor request: what a document says about
//! itself ([`meta`]), typesetting off the async threads ([`render`]) and the file answer
//! ([`file_response`]).

use super::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::{AppState, now_ms};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use epicrisis_domain::Episode;
use epicrisis_pipeline::Draft;
use epicrisis_store::{VersionRow, VersionStatus};

/// What a document says about itself. A signed version's document is stamped with its
/// signature time, not the export's, so that it is the same document at every export.
pub fn meta(
    state: &AppState,
    v: Option<&VersionRow>,
    signer: Option<String>,
) -> epicrisis_export::DocumentMeta {
    use epicrisis_export::{DocumentMeta, DocumentState, Signature};
    let mut m = DocumentMeta {
        hospital_name: state.settings.hospital_name.clone(),
        logo: state.settings.logo.clone(),
        generated_at: Some(rfc3339(now_ms())),
        ..DocumentMeta::default()
    };
    if let Some(v) = v {
        m.version = u32::try_from(v.number).unwrap_or(1);
        if v.status == VersionStatus::Signed {
            m.state = DocumentState::Signed;
            m.generated_at = Some(rfc3339(v.created_at));
            m.signature = Some(Signature {
                signer: signer.or_else(|| v.author_name.clone()).unwrap_or_default(),
                signed_at: rfc3339(v.created_at),
                version: m.version,
                content_hash: v.content_hash.clone(),
            });
        }
    }
    m
}

pub async fn render(
    format: epicrisis_export::Format,
    ep: Episode,
    draft: Draft,
    meta: epicrisis_export::DocumentMeta,
) -> ApiResult<Vec<u8>> {
    // Typesetting takes tens of milliseconds of CPU: off the async threads.
    tokio::task::spawn_blocking(move || epicrisis_export::export(format, &ep, &draft, &meta))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

pub fn file_response(format: epicrisis_export::Format, name: &str, bytes: Vec<u8>) -> Response {
    use epicrisis_export::Format;
    let (mime, ext) = match format {
        Format::Pdf => ("application/pdf", "pdf"),
        Format::Docx => (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
        Format::Fhir => ("application/fhir+json", "json"),
        Format::Markdown => ("text/markdown; charset=utf-8", "md"),
        Format::Text => ("text/plain; charset=utf-8", "txt"),
    };
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"epicrisis-{safe}.{ext}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
