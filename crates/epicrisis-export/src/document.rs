//! The one intermediate document every format is rendered from.

use crate::{DocumentMeta, DocumentState, Logo, content_hash};
use epicrisis_domain::numbers::format_es;
use epicrisis_domain::regimen::is_loading_note;
use epicrisis_domain::text::capitalize_first;
use epicrisis_domain::{
    Date, Episode, ItemKind, LabFinding, LabStatus, LabSummary, LabValue, Medication, Sex,
};
use epicrisis_pipeline::prose::{list_name, restore_accents};
use epicrisis_pipeline::writer::{self, NOT_RECORDED};
use epicrisis_pipeline::{Body, Draft, Layout, Origin, PartId, draft::TITLE};
use serde::Serialize;

/// A block of a section.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Block {
    /// Running text, one entry per paragraph.
    Text { paragraphs: Vec<String> },
    /// A bulleted list.
    List { items: Vec<String> },
    /// The discharge prescription, one entry per drug.
    Medications { items: Vec<MedicationEntry> },
    /// The laboratory table.
    Labs {
        columns: Vec<String>,
        rows: Vec<LabRow>,
    },
}

/// One drug of the discharge prescription, field by field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MedicationEntry {
    pub name: String,
    pub code: Option<String>,
    pub dose: String,
    pub route: String,
    pub frequency: String,
    pub duration: String,
    pub notes: Option<String>,
}

impl MedicationEntry {
    /// `Dosis: 1 g · Vía: EV · Frecuencia: cada 8 horas · Duración: 7 días`
    pub fn detail(&self) -> String {
        let mut s = format!(
            "Dosis: {} · Vía: {} · Frecuencia: {} · Duración: {}",
            self.dose, self.route, self.frequency, self.duration
        );
        if let Some(n) = &self.notes {
            s.push_str(&format!(" · {n}"));
        }
        s
    }
    /// `Meropenem (J01DH02)`
    pub fn heading(&self) -> String {
        match &self.code {
            Some(c) => format!("{} ({c})", self.name),
            None => self.name.clone(),
        }
    }
}

/// One row of the laboratory table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabRow {
    pub test: String,
    pub first: String,
    pub status: String,
    pub range: String,
    pub last: String,
    pub min_max: String,
}

impl LabRow {
    pub fn cells(&self) -> [&str; 6] {
        [
            &self.test,
            &self.first,
            &self.status,
            &self.range,
            &self.last,
            &self.min_max,
        ]
    }
}

/// Column titles of the laboratory table. The first value is not called «Ingreso»: a
/// source's «ingreso» value is often taken days after admission (its date is shown).
pub const LAB_COLUMNS: [&str; 6] = [
    "Examen",
    "Primer valor",
    "Estado",
    "Rango de referencia",
    "Último",
    "Mínimo – máximo",
];

/// A section: a heading and its blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    pub title: String,
    /// LOINC-less identity of the part (`discharge_diagnoses`), for FHIR and tests.
    pub part: Option<PartId>,
    pub blocks: Vec<Block>,
}

/// Everything a rendered document shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    pub title: String,
    pub hospital: String,
    pub service: String,
    /// Label–value pairs of the identification block.
    pub ident: Vec<(String, String)>,
    pub sections: Vec<Section>,
    /// Title of the signature block.
    pub signature_title: String,
    /// Label–value pairs of the signature block.
    pub signature: Vec<(String, String)>,
    /// Whether the document is signed.
    pub signed: bool,
    /// "BORRADOR — no firmado" on unsigned drafts.
    pub draft_mark: Option<String>,
    /// The discreet footer line.
    pub footer: String,
    pub author: String,
    pub content_hash: String,
    #[serde(skip)]
    pub logo: Option<Logo>,
}

/// The mark printed on drafts that are not signed.
pub const DRAFT_MARK: &str = "BORRADOR — no firmado";

fn sex_es(s: Sex) -> &'static str {
    match s {
        Sex::Female => "femenino",
        Sex::Male => "masculino",
        Sex::Other => "otro",
    }
}

fn or_missing(s: Option<String>) -> String {
    s.filter(|x| !x.trim().is_empty())
        .unwrap_or_else(|| NOT_RECORDED.to_string())
}

fn dmy(d: Option<Date>) -> String {
    or_missing(d.map(Date::to_dmy))
}

/// `2025-12-26T18:30:00-03:00` → `26/12/2025 18:30`; anything else as written.
pub(crate) fn show_datetime(s: &str) -> String {
    match Date::parse(s) {
        Ok(d) => {
            let time = s
                .split_once('T')
                .map(|(_, t)| t.get(..5).unwrap_or(t).to_string());
            match time {
                Some(t) => format!("{} {t}", d.to_dmy()),
                None => d.to_dmy(),
            }
        }
        Err(_) => s.to_string(),
    }
}

fn value_with_unit(v: &LabValue, unit: Option<&str>) -> String {
    match unit {
        Some(u) => format!("{} {u}", v.written()),
        None => v.written(),
    }
}

/// A qualitative result as a row: the result where the first value goes.
fn finding_row(f: &LabFinding) -> LabRow {
    LabRow {
        test: restore_accents(&f.test),
        first: match f.date {
            Some(d) => format!("{} ({})", f.result, d.to_dmy()),
            None => f.result.clone(),
        },
        status: "—".into(),
        range: "—".into(),
        last: "—".into(),
        min_max: "—".into(),
    }
}

fn lab_row(l: &LabSummary) -> LabRow {
    let unit = l.unit.as_deref();
    let with_date = |v: &LabValue| match v.date {
        Some(d) => format!("{} ({})", value_with_unit(v, unit), d.to_dmy()),
        None => value_with_unit(v, unit),
    };
    let range = match (l.first.range_low, l.first.range_high) {
        (Some(lo), Some(hi)) => format!("{}–{}", format_es(lo), format_es(hi)),
        (Some(lo), None) => format!("≥ {}", format_es(lo)),
        (None, Some(hi)) => format!("≤ {}", format_es(hi)),
        (None, None) => "—".into(),
    };
    let mut status = l.first.status.as_es().to_string();
    if let Some(last) = &l.last
        && last.status != l.first.status
        && last.status != LabStatus::Unclassified
    {
        status = format!("{status} → {}", last.status.as_es());
    }
    LabRow {
        test: restore_accents(&l.test),
        first: with_date(&l.first),
        status,
        range,
        last: l.last.as_ref().map(with_date).unwrap_or_else(|| "—".into()),
        // One value, or all equal: no range to show.
        min_max: if l.min == l.max {
            "—".into()
        } else {
            format!("{} – {}", format_es(l.min), format_es(l.max))
        },
    }
}

/// One column of a regimen in steps: each step's value, later ones after «luego»
/// (`600 mg (carga), luego 75 mg`; `luego cada 24 horas` when only the maintenance step
/// has a frequency).
fn stepped(values: Vec<Option<String>>) -> Option<String> {
    let parts: Vec<String> = values
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let v = v.filter(|x| !x.trim().is_empty())?;
            Some(if i == 0 { v } else { format!("luego {v}") })
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn medication_entry(m: &Medication) -> MedicationEntry {
    let phases = m.phases();
    let dose = stepped(
        phases
            .iter()
            .map(|p| {
                let d: Vec<String> = p.doses().map(|d| d.to_string()).collect();
                let mark = p.notes.iter().find(|n| is_loading_note(n));
                match (d.is_empty(), mark) {
                    (true, _) => None,
                    (false, Some(mark)) => {
                        Some(format!("{} ({})", d.join(" + "), mark.to_lowercase()))
                    }
                    (false, None) => Some(d.join(" + ")),
                }
            })
            .collect(),
    );
    let frequency = stepped(
        phases
            .iter()
            .map(|p| {
                let f = p.frequency.as_ref().map(|f| f.to_string());
                let said = p.frequency.as_ref().is_some_and(|f| f.says_as_needed());
                if p.as_needed && !said {
                    Some(match f {
                        Some(f) => format!("{f}, si es necesario (SOS)"),
                        None => "si es necesario (SOS)".into(),
                    })
                } else {
                    f
                }
            })
            .collect(),
    );
    let duration = stepped(
        phases
            .iter()
            .map(|p| {
                p.duration.as_ref().map(|d| {
                    let s = d.to_string();
                    capitalize_first(s.strip_prefix("por ").unwrap_or(&s))
                })
            })
            .collect(),
    );
    // A later step given by the same route as the first says nothing new.
    let mut routes: Vec<Option<String>> = Vec::new();
    for p in &phases {
        let r = p.route.as_ref().map(|r| r.to_string());
        routes.push(r.filter(|r| routes.iter().flatten().all(|x| x != r)));
    }
    MedicationEntry {
        name: list_name(&m.name),
        code: m.code.as_ref().map(|c| c.display()),
        dose: or_missing(dose),
        route: or_missing(stepped(routes)),
        frequency: or_missing(frequency),
        duration: or_missing(duration),
        notes: (!m.notes.is_empty()).then(|| m.notes.join(", ")),
    }
}

fn body_blocks(body: &Body) -> Vec<Block> {
    match body {
        Body::Text(t) => vec![Block::Text {
            paragraphs: t
                .split('\n')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        }],
        Body::Items(items) => vec![Block::List {
            items: items.clone(),
        }],
    }
}

/// The blocks of a part: the draft's text, except that the deterministic writer's lab
/// lines become a table and its prescription lines become field-by-field entries.
fn part_blocks(ep: &Episode, id: PartId, body: &Body, origin: Origin) -> Vec<Block> {
    let drugs: Vec<&Medication> = ep
        .discharge
        .medications
        .iter()
        .filter(|m| m.kind == ItemKind::Drug)
        .collect();
    match id {
        PartId::Labs
            if origin == Origin::Deterministic
                && !(ep.labs.is_empty() && ep.lab_findings.is_empty()) =>
        {
            vec![Block::Labs {
                columns: LAB_COLUMNS.iter().map(|c| c.to_string()).collect(),
                rows: ep
                    .labs
                    .iter()
                    .map(lab_row)
                    .chain(ep.lab_findings.iter().map(finding_row))
                    .collect(),
            }]
        }
        PartId::DischargeMedications if origin == Origin::Deterministic && !drugs.is_empty() => {
            vec![Block::Medications {
                items: drugs.into_iter().map(medication_entry).collect(),
            }]
        }
        _ => body_blocks(body),
    }
}

/// Builds the document of an episode's draft.
pub fn build_document(ep: &Episode, draft: &Draft, meta: &DocumentMeta) -> Document {
    let service = meta
        .service
        .clone()
        .or_else(|| ep.service.as_deref().map(list_name));
    let physician = meta
        .treating_physician
        .clone()
        .or_else(|| ep.physician.clone());
    let ident = identification(ep, service.clone(), physician.clone());
    let sections = sections(ep, draft);
    let hash = content_hash(draft);
    let short = hash.get(..16).unwrap_or(&hash).to_string();
    let signed = meta.state == DocumentState::Signed && meta.signature.is_some();
    let (signature_title, signature) = signature_block(meta, signed, &short);
    let reviewer = meta
        .reviewed_by
        .clone()
        .or_else(|| meta.signature.as_ref().map(|s| s.signer.clone()));
    Document {
        title: TITLE.to_string(),
        hospital: meta.hospital_name.clone(),
        service: service.unwrap_or_default(),
        ident,
        sections,
        signature_title,
        signature,
        signed,
        draft_mark: (!signed).then(|| DRAFT_MARK.to_string()),
        footer: footer(meta.state, reviewer.as_deref()),
        author: reviewer
            .or(physician)
            .unwrap_or_else(|| "epicrisis (redacción automática)".into()),
        content_hash: hash,
        logo: meta.logo.clone(),
    }
}

/// The identification block: patient, identifier, age and sex, service, dates (with the
/// length of stay) and treating physician; «no registrado» where the data has nothing.
fn identification(
    ep: &Episode,
    service: Option<String>,
    physician: Option<String>,
) -> Vec<(String, String)> {
    let p = &ep.patient;
    let age_sex = match (p.age_es(), p.sex) {
        (Some(a), Some(s)) => format!("{a}, {}", sex_es(s)),
        (Some(a), None) => format!("{a}, sexo {}", NOT_RECORDED.to_lowercase()),
        (None, Some(s)) => format!("edad {}, {}", NOT_RECORDED.to_lowercase(), sex_es(s)),
        (None, None) => NOT_RECORDED.into(),
    };
    let mut discharge = dmy(ep.discharge_date);
    if let Some(los) = ep.length_of_stay() {
        discharge.push_str(&format!(
            " ({los} {} de hospitalización)",
            if los == 1 { "día" } else { "días" }
        ));
    }
    vec![
        ("Paciente".into(), or_missing(p.name.clone())),
        (
            "Identificador".into(),
            or_missing(
                p.identifier
                    .clone()
                    .or_else(|| ep.id.as_ref().map(|id| format!("episodio {id}"))),
            ),
        ),
        ("Edad y sexo".into(), age_sex),
        ("Servicio".into(), or_missing(service)),
        ("Fecha de ingreso".into(), dmy(ep.admission_date)),
        ("Fecha de alta".into(), discharge),
        ("Médico tratante".into(), or_missing(physician)),
    ]
}

/// The document's sections: the draft's parts (identification and period are the block
/// above), or for a one-paragraph draft the paragraph and then the structured parts a
/// discharge needs apart (labs, medication, controls, care, warning signs).
fn sections(ep: &Episode, draft: &Draft) -> Vec<Section> {
    let mut sections = Vec::new();
    match draft.layout {
        Layout::Sections => {
            for part in &draft.parts {
                if matches!(part.id, PartId::Identification | PartId::Period) {
                    continue;
                }
                sections.push(Section {
                    title: part.title.clone(),
                    part: Some(part.id),
                    blocks: part_blocks(ep, part.id, &part.body, part.origin),
                });
            }
        }
        Layout::Paragraph => {
            let text = draft.render(epicrisis_pipeline::TextFormat::Plain);
            sections.push(Section {
                title: "Resumen de la hospitalización".into(),
                part: None,
                blocks: vec![Block::Text {
                    paragraphs: vec![text.trim().to_string()],
                }],
            });
            let structured = writer::write(ep, Layout::Sections);
            for part in structured.parts.iter().filter(|p| {
                matches!(
                    p.id,
                    PartId::Labs
                        | PartId::DischargeMedications
                        | PartId::Controls
                        | PartId::Care
                        | PartId::WarningSigns
                )
            }) {
                sections.push(Section {
                    title: part.title.clone(),
                    part: Some(part.id),
                    blocks: part_blocks(ep, part.id, &part.body, part.origin),
                });
            }
        }
    }

    sections
}

/// The signature block: the signer, time, version and hash of a signed document, or the
/// state of an unsigned one (approved, or a draft not valid as a discharge report).
fn signature_block(
    meta: &DocumentMeta,
    signed: bool,
    short_hash: &str,
) -> (String, Vec<(String, String)>) {
    match (&meta.signature, signed) {
        (Some(s), true) => (
            "Firma".to_string(),
            vec![
                ("Firmado por".into(), s.signer.clone()),
                ("Fecha y hora".into(), show_datetime(&s.signed_at)),
                ("Versión".into(), s.version.to_string()),
                (
                    "Huella SHA-256".into(),
                    format!("{}…", s.content_hash.get(..16).unwrap_or(&s.content_hash)),
                ),
            ],
        ),
        _ => {
            let mut lines = vec![(
                "Estado".to_string(),
                match meta.state {
                    DocumentState::Approved => "Aprobado, sin firma electrónica".to_string(),
                    _ => "Borrador no firmado: no válido como informe de alta".to_string(),
                },
            )];
            if let Some(r) = &meta.reviewed_by {
                lines.push(("Revisado por".into(), r.clone()));
            }
            lines.push(("Versión".into(), meta.version.to_string()));
            lines.push(("Huella SHA-256".into(), format!("{short_hash}…")));
            ("Firma".to_string(), lines)
        }
    }
}

/// The footer says what the document is: a signed epicrisis is no longer a draft.
fn footer(state: DocumentState, reviewer: Option<&str>) -> String {
    match (state, reviewer) {
        (DocumentState::Signed, Some(r)) => format!(
            "Epicrisis redactada con asistencia automática (epicrisis) a partir de los datos \
             del episodio; revisada y firmada por {r}."
        ),
        (DocumentState::Signed, None) => "Epicrisis redactada con asistencia automática \
             (epicrisis) a partir de los datos del episodio; revisada y firmada."
            .to_string(),
        (_, Some(r)) => format!(
            "Borrador redactado con asistencia automática (epicrisis) a partir de los datos del \
             episodio; revisado por {r}."
        ),
        (_, None) => {
            "Borrador redactado con asistencia automática (epicrisis) a partir de los datos \
                 del episodio; pendiente de revisión médica."
                .to_string()
        }
    }
}
