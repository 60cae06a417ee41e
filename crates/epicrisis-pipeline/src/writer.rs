//! The deterministic writer: an epicrisis from the episode alone, no model.
//!
//! Every fact is copied from the data (codes verbatim, posology re-rendered from its
//! parsed form), missing items are written as "No consignado", and the day-by-day notes,
//! which only a model can summarise, appear as a short, clearly marked literal extract.
//! It is also the fallback the model pipeline uses part by part.

use crate::draft::{Body, Draft, Layout, Origin, Part, PartId};
use crate::prose::{
    clean_note, diagnosis_inline, diagnosis_item, inline_name, join_es, list_name,
    medication_inline, medication_item, procedure_inline, restore_accents,
};
use epicrisis_domain::numbers::format_es;
use epicrisis_domain::text::{capitalize_first, fold_words};
use epicrisis_domain::{
    Allergies, Episode, ItemKind, LabFinding, LabStatus, LabSummary, Medication, Sex,
};

/// "No consignado": the words for data the episode lacks.
pub const NOT_RECORDED: &str = "No consignado";

/// The heading of the evolution extract, so readers know it is quoted, not summarised.
pub const EXTRACT_NOTE: &str = "Extracto literal de las notas de evolución (redacción automática sin modelo de lenguaje: no es un resumen)";

/// Writes a draft of the given layout from the episode alone.
pub fn write(episode: &Episode, layout: Layout) -> Draft {
    match layout {
        Layout::Paragraph => paragraph(episode),
        Layout::Sections => sections(episode),
    }
}

/// Writes one part (as the sectioned layout would), for the model pipeline's fallback.
pub fn write_part(episode: &Episode, id: PartId) -> Option<Part> {
    sections(episode).parts.into_iter().find(|p| p.id == id)
}

fn part(id: PartId, title: &str, body: Body) -> Part {
    Part {
        id,
        title: title.to_string(),
        body,
        origin: Origin::Deterministic,
    }
}

fn drugs(list: &[Medication]) -> impl Iterator<Item = &Medication> {
    list.iter().filter(|m| m.kind == ItemKind::Drug)
}

fn others(list: &[Medication]) -> impl Iterator<Item = &Medication> {
    list.iter().filter(|m| m.kind != ItemKind::Drug)
}

fn sex_es(s: Sex) -> &'static str {
    match s {
        Sex::Female => "femenino",
        Sex::Male => "masculino",
        Sex::Other => "otro",
    }
}

fn treatment_inline(m: &Medication) -> String {
    let mut s = medication_inline(m);
    match (m.start, m.end) {
        (Some(a), Some(b)) => s.push_str(&format!(" del {} al {}", a.to_dmy(), b.to_dmy())),
        (Some(a), None) => s.push_str(&format!(" desde el {}", a.to_dmy())),
        (None, Some(b)) => s.push_str(&format!(" hasta el {}", b.to_dmy())),
        (None, None) => {}
    }
    s
}

/// A non-drug item (diet, transfusion, oxygen) in its own words, accents restored.
fn therapy_inline(m: &Medication) -> String {
    let raw = m.raw.clone().unwrap_or_else(|| m.name.clone());
    inline_name(&raw)
}

/// A qualitative result as a list item: «Hemocultivo: negativo (16/12/2025)».
fn finding_line(f: &LabFinding) -> String {
    let mut s = format!("{}: {}", restore_accents(&f.test), f.result);
    if let Some(d) = f.date {
        s.push_str(&format!(" ({})", d.to_dmy()));
    }
    s
}

fn lab_line(l: &LabSummary) -> String {
    let unit = l
        .unit
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
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

/// Removes signatures ("atte SOTO", "Dr. Pérez") from quoted notes: staff names are not
/// part of the clinical summary.
fn strip_signatures(s: &str) -> String {
    let words: Vec<&str> = s.split(' ').collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let f = fold_words(words[i]);
        if matches!(f.as_str(), "atte" | "att" | "dr" | "dra" | "firma") && i + 1 < words.len() {
            i += 2;
            continue;
        }
        out.push(words[i]);
        i += 1;
    }
    out.join(" ").trim().to_string()
}

/// The first sentence(s) of a note, at most `budget` characters, cut at a word.
fn excerpt(text: &str, budget: usize, proper: &std::collections::HashSet<String>) -> String {
    let first_segment = text.split(" | ").next().unwrap_or(text);
    let cleaned = clean_note(&strip_signatures(first_segment), proper);
    let chars: Vec<char> = cleaned.chars().collect();
    if chars.len() <= budget {
        return cleaned.trim().to_string();
    }
    // Prefer a sentence end inside the budget.
    let window: String = chars[..budget].iter().collect();
    if let Some(p) = window.rfind(". ")
        && p > budget / 3
    {
        return window[..=p].trim().to_string();
    }
    let cut = window.rfind(' ').unwrap_or(window.len());
    format!(
        "{} […]",
        window[..cut].trim_end_matches([',', ';', ':', '-']).trim()
    )
}

fn evolution_items(ep: &Episode, budget: usize) -> Vec<String> {
    let n = ep.evolution.len();
    let proper = crate::prose::proper_words(ep);
    ep.evolution
        .iter()
        .enumerate()
        .filter(|(i, _)| n <= 14 || *i < 5 || *i >= n - 5)
        .map(|(_, note)| note_extract(note, budget, &proper))
        .collect()
}

/// The extracts of the notes `notes` (indices into `Episode::evolution`), one per note,
/// each «Día N: «…»» with at most `budget` characters of the note: what stands in for a
/// model's summary of those days that the data did not support.
pub fn note_extracts(ep: &Episode, notes: std::ops::Range<usize>, budget: usize) -> Vec<String> {
    let proper = crate::prose::proper_words(ep);
    ep.evolution
        .get(notes)
        .unwrap_or_default()
        .iter()
        .map(|note| note_extract(note, budget, &proper))
        .collect()
}

fn note_extract(
    note: &epicrisis_domain::EvolutionNote,
    budget: usize,
    proper: &std::collections::HashSet<String>,
) -> String {
    let label = match (note.day, note.date) {
        (Some(d), Some(date)) => format!("Día {d} ({}): ", date.to_dmy()),
        (Some(d), None) => format!("Día {d}: "),
        (None, Some(date)) => format!("{}: ", date.to_dmy()),
        (None, None) => String::new(),
    };
    format!("{label}«{}»", excerpt(&note.text, budget, proper))
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

fn paragraph(ep: &Episode) -> Draft {
    let mut parts = Vec::new();
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
    if !ident_sentences.is_empty() {
        parts.push(part(
            PartId::Identification,
            "Identificación",
            Body::Text(ident_sentences.join(" ")),
        ));
    }
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
    parts.push(part(
        PartId::Reason,
        "Motivo de ingreso",
        Body::Text(reason),
    ));
    if !ep.procedures.is_empty() {
        let ps: Vec<String> = ep
            .procedures
            .iter()
            .map(|p| procedure_inline(p, true))
            .collect();
        let verb = if ps.len() == 1 {
            "Se realiza"
        } else {
            "Se realizan"
        };
        parts.push(part(
            PartId::Procedures,
            "Procedimientos",
            Body::Text(format!("{verb} {}.", join_es(&ps))),
        ));
    }
    let tx: Vec<String> = drugs(&ep.treatments).map(treatment_inline).collect();
    let other_tx: Vec<String> = others(&ep.treatments).map(therapy_inline).collect();
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
    if !t.is_empty() {
        parts.push(part(
            PartId::Treatments,
            "Tratamiento intrahospitalario",
            Body::Text(t),
        ));
    }
    if !ep.evolution.is_empty() {
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
        parts.push(part(
            PartId::Evolution,
            "Evolución clínica",
            Body::Text(text),
        ));
    }
    let abnormal: Vec<String> = ep
        .labs
        .iter()
        .filter(|l| matches!(l.first.status, LabStatus::High | LabStatus::Low))
        .map(|l| {
            let unit = l
                .unit
                .as_deref()
                .map(|u| format!(" {u}"))
                .unwrap_or_default();
            format!(
                "{} {}{} ({})",
                inline_name(&l.test),
                l.first.written(),
                unit,
                l.first.status.as_es()
            )
        })
        .collect();
    if !abnormal.is_empty() {
        parts.push(part(
            PartId::Labs,
            "Exámenes relevantes",
            Body::Text(format!("Exámenes alterados: {}.", abnormal.join(", "))),
        ));
    }
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
    if !discharge.is_empty() {
        parts.push(part(
            PartId::DischargeDiagnoses,
            "Diagnósticos de egreso",
            Body::Text(discharge),
        ));
    }
    if !ep.discharge.controls.is_empty() {
        let cs: Vec<String> = ep
            .discharge
            .controls
            .iter()
            .map(|c| inline_name(c))
            .collect();
        parts.push(part(
            PartId::Controls,
            "Controles",
            Body::Text(format!("Controles: {}.", cs.join("; "))),
        ));
    }
    let care: Vec<String> = ep.discharge.care.iter().map(|c| inline_name(c)).collect();
    if !care.is_empty() {
        parts.push(part(
            PartId::Care,
            "Cuidados",
            Body::Text(format!("Cuidados: {}.", care.join("; "))),
        ));
    }
    if !ep.discharge.warning_signs.is_empty() {
        let ws: Vec<String> = ep
            .discharge
            .warning_signs
            .iter()
            .map(|c| inline_name(c))
            .collect();
        parts.push(part(
            PartId::WarningSigns,
            "Signos de alarma",
            Body::Text(format!("Consultar en urgencia ante {}.", join_es(&ws))),
        ));
    }
    let missing = missing_items(ep);
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|s| s.to_string()).collect();
        parts.push(part(
            PartId::Missing,
            "No consignado",
            Body::Text(format!("No consignado en los datos: {}.", join_es(&names))),
        ));
    }
    Draft {
        layout: Layout::Paragraph,
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

fn sections(ep: &Episode) -> Draft {
    let mut parts = Vec::new();
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
    parts.push(part(
        PartId::Identification,
        "Identificación",
        Body::Items(ident),
    ));
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
    parts.push(part(
        PartId::Period,
        "Período de hospitalización",
        Body::Items(period),
    ));
    let reason = ep
        .reason
        .as_deref()
        .map(|r| format!("{}.", list_name(r).trim_end_matches('.')))
        .unwrap_or_else(|| format!("{NOT_RECORDED}."));
    parts.push(part(
        PartId::Reason,
        "Motivo de ingreso",
        Body::Text(reason),
    ));
    let h = &ep.history;
    let list_or = |v: &[String]| {
        if v.is_empty() {
            NOT_RECORDED.to_string()
        } else {
            v.iter()
                .map(|x| inline_name(x))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let allergies = match &h.allergies {
        Allergies::NotRecorded => NOT_RECORDED.to_string(),
        Allergies::NoneKnown => "sin alergias conocidas".to_string(),
        Allergies::Known(a) => a
            .iter()
            .map(|x| inline_name(x))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut hist = vec![
        format!("Médicos: {}", list_or(&h.medical)),
        format!("Quirúrgicos: {}", list_or(&h.surgical)),
        format!("Alergias: {allergies}"),
    ];
    if !h.other.is_empty() {
        hist.push(format!("Otros: {}", list_or(&h.other)));
    }
    parts.push(part(PartId::History, "Antecedentes", Body::Items(hist)));
    parts.push(part(
        PartId::AdmissionDiagnoses,
        "Diagnósticos de ingreso",
        items_or_missing(ep.admission_diagnoses.iter().map(diagnosis_item).collect()),
    ));
    parts.push(part(
        PartId::Procedures,
        "Procedimientos",
        items_or_missing(
            ep.procedures
                .iter()
                .map(|p| capitalize_first(&procedure_inline(p, true)))
                .collect(),
        ),
    ));
    let mut tx: Vec<String> = drugs(&ep.treatments)
        .map(|m| capitalize_first(&treatment_inline(m)))
        .collect();
    tx.extend(others(&ep.treatments).map(|m| capitalize_first(&therapy_inline(m))));
    parts.push(part(
        PartId::Treatments,
        "Tratamiento intrahospitalario",
        items_or_missing(tx),
    ));
    let evo = if ep.evolution.is_empty() {
        Body::Text(format!("{NOT_RECORDED}."))
    } else {
        let mut lines = vec![format!("{EXTRACT_NOTE}:")];
        lines.extend(evolution_items(ep, 220));
        Body::Text(lines.join("\n"))
    };
    parts.push(part(PartId::Evolution, "Evolución clínica", evo));
    parts.push(part(
        PartId::Labs,
        "Exámenes relevantes",
        items_or_missing(
            ep.labs
                .iter()
                .map(lab_line)
                .chain(ep.lab_findings.iter().map(finding_line))
                .collect(),
        ),
    ));
    parts.push(part(
        PartId::DischargeDiagnoses,
        "Diagnósticos de egreso",
        items_or_missing(ep.discharge_diagnoses.iter().map(diagnosis_item).collect()),
    ));
    parts.push(part(
        PartId::DischargeMedications,
        "Indicaciones al alta: medicamentos",
        items_or_missing(
            drugs(&ep.discharge.medications)
                .map(medication_item)
                .collect(),
        ),
    ));
    parts.push(part(
        PartId::Controls,
        "Indicaciones al alta: controles",
        items_or_missing(ep.discharge.controls.iter().map(|c| list_name(c)).collect()),
    ));
    let mut care: Vec<String> = ep.discharge.care.iter().map(|c| list_name(c)).collect();
    care.extend(ep.discharge.recommendations.iter().map(|c| list_name(c)));
    parts.push(part(
        PartId::Care,
        "Indicaciones al alta: cuidados",
        items_or_missing(care),
    ));
    parts.push(part(
        PartId::WarningSigns,
        "Indicaciones al alta: signos de alarma",
        items_or_missing(
            ep.discharge
                .warning_signs
                .iter()
                .map(|c| list_name(c))
                .collect(),
        ),
    ));
    Draft {
        layout: Layout::Sections,
        parts,
    }
}
