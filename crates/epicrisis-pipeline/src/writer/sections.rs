//! The sectioned layout: every section of the discharge summary under its heading, in a
//! fixed order, with "No consignado" where the episode has no data for it.

use super::notes::evolution_items;
use super::{
    EXTRACT_NOTE, NOT_RECORDED, drugs, inline_names, list_names, part, procedure_phrases, sex_es,
    treatment_phrases, unit_suffix,
};
use crate::draft::{Body, Draft, Layout, Part, PartId};
use crate::prose::{diagnosis_item, list_name, medication_item, restore_accents};
use epicrisis_domain::numbers::format_es;
use epicrisis_domain::text::capitalize_first;
use epicrisis_domain::{Allergies, Episode, LabFinding, LabStatus, LabSummary};

pub(super) fn sections(ep: &Episode) -> Draft {
    let parts = vec![
        identification(ep),
        period(ep),
        reason(ep),
        history(ep),
        admission_diagnoses(ep),
        procedures(ep),
        treatments(ep),
        evolution(ep),
        labs(ep),
        discharge_diagnoses(ep),
        discharge_medications(ep),
        controls(ep),
        care(ep),
        warning_signs(ep),
    ];
    Draft {
        layout: Layout::Sections,
        parts,
    }
}

fn items_or_missing(items: Vec<String>) -> Body {
    if items.is_empty() {
        Body::Text(format!("{NOT_RECORDED}."))
    } else {
        Body::Items(items)
    }
}

fn identification(ep: &Episode) -> Part {
    let p = &ep.patient;
    let ident = vec![
        format!(
            "Paciente: {}",
            p.name.clone().unwrap_or_else(|| NOT_RECORDED.to_string())
        ),
        format!(
            "Identificador: {}",
            p.identifier
                .clone()
                .or_else(|| ep.id.as_ref().map(|id| format!("episodio {id}")))
                .unwrap_or_else(|| NOT_RECORDED.to_string())
        ),
        format!(
            "Edad: {}",
            p.age_es().unwrap_or_else(|| NOT_RECORDED.to_string())
        ),
        format!(
            "Sexo: {}",
            p.sex
                .map(|s| capitalize_first(sex_es(s)))
                .unwrap_or_else(|| NOT_RECORDED.to_string())
        ),
        format!(
            "Servicio: {}",
            ep.service
                .as_deref()
                .map(list_name)
                .unwrap_or_else(|| NOT_RECORDED.to_string())
        ),
        format!(
            "Médico tratante: {}",
            ep.physician
                .clone()
                .unwrap_or_else(|| NOT_RECORDED.to_string())
        ),
    ];
    part(PartId::Identification, "Identificación", Body::Items(ident))
}

fn period(ep: &Episode) -> Part {
    let d = |x: Option<epicrisis_domain::Date>| {
        x.map(|d| d.to_dmy())
            .unwrap_or_else(|| NOT_RECORDED.to_string())
    };
    let mut period = vec![
        format!("Fecha de ingreso: {}", d(ep.admission_date)),
        format!("Fecha de alta: {}", d(ep.discharge_date)),
    ];
    if let Some(los) = ep.length_of_stay() {
        period.push(format!("Días de hospitalización: {los}"));
    }
    part(
        PartId::Period,
        "Período de hospitalización",
        Body::Items(period),
    )
}

fn reason(ep: &Episode) -> Part {
    let reason = ep
        .reason
        .as_deref()
        .map(|r| format!("{}.", list_name(r).trim_end_matches('.')))
        .unwrap_or_else(|| format!("{NOT_RECORDED}."));
    part(PartId::Reason, "Motivo de ingreso", Body::Text(reason))
}

fn history(ep: &Episode) -> Part {
    let h = &ep.history;
    let list_or = |v: &[String]| {
        if v.is_empty() {
            NOT_RECORDED.to_string()
        } else {
            inline_names(v).join(", ")
        }
    };
    let allergies = match &h.allergies {
        Allergies::NotRecorded => NOT_RECORDED.to_string(),
        Allergies::NoneKnown => "sin alergias conocidas".to_string(),
        Allergies::Known(a) => inline_names(a).join(", "),
    };
    let mut hist = vec![
        format!("Médicos: {}", list_or(&h.medical)),
        format!("Quirúrgicos: {}", list_or(&h.surgical)),
        format!("Alergias: {allergies}"),
    ];
    if !h.other.is_empty() {
        hist.push(format!("Otros: {}", list_or(&h.other)));
    }
    part(PartId::History, "Antecedentes", Body::Items(hist))
}

fn admission_diagnoses(ep: &Episode) -> Part {
    part(
        PartId::AdmissionDiagnoses,
        "Diagnósticos de ingreso",
        items_or_missing(ep.admission_diagnoses.iter().map(diagnosis_item).collect()),
    )
}

fn procedures(ep: &Episode) -> Part {
    part(
        PartId::Procedures,
        "Procedimientos",
        items_or_missing(
            procedure_phrases(ep)
                .iter()
                .map(|p| capitalize_first(p))
                .collect(),
        ),
    )
}

fn treatments(ep: &Episode) -> Part {
    let (drugs, others) = treatment_phrases(ep);
    let tx: Vec<String> = drugs
        .iter()
        .chain(&others)
        .map(|t| capitalize_first(t))
        .collect();
    part(
        PartId::Treatments,
        "Tratamiento intrahospitalario",
        items_or_missing(tx),
    )
}

/// The marked literal extract of the notes (of a long stay, the first and last days).
fn evolution(ep: &Episode) -> Part {
    let evo = if ep.evolution.is_empty() {
        Body::Text(format!("{NOT_RECORDED}."))
    } else {
        let mut lines = vec![format!("{EXTRACT_NOTE}:")];
        lines.extend(evolution_items(ep, 220));
        Body::Text(lines.join("\n"))
    };
    part(PartId::Evolution, "Evolución clínica", evo)
}

fn labs(ep: &Episode) -> Part {
    part(
        PartId::Labs,
        "Exámenes relevantes",
        items_or_missing(
            ep.labs
                .iter()
                .map(lab_line)
                .chain(ep.lab_findings.iter().map(finding_line))
                .collect(),
        ),
    )
}

/// A lab as a list item: its first value, and for a series the last, minimum and maximum.
fn lab_line(l: &LabSummary) -> String {
    let unit = unit_suffix(l);
    let mut s = format!(
        "{}: {}{}",
        restore_accents(&l.test),
        l.first.written(),
        unit
    );
    if let Some(d) = l.first.date {
        s.push_str(&format!(" ({})", d.to_dmy()));
    }
    if l.first.status != LabStatus::Unclassified {
        s.push_str(&format!(", {}", l.first.status.as_es()));
    }
    if let (Some(lo), Some(hi)) = (l.first.range_low, l.first.range_high) {
        s.push_str(&format!(" [rango {}–{}]", format_es(lo), format_es(hi)));
    }
    if let Some(last) = &l.last {
        s.push_str(&format!("; último {}{}", last.written(), unit));
        if let Some(d) = last.date {
            s.push_str(&format!(" ({})", d.to_dmy()));
        }
        s.push_str(&format!(
            "; mínimo {}, máximo {}",
            format_es(l.min),
            format_es(l.max)
        ));
    }
    s
}

/// A qualitative result as a list item: «Hemocultivo: negativo (16/12/2025)».
fn finding_line(f: &LabFinding) -> String {
    let mut s = format!("{}: {}", restore_accents(&f.test), f.result);
    if let Some(d) = f.date {
        s.push_str(&format!(" ({})", d.to_dmy()));
    }
    s
}

fn discharge_diagnoses(ep: &Episode) -> Part {
    part(
        PartId::DischargeDiagnoses,
        "Diagnósticos de egreso",
        items_or_missing(ep.discharge_diagnoses.iter().map(diagnosis_item).collect()),
    )
}

fn discharge_medications(ep: &Episode) -> Part {
    part(
        PartId::DischargeMedications,
        "Indicaciones al alta: medicamentos",
        items_or_missing(
            drugs(&ep.discharge.medications)
                .map(medication_item)
                .collect(),
        ),
    )
}

fn controls(ep: &Episode) -> Part {
    part(
        PartId::Controls,
        "Indicaciones al alta: controles",
        items_or_missing(list_names(&ep.discharge.controls)),
    )
}

/// The care instructions, then the recommendations.
fn care(ep: &Episode) -> Part {
    let mut care = list_names(&ep.discharge.care);
    care.extend(list_names(&ep.discharge.recommendations));
    part(
        PartId::Care,
        "Indicaciones al alta: cuidados",
        items_or_missing(care),
    )
}

fn warning_signs(ep: &Episode) -> Part {
    part(
        PartId::WarningSigns,
        "Indicaciones al alta: signos de alarma",
        items_or_missing(list_names(&ep.discharge.warning_signs)),
    )
}
