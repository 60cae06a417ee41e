//! `Condition` (admission and discharge diagnoses, or past history when it is only a
//! problem-list item) and `Procedure`, with their codes read through the [`CodeReader`].

use super::json::{arr, coding_in, concept_text, date_of, has_code, s};
use super::{CodeReader, FhirError, Reader, Res, Roles, err};
use epicrisis_domain::text::fold_words;
use epicrisis_domain::{Diagnosis, Episode, Procedure, WarningKind};
use serde_json::Value;

/// Reads every `Condition`; an episode without a single diagnosis is refused.
pub(super) fn read_conditions(
    rd: &Reader<'_>,
    roles: &Roles,
    codes: &mut dyn CodeReader,
    ep: &mut Episode,
) -> Result<(), FhirError> {
    for c in rd.of_type("Condition") {
        read_condition(rd, c, roles, codes, ep);
    }
    if ep.admission_diagnoses.is_empty() && ep.discharge_diagnoses.is_empty() {
        return Err(err(
            "entry",
            "the Bundle has no Condition resources (diagnoses); an epicrisis needs at least one \
             admission or discharge diagnosis",
        ));
    }
    Ok(())
}

/// One Condition: a diagnosis in the role the Encounter, the Composition or its category
/// gives it; without one, a problem-list item is past history, anything else a discharge
/// diagnosis with a warning.
fn read_condition(
    rd: &Reader<'_>,
    c: &Res<'_>,
    roles: &Roles,
    codes: &mut dyn CodeReader,
    ep: &mut Episode,
) {
    let v = Value::Object(c.r.clone());
    let concept = v.get("code").cloned().unwrap_or(Value::Null);
    let name = concept_text(&concept).unwrap_or_else(|| "Diagnóstico sin nombre".into());
    let problem_list = arr(&v, "category")
        .iter()
        .any(|k| has_code(k, "problem-list-item"));
    let role = roles
        .get(&rd.key_of(c))
        .copied()
        .or_else(|| category_role(&v));
    let role = match role {
        Some(r) => r,
        None if problem_list => {
            ep.history.medical.push(name);
            return;
        }
        None => {
            codes.warn(
                WarningKind::Inconsistent,
                &c.path,
                format!(
                    "Condition \"{name}\" is not marked as an admission or discharge diagnosis \
                     (Encounter.diagnosis.use AD/DD); read as a discharge diagnosis"
                ),
                format!(
                    "El diagnóstico «{name}» no indica si es de ingreso o de egreso \
                     (Encounter.diagnosis.use AD/DD); se leyó como diagnóstico de egreso."
                ),
            );
            true
        }
    };
    let code = coding_in(&concept, &["icd-10", "icd10", "cie-10", "cie10"])
        .and_then(|(i, raw)| codes.icd10(raw, &format!("{}.code.coding[{i}].code", c.path)));
    let d = Diagnosis { name, code };
    if role {
        ep.discharge_diagnoses.push(d);
    } else {
        ep.admission_diagnoses.push(d);
    }
}

/// The role a Condition's category words give (`egreso`/`alta`: discharge, `ingreso`:
/// admission), for servers that send no Encounter roles.
fn category_role(v: &Value) -> Option<bool> {
    let cat: String = arr(v, "category")
        .iter()
        .filter_map(concept_text)
        .collect::<Vec<_>>()
        .join(" ");
    let f = fold_words(&cat);
    if f.contains("egreso") || f.contains("alta") {
        Some(true)
    } else if f.contains("ingreso") {
        Some(false)
    } else {
        None
    }
}

/// Reads every `Procedure`: name, code (the first coding with a code) and date.
pub(super) fn read_procedures(rd: &Reader<'_>, codes: &mut dyn CodeReader, ep: &mut Episode) {
    for p in rd.of_type("Procedure") {
        let v = Value::Object(p.r.clone());
        let concept = v.get("code").cloned().unwrap_or(Value::Null);
        let name = concept_text(&concept).unwrap_or_else(|| "Procedimiento sin nombre".into());
        let code = arr(&concept, "coding")
            .iter()
            .enumerate()
            .find_map(|(i, x)| {
                let raw = s(x, "code")?;
                codes.procedure(raw, &format!("{}.code.coding[{i}].code", p.path))
            });
        let date = date_of(s(&v, "performedDateTime")).or_else(|| {
            v.get("performedPeriod")
                .and_then(|x| date_of(s(x, "start")))
        });
        ep.procedures.push(Procedure { name, code, date });
    }
}
