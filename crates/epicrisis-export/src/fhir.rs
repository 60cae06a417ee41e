//! The FHIR R4 document of a draft: the mapping lives in `epicrisis-fhir`; this module
//! supplies the draft's sections and the document's metadata.

use crate::document::{Block, build_document};
use crate::{DocumentMeta, DocumentState};
use epicrisis_domain::Episode;
use epicrisis_fhir::{Attester, CompositionStatus, DocumentInfo, Section, SectionKind};
use epicrisis_pipeline::{Draft, PartId};
use serde_json::Value;

fn kind(p: Option<PartId>) -> SectionKind {
    match p {
        Some(PartId::Identification) => SectionKind::Identification,
        Some(PartId::Period) => SectionKind::Period,
        Some(PartId::Reason) => SectionKind::Reason,
        Some(PartId::History) => SectionKind::History,
        Some(PartId::AdmissionDiagnoses) => SectionKind::AdmissionDiagnoses,
        Some(PartId::Procedures) => SectionKind::Procedures,
        Some(PartId::Treatments) => SectionKind::Treatments,
        Some(PartId::Evolution) => SectionKind::Evolution,
        Some(PartId::Labs) => SectionKind::Labs,
        Some(PartId::DischargeDiagnoses) => SectionKind::DischargeDiagnoses,
        Some(PartId::DischargeMedications) => SectionKind::DischargeMedications,
        Some(PartId::Controls) => SectionKind::Controls,
        Some(PartId::Care) => SectionKind::Care,
        Some(PartId::WarningSigns) => SectionKind::WarningSigns,
        Some(PartId::Recommendations) => SectionKind::Recommendations,
        Some(PartId::Missing) | None => SectionKind::Other,
    }
}

/// The identifier of a document version: episode, version and content hash.
pub fn document_id(episode: &Episode, meta: &DocumentMeta, hash: &str) -> String {
    let ep = episode
        .id
        .as_deref()
        .unwrap_or("sin-id")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect::<String>();
    format!(
        "epicrisis-{ep}-v{}-{}",
        meta.version,
        hash.get(..12).unwrap_or(hash)
    )
}

/// The FHIR R4 `Bundle` (type `document`) of a draft. `meta.generated_at` is the
/// Bundle's timestamp; without it, the signature time, else the discharge date.
pub fn to_fhir(episode: &Episode, draft: &Draft, meta: &DocumentMeta) -> Value {
    let doc = build_document(episode, draft, meta);
    let mut sections = vec![Section {
        kind: SectionKind::Identification,
        title: "Identificación".into(),
        paragraphs: Vec::new(),
        items: doc.ident.iter().map(|(k, v)| format!("{k}: {v}")).collect(),
    }];
    for s in &doc.sections {
        let mut paragraphs = Vec::new();
        let mut items = Vec::new();
        for b in &s.blocks {
            match b {
                Block::Text { paragraphs: p } => paragraphs.extend(p.iter().cloned()),
                Block::List { items: i } => items.extend(i.iter().cloned()),
                Block::Medications { items: m } => items.extend(
                    m.iter()
                        .map(|m| format!("{} — {}", m.heading(), m.detail())),
                ),
                Block::Labs { columns, rows } => items.extend(rows.iter().map(|r| {
                    let c = r.cells();
                    let rest: Vec<String> = columns
                        .iter()
                        .zip(c.iter())
                        .skip(1)
                        .map(|(k, v)| format!("{}: {v}", k.to_lowercase()))
                        .collect();
                    format!("{} — {}", c[0], rest.join("; "))
                })),
            }
        }
        sections.push(Section {
            kind: kind(s.part),
            title: s.title.clone(),
            paragraphs,
            items,
        });
    }
    let status = match meta.state {
        DocumentState::Draft => CompositionStatus::Preliminary,
        _ if meta.version > 1 && meta.signature.is_some() => CompositionStatus::Amended,
        _ => CompositionStatus::Final,
    };
    let signed = doc.signed;
    let timestamp = meta
        .generated_at
        .clone()
        .or_else(|| meta.signature.as_ref().map(|s| s.signed_at.clone()))
        .or_else(|| {
            episode
                .discharge_date
                .or(episode.admission_date)
                .map(|d| format!("{d}T00:00:00Z"))
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
    let info = DocumentInfo {
        document_id: document_id(episode, meta, &doc.content_hash),
        timestamp,
        status,
        title: doc.title.clone(),
        author: doc.author.clone(),
        attester: meta
            .signature
            .as_ref()
            .filter(|_| signed)
            .map(|s| Attester {
                party: s.signer.clone(),
                time: s.signed_at.clone(),
            }),
        custodian: Some(doc.hospital.clone()),
        sections,
    };
    epicrisis_fhir::to_bundle(episode, &info)
}
