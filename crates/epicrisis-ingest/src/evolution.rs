//! Evolution notes as exports write them: a list of `{dia, texto}` or `{fecha, nota,
//! profesional}` objects, a list of strings, one string, or a map by date or day
//! (`{"2025-07-03": "…", "2025-07-04": ["…", "…"]}`). A note that cannot be read is a
//! warning that names it; the other notes are read.

use crate::error::IngestError;
use crate::json::{self, Ctx, get, idx, key};
use crate::rich::date_field;
use epicrisis_domain::{Date, EvolutionNote, WarningKind};
use serde_json::{Map, Value};

type Obj = Map<String, Value>;

/// Keys that hold a note's text, in order of preference.
const TEXT_KEYS: &[&str] = &[
    "texto",
    "nota",
    "text",
    "descripcion",
    "evolucion",
    "detalle",
    "contenido",
    "observacion",
    "observaciones",
];
/// Keys that hold the note's author.
const AUTHOR_KEYS: &[&str] = &["profesional", "autor", "medico", "responsable"];
/// Keys of a note object: a map whose keys are none of these is a map by date or day.
const NOTE_KEYS: &[&str] = &["dia", "fecha", "hora"];

/// Reads the notes at `path` into `out`. Only a value that cannot be notes at all (a
/// number, a string that looks like broken JSON) is an error.
pub(crate) fn read(
    ctx: &mut Ctx<'_>,
    v: &Value,
    path: &str,
    admission: Option<Date>,
    out: &mut Vec<EvolutionNote>,
) -> Result<(), IngestError> {
    if let Value::Object(m) = v
        && is_map_by_date(m)
    {
        let before = out.len();
        for (k, notes) in m {
            read_dated(ctx, k, notes, &key(path, k), admission, out);
        }
        // In the order of the stay, whatever order the keys came in; notes without a
        // day or date keep their order, after the others.
        out[before..].sort_by_key(|n| (n.day.is_none(), n.day, n.date.is_none(), n.date));
        return Ok(());
    }
    let l = json::list(
        ctx,
        v,
        path,
        "a list of {dia, texto} or {fecha, nota} objects",
        true,
    )?;
    for (i, item) in l.iter().enumerate() {
        let p = idx(path, i);
        let note = note(ctx, item, &p, admission);
        if let Some(n) = json::recover(ctx, note, None, "se omitió esa nota") {
            out.push(n);
        }
    }
    Ok(())
}

/// Whether an object is a map by date or day rather than one note.
fn is_map_by_date(m: &Obj) -> bool {
    !m.is_empty()
        && !m.keys().any(|k| {
            let k = k.as_str();
            TEXT_KEYS.contains(&k) || NOTE_KEYS.contains(&k) || AUTHOR_KEYS.contains(&k)
        })
}

/// The notes under one key of a map by date: a string, a list, or note objects; the key
/// is the date («2025-07-03», «03/07/2025») or the day («1», «día 2»).
fn read_dated(
    ctx: &mut Ctx<'_>,
    k: &str,
    notes: &Value,
    path: &str,
    admission: Option<Date>,
    out: &mut Vec<EvolutionNote>,
) {
    let date = Date::parse(k.trim()).ok();
    let day = k
        .trim()
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse::<u32>()
        .ok()
        .filter(|_| date.is_none());
    if date.is_none() && day.is_none() {
        ctx.warn(
            WarningKind::Unreadable,
            path,
            format!("{k:?} is neither a date nor a day number; the notes are read without one"),
            format!("«{k}» no es una fecha ni un número de día; las notas se leyeron sin fecha."),
        );
    }
    let before = out.len();
    let read = read(ctx, notes, path, admission, out);
    json::recover(ctx, read, (), "se omitieron esas notas");
    for n in &mut out[before..] {
        n.date = n.date.or(date);
        n.day = n.day.or(day).or_else(|| day_of(admission, n.date));
    }
}

/// The hospital day of a date: the admission day is day 1.
fn day_of(admission: Option<Date>, date: Option<Date>) -> Option<u32> {
    let (a, d) = (admission?, date?);
    u32::try_from(a.days_until(d) + 1).ok().filter(|n| *n >= 1)
}

/// One note: a plain string, or an object with its text under one of [`TEXT_KEYS`].
fn note(
    ctx: &mut Ctx<'_>,
    item: &Value,
    p: &str,
    admission: Option<Date>,
) -> Result<Option<EvolutionNote>, IngestError> {
    if let Value::String(s) = item
        && !s.trim_start().starts_with('{')
    {
        return Ok(json::non_empty(s).map(|text| EvolutionNote {
            day: None,
            date: None,
            text,
            author: None,
        }));
    }
    if item.is_null() {
        return Ok(None);
    }
    let o = json::object(
        ctx,
        item,
        p,
        "a {dia, texto} or {fecha, nota, profesional} object",
    )?;
    let text = match json::get_any(&o, TEXT_KEYS) {
        Some((k, v)) => json::text_value(ctx, v, &key(p, k))?,
        None => {
            return Err(json::missing(
                ctx,
                &o,
                p,
                "texto",
                "the note, or \"nota\" in the predecessor's shape",
            ));
        }
    };
    let Some(text) = text else {
        return Ok(None);
    };
    let date = date_field(ctx, &o, "fecha", p)?;
    let day = get(&o, "dia").and_then(|d| day_number(ctx, d, &key(p, "dia")));
    let author = match json::get_any(&o, AUTHOR_KEYS) {
        Some((k, v)) => json::text_value(ctx, v, &key(p, k))?,
        None => None,
    };
    Ok(Some(EvolutionNote {
        day: day.or_else(|| day_of(admission, date)),
        date,
        text,
        author,
    }))
}

/// A day number (`3`, `"3"`, `"día 3"`); anything else is a warning.
fn day_number(ctx: &mut Ctx<'_>, d: &Value, path: &str) -> Option<u32> {
    let day = match d {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s
            .trim()
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse::<u32>()
            .ok(),
        _ => None,
    };
    if day.is_none() {
        ctx.warn(
            WarningKind::Unreadable,
            path,
            format!(
                "{} is not a day number (1 = admission day); left out",
                json::describe(d)
            ),
            format!(
                "Se recibió {}, que no es un número de día de hospitalización \
                 (1 = día de ingreso); se omitió.",
                json::describe_es(d)
            ),
        );
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notes(v: Value, admission: Option<&str>) -> (Vec<EvolutionNote>, Vec<String>) {
        let mut ctx = Ctx::new("e.json", None);
        let mut out = Vec::new();
        let adm = admission.and_then(|a| Date::parse(a).ok());
        read(&mut ctx, &v, "evolucion", adm, &mut out).expect("read");
        let warnings = ctx.warnings.iter().map(|w| w.path.clone()).collect();
        (out, warnings)
    }

    #[test]
    fn a_map_by_date_or_day_is_notes_with_their_dates() {
        let (n, w) = notes(
            json!({
                "2025-07-03": "Ingresa febril",
                "04/07/2025": ["Afebril", "Tolera régimen"],
                "día 3": {"nota": "Alta", "profesional": "Dr. X"}
            }),
            Some("2025-07-03"),
        );
        assert!(w.is_empty(), "{w:?}");
        let got: Vec<(Option<u32>, &str)> = n.iter().map(|n| (n.day, n.text.as_str())).collect();
        assert_eq!(
            got,
            [
                (Some(1), "Ingresa febril"),
                (Some(2), "Afebril"),
                (Some(2), "Tolera régimen"),
                (Some(3), "Alta")
            ]
        );
        assert_eq!(
            n[1].date.map(|d| d.to_string()).as_deref(),
            Some("2025-07-04")
        );
        assert_eq!(n[3].author.as_deref(), Some("Dr. X"));
    }

    #[test]
    fn an_unreadable_note_is_a_warning_and_the_others_are_read() {
        let (n, w) = notes(
            json!([
                {"dia": 1, "texto": "Ingresa"},
                {"dia": 2},
                null,
                {"dia": true, "descripcion": "Sin texto bajo texto"},
                7,
                {"fecha": "2025-07-05", "evolucion": "Alta"}
            ]),
            Some("2025-07-03"),
        );
        let got: Vec<(Option<u32>, &str)> = n.iter().map(|n| (n.day, n.text.as_str())).collect();
        assert_eq!(
            got,
            [
                (Some(1), "Ingresa"),
                (None, "Sin texto bajo texto"),
                (Some(3), "Alta")
            ]
        );
        assert_eq!(w, ["evolucion[1]", "evolucion[3].dia", "evolucion[4]"]);
    }
}
