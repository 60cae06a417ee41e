//! The prompts of the grounded pipeline: the fixed instructions and worked example (the
//! stable prefix whose KV cache is reused), the task for an episode, the episode's facts
//! as the model reads them, style examples from approved drafts, and the cleaning of a
//! model's answer.

use crate::grounded::Strategy;
use crate::prose::{drug_name, inline_name};
use epicrisis_domain::{Episode, ItemKind};
use epicrisis_llm::ChatMessage;

/// The fixed instructions (the stable prefix whose KV cache is reused between drafts).
pub(crate) const SYSTEM: &str = "Eres un médico chileno que redacta epicrisis (informes de alta hospitalaria). \
Escribe en español de Chile, en registro clínico, con tildes y ortografía correctas. \
Usa exclusivamente los datos entregados: no inventes diagnósticos, medicamentos, dosis, exámenes, cifras, fechas ni complicaciones. \
Si un dato no está, no lo menciones. No escribas códigos entre paréntesis, listas, títulos ni comentarios: solo el texto pedido.";

/// A worked example in the stable prefix: small models follow a shown style better than a
/// described one. Its facts are invented; words of it that leak into a draft are caught
/// by [`novel_words`] (they are not in the patient's data) and repaired.
pub(crate) const EXAMPLE_FACTS: &str = "Diagnósticos de ingreso: colecistitis aguda litiásica.\n\
Procedimientos: colecistectomía laparoscópica.\n\
Medicamentos durante la hospitalización: ceftriaxona; metronidazol.\n\
Notas de evolución:\n- Cirugía sin incidentes, afebril, tolera régimen liviano 2do día, dolor controlado\n\
Diagnósticos de egreso: colecistitis aguda operada.";
pub(crate) const EXAMPLE_ANSWER: &str = "Cirugía sin incidentes, evolucionando afebril, con dolor controlado y tolerancia a régimen liviano al segundo día postoperatorio.";

/// The task for an episode: a short stay with one note gets one or two sentences (the
/// reference style); a stay with many daily notes gets a chronological summary.
pub(crate) fn task_for(ep: &Episode, strategy: Strategy) -> &'static str {
    if strategy == Strategy::Narrative && asks_for_summary(ep) {
        return "Resume la evolución clínica de esta hospitalización en 3 a 6 oraciones (máximo 120 palabras), en orden cronológico: procedimientos y sus resultados, complicaciones, respuesta al tratamiento y condición al alta, usando solo lo que dicen las notas. No repitas los medicamentos con sus dosis ni los diagnósticos de egreso, y no escribas códigos.";
    }
    task_text(strategy)
}

/// Whether the episode's notes are summarised (more than two notes) rather than written
/// in the notes' own words (the reference style of a compact record).
pub(crate) fn asks_for_summary(ep: &Episode) -> bool {
    ep.evolution.len() > 2
}

pub(crate) fn task_text(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Narrative => {
            "Resume la evolución de esta hospitalización en una o dos oraciones breves (máximo 50 palabras), en prosa, usando las palabras de las notas de evolución. No repitas el motivo de ingreso, los medicamentos con sus dosis ni los diagnósticos de egreso, y no escribas códigos."
        }
        Strategy::Full => {
            "Redacta la epicrisis en un solo párrafo de unas 90 palabras, en este orden: motivo de ingreso y diagnósticos de ingreso, procedimientos y tratamientos, evolución, diagnósticos de egreso y medicamentos de alta con dosis, vía, frecuencia y duración. Escribe cada diagnóstico, procedimiento y medicamento con su código entre paréntesis, copiado de los datos."
        }
    }
}

/// The episode's facts, compactly, for the model (names without codes unless the strategy
/// asks for them).
pub fn facts_for_model(ep: &Episode, with_codes: bool, notes_budget: usize) -> String {
    facts_with_notes(ep, with_codes, &cut_notes(ep, notes_budget))
}

/// Every note, each cut to an equal share of `notes_budget` characters (at least 120).
pub(crate) fn cut_notes(ep: &Episode, notes_budget: usize) -> String {
    let mut s = String::new();
    let per_note = (notes_budget / ep.evolution.len().max(1)).max(120);
    let proper = crate::prose::proper_words(ep);
    for n in &ep.evolution {
        let label = n.day.map(|d| format!("día {d}: ")).unwrap_or_default();
        // Shouted notes in sentence case, abbreviations kept (the model copies them).
        let text = crate::prose::clean_note(&n.text, &proper);
        let cut: String = text.chars().take(per_note).collect();
        s.push_str(&format!("- {label}{cut}\n"));
    }
    s
}

/// The episode's facts with `notes` (lines `- día N: …`) as its notes block.
pub fn facts_with_notes(ep: &Episode, with_codes: bool, notes: &str) -> String {
    let mut s = facts_head(ep, with_codes);
    if !notes.trim().is_empty() {
        s.push_str("Notas de evolución:\n");
        s.push_str(notes);
    }
    let abnormal: Vec<String> = ep
        .labs
        .iter()
        .filter(|l| {
            matches!(
                l.first.status,
                epicrisis_domain::LabStatus::High | epicrisis_domain::LabStatus::Low
            )
        })
        .map(|l| {
            format!(
                "{} {} {} ({})",
                inline_name(&l.test),
                l.first.written(),
                l.unit.as_deref().unwrap_or(""),
                l.first.status.as_es()
            )
        })
        .collect();
    if !abnormal.is_empty() {
        s.push_str(&format!("Exámenes alterados: {}.\n", abnormal.join("; ")));
    }
    let findings: Vec<String> = ep
        .lab_findings
        .iter()
        .map(|f| format!("{} {}", inline_name(&f.test), f.result))
        .collect();
    if !findings.is_empty() {
        s.push_str(&format!("Otros exámenes: {}.\n", findings.join("; ")));
    }
    s.push_str(&discharge_diagnoses(ep, with_codes));
    if with_codes {
        let meds: Vec<String> = ep
            .discharge
            .medications
            .iter()
            .filter(|m| m.kind == ItemKind::Drug)
            .map(crate::prose::medication_inline)
            .collect();
        if !meds.is_empty() {
            s.push_str(&format!("Medicamentos de alta: {}.\n", meds.join("; ")));
        }
    }
    s
}

/// The facts of one step of a stay narrated in steps ([`crate::steps`]): the episode's
/// context, the step's notes, and the discharge diagnoses for the last step only (the
/// state at discharge); no lab list and no prescriptions, which small models turn into
/// lists.
pub fn step_facts(ep: &Episode, notes: &str, last: bool) -> String {
    let mut s = facts_head(ep, false);
    s.push_str("Notas de evolución de estos días:\n");
    s.push_str(notes);
    if last {
        s.push_str(&discharge_diagnoses(ep, false));
    }
    s
}

/// ` (code)` when codes are asked for.
fn code(with_codes: bool, c: Option<String>) -> String {
    match c {
        Some(c) if with_codes => format!(" ({c})"),
        _ => String::new(),
    }
}

fn diagnoses(list: &[epicrisis_domain::Diagnosis], with_codes: bool) -> String {
    list.iter()
        .map(|d| {
            format!(
                "{}{}",
                inline_name(&d.name),
                code(with_codes, d.code.as_ref().map(|c| c.display()))
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn discharge_diagnoses(ep: &Episode, with_codes: bool) -> String {
    if ep.discharge_diagnoses.is_empty() {
        return String::new();
    }
    format!(
        "Diagnósticos de egreso: {}.\n",
        diagnoses(&ep.discharge_diagnoses, with_codes)
    )
}

/// Reason, admission diagnoses, history, procedures and the drugs of the stay.
fn facts_head(ep: &Episode, with_codes: bool) -> String {
    let mut s = String::new();
    if let Some(r) = &ep.reason {
        s.push_str(&format!("Motivo de ingreso: {}.\n", inline_name(r)));
    }
    if !ep.admission_diagnoses.is_empty() {
        s.push_str(&format!(
            "Diagnósticos de ingreso: {}.\n",
            diagnoses(&ep.admission_diagnoses, with_codes)
        ));
    }
    if !ep.history.medical.is_empty() {
        let h: Vec<String> = ep.history.medical.iter().map(|x| inline_name(x)).collect();
        s.push_str(&format!("Antecedentes: {}.\n", h.join("; ")));
    }
    if !ep.procedures.is_empty() {
        let p: Vec<String> = ep
            .procedures
            .iter()
            .map(|p| {
                format!(
                    "{}{}",
                    inline_name(&p.name),
                    code(with_codes, p.code.as_ref().map(|c| c.display()))
                )
            })
            .collect();
        s.push_str(&format!("Procedimientos: {}.\n", p.join("; ")));
    }
    let drugs: Vec<String> = ep
        .treatments
        .iter()
        .map(|m| {
            if with_codes {
                crate::prose::medication_inline(m)
            } else if m.kind == ItemKind::Drug {
                drug_name(&m.name)
            } else {
                inline_name(m.raw.as_deref().unwrap_or(&m.name))
            }
        })
        .collect();
    if !drugs.is_empty() {
        s.push_str(&format!(
            "Medicamentos durante la hospitalización: {}.\n",
            drugs.join("; ")
        ));
    }
    s
}

/// At most two style examples, each cut to 600 characters (a style needs no more).
/// The evolution paragraph of an approved epicrisis (for [`PipelineOptions::style_examples`]):
/// the lines under a heading that starts with «Evolución» up to the next blank line, or
/// the words after «Evolución …:» on its own line. `None` when the text has neither.
pub fn evolution_paragraph(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim().trim_start_matches('#').trim();
        let lower = t.to_lowercase();
        if !lower.starts_with("evolución") && !lower.starts_with("evolucion") {
            continue;
        }
        let heading = t.trim_end_matches(':');
        if heading.chars().count() <= 60 && !heading.contains(['.', ':']) {
            let body: Vec<&str> = lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .skip_while(|l| l.is_empty())
                .take_while(|l| !l.is_empty())
                .collect();
            if !body.is_empty() {
                return Some(body.join(" "));
            }
        } else if let Some((_, rest)) = t.split_once(':') {
            let rest = rest.trim();
            if rest.split_whitespace().count() >= 4 {
                return Some(rest.to_string());
            }
        }
    }
    None
}

/// How many of `examples` [`style_block`] shows.
pub(crate) fn shown_style_examples(examples: &[String]) -> usize {
    examples
        .iter()
        .filter(|e| !e.trim().is_empty())
        .take(2)
        .count()
}

pub(crate) fn style_block(examples: &[String]) -> String {
    let shown: Vec<String> = examples
        .iter()
        .filter(|e| !e.trim().is_empty())
        .take(2)
        .map(|e| {
            let flat = e.split_whitespace().collect::<Vec<_>>().join(" ");
            let cut: String = flat.chars().take(600).collect();
            format!("- «{cut}»")
        })
        .collect();
    if shown.is_empty() {
        return String::new();
    }
    format!(
        "\n\nAsí redacta este hospital la evolución en epicrisis aprobadas de otros pacientes (imita solo el estilo; sus datos no son de este paciente y no deben aparecer):\n{}",
        shown.join("\n")
    )
}

pub(crate) fn messages(
    ep: &Episode,
    strategy: Strategy,
    notes: &str,
    style_examples: &[String],
    avoid: &[String],
) -> Vec<ChatMessage> {
    conversation(
        task_for(ep, strategy),
        &facts_with_notes(ep, strategy == Strategy::Full, notes),
        style_examples,
        avoid,
        &[],
    )
}

/// The messages of one answer: the fixed prefix (instructions and worked example), the
/// task with its facts, and then, for a repair, the conversation so far — each earlier
/// answer of the model and the objection it got — so the model sees what it wrote and
/// exactly what the data does not support (and the KV cache can keep the prefix).
/// `avoid`: words an earlier draft was faulted for, named in the first request.
pub(crate) fn conversation(
    task: &str,
    facts: &str,
    style_examples: &[String],
    avoid: &[String],
    turns: &[(String, String)],
) -> Vec<ChatMessage> {
    // The worked example's own task is not written twice: its request already holds it,
    // and on a compact record it was a quarter of the tokens a draft computes. A short
    // reminder of its form stays (without one, 2 of 24 dev records got no usable answer).
    let task = if task == task_text(Strategy::Narrative) {
        SAME_TASK
    } else {
        task
    };
    let mut request = format!("{task}{}\n\n{facts}", style_block(style_examples));
    if !avoid.is_empty() {
        request.push_str(&format!(
            "\n\nImportante: estos datos no respaldan {}; no escribas esas palabras. Escribe solo lo que dicen los datos.",
            quoted(avoid)
        ));
    }
    let mut m = vec![
        ChatMessage::system(SYSTEM),
        ChatMessage::user(format!(
            "{}\n\n{EXAMPLE_FACTS}",
            task_text(Strategy::Narrative)
        )),
        ChatMessage::assistant(EXAMPLE_ANSWER),
        ChatMessage::user(request),
    ];
    for (answer, objection) in turns {
        m.push(ChatMessage::assistant(answer.clone()));
        m.push(ChatMessage::user(objection.clone()));
    }
    m
}

/// The request of a record whose task is the worked example's ([`task_text`]): its
/// form in brief. Measured on the first 24 dev records (Qwen2.5-Coder-1.5B, 2 threads):
/// 182 prompt tokens computed per draft instead of 243, 4.95 s per draft instead of 6.30,
/// ROUGE-L 0.749 against 0.748.
pub(crate) const SAME_TASK: &str = "Ahora este paciente: una o dos oraciones breves, en prosa, con las palabras de sus notas de evolución.";

/// The messages before the task: the part of every prompt that never changes.
pub(crate) const FIXED_MESSAGES: usize = 3;

/// `«a», «b»`.
pub(crate) fn quoted(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("«{w}»"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Cleans a model's answer: drops headings, list marks, quotes and a leading label, keeps
/// whole sentences.
pub fn clean_model_text(raw: &str) -> String {
    let mut lines: Vec<&str> = raw
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.retain(|l| !l.starts_with('#'));
    let mut s = lines
        .iter()
        .map(|l| l.trim_start_matches(['-', '*', '•', ' ']))
        .collect::<Vec<_>>()
        .join(" ");
    for label in [
        "Evolución clínica:",
        "Evolución:",
        "Epicrisis:",
        "Respuesta:",
        "Resumen:",
    ] {
        if let Some(rest) = s.strip_prefix(label) {
            s = rest.trim().to_string();
        }
    }
    // The writer says these; a model that goes on to them has left its part.
    for tail in [
        "Diagnóstico de egreso",
        "Diagnósticos de egreso",
        "Indicaciones al alta",
        "Medicamentos al alta",
        "Medicamentos de alta",
    ] {
        if let Some(p) = s.find(tail)
            && p > 0
        {
            s.truncate(p);
        }
    }
    let s = s.trim().to_string();
    let s = s
        .replace("**", "")
        .trim_matches(['"', '«', '»', ' '])
        .to_string();
    // Keep whole sentences only (a cut-off last sentence is dropped).
    match s.rfind('.') {
        Some(p) if p + 1 < s.len() && p > s.len() / 3 => s[..=p].to_string(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worked_examples_task_is_not_written_twice() {
        let facts = "Notas de evolución:\n- día 1: Afebril.\n";
        let m = conversation(task_text(Strategy::Narrative), facts, &[], &[], &[]);
        assert_eq!(m.len(), FIXED_MESSAGES + 1);
        let task = task_text(Strategy::Narrative);
        assert!(m[1].content.starts_with(task), "{}", m[1].content);
        let request = &m[FIXED_MESSAGES].content;
        assert!(request.starts_with(SAME_TASK), "{request}");
        assert!(!request.contains(task), "{request}");
        assert!(request.ends_with(facts), "{request}");
        // Another task (a step of a long stay) is written in full.
        let other = "Resume la evolución de los días 1 a 4.";
        let m = conversation(other, facts, &[], &[], &[]);
        assert!(m[FIXED_MESSAGES].content.starts_with(other));
    }
}
