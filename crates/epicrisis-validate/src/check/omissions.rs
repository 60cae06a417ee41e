//! Omissions: items of the data that the text leaves out. A discharge medication or
//! diagnosis counts as stated only where the text states the discharge; naming it in
//! the hospital course does not prescribe it.

use super::{Analysis, QUALIFIERS};
use crate::report::{Category, Finding, Kind, Severity};
use epicrisis_domain::ItemKind;
use epicrisis_domain::codes::code_key;
use epicrisis_domain::lexicon::{ConceptId, ConceptKind, content_tokens, lexicon};
use epicrisis_domain::text::{fold_words, tokenize_chars};
use std::collections::HashSet;

/// The lexicon concepts an item's name names, and its content words (qualifiers, one
/// letter and bare numbers left out).
fn item_terms(name: &str) -> (Vec<ConceptId>, Vec<String>) {
    let chars: Vec<char> = name.chars().collect();
    let toks = tokenize_chars(&chars);
    let ct = content_tokens(&chars, &toks);
    let specific = lexicon()
        .find_terms(&ct, true)
        .into_iter()
        .flat_map(|m| m.concepts)
        .collect();
    let keys = ct
        .iter()
        .map(|c| c.key.clone())
        .filter(|k| {
            !QUALIFIERS.contains(&k.as_str())
                && k.len() > 1
                && !k.chars().all(|c| c.is_ascii_digit())
        })
        .collect();
    (specific, keys)
}

/// Whether `found` has most of `keys` (60 %), the first one included; a name without
/// content words counts as named.
fn most_words(keys: &[String], found: impl Fn(&str) -> bool) -> bool {
    let Some(first) = keys.first() else {
        return true;
    };
    let present = keys.iter().filter(|k| found(k)).count();
    present * 10 >= keys.len() * 6 && found(first)
}

/// A part of the text: which positions it holds, and the content stems found there.
struct Region<'s> {
    holds: Box<dyn Fn(usize) -> bool + 's>,
    stems: HashSet<&'s str>,
}

impl Analysis<'_> {
    fn region<'s>(&'s self, holds: impl Fn(usize) -> bool + 's) -> Region<'s> {
        let stems = self
            .content
            .iter()
            .filter(|c| holds(self.tokens[c.token].start))
            .map(|c| c.key.as_str())
            .collect();
        Region {
            holds: Box::new(holds),
            stems,
        }
    }

    fn names_item(&self, name: &str, code: Option<&str>) -> bool {
        if let Some(c) = code {
            let key = code_key(c);
            if self.text_code_keys.contains(&key)
                || (key.len() > 3
                    && key
                        .get(..3)
                        .is_some_and(|k| self.text_code_keys.contains(k)))
            {
                return true;
            }
        }
        let lx = lexicon();
        let (specific, keys) = item_terms(name);
        if specific
            .iter()
            .any(|c| self.text_concepts.contains(c) && lx.concept(*c).kind == ConceptKind::Drug)
        {
            return true;
        }
        most_words(&keys, |k| self.text_stems.contains(k))
            || specific.iter().any(|c| self.text_concepts.contains(c))
    }

    /// Does the part of the text where `region` holds name this item: its code, a
    /// concept of its name, or most of its words (the first one included)?
    fn names_item_in(&self, name: &str, code: Option<&str>, region: &Region<'_>) -> bool {
        if let Some(c) = code {
            let key = code_key(c);
            // A code's category (J18 of J18.9); `get` because a source code may be any text.
            let short = key.get(..3).filter(|_| key.len() > 3);
            if self.codes.iter().any(|s| {
                (region.holds)(s.start) && {
                    let k = code_key(&s.text);
                    k == key || Some(k.as_str()) == short
                }
            }) {
                return true;
            }
        }
        let (specific, keys) = item_terms(name);
        if self
            .mentions
            .iter()
            .any(|m| (region.holds)(m.start) && m.concepts.iter().any(|c| specific.contains(c)))
        {
            return true;
        }
        most_words(&keys, |k| region.stems.contains(k))
    }

    /// Is this discharge diagnosis also an admission diagnosis (same code or name)? Then
    /// naming it once, at admission, states it.
    fn is_admission_diagnosis(&self, d: &epicrisis_domain::Diagnosis) -> bool {
        let key = d.code.as_ref().map(|c| code_key(&c.raw));
        let name = fold_words(&d.name);
        self.episode.admission_diagnoses.iter().any(|a| {
            (key.is_some() && a.code.as_ref().map(|c| code_key(&c.raw)) == key)
                || fold_words(&a.name) == name
        })
    }

    /// Does the part of the text where `region` holds name this discharge medication?
    /// When several discharge items are the same drug (rivaroxabán 15 mg, then 20 mg),
    /// the dose written with the name must be this item's.
    fn names_med_in(&self, med: &epicrisis_domain::Medication, region: &Region<'_>) -> bool {
        let lx = lexicon();
        let chars: Vec<char> = med.name.chars().collect();
        let toks = tokenize_chars(&chars);
        let ct = content_tokens(&chars, &toks);
        let concepts: Vec<ConceptId> = lx
            .find_terms(&ct, true)
            .into_iter()
            .flat_map(|m| m.concepts)
            .collect();
        let twins = self
            .episode
            .discharge
            .medications
            .iter()
            .filter(|o| o.kind == ItemKind::Drug && !std::ptr::eq(*o, med))
            .any(|o| {
                o.name == med.name
                    || self.ix.meds.iter().any(|x| {
                        x.discharge
                            && x.name == o.name
                            && x.concepts.iter().any(|c| concepts.contains(c))
                    })
            });
        if twins {
            return self.mentions.iter().any(|m| {
                (region.holds)(m.start)
                    && m.concepts.iter().any(|c| concepts.contains(c))
                    && (med.all_doses().next().is_none()
                        || med
                            .all_doses()
                            .any(|d| m.doses.iter().any(|x| x.same_as(d))))
            });
        }
        if let Some(c) = med.code.as_ref().map(|c| c.raw.as_str()) {
            let key = code_key(c);
            if self
                .codes
                .iter()
                .any(|s| (region.holds)(s.start) && code_key(&s.text) == key)
            {
                return true;
            }
        }
        if self
            .mentions
            .iter()
            .any(|m| (region.holds)(m.start) && m.concepts.iter().any(|c| concepts.contains(c)))
        {
            return true;
        }
        let region_stems = &region.stems;
        let keys: Vec<&str> = ct.iter().map(|c| c.key.as_str()).collect();
        !keys.is_empty() && keys.iter().all(|k| region_stems.contains(k))
    }

    pub(super) fn check_omissions(&mut self) {
        let mut out = Vec::new();
        self.discharge_omissions(&mut out);
        self.stay_omissions(&mut out);
        self.record_omissions(&mut out);
        self.findings.extend(out);
    }

    /// The discharge diagnoses and medications the text leaves out, or names only
    /// outside the part that states the discharge.
    fn discharge_omissions(&self, out: &mut Vec<Finding>) {
        let ep = self.episode;
        let states_discharge = self.states_discharge();
        // Built once: a list of thousands of items must not rescan the text per item.
        let statements = self.region(|p| self.in_statement(p));
        for d in &ep.discharge_diagnoses {
            let code = d.code.as_ref().map(|c| c.raw.as_str());
            let message = if !self.names_item(&d.name, code) {
                format!("Falta el diagnóstico de egreso «{}».", d.name)
            } else if states_discharge
                && !self.is_admission_diagnosis(d)
                && !self.names_item_in(&d.name, code, &statements)
            {
                format!(
                    "El diagnóstico de egreso «{}» se nombra, pero no donde el texto describe el alta.",
                    d.name
                )
            } else {
                continue;
            };
            out.push(omission(
                Severity::Error,
                Category::Diagnosis,
                label(&d.name, d.code.as_ref().map(|c| c.display())),
                message,
            ));
        }
        for m in ep
            .discharge
            .medications
            .iter()
            .filter(|m| m.kind == ItemKind::Drug)
        {
            let code = m.code.as_ref().map(|c| c.raw.as_str());
            // Named in the hospital course only, a drug is not prescribed at discharge.
            let named = if states_discharge {
                self.names_med_in(m, &statements)
            } else {
                self.names_item(&m.name, code)
            };
            if !named {
                out.push(omission(
                    Severity::Error,
                    Category::Medication,
                    label(&m.name, m.code.as_ref().map(|c| c.display())),
                    format!(
                        "Falta el medicamento de alta «{}».",
                        m.raw.as_deref().unwrap_or(&m.name)
                    ),
                ));
            }
        }
    }

    /// The admission diagnoses, procedures, hospital treatments and controls the text
    /// does not name.
    fn stay_omissions(&self, out: &mut Vec<Finding>) {
        let ep = self.episode;
        for d in &ep.admission_diagnoses {
            if !self.names_item(&d.name, d.code.as_ref().map(|c| c.raw.as_str())) {
                out.push(omission(
                    Severity::Warning,
                    Category::Diagnosis,
                    label(&d.name, d.code.as_ref().map(|c| c.display())),
                    format!("No se menciona el diagnóstico de ingreso «{}».", d.name),
                ));
            }
        }
        for p in &ep.procedures {
            if !self.names_item(&p.name, p.code.as_ref().map(|c| c.raw.as_str())) {
                out.push(omission(
                    Severity::Warning,
                    Category::Procedure,
                    label(&p.name, p.code.as_ref().map(|c| c.display())),
                    format!("No se menciona el procedimiento «{}».", p.name),
                ));
            }
        }
        for m in ep.treatments.iter().filter(|m| m.kind == ItemKind::Drug) {
            if !self.names_item(&m.name, m.code.as_ref().map(|c| c.raw.as_str())) {
                out.push(omission(
                    Severity::Warning,
                    Category::Medication,
                    label(&m.name, m.code.as_ref().map(|c| c.display())),
                    format!(
                        "No se menciona el tratamiento intrahospitalario «{}» (Ley 20.584, art. 11 d).",
                        m.name
                    ),
                ));
            }
        }
        for c in &ep.discharge.controls {
            if !self.names_item(c, None) {
                out.push(omission(
                    Severity::Warning,
                    Category::Control,
                    c.clone(),
                    format!("No se menciona el control «{c}» (Ley 20.584, art. 11 e)."),
                ));
            }
        }
    }

    /// Ley 20.584 art. 11: the dates of admission and discharge, the laboratory tests and
    /// the patient's identification, when the data has them and the text leaves them out.
    fn record_omissions(&self, out: &mut Vec<Finding>) {
        let ep = self.episode;
        for (date, what) in [(ep.admission_date, "ingreso"), (ep.discharge_date, "alta")] {
            if let Some(d) = date
                && !self.date_values.iter().any(|(full, dm)| {
                    *full == Some(d) || (full.is_none() && *dm == (d.day(), d.month()))
                })
            {
                out.push(omission(
                    Severity::Warning,
                    Category::Date,
                    d.to_dmy(),
                    format!(
                        "No se consigna la fecha de {what} ({}) (Ley 20.584, art. 11 b).",
                        d.to_dmy()
                    ),
                ));
            }
        }
        if !ep.labs.is_empty()
            && !self.mentions.iter().any(|m| m.kind == ConceptKind::Lab)
            && !ep.labs.iter().any(|l| self.names_item(&l.test, None))
        {
            out.push(omission(
                Severity::Warning,
                Category::Lab,
                "exámenes".to_string(),
                "No se mencionan los exámenes de laboratorio relevantes (Ley 20.584, art. 11 c)."
                    .to_string(),
            ));
        }
        if let Some(name) = &ep.patient.name
            && !self.names_item(name, None)
        {
            out.push(omission(
                Severity::Warning,
                Category::Other,
                "identificación".to_string(),
                "No se identifica al paciente (Ley 20.584, art. 11 a).".to_string(),
            ));
        }
    }
}

/// An omission finding: it has no span in the text.
fn omission(severity: Severity, category: Category, mention: String, message: String) -> Finding {
    Finding {
        severity,
        kind: Kind::Omission,
        category,
        mention,
        span: None,
        claim: None,
        message,
    }
}

fn label(name: &str, code: Option<String>) -> String {
    match code {
        Some(c) => format!("{name} ({c})"),
        None => name.to_string(),
    }
}
