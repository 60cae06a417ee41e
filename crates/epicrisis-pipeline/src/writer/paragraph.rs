//! The paragraph layout: one short passage of running text per part, parts the episode
//! has no data for left out, and a closing list of what was not recorded.

use super::notes::excerpt;
use super::{
    NOT_RECORDED, drugs, inline_names, part, procedure_phrases, sex_es, treatment_phrases,
    unit_suffix,
};
use crate::draft::{Body, Draft, Layout, Part, PartId};
use crate::prose::{diagnosis_inline, inline_name, join_es, medication_inline};
use epicrisis_domain::{Episode, LabStatus};

pub(super) fn paragraph(ep: &Episode) -> Draft {
    let parts = [
        identification(ep),
        Some(reason(ep)),
        procedures(ep),
        treatments(ep),
        evolution(ep),
        labs(ep),
        discharge(ep),
        controls(ep),
        care(ep),
        warning_signs(ep),
        missing(ep),
    ];
    Draft {
        layout: Layout::Paragraph,
        parts: parts.into_iter().flatten().collect(),
    }
}

/// Sex, age and the dates of the stay, when any is known.
fn identification(ep: &Episode) -> Option<Part> {
    let mut ident = Vec::new();
    if let Some(sex) = ep.patient.sex {
        ident.push(format!("sexo {}", sex_es(sex)));
    }
    if let Some(age) = ep.patient.age_es() {
        ident.push(age);
    }
    let mut ident_sentences = Vec::new();
    if !ident.is_empty() {
        ident_sentences.push(format!("Paciente de {}.", ident.join(", ")));
    }
    if let (Some(a), Some(b)) = (ep.admission_date, ep.discharge_date) {
        let los = a.days_until(b);
        ident_sentences.push(format!(
            "Hospitalización del {} al {} ({los} días).",
            a.to_dmy(),
            b.to_dmy()
        ));
    }
    if ident_sentences.is_empty() {
        return None;
    }
    Some(part(
        PartId::Identification,
        "Identificación",
        Body::Text(ident_sentences.join(" ")),
    ))
}

/// The reason for admission and the admission diagnoses, always written.
fn reason(ep: &Episode) -> Part {
    let dx: Vec<String> = ep
        .admission_diagnoses
        .iter()
        .map(diagnosis_inline)
        .collect();
    let reason = match (&ep.reason, dx.is_empty()) {
        (Some(r), false) => format!(
            "Ingresa por {}, con diagnósticos de ingreso de {}.",
            inline_name(r),
            join_es(&dx)
        ),
        (Some(r), true) => format!("Ingresa por {}.", inline_name(r)),
        (None, false) => format!("Ingresa por {}.", join_es(&dx)),
        (None, true) => format!("Motivo de ingreso: {}.", NOT_RECORDED.to_lowercase()),
    };
    part(PartId::Reason, "Motivo de ingreso", Body::Text(reason))
}

fn procedures(ep: &Episode) -> Option<Part> {
    if ep.procedures.is_empty() {
        return None;
    }
    let ps = procedure_phrases(ep);
    let verb = if ps.len() == 1 {
        "Se realiza"
    } else {
        "Se realizan"
    };
    Some(part(
        PartId::Procedures,
        "Procedimientos",
        Body::Text(format!("{verb} {}.", join_es(&ps))),
    ))
}

fn treatments(ep: &Episode) -> Option<Part> {
    let (tx, other_tx) = treatment_phrases(ep);
    let mut t = String::new();
    if !tx.is_empty() {
        t.push_str(&format!("Recibe {}.", join_es(&tx)));
    }
    if !other_tx.is_empty() {
        if !t.is_empty() {
            t.push(' ');
        }
        t.push_str(&format!("Manejo complementario: {}.", other_tx.join("; ")));
    }
    if t.is_empty() {
        return None;
    }
    Some(part(
        PartId::Treatments,
        "Tratamiento intrahospitalario",
        Body::Text(t),
    ))
}

/// A literal extract of the notes: the first and last note of a longer stay, else all.
fn evolution(ep: &Episode) -> Option<Part> {
    if ep.evolution.is_empty() {
        return None;
    }
    let proper = crate::prose::proper_words(ep);
    let items = if ep.evolution.len() > 2 {
        let first = &ep.evolution[0];
        let last = &ep.evolution[ep.evolution.len() - 1];
        let one = |n: &epicrisis_domain::EvolutionNote| {
            let label = n.day.map(|d| format!("día {d}: ")).unwrap_or_default();
            format!("{label}«{}»", excerpt(&n.text, 160, &proper))
        };
        vec![one(first), one(last)]
    } else {
        ep.evolution
            .iter()
            .map(|n| format!("«{}»", excerpt(&n.text, 300, &proper)))
            .collect()
    };
    let text = format!(
        "Evolución (extracto literal de las notas): {}.",
        items.join("; ")
    );
    Some(part(
        PartId::Evolution,
        "Evolución clínica",
        Body::Text(text),
    ))
}

/// The labs whose first value is out of range.
fn labs(ep: &Episode) -> Option<Part> {
    let abnormal: Vec<String> = ep
        .labs
        .iter()
        .filter(|l| matches!(l.first.status, LabStatus::High | LabStatus::Low))
        .map(|l| {
            format!(
                "{} {}{} ({})",
                inline_name(&l.test),
                l.first.written(),
                unit_suffix(l),
                l.first.status.as_es()
            )
        })
        .collect();
    if abnormal.is_empty() {
        return None;
    }
    Some(part(
        PartId::Labs,
        "Exámenes relevantes",
        Body::Text(format!("Exámenes alterados: {}.", abnormal.join(", "))),
    ))
}

/// The discharge diagnoses and the drugs prescribed at discharge.
fn discharge(ep: &Episode) -> Option<Part> {
    let ddx: Vec<String> = ep
        .discharge_diagnoses
        .iter()
        .map(diagnosis_inline)
        .collect();
    let meds: Vec<String> = drugs(&ep.discharge.medications)
        .map(medication_inline)
        .collect();
    let discharge = match (ddx.is_empty(), meds.is_empty()) {
        (false, false) => format!(
            "Alta con {}, indicándose {}.",
            join_es(&ddx),
            join_es(&meds)
        ),
        (false, true) => format!("Alta con {}.", join_es(&ddx)),
        (true, false) => format!("Al alta se indica {}.", join_es(&meds)),
        (true, true) => String::new(),
    };
    if discharge.is_empty() {
        return None;
    }
    Some(part(
        PartId::DischargeDiagnoses,
        "Diagnósticos de egreso",
        Body::Text(discharge),
    ))
}

fn controls(ep: &Episode) -> Option<Part> {
    if ep.discharge.controls.is_empty() {
        return None;
    }
    let cs = inline_names(&ep.discharge.controls);
    Some(part(
        PartId::Controls,
        "Controles",
        Body::Text(format!("Controles: {}.", cs.join("; "))),
    ))
}

fn care(ep: &Episode) -> Option<Part> {
    let care = inline_names(&ep.discharge.care);
    if care.is_empty() {
        return None;
    }
    Some(part(
        PartId::Care,
        "Cuidados",
        Body::Text(format!("Cuidados: {}.", care.join("; "))),
    ))
}

fn warning_signs(ep: &Episode) -> Option<Part> {
    if ep.discharge.warning_signs.is_empty() {
        return None;
    }
    let ws = inline_names(&ep.discharge.warning_signs);
    Some(part(
        PartId::WarningSigns,
        "Signos de alarma",
        Body::Text(format!("Consultar en urgencia ante {}.", join_es(&ws))),
    ))
}

/// What the episode lacks, named in one sentence.
fn missing(ep: &Episode) -> Option<Part> {
    let missing = missing_items(ep);
    if missing.is_empty() {
        return None;
    }
    let names: Vec<String> = missing.iter().map(|s| s.to_string()).collect();
    Some(part(
        PartId::Missing,
        "No consignado",
        Body::Text(format!("No consignado en los datos: {}.", join_es(&names))),
    ))
}

fn missing_items(ep: &Episode) -> Vec<&'static str> {
    let mut missing = Vec::new();
    let p = &ep.patient;
    if p.name.is_none() && p.identifier.is_none() && p.age_es().is_none() && p.sex.is_none() {
        missing.push("identificación del paciente");
    }
    if ep.physician.is_none() {
        missing.push("médico tratante");
    }
    match (ep.admission_date, ep.discharge_date) {
        (None, None) => missing.push("fechas de ingreso y alta"),
        (None, Some(_)) => missing.push("fecha de ingreso"),
        (Some(_), None) => missing.push("fecha de alta"),
        _ => {}
    }
    if drugs(&ep.discharge.medications).next().is_none() {
        missing.push("medicamentos al alta");
    }
    if ep.discharge.controls.is_empty() {
        missing.push("controles");
    }
    missing
}
