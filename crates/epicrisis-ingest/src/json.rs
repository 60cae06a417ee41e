//! Walking a `serde_json::Value` with a path in hand, so that every error and warning
//! names the exact place (`diagnostico_ingreso[2].codigo`) and what was found there.
//!
//! Hospital exports sometimes deliver a nested list or object as a JSON *string*
//! (`"diagnostico_ingreso": "[{\"codigo\": ...}]"`); [`list`] and [`object`] decode those
//! transparently, which is why they hand out `Cow`s.

use crate::error::{ErrorKind, IngestError};
use epicrisis_domain::{AtcCode, SourceWarning, WarningKind};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The reading context: where errors point and where warnings collect.
pub(crate) struct Ctx<'a> {
    pub file: &'a str,
    pub line: Option<usize>,
    pub warnings: Vec<SourceWarning>,
    /// Every parsed ATC code with its folded item name, path and the name as written, for
    /// the check that one drug name carries one code per episode.
    pub seen_atc: Vec<(String, AtcCode, String, String)>,
    /// Qualitative laboratory results met while reading values (`labs.rs`).
    pub lab_findings: Vec<epicrisis_domain::LabFinding>,
}

impl<'a> Ctx<'a> {
    pub fn new(file: &'a str, line: Option<usize>) -> Ctx<'a> {
        Ctx {
            file,
            line,
            warnings: Vec::new(),
            seen_atc: Vec::new(),
            lab_findings: Vec::new(),
        }
    }

    pub fn err(&self, kind: ErrorKind, path: &str, message: impl Into<String>) -> IngestError {
        IngestError::new(self.file, kind, message)
            .at(path)
            .on_line(self.line)
    }

    pub fn wrong_type(&self, path: &str, expected: &str, found: &Value) -> IngestError {
        self.err(
            ErrorKind::WrongType,
            path,
            format!("expected {expected}, found {}", describe(found)),
        )
    }

    /// Records a warning, in English (`en`, for IT staff and logs) and in Spanish (`es`,
    /// for clinicians); both messages are prefixed with the path so they read alone.
    pub fn warn(
        &mut self,
        kind: WarningKind,
        path: &str,
        en: impl AsRef<str>,
        es: impl AsRef<str>,
    ) {
        let with_path = |m: &str| {
            if path.is_empty() {
                m.to_string()
            } else {
                format!("{path}: {m}")
            }
        };
        self.warnings.push(SourceWarning {
            kind,
            path: path.to_string(),
            message: with_path(en.as_ref()),
            message_es: with_path(es.as_ref()),
        });
    }
}

/// Keeps reading past a part of the input that cannot be read: its error becomes an
/// `Unreadable` warning at its path (what was expected, what was found), and `fallback`
/// stands in. A hospital export with one odd field is still an episode; only what cannot
/// be an episode at all is refused.
pub(crate) fn recover<T>(
    ctx: &mut Ctx<'_>,
    result: Result<T, IngestError>,
    fallback: T,
    left_out_es: &str,
) -> T {
    match result {
        Ok(t) => t,
        Err(e) => {
            let path = e.path.clone().unwrap_or_default();
            ctx.warn(
                WarningKind::Unreadable,
                &path,
                format!("{}; left out, the rest was read", e.message),
                format!(
                    "No se pudo leer este dato ({}); {left_out_es}. El resto del episodio se leyó.",
                    e.message
                ),
            );
            fallback
        }
    }
}

/// A list read item by item: a list that cannot be read, or an item that cannot, is an
/// `Unreadable` warning ([`recover`], with `left_out.0` for the list and `left_out.1` for
/// an item) and the rest is read. `read` answers `None` for an item to skip (warning
/// itself where it should).
pub(crate) fn items<'a, T>(
    ctx: &mut Ctx<'a>,
    v: &Value,
    path: &str,
    expected: &str,
    left_out: (&str, &str),
    mut read: impl FnMut(&mut Ctx<'a>, &Value, &str) -> Result<Option<T>, IngestError>,
) -> Vec<T> {
    let l = list(ctx, v, path, expected, false).map(Cow::into_owned);
    let l = recover(ctx, l, Vec::new(), left_out.0);
    let mut out = Vec::with_capacity(l.len());
    for (i, item) in l.iter().enumerate() {
        let got = read(ctx, item, &idx(path, i));
        if let Some(t) = recover(ctx, got, None, left_out.1) {
            out.push(t);
        }
    }
    out
}

/// `path.key`, or `key` at the root.
pub(crate) fn key(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

/// `path[i]`.
pub(crate) fn idx(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A short description of a value for "found ..." messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let ellipsis = if s.chars().count() > 40 { "…" } else { "" };
            format!("a string (\"{shown}{ellipsis}\")")
        }
        Value::Array(a) => match a.len() {
            0 => "an empty list".to_string(),
            1 => "a list of 1 item".to_string(),
            n => format!("a list of {n} items"),
        },
        Value::Object(m) => {
            if m.is_empty() {
                "an empty object".to_string()
            } else {
                format!("an object with keys {}", key_list(m))
            }
        }
    }
}

/// [`describe`] in Spanish, for the clinicians' messages (`un número (3)`).
pub(crate) fn describe_es(v: &Value) -> String {
    match v {
        Value::Null => "un valor nulo".to_string(),
        Value::Bool(b) => format!("un valor lógico ({b})"),
        Value::Number(n) => format!("un número ({n})"),
        Value::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let ellipsis = if s.chars().count() > 40 { "…" } else { "" };
            format!("un texto («{shown}{ellipsis}»)")
        }
        Value::Array(a) => match a.len() {
            0 => "una lista vacía".to_string(),
            1 => "una lista de 1 elemento".to_string(),
            n => format!("una lista de {n} elementos"),
        },
        Value::Object(m) => {
            if m.is_empty() {
                "un objeto vacío".to_string()
            } else {
                format!("un objeto con las claves {}", key_list(m))
            }
        }
    }
}

/// The keys of an object, for messages (at most 12, in the object's order).
pub(crate) fn key_list(m: &Map<String, Value>) -> String {
    let mut keys: Vec<&str> = m.keys().map(String::as_str).take(12).collect();
    if m.len() > 12 {
        keys.push("…");
    }
    keys.join(", ")
}

/// A field of an object, with `null` read as absent.
pub(crate) fn get<'v>(m: &'v Map<String, Value>, k: &str) -> Option<&'v Value> {
    m.get(k).filter(|v| !v.is_null())
}

/// The first present field among aliases, with the alias that matched.
pub(crate) fn get_any<'v>(
    m: &'v Map<String, Value>,
    keys: &[&'static str],
) -> Option<(&'static str, &'v Value)> {
    keys.iter().find_map(|k| get(m, k).map(|v| (*k, v)))
}

/// A string that holds JSON, decoded; `None` when it does not look like JSON.
fn embedded(
    ctx: &Ctx<'_>,
    s: &str,
    path: &str,
    expected: &str,
) -> Result<Option<Value>, IngestError> {
    let t = s.trim();
    if !(t.starts_with('[') || t.starts_with('{')) {
        return Ok(None);
    }
    serde_json::from_str::<Value>(t).map(Some).map_err(|e| {
        ctx.err(
            ErrorKind::WrongType,
            path,
            format!(
                "expected {expected}, found a string that looks like JSON but does not parse \
                 ({e}); fix the export or send the list itself instead of a string"
            ),
        )
    })
}

/// A list at `path`: a JSON array, a JSON string holding an array, `null` or `""` (empty).
/// With `single_string`, a plain string counts as a list of one item.
pub(crate) fn list<'v>(
    ctx: &mut Ctx<'_>,
    v: &'v Value,
    path: &str,
    expected: &str,
    single_string: bool,
) -> Result<Cow<'v, [Value]>, IngestError> {
    // A list written as one string of items: split it, and say so.
    if !single_string
        && let Value::String(s) = v
        && !s.trim().is_empty()
        && !(s.trim_start().starts_with('[') || s.trim_start().starts_with('{'))
    {
        let items = split_joined(s);
        ctx.warn(
            WarningKind::Normalised,
            path,
            format!(
                "expected {expected}, found one string; read as {} item(s) split at line \
                 breaks, semicolons or \"), \"",
                items.len()
            ),
            format!(
                "Se esperaba una lista y llegó un solo texto; se leyó como {} elemento(s), \
                 separando por saltos de línea, punto y coma o «), ». Verifique la lista.",
                items.len()
            ),
        );
        return Ok(Cow::Owned(items.into_iter().map(Value::String).collect()));
    }
    let l = list_uncapped(ctx, v, path, expected, single_string)?;
    if l.len() <= MAX_LIST_ITEMS {
        return Ok(l);
    }
    ctx.warn(
        WarningKind::Unreadable,
        path,
        format!(
            "{} items; only the first {MAX_LIST_ITEMS} are read (an export that repeats rows?)",
            l.len()
        ),
        format!(
            "La lista tiene {} elementos; solo se leyeron los primeros {MAX_LIST_ITEMS}. \
             Revise la exportación: ¿se repiten filas?",
            l.len()
        ),
    );
    Ok(match l {
        Cow::Borrowed(a) => Cow::Borrowed(&a[..MAX_LIST_ITEMS]),
        Cow::Owned(mut a) => {
            a.truncate(MAX_LIST_ITEMS);
            Cow::Owned(a)
        }
    })
}

/// The items of a list written as one string: one per line, or separated by «;» or
/// «|»; failing those, at «), » (compact items end with their code: «Neumonia (J18.9),
/// HTA (I10)»). Commas alone do not split: «Paracetamol 1 g, cada 8 horas» is one item.
pub(crate) fn split_joined(s: &str) -> Vec<String> {
    let clean = |v: Vec<&str>| -> Vec<String> {
        v.into_iter()
            .map(|x| {
                x.trim()
                    .trim_start_matches(['-', '•', '*'])
                    .trim()
                    .to_string()
            })
            .filter(|x| !x.is_empty())
            .collect()
    };
    for sep in ['\n', ';', '|'] {
        let parts = clean(s.split(sep).collect());
        if parts.len() > 1 {
            return parts;
        }
    }
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("), ") {
        parts.push(&rest[..=i]);
        rest = &rest[i + 3..];
    }
    parts.push(rest);
    clean(parts)
}

/// The most items a list of an episode keeps: far above any real stay (a hundred days
/// of notes, hourly results), low enough that a runaway export cannot stall the
/// validator, which compares items with each other.
pub const MAX_LIST_ITEMS: usize = 2_000;

fn list_uncapped<'v>(
    ctx: &Ctx<'_>,
    v: &'v Value,
    path: &str,
    expected: &str,
    single_string: bool,
) -> Result<Cow<'v, [Value]>, IngestError> {
    match v {
        Value::Null => Ok(Cow::Owned(Vec::new())),
        Value::Array(a) => Ok(Cow::Borrowed(a.as_slice())),
        Value::String(s) if s.trim().is_empty() => Ok(Cow::Owned(Vec::new())),
        Value::String(s) => match embedded(ctx, s, path, expected)? {
            Some(Value::Array(a)) => Ok(Cow::Owned(a)),
            Some(other) => Err(ctx.err(
                ErrorKind::WrongType,
                path,
                format!(
                    "expected {expected}, found a string holding {}",
                    describe(&other)
                ),
            )),
            None if single_string => Ok(Cow::Owned(vec![v.clone()])),
            None => Err(ctx.wrong_type(path, expected, v)),
        },
        // One item given alone, as many exports write a list of one.
        Value::Object(_) => Ok(Cow::Owned(vec![v.clone()])),
        _ => Err(ctx.wrong_type(path, expected, v)),
    }
}

/// An object at `path`: a JSON object or a JSON string holding one.
pub(crate) fn object<'v>(
    ctx: &Ctx<'_>,
    v: &'v Value,
    path: &str,
    expected: &str,
) -> Result<Cow<'v, Map<String, Value>>, IngestError> {
    match v {
        Value::Object(m) => Ok(Cow::Borrowed(m)),
        Value::Null => Ok(Cow::Owned(Map::new())),
        Value::String(s) => match embedded(ctx, s, path, expected)? {
            Some(Value::Object(m)) => Ok(Cow::Owned(m)),
            Some(other) => Err(ctx.err(
                ErrorKind::WrongType,
                path,
                format!(
                    "expected {expected}, found a string holding {}",
                    describe(&other)
                ),
            )),
            None => Err(ctx.wrong_type(path, expected, v)),
        },
        _ => Err(ctx.wrong_type(path, expected, v)),
    }
}

/// A text field: a string (trimmed; empty reads as absent). Other types are an error.
pub(crate) fn text(
    ctx: &Ctx<'_>,
    m: &Map<String, Value>,
    k: &str,
    path: &str,
) -> Result<Option<String>, IngestError> {
    match get(m, k) {
        None => Ok(None),
        Some(v) => text_value(ctx, v, &key(path, k)),
    }
}

/// A string value (trimmed; empty reads as absent).
pub(crate) fn text_value(
    ctx: &Ctx<'_>,
    v: &Value,
    path: &str,
) -> Result<Option<String>, IngestError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(non_empty(s)),
        _ => Err(ctx.wrong_type(path, "a string", v)),
    }
}

/// A field that may be a string or a number (ids, doses, codes): numbers are kept as
/// JSON writes them.
pub(crate) fn text_or_number(
    ctx: &Ctx<'_>,
    m: &Map<String, Value>,
    k: &str,
    path: &str,
) -> Result<Option<String>, IngestError> {
    match get(m, k) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(v) => text_value(ctx, v, &key(path, k)),
    }
}

/// The error for a required field that is absent, naming the keys that are there (a
/// typo such as `nombres` is then easy to spot).
pub(crate) fn missing(
    ctx: &Ctx<'_>,
    m: &Map<String, Value>,
    path: &str,
    k: &str,
    what: &str,
) -> IngestError {
    let found = if m.is_empty() {
        "the object is empty".to_string()
    } else {
        format!("found keys {}", key_list(m))
    };
    ctx.err(
        ErrorKind::Missing,
        path,
        format!("missing \"{k}\" ({what}); {found}"),
    )
}

pub(crate) fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// A list of strings (`medicos`, `controles`...): an array of strings, one string, or a
/// JSON string holding an array. Empty items are dropped.
pub(crate) fn string_list(
    ctx: &mut Ctx<'_>,
    m: &Map<String, Value>,
    k: &str,
    path: &str,
) -> Result<Vec<String>, IngestError> {
    let Some(v) = get(m, k) else {
        return Ok(Vec::new());
    };
    let p = key(path, k);
    let items = list(ctx, v, &p, "a list of strings", true)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(s) = text_value(ctx, item, &idx(&p, i))? {
            out.push(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_accept_embedded_json_and_reject_scalars() {
        let mut ctx = Ctx::new("e.json", None);
        let v = json!("[{\"codigo\": \"J18.9\"}]");
        let l = list(&mut ctx, &v, "dx", "a list", false).unwrap();
        assert_eq!(l.len(), 1);
        let v = json!(3);
        let e = list(&mut ctx, &v, "dx", "a list", false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "e.json: dx: expected a list, found a number (3)"
        );
        let v = json!("[{broken");
        let e = list(&mut ctx, &v, "dx", "a list", false).unwrap_err();
        assert!(e.to_string().contains("looks like JSON"), "{e}");
        let v = json!("HTA");
        assert_eq!(list(&mut ctx, &v, "m", "a list", true).unwrap().len(), 1);
        assert_eq!(
            list(&mut ctx, &v, "m", "a list", false).unwrap().len(),
            1,
            "one item, warned"
        );

        // One string of items is split, with a warning.
        let v = json!("Neumonia (J18.9), HTA (I10), DM2 (E11.9)");
        let l = list(&mut ctx, &v, "dx", "a list", false).unwrap();
        assert_eq!(
            l.iter().filter_map(Value::as_str).collect::<Vec<_>>(),
            ["Neumonia (J18.9)", "HTA (I10)", "DM2 (E11.9)"]
        );
        assert_eq!(
            ctx.warnings.last().map(|w| w.kind),
            Some(WarningKind::Normalised)
        );
        assert_eq!(
            split_joined("- Paracetamol 1 g, cada 8 horas\n- Omeprazol 20 mg"),
            ["Paracetamol 1 g, cada 8 horas", "Omeprazol 20 mg"]
        );
        assert_eq!(
            split_joined("Reposo; control en 7 días"),
            ["Reposo", "control en 7 días"]
        );

        // A runaway list is cut, with a warning that says how long it was.
        let v = Value::Array(vec![json!("HTA (I10)"); MAX_LIST_ITEMS + 5]);
        assert_eq!(
            list(&mut ctx, &v, "dx", "a list", false).unwrap().len(),
            MAX_LIST_ITEMS
        );
        let w = ctx.warnings.last().expect("a warning");
        assert_eq!(w.path, "dx");
        assert!(
            w.message.contains(&format!("{} items", MAX_LIST_ITEMS + 5)),
            "{}",
            w.message
        );
    }

    #[test]
    fn descriptions_are_short() {
        let long = "x".repeat(100);
        assert!(describe(&json!(long)).len() < 60);
        assert_eq!(
            describe(&json!({"a": 1, "b": 2})),
            "an object with keys a, b"
        );
        assert_eq!(describe(&json!([])), "an empty list");
        assert!(describe_es(&json!(long)).chars().count() < 60);
        assert_eq!(describe_es(&json!("68 meses")), "un texto («68 meses»)");
        assert_eq!(describe_es(&json!([1, 2])), "una lista de 2 elementos");
    }

    #[test]
    fn warnings_carry_both_languages_with_the_path() {
        let mut ctx = Ctx::new("e.json", None);
        ctx.warn(
            WarningKind::Unreadable,
            "paciente.edad",
            "bad age",
            "Edad no válida.",
        );
        ctx.warn(WarningKind::Inconsistent, "", "root", "Raíz.");
        assert_eq!(ctx.warnings[0].message, "paciente.edad: bad age");
        assert_eq!(ctx.warnings[0].message_es, "paciente.edad: Edad no válida.");
        assert_eq!(ctx.warnings[1].message_es, "Raíz.");
    }
}
