//! Field names as hospital exports write them. Before an episode object is read, every key
//! of every object in it is brought to the name the readers use: accents, case and
//! separators do not matter (`Diagnóstico Egreso`, `diagnosticoEgreso`,
//! `DIAGNOSTICO-EGRESO` are `diagnostico_egreso`), and the synonyms of [`SYNONYMS`] are
//! their canonical key (`diagnosticos_egreso`, `diagnostico_alta`). A key whose canonical
//! name is already present is left as it is and reported, and a top-level key that no
//! reader knows is a warning that names it: a field the program did not read must never
//! vanish without a word to the physician.

use crate::json::Ctx;
use epicrisis_domain::WarningKind;
use serde_json::{Map, Value};

/// Synonym → canonical key (both as [`normalise`] writes them).
const SYNONYMS: &[(&str, &str)] = &[
    // Diagnoses.
    ("diagnosticos_ingreso", "diagnostico_ingreso"),
    ("diagnostico_de_ingreso", "diagnostico_ingreso"),
    ("diagnosticos_de_ingreso", "diagnostico_ingreso"),
    ("dx_ingreso", "diagnostico_ingreso"),
    ("diagnostico_admision", "diagnostico_ingreso"),
    ("diagnosticos_egreso", "diagnostico_egreso"),
    ("diagnostico_de_egreso", "diagnostico_egreso"),
    ("diagnosticos_de_egreso", "diagnostico_egreso"),
    ("diagnostico_alta", "diagnostico_egreso"),
    ("diagnosticos_alta", "diagnostico_egreso"),
    ("diagnostico_al_alta", "diagnostico_egreso"),
    ("diagnosticos_al_alta", "diagnostico_egreso"),
    ("dx_egreso", "diagnostico_egreso"),
    // Procedures and treatments.
    ("procedimiento", "procedimientos"),
    ("procedimientos_realizados", "procedimientos"),
    ("tratamientos_intrahospitalarios", "tratamientos_intrahosp"),
    ("tratamiento_intrahospitalario", "tratamientos_intrahosp"),
    ("tratamiento_intrahosp", "tratamientos_intrahosp"),
    ("tratamientos_hospitalizacion", "tratamientos_intrahosp"),
    ("medicamentos_intrahosp", "tratamientos_intrahosp"),
    ("farmacos_intrahosp", "tratamientos_intrahosp"),
    // Notes and labs.
    ("evoluciones", "evolucion_resumen"),
    ("evolucion_diaria", "evolucion_resumen"),
    ("notas_evolucion", "evolucion_resumen"),
    ("notas_de_evolucion", "evolucion_resumen"),
    ("resumen_evolucion", "evolucion_resumen"),
    ("laboratorio_resumen", "laboratorios_resumen"),
    ("laboratorios", "laboratorios_resumen"),
    ("examenes_laboratorio", "laboratorios_resumen"),
    ("examenes_de_laboratorio", "laboratorios_resumen"),
    ("resumen_laboratorios", "laboratorios_resumen"),
    // Discharge and the rest.
    ("indicaciones_al_alta", "indicaciones_alta"),
    ("indicaciones_de_alta", "indicaciones_alta"),
    ("indicaciones_egreso", "indicaciones_alta"),
    ("signos_de_alarma", "signos_alarma"),
    ("controles_medicos", "controles"),
    ("motivo_de_ingreso", "motivo_ingreso"),
    ("motivo_hospitalizacion", "motivo_ingreso"),
    ("motivo_de_hospitalizacion", "motivo_ingreso"),
    ("antecedentes_medicos", "antecedentes"),
    ("antecedentes_morbidos", "antecedentes"),
    ("fecha_de_ingreso", "fecha_ingreso"),
    ("fecha_admision", "fecha_ingreso"),
    ("fecha_de_alta", "fecha_alta"),
    ("fecha_egreso", "fecha_alta"),
    ("fecha_de_egreso", "fecha_alta"),
    ("medico", "medico_tratante"),
    ("datos_paciente", "paciente"),
    ("datos_atencion", "atencion"),
    ("id_episodio", "id_atencion"),
];

/// A key in the readers' spelling: accents folded, lower case, camelCase split, spaces,
/// hyphens and dots as underscores (`Diagnóstico-Egreso` → `diagnostico_egreso`).
pub(crate) fn normalise(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let mut prev_lower = false;
    for c in key.trim().chars() {
        if c.is_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        if c.is_whitespace() || matches!(c, '-' | '.' | '_') {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            continue;
        }
        out.push(epicrisis_domain::text::fold_char(c));
    }
    let trimmed = out.trim_end_matches('_');
    trimmed.to_string()
}

/// The canonical name of a key: [`normalise`], then [`SYNONYMS`].
pub(crate) fn canonical(key: &str) -> String {
    let n = normalise(key);
    SYNONYMS
        .iter()
        .find(|(s, _)| *s == n)
        .map_or(n, |(_, c)| (*c).to_string())
}

/// `v` with every object's keys canonical ([`canonical`]), recursively. A key whose
/// canonical name the object already has (`diagnostico_egreso` and `diagnosticos_egreso`)
/// keeps its own name and is reported: the readers read only the canonical one.
pub(crate) fn canonical_value(ctx: &mut Ctx<'_>, v: &Value, path: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(canonical_object(ctx, m, path)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| canonical_value(ctx, x, &format!("{path}[{i}]")))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub(crate) fn canonical_object(
    ctx: &mut Ctx<'_>,
    m: &Map<String, Value>,
    path: &str,
) -> Map<String, Value> {
    let mut out = Map::with_capacity(m.len());
    // Keys already canonical win over variants that would take their name.
    let mut pending = Vec::new();
    for (k, v) in m {
        let c = canonical(k);
        if c == *k {
            let at = crate::json::key(path, k);
            out.insert(k.clone(), canonical_value(ctx, v, &at));
        } else {
            pending.push((k, c, v));
        }
    }
    for (k, c, v) in pending {
        let at = crate::json::key(path, k);
        let value = canonical_value(ctx, v, &at);
        if out.contains_key(&c) {
            ctx.warn(
                WarningKind::Unreadable,
                &at,
                format!("the object also has «{c}», which was read; «{k}» was not read"),
                format!(
                    "El dato «{k}» repite «{c}», que sí se leyó; «{k}» no se leyó. Revise \
                     que no falte nada de «{k}» en el borrador."
                ),
            );
            out.insert(k.clone(), value);
        } else {
            out.insert(c, value);
        }
    }
    out
}

/// Warns about every top-level key of an episode object that no reader takes.
pub(crate) fn warn_unknown(ctx: &mut Ctx<'_>, m: &Map<String, Value>, known: &[&[&str]]) {
    for (k, v) in m {
        let empty = match v {
            Value::Null => true,
            Value::String(s) => s.trim().is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if empty || known.iter().any(|ks| ks.contains(&k.as_str())) {
            continue;
        }
        ctx.warn(
            WarningKind::Unreadable,
            k,
            format!(
                "a field this program does not know ({}); it was not read. If it holds \
                 clinical data, rename it to one of the accepted fields (docs/input-formats.md)",
                shape_of(v)
            ),
            format!(
                "El campo «{k}» no es un campo conocido y no se leyó; si contiene datos \
                 clínicos, revíselos y agréguelos al borrador a mano."
            ),
        );
    }
}

/// What a value is, without its content (warnings in English may reach logs).
fn shape_of(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("a list of {} items", a.len()),
        Value::Object(o) => format!("an object with {} fields", o.len()),
        Value::String(s) => format!("a text of {} characters", s.chars().count()),
        Value::Number(_) => "a number".to_string(),
        Value::Bool(_) => "a true/false value".to_string(),
        Value::Null => "null".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spellings_and_synonyms_become_the_readers_key() {
        for k in [
            "diagnostico_egreso",
            "Diagnóstico Egreso",
            "diagnosticoEgreso",
            "DIAGNOSTICO-EGRESO",
            "diagnosticos_egreso",
            "Diagnósticos de egreso",
            "diagnostico_alta",
        ] {
            assert_eq!(canonical(k), "diagnostico_egreso", "{k}");
        }
        assert_eq!(canonical("idAtencion"), "id_atencion");
        assert_eq!(canonical("Fármacos"), "farmacos");
        assert_eq!(canonical("dx_alta"), "dx_alta");
        assert_eq!(canonical("evo"), "evo");
    }

    #[test]
    fn nested_keys_are_canonical_and_a_duplicate_is_reported_not_lost() {
        let mut ctx = Ctx::new("t.json", None);
        let v = json!({
            "Diagnóstico Egreso": [{"Código": "J18.9", "Nombre": "Neumonía"}],
            "indicacionesAlta": {"Medicamentos": ["Paracetamol 1 g"]},
            "diagnostico_ingreso": [],
            "diagnosticos_ingreso": [{"codigo": "J18.9"}]
        });
        let c = canonical_value(&mut ctx, &v, "");
        assert_eq!(c["diagnostico_egreso"][0]["codigo"], "J18.9");
        assert_eq!(c["diagnostico_egreso"][0]["nombre"], "Neumonía");
        assert_eq!(c["indicaciones_alta"]["medicamentos"][0], "Paracetamol 1 g");
        assert_eq!(c["diagnostico_ingreso"], json!([]));
        assert!(c.get("diagnosticos_ingreso").is_some());
        assert_eq!(ctx.warnings.len(), 1, "{:?}", ctx.warnings);
        assert_eq!(ctx.warnings[0].path, "diagnosticos_ingreso");
    }
}
