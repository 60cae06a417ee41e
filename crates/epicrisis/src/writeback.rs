//! `epicrisis sources send`: signed epicrisis back to the hospital's FHIR server.
//!
//! Each version must be signed. Its documents are rendered from the episode data it was
//! written from (the same bytes the export routes give), and sent as one
//! `DocumentReference` with the PDF, the text and the FHIR document Bundle attached
//! (`epicrisis_sources::fhir::send`). The server's answer is recorded in the audit trail
//! (`writeback`: the server's reference, whether it was new); sending a signature again
//! finds the document already there instead of making a second one.

use crate::Failure;
use crate::serve_cmd::{open_store, runtime};
use epicrisis_export::Format;
use epicrisis_server::{AppState, Server, Settings};
use epicrisis_sources::Source;
use epicrisis_sources::fhir::OutgoingDocument;
use epicrisis_store::VersionStatus;
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

pub(crate) fn send(
    versions: &[i64],
    user: Option<String>,
    env_file: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let (_, config) = crate::config::load(env_file, None)?;
    if !matches!(
        config.sources.source,
        Some(epicrisis_sources::SourceConfig::Fhir(_))
    ) {
        return Err(Failure::Input(
            "las epicrisis firmadas se envían a un servidor FHIR: defina EPICRISIS_SOURCE=fhir y \
             EPICRISIS_SOURCE_FHIR_URL (docs/sources.md)"
                .into(),
        ));
    }
    let named_by = crate::batch_cmd::named_by(user.is_some());
    let user = user
        .or_else(|| config.sources.pull_as.clone())
        .ok_or_else(|| {
            Failure::Input(
            "--as USUARIO: indique la cuenta a cuyo nombre se envía (o defina EPICRISIS_PULL_AS)"
                .into(),
        )
        })?;
    let rt = runtime()?;
    rt.block_on(async {
        let store = open_store(&config).await?;
        let principal = crate::batch_cmd::physician(&store, &user, named_by).await?;
        let settings = Settings {
            worker: false,
            log_requests: false,
            ..Settings::default()
        };
        let engine = epicrisis_pipeline::engine::Engine::Deterministic;
        let state = Server::new(store, engine, settings)?.state;
        let source = crate::sources_cmd::connect(&config).await?;
        let mut failed = 0;
        for &id in versions {
            match send_one(&state, &source, &principal, id).await {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    failed += 1;
                    eprintln!("versión {id}: {e}");
                }
            }
        }
        if let Err(e) = state.store.anchor_audit().await {
            eprintln!("aviso: no se pudo anclar la bitácora: {e}");
        }
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

/// Sends one signed version; the line to print, or why it was not sent.
async fn send_one(
    state: &AppState,
    source: &Source,
    p: &epicrisis_server::auth::Principal,
    id: i64,
) -> Result<String, String> {
    let v = state
        .store
        .version(id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "no existe esa versión".to_string())?;
    if v.status != VersionStatus::Signed {
        return Err("no está firmada: solo se envían epicrisis firmadas".into());
    }
    let formats = [Format::Pdf, Format::Text, Format::Fhir];
    let docs = epicrisis_server::record::render_version_as(state, &v, &formats)
        .await
        .map_err(|e| e.message)?;
    let [pdf, text, fhir]: [Vec<u8>; 3] = docs
        .try_into()
        .map_err(|_| "no se pudieron preparar los tres documentos".to_string())?;
    let doc = OutgoingDocument {
        episode: v.episode_id.clone(),
        version_hash: v.content_hash.clone(),
        signed_at: epicrisis_server::api::rfc3339(v.created_at),
        signer: v.author_name.clone(),
        title: format!("Epicrisis (versión {})", v.number),
        pdf,
        text: String::from_utf8_lossy(&text).into_owned(),
        fhir_document: Some(fhir),
    };
    let sent = source
        .send_document(&doc)
        .await
        .map_err(|e| e.to_string())?;
    epicrisis_server::api::audit(
        state,
        Some(p),
        "writeback",
        Some(&v.episode_id),
        Some(v.id),
        json!({"target": source.describe(), "reference": sent.reference, "created": sent.created}),
    )
    .await
    .map_err(|e| e.message)?;
    Ok(format!(
        "versión {id}: {} en el servidor FHIR ({})",
        sent.reference,
        if sent.created {
            "recibida"
        } else {
            "ya estaba; no se duplicó"
        }
    ))
}
