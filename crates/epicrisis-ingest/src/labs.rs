//! Laboratory data as exports write it: summaries (`laboratorios_resumen`, first and
//! last value and the period's range) and raw results (`laboratorios_relevantes`,
//! summarised here). A value is a number, a string with its unit and a decimal comma
//! («15,2 mg/dL», «88%»), a bound («<0,01», «> 1000»), or a qualitative result
//! («Negativo», «No reactivo», «++», a germ's name), which becomes a
//! [`LabFinding`](epicrisis_domain::LabFinding) kept as written. Nothing here refuses an
//! episode: what cannot be read is a warning that quotes it.

use crate::error::IngestError;
use crate::json::{self, Ctx, get, key};
use crate::rich::parse_date;
use epicrisis_domain::labs::is_pending_result;
use epicrisis_domain::numbers::{format_es, parse_decimal};
use epicrisis_domain::{
    Comparator, Date, LabFinding, LabResult, LabStatus, LabSummary, LabValue, WarningKind,
};
use serde_json::{Map, Value};

type Obj = Map<String, Value>;

/// What one laboratory value says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reading {
    Number {
        value: f64,
        comparator: Option<Comparator>,
        unit: Option<String>,
    },
    /// A qualitative result, trimmed, as written.
    Text(String),
    /// «Pendiente», «-»: no result yet.
    Pending,
}

/// Reads a laboratory value; `None` for what cannot be a result (`true`, an object).
pub(crate) fn read_value(v: &Value) -> Option<Reading> {
    if let Value::String(s) = v {
        if is_pending_result(s) {
            return Some(Reading::Pending);
        }
        let (comparator, rest) = match Comparator::strip_prefix(s) {
            Some((c, rest)) => (Some(c), rest),
            None => (None, s.as_str()),
        };
        if let Some((value, unit)) = lab_number(&Value::String(rest.to_string())) {
            // «1/80» is a titre, not one with a unit «/80».
            let titre = unit.as_deref().is_some_and(|u| {
                u.starts_with('/')
                    && u[1..]
                        .trim_start()
                        .starts_with(|c: char| c.is_ascii_digit())
            });
            if !titre {
                return Some(Reading::Number {
                    value,
                    comparator,
                    unit,
                });
            }
        }
        let t = s.trim();
        let qualitative = t.chars().any(char::is_alphabetic)
            || t.chars().all(|c| matches!(c, '+' | '-' | '(' | ')' | ' '))
            || t.contains('/');
        return qualitative.then(|| Reading::Text(t.to_string()));
    }
    lab_number(v).map(|(value, unit)| Reading::Number {
        value,
        comparator: None,
        unit,
    })
}

/// A laboratory number: a JSON number, or a string with a decimal comma or point and
/// possibly a unit after it (`"7,8"`, `"7.8 g/dL"`). Returns the value and the unit.
pub(crate) fn lab_number(v: &Value) -> Option<(f64, Option<String>)> {
    match v {
        Value::Number(n) => n.as_f64().filter(|x| x.is_finite()).map(|x| (x, None)),
        Value::String(s) => {
            let t = s.trim();
            let end = t
                .char_indices()
                .find(|(i, c)| {
                    !(c.is_ascii_digit()
                        || *c == '.'
                        || *c == ','
                        || (*i == 0 && (*c == '-' || *c == '+')))
                })
                .map(|(i, _)| i)
                .unwrap_or(t.len());
            let value = parse_decimal(t[..end].trim_start_matches('+'))?;
            let unit = json::non_empty(&t[end..]);
            Some((value, unit))
        }
        _ => None,
    }
}

fn optional_number(ctx: &mut Ctx<'_>, o: &Obj, k: &str, path: &str) -> Option<f64> {
    let v = get(o, k)?;
    if matches!(v, Value::String(s) if s.trim().is_empty()) {
        return None;
    }
    match lab_number(v) {
        Some((x, _)) => Some(x),
        None => {
            ctx.warn(
                WarningKind::Unreadable,
                &key(path, k),
                format!("{} is not a number; left out", json::describe(v)),
                format!(
                    "Se recibió {}, que no es un número; se omitió.",
                    json::describe_es(v)
                ),
            );
            None
        }
    }
}

/// A value that sorts by time: the timestamp as written when it starts with the year,
/// otherwise the parsed date (`15/12/2025 08:00` would sort wrongly as text).
pub(crate) fn sortable_timestamp(raw: &str, date: Option<Date>) -> Option<String> {
    let starts_with_year = raw.len() >= 4 && raw.as_bytes()[..4].iter().all(u8::is_ascii_digit);
    if starts_with_year {
        Some(raw.to_string())
    } else {
        let time = raw.split_once([' ', 'T']).map(|(_, t)| t.trim());
        match (date, time) {
            (Some(d), Some(t)) => Some(format!("{d}T{t}")),
            (Some(d), None) => Some(d.to_string()),
            (None, _) => Some(raw.to_string()),
        }
    }
}

/// One value of a summary (`ingreso`, `ultimo`); `None` when it holds no number: a
/// qualitative result goes to the findings, anything else is a warning.
fn lab_value(
    ctx: &mut Ctx<'_>,
    v: &Value,
    path: &str,
    test: &str,
    unit: &mut Option<String>,
) -> Result<Option<LabValue>, IngestError> {
    // Many exports write the result alone: `"ingreso": "15,2 mg/dL"` or `16800`.
    if matches!(v, Value::String(_) | Value::Number(_)) {
        let obj: Obj = [("valor".to_string(), v.clone())].into_iter().collect();
        return lab_value(ctx, &Value::Object(obj), path, test, unit);
    }
    let o = json::object(
        ctx,
        v,
        path,
        "an object {valor, fecha, rango_inferior, rango_superior, estado}, or the value alone",
    )?;
    let Some(raw_value) = get(&o, "valor") else {
        ctx.warn(
            WarningKind::Unreadable,
            path,
            "no \"valor\"; the test is left out of the summary",
            "Falta el campo «valor»; el examen no se incluyó en el resumen.",
        );
        return Ok(None);
    };
    let fecha = json::text_or_number(ctx, &o, "fecha", path)?;
    let date = fecha
        .as_deref()
        .and_then(|f| parse_date(ctx, f, &key(path, "fecha")));
    let timestamp = fecha.as_deref().and_then(|f| sortable_timestamp(f, date));
    let (value, comparator, value_unit) =
        match reading(ctx, raw_value, &key(path, "valor"), test, date, &timestamp) {
            Some(x) => x,
            None => return Ok(None),
        };
    if unit.is_none() {
        *unit = value_unit;
    }
    let range_low = optional_number(ctx, &o, "rango_inferior", path);
    let range_high = optional_number(ctx, &o, "rango_superior", path);
    let flag = json::text(ctx, &o, "estado", path)?;
    Ok(Some(LabValue {
        value,
        comparator,
        date,
        timestamp,
        range_low,
        range_high,
        status: status(flag.as_deref(), value, comparator, range_low, range_high),
    }))
}

/// A value's number, comparator and unit; `None` when it holds no number, after
/// filing a qualitative result as a finding or warning about anything else.
fn reading(
    ctx: &mut Ctx<'_>,
    raw: &Value,
    path: &str,
    test: &str,
    date: Option<Date>,
    timestamp: &Option<String>,
) -> Option<(f64, Option<Comparator>, Option<String>)> {
    match read_value(raw) {
        Some(Reading::Number {
            value,
            comparator,
            unit,
        }) => Some((value, comparator, unit)),
        Some(Reading::Text(result)) => {
            ctx.lab_findings.push(LabFinding {
                test: test.to_string(),
                result,
                date,
                timestamp: timestamp.clone(),
            });
            None
        }
        Some(Reading::Pending) => {
            ctx.warn(
                WarningKind::Unreadable,
                path,
                format!("{} is not a result yet; left out", json::describe(raw)),
                format!(
                    "El examen «{test}» figura sin resultado ({}); no se incluyó.",
                    json::describe_es(raw)
                ),
            );
            None
        }
        None => {
            ctx.warn(
                WarningKind::Unreadable,
                path,
                format!(
                    "{} is not a laboratory result; the test is left out of the summary",
                    json::describe(raw)
                ),
                format!(
                    "Se recibió {}, que no es un resultado de laboratorio; el examen «{test}» no se incluyó en el resumen.",
                    json::describe_es(raw)
                ),
            );
            None
        }
    }
}

fn status(
    flag: Option<&str>,
    value: f64,
    comparator: Option<Comparator>,
    low: Option<f64>,
    high: Option<f64>,
) -> LabStatus {
    match flag.map(LabStatus::from_flag) {
        Some(s) if s != LabStatus::Unclassified => s,
        _ => LabStatus::from_bound(value, comparator, low, high),
    }
}

/// One `laboratorios_resumen[i]`; `None` when it holds no value to summarise.
pub(crate) fn lab_summary(
    ctx: &mut Ctx<'_>,
    item: &Value,
    p: &str,
) -> Result<Option<LabSummary>, IngestError> {
    let o = json::object(
        ctx,
        item,
        p,
        "a {prueba, unidad, ingreso, ultimo, periodo} object",
    )?;
    let Some(test) = json::text(ctx, &o, "prueba", p)? else {
        return Err(json::missing(
            ctx,
            &o,
            p,
            "prueba",
            "the test's name, e.g. \"Hemoglobina\"",
        ));
    };
    let mut unit = json::text(ctx, &o, "unidad", p)?;
    let Some((first, last)) = first_and_last(ctx, &o, p, &test, &mut unit)? else {
        return Ok(None);
    };
    let (min, max) = summary_range(ctx, &o, p, &first, last.as_ref());
    Ok(Some(LabSummary {
        test,
        unit,
        first,
        last,
        min,
        max,
    }))
}

/// The first (`ingreso`) and last (`ultimo`) values of a summary; the last is dropped
/// when it repeats the first. `None` when neither holds a number.
fn first_and_last(
    ctx: &mut Ctx<'_>,
    o: &Obj,
    p: &str,
    test: &str,
    unit: &mut Option<String>,
) -> Result<Option<(LabValue, Option<LabValue>)>, IngestError> {
    let first_v = get(o, "ingreso");
    let last_v = get(o, "ultimo");
    if first_v.is_none() && last_v.is_none() {
        ctx.warn(
            WarningKind::Unreadable,
            p,
            format!("{test:?} has no \"ingreso\" value; left out"),
            format!("El examen «{test}» no tiene el campo «ingreso»; se omitió."),
        );
        return Ok(None);
    }
    let first = match first_v {
        Some(v) => lab_value(ctx, v, &key(p, "ingreso"), test, unit)?,
        None => None,
    };
    // An unreadable last value leaves the first one standing; a qualitative one is a
    // finding of its own.
    let mut last = match last_v {
        Some(v) => {
            let read = lab_value(ctx, v, &key(p, "ultimo"), test, unit);
            json::recover(ctx, read, None, "se omitió el último valor")
        }
        None => None,
    };
    // Only a last value (or a qualitative first one): it is the first number.
    let Some(first) = first.or_else(|| last.take()) else {
        return Ok(None);
    };
    if last
        .as_ref()
        .is_some_and(|l| (l.value - first.value).abs() <= 0.001)
    {
        last = None;
    }
    Ok(Some((first, last)))
}

/// The summary's minimum and maximum: those of its values, replaced by the `periodo`'s
/// own `min`/`max` where it gives them, with a warning when they are the wrong way round.
fn summary_range(
    ctx: &mut Ctx<'_>,
    o: &Obj,
    p: &str,
    first: &LabValue,
    last: Option<&LabValue>,
) -> (f64, f64) {
    let values: Vec<f64> = std::iter::once(first.value)
        .chain(last.map(|l| l.value))
        .collect();
    let mut min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if let Some(pv) = get(o, "periodo") {
        let pp = key(p, "periodo");
        let po = json::object(ctx, pv, &pp, "an object {min, max}").map(|o| o.into_owned());
        let po = json::recover(ctx, po, Obj::new(), "se omitió el período");
        if let Some(x) = optional_number(ctx, &po, "min", &pp) {
            min = x;
        }
        if let Some(x) = optional_number(ctx, &po, "max", &pp) {
            max = x;
        }
        if min > max {
            ctx.warn(
                WarningKind::Inconsistent,
                &pp,
                format!("min {min} is greater than max {max}"),
                format!(
                    "El mínimo ({}) es mayor que el máximo ({}). Verifique ambos valores.",
                    format_es(min),
                    format_es(max)
                ),
            );
        }
    }
    (min, max)
}

/// One `laboratorios_relevantes[i]`; `None` when it holds no number.
pub(crate) fn lab_result(
    ctx: &mut Ctx<'_>,
    item: &Value,
    p: &str,
) -> Result<Option<LabResult>, IngestError> {
    let o = json::object(ctx, item, p, "a {parametro, valor, fecha} object")?;
    let test = match json::get_any(&o, &["parametro", "prueba", "examen"]) {
        Some((k, v)) => json::text_value(ctx, v, &key(p, k))?,
        None => None,
    };
    let Some(test) = test else {
        return Err(json::missing(
            ctx,
            &o,
            p,
            "parametro",
            "the test's name, e.g. \"Hemoglobina\"",
        ));
    };
    let Some(raw_value) = get(&o, "valor") else {
        ctx.warn(
            WarningKind::Unreadable,
            p,
            format!("{test:?} has no \"valor\"; left out"),
            format!("El examen «{test}» no tiene el campo «valor»; se omitió."),
        );
        return Ok(None);
    };
    let fecha = json::text_or_number(ctx, &o, "fecha", p)?;
    let date = fecha
        .as_deref()
        .and_then(|f| parse_date(ctx, f, &key(p, "fecha")));
    let timestamp = fecha.as_deref().and_then(|f| sortable_timestamp(f, date));
    let Some((value, comparator, value_unit)) =
        reading(ctx, raw_value, &key(p, "valor"), &test, date, &timestamp)
    else {
        return Ok(None);
    };
    let unit = json::text(ctx, &o, "unidad", p)?.or(value_unit);
    let flag = match json::get_any(&o, &["estado", "flag"]) {
        Some((k, v)) => json::text_value(ctx, v, &key(p, k))?,
        None => None,
    };
    Ok(Some(LabResult {
        test,
        unit,
        value,
        comparator,
        timestamp,
        date,
        range_low: optional_number(ctx, &o, "rango_inferior", p),
        range_high: optional_number(ctx, &o, "rango_superior", p),
        flag,
    }))
}
