//! FHIR `Dosage` from a medication's posology: the Spanish text, timing (frequency,
//! bounds), route with its SNOMED CT code, and the dose quantity; one `Dosage` per step
//! of a regimen given in steps (`sequence` 1, 2, …), which the importer reads back into
//! the same steps.

use crate::export::num;
use crate::import::{arr, coding_in, concept_text, first, s};
use crate::{SNOMED, UCUM};
use epicrisis_domain::posology::parse_item;
use epicrisis_domain::text::fold_words;
use epicrisis_domain::{Dose, DoseUnit, Duration, Frequency, Medication, Phase, Route, TimeUnit};
use serde_json::{Map, Value, json};

fn route_snomed(r: &Route) -> Option<(&'static str, &'static str)> {
    Some(match r {
        Route::Oral => ("26643006", "Oral route"),
        Route::Intravenous => ("47625008", "Intravenous route"),
        Route::Intramuscular => ("78421000", "Intramuscular route"),
        Route::Subcutaneous => ("34206005", "Subcutaneous route"),
        Route::Sublingual => ("37839007", "Sublingual route"),
        Route::Topical => ("6064005", "Topical route"),
        Route::Rectal => ("37161004", "Rectal route"),
        Route::Nasal => ("46713006", "Nasal route"),
        Route::Ophthalmic => ("54485002", "Ophthalmic route"),
        Route::Transdermal => ("45890007", "Transdermal route"),
        Route::Intrathecal => ("72607000", "Intrathecal route"),
        Route::Vaginal => ("16857009", "Vaginal route"),
        _ => return None,
    })
}

fn ucum_time(u: TimeUnit) -> &'static str {
    match u {
        TimeUnit::Minutes => "min",
        TimeUnit::Hours => "h",
        TimeUnit::Days => "d",
        TimeUnit::Weeks => "wk",
        TimeUnit::Months => "mo",
        TimeUnit::Years => "a",
    }
}

fn time_word(u: TimeUnit, v: f64) -> String {
    // The Spanish word, from the domain's own rendering ("por 7 días" → "días").
    let d = Duration::Span {
        min: v,
        max: None,
        unit: u,
    };
    d.to_string()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn time_quantity(v: f64, u: TimeUnit) -> Value {
    json!({"value": num(v), "unit": time_word(u, v), "system": UCUM, "code": ucum_time(u)})
}

/// The Spanish posology line of one step (`1 g EV cada 8 horas por 7 días`), the
/// dosage's `text`.
fn posology_text(m: &Phase, later: bool) -> String {
    let mut parts: Vec<String> = m.doses().map(Dose::to_string).collect();
    if let Some(r) = &m.route {
        parts.push(r.to_string());
    }
    if let Some(f) = &m.frequency {
        parts.push(f.to_string());
    }
    if let Some(d) = &m.duration {
        parts.push(d.to_string());
    }
    if m.as_needed && !m.frequency.as_ref().is_some_and(Frequency::says_as_needed) {
        parts.push("SOS".into());
    }
    // The step's role, which the resource's `note` cannot tell apart by step; a later
    // step's other notes too (the resource's `note` holds the first step's).
    for n in &m.notes {
        match epicrisis_domain::text::fold(n).as_str() {
            "carga" => parts.push("de carga".into()),
            "bolo" => parts.push("en bolo".into()),
            _ if later => parts.push(n.clone()),
            _ => {}
        }
    }
    parts.join(" ")
}

/// A medication's dosage instructions: one `Dosage` per step of its regimen, numbered by
/// `sequence` when there are several (a loading dose, then its maintenance), or `None`
/// when the data gives no posology.
pub(crate) fn instructions(m: &Medication) -> Option<Value> {
    let phases = m.phases();
    let stepped = phases.len() > 1;
    let list: Vec<Value> = phases
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let mut d = dosage(p, i > 0)?;
            if stepped && let Value::Object(o) = &mut d {
                o.insert("sequence".into(), json!(i + 1));
            }
            Some(d)
        })
        .collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

fn dosage(m: &Phase, later: bool) -> Option<Value> {
    let mut d = Map::new();
    let text = posology_text(m, later);
    if !text.is_empty() {
        d.insert("text".into(), json!(text));
    }
    if let Some(Duration::Text { text }) = &m.duration {
        d.insert("additionalInstruction".into(), json!([{ "text": text }]));
    }
    if let Some(timing) = timing(m) {
        d.insert("timing".into(), timing);
    }
    if m.as_needed {
        d.insert("asNeededBoolean".into(), json!(true));
    }
    if let Some(r) = &m.route {
        d.insert("route".into(), route(r));
    }
    if let Some(dose) = dose_and_rate(m) {
        d.insert("doseAndRate".into(), dose);
    }
    (!d.is_empty()).then_some(Value::Object(d))
}

/// `Dosage.timing`: the repeat of the step's frequency and bounds, and a frequency that
/// has no structure (continuous, free text) as its `code`.
fn timing(m: &Phase) -> Option<Value> {
    let mut repeat = Map::new();
    let code = repeat_frequency(m, &mut repeat);
    repeat_bounds(m, &mut repeat);
    if !repeat.is_empty() || code.is_some() {
        let mut timing = Map::new();
        if !repeat.is_empty() {
            timing.insert("repeat".into(), Value::Object(repeat));
        }
        if let Some(c) = code {
            timing.insert("code".into(), json!({ "text": c }));
        }
        Some(Value::Object(timing))
    } else {
        None
    }
}

/// The step's frequency into `Timing.repeat`; gives back, as text for `Timing.code`, a
/// frequency that the repeat cannot hold.
fn repeat_frequency(m: &Phase, repeat: &mut Map<String, Value>) -> Option<String> {
    let mut code: Option<String> = None;
    match &m.frequency {
        Some(Frequency::EveryHours(h)) => {
            repeat.insert("frequency".into(), json!(1));
            repeat.insert("period".into(), num(*h));
            repeat.insert("periodUnit".into(), json!("h"));
        }
        Some(Frequency::EveryMinutes(x)) => {
            repeat.insert("frequency".into(), json!(1));
            repeat.insert("period".into(), num(*x));
            repeat.insert("periodUnit".into(), json!("min"));
        }
        Some(Frequency::Weekly) | Some(Frequency::Monthly) => {
            repeat.insert("frequency".into(), json!(1));
            repeat.insert("period".into(), json!(1));
            let unit = if m.frequency == Some(Frequency::Weekly) {
                "wk"
            } else {
                "mo"
            };
            repeat.insert("periodUnit".into(), json!(unit));
        }
        Some(Frequency::Nightly) | Some(Frequency::Morning) => {
            repeat.insert("frequency".into(), json!(1));
            repeat.insert("period".into(), json!(1));
            repeat.insert("periodUnit".into(), json!("d"));
            let when = if m.frequency == Some(Frequency::Nightly) {
                "NIGHT"
            } else {
                "MORN"
            };
            repeat.insert("when".into(), json!([when]));
        }
        Some(Frequency::Once) => {
            repeat.insert("count".into(), json!(1));
        }
        Some(f @ (Frequency::Continuous | Frequency::Text(_))) => code = Some(f.to_string()),
        None => {}
    }
    code
}

/// The step's duration as the bounds of `Timing.repeat`: a duration, or a range.
fn repeat_bounds(m: &Phase, repeat: &mut Map<String, Value>) {
    match &m.duration {
        Some(Duration::Span {
            min,
            max: None,
            unit,
        }) => {
            repeat.insert("boundsDuration".into(), time_quantity(*min, *unit));
        }
        Some(Duration::Span {
            min,
            max: Some(max),
            unit,
        }) => {
            repeat.insert(
                "boundsRange".into(),
                json!({"low": time_quantity(*min, *unit), "high": time_quantity(*max, *unit)}),
            );
        }
        _ => {}
    }
}

/// `Dosage.route`: the Spanish text, with its SNOMED CT coding where one fits.
fn route(r: &Route) -> Value {
    let mut route = Map::new();
    if let Some((code, display)) = route_snomed(r) {
        route.insert(
            "coding".into(),
            json!([{"system": SNOMED, "code": code, "display": display}]),
        );
    }
    route.insert("text".into(), json!(r.to_string()));
    Value::Object(route)
}

/// `Dosage.doseAndRate`, for a dose of one amount without a denominator.
fn dose_and_rate(m: &Phase) -> Option<Value> {
    if let Some(dose) = &m.dose
        && dose.amounts.len() == 1
        && dose.per.is_empty()
    {
        let unit = dose.to_string();
        let unit = unit.split_once(' ').map_or("%", |(_, u)| u);
        return Some(json!([{ "doseQuantity": { "value": num(dose.amounts[0]), "unit": unit } }]));
    }
    None
}

// ------------------------------------------------------------------ reading

fn dose_unit(unit: &str) -> Option<DoseUnit> {
    let u = fold_words(unit);
    match u.as_str() {
        "%" => Some(DoseUnit::Percent),
        "[iu]" | "[iu]/ml" => Some(DoseUnit::Ui),
        _ => DoseUnit::parse(u.trim_end_matches('.')),
    }
}

fn time_unit(code: &str) -> Option<TimeUnit> {
    Some(match code {
        "min" => TimeUnit::Minutes,
        "h" => TimeUnit::Hours,
        "d" => TimeUnit::Days,
        "wk" => TimeUnit::Weeks,
        "mo" => TimeUnit::Months,
        "a" => TimeUnit::Years,
        _ => return None,
    })
}

fn quantity_time(q: &Value) -> Option<(f64, TimeUnit)> {
    let v = q.get("value")?.as_f64()?;
    let u = s(q, "code").or_else(|| s(q, "unit"))?;
    let unit = time_unit(u).or_else(|| {
        let f = fold_words(u);
        Some(match f.trim_end_matches('s') {
            "minuto" => TimeUnit::Minutes,
            "hora" => TimeUnit::Hours,
            "dia" => TimeUnit::Days,
            "semana" => TimeUnit::Weeks,
            "mes" | "mese" => TimeUnit::Months,
            "ano" => TimeUnit::Years,
            _ => return None,
        })
    })?;
    Some((v, unit))
}

/// Reads a resource's dosage (one `Dosage` or a list) into the medication: the first
/// step (by `sequence`, else in order) into its own fields, each further one into
/// [`Medication::then`]. A single `Dosage` whose text gives several steps
/// («600 mg carga, luego 75 mg c/24h») is read into as many.
pub(crate) fn read_all(dosage: &Value, m: &mut Medication) {
    let mut list: Vec<&Value> = match dosage {
        Value::Array(a) => a.iter().filter(|d| d.is_object()).collect(),
        d if d.is_object() => vec![d],
        _ => Vec::new(),
    };
    list.sort_by_key(|d| {
        d.get("sequence")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX)
    });
    let Some((head, rest)) = list.split_first() else {
        return;
    };
    let mut first = m.first_phase();
    let text_steps = read_dosage(head, &mut first, false);
    m.set_first_phase(first);
    if rest.is_empty() {
        m.then.extend(text_steps);
    }
    for d in rest {
        let mut phase = Phase::default();
        let _ = read_dosage(d, &mut phase, true);
        m.then.push(phase);
    }
}

/// Reads one Dosage into a step: structured fields first, then whatever the Spanish
/// `text` adds (several quantities, a duration in words, a loading mark; every note of a
/// `later` step). Gives back the further steps the text alone holds.
fn read_dosage(d: &Value, m: &mut Phase, later: bool) -> Vec<Phase> {
    if let Some(dose) = read_dose(d) {
        m.dose = Some(dose);
    }
    if let Some(r) = d.get("route") {
        m.route = read_route(r);
    }
    if let Some(t) = d.get("timing") {
        read_timing(t, m);
    }
    if m.duration.is_none()
        && let Some(text) = arr(d, "additionalInstruction")
            .iter()
            .find_map(concept_text)
    {
        m.duration = Some(Duration::Text { text });
    }
    if d.get("asNeededBoolean").and_then(Value::as_bool) == Some(true)
        || d.get("asNeededCodeableConcept").is_some()
    {
        m.as_needed = true;
    }
    // The text fills what the structure lacks (it is what `to_bundle` writes, and what
    // many servers send alone).
    if let Some(text) = s(d, "text") {
        return read_text(text, m, later);
    }
    Vec::new()
}

/// The dose of `doseAndRate.doseQuantity`, when its unit is one the domain knows.
fn read_dose(d: &Value) -> Option<Dose> {
    if let Some(dr) = first(d, "doseAndRate")
        && let Some(q) = dr.get("doseQuantity")
        && let Some(v) = q.get("value").and_then(Value::as_f64)
        && let Some(unit) = s(q, "unit").or_else(|| s(q, "code")).and_then(dose_unit)
    {
        return Some(Dose {
            amounts: vec![v],
            unit,
            per: Vec::new(),
        });
    }
    None
}

/// The route: its text, else its SNOMED CT code, else whatever the concept says.
fn read_route(r: &Value) -> Option<Route> {
    s(r, "text")
        .map(|t| Route::parse(t).unwrap_or_else(|| Route::Other(t.to_string())))
        .or_else(|| {
            let (_, code) = coding_in(r, &["snomed"])?;
            Some(match code {
                "26643006" => Route::Oral,
                "47625008" => Route::Intravenous,
                "78421000" => Route::Intramuscular,
                "34206005" => Route::Subcutaneous,
                "37839007" => Route::Sublingual,
                "6064005" => Route::Topical,
                "37161004" => Route::Rectal,
                "46713006" => Route::Nasal,
                "54485002" => Route::Ophthalmic,
                "45890007" => Route::Transdermal,
                "72607000" => Route::Intrathecal,
                "16857009" => Route::Vaginal,
                _ => return None,
            })
        })
        .or_else(|| concept_text(r).map(Route::Other))
}

/// `Dosage.timing`: frequency and bounds from its repeat, else a frequency from its code
/// (`infusión continua`, or kept as text).
fn read_timing(t: &Value, m: &mut Phase) {
    let rep = t.get("repeat");
    if let Some(rep) = rep {
        m.frequency = read_frequency(rep);
        if let Some(duration) = read_bounds(rep) {
            m.duration = Some(duration);
        }
    }
    if m.frequency.is_none()
        && let Some(c) = t.get("code").and_then(concept_text)
    {
        m.frequency = Some(if fold_words(&c).contains("infusion continua") {
            Frequency::Continuous
        } else {
            Frequency::Text(c)
        });
    }
}

/// The frequency of a `Timing.repeat`: its `when` (night, morning), else its frequency
/// per period, else a single dose (`count` 1).
fn read_frequency(rep: &Value) -> Option<Frequency> {
    let freq = rep.get("frequency").and_then(Value::as_f64).unwrap_or(1.0);
    let per = rep.get("period").and_then(Value::as_f64);
    let unit = s(rep, "periodUnit");
    let when: Vec<&str> = arr(rep, "when").iter().filter_map(Value::as_str).collect();
    if when.contains(&"NIGHT") || when.contains(&"HS") {
        Some(Frequency::Nightly)
    } else if when.contains(&"MORN") {
        Some(Frequency::Morning)
    } else {
        match (per, unit) {
            (Some(p), Some("h")) if freq > 0.0 => Some(Frequency::EveryHours(p / freq)),
            (Some(p), Some("min")) if freq > 0.0 => Some(Frequency::EveryMinutes(p / freq)),
            (Some(p), Some("d")) if freq > 0.0 => Some(Frequency::EveryHours(24.0 * p / freq)),
            (Some(p), Some("wk")) if freq == 1.0 && p == 1.0 => Some(Frequency::Weekly),
            (Some(p), Some("mo")) if freq == 1.0 && p == 1.0 => Some(Frequency::Monthly),
            _ if rep.get("count").and_then(Value::as_u64) == Some(1) => Some(Frequency::Once),
            _ => None,
        }
    }
}

/// The duration of a `Timing.repeat`: `boundsDuration`, else `boundsRange` (its high
/// end optional).
fn read_bounds(rep: &Value) -> Option<Duration> {
    if let Some((v, u)) = rep.get("boundsDuration").and_then(quantity_time) {
        Some(Duration::Span {
            min: v,
            max: None,
            unit: u,
        })
    } else if let Some(r) = rep.get("boundsRange")
        && let Some((lo, u)) = r.get("low").and_then(quantity_time)
    {
        let hi = r.get("high").and_then(quantity_time).map(|(h, _)| h);
        Some(Duration::Span {
            min: lo,
            max: hi,
            unit: u,
        })
    } else {
        None
    }
}

/// What the Spanish `text` adds to the structured fields: whatever they lack, the
/// step's loading or bolus mark (every modifier for a `later` step), and the further
/// steps the text alone holds.
fn read_text(text: &str, m: &mut Phase, later: bool) -> Vec<Phase> {
    let p = parse_item(&format!("X {text}"));
    if m.dose.is_none() {
        m.dose = p.dose;
    }
    if m.extra_doses.is_empty() {
        m.extra_doses = p.extra_doses;
    }
    if m.route.is_none() {
        m.route = p.route;
    }
    if m.frequency.is_none() {
        m.frequency = p.frequency;
    }
    if m.duration.is_none() {
        m.duration = p.duration;
    }
    m.as_needed |= p.as_needed;
    // A step's role as `posology_text` writes it («de carga», «en bolo»), not a
    // word inside a frequency written in words («bolo SOS PA > 160/110»).
    let folded = fold_words(text);
    let marks = [("de carga", "carga"), ("en bolo", "bolo")]
        .into_iter()
        .filter(|(written, _)| folded.contains(written))
        .map(|(_, note)| note.to_string());
    let notes: Vec<String> = if later {
        p.modifiers.clone()
    } else {
        marks.collect()
    };
    for n in notes {
        if !m.notes.contains(&n) {
            m.notes.push(n);
        }
    }
    p.then
}
