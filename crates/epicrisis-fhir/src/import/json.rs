//! Walking FHIR JSON by hand: trimmed strings, first items, arrays, dates, the text and
//! codings of a CodeableConcept, and the plain text of an XHTML narrative.

use epicrisis_domain::Date;
use serde_json::Value;

pub(crate) fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?
        .as_str()
        .map(str::trim)
        .filter(|x| !x.is_empty())
}

pub(crate) fn first<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v.get(key)? {
        Value::Array(a) => a.first(),
        other => Some(other),
    }
}

pub(crate) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(super) fn date_of(v: Option<&str>) -> Option<Date> {
    Date::parse(v?).ok()
}

/// The text of a CodeableConcept: `text`, else the first coding's display, else its code.
pub(crate) fn concept_text(c: &Value) -> Option<String> {
    s(c, "text")
        .or_else(|| arr(c, "coding").iter().find_map(|x| s(x, "display")))
        .or_else(|| arr(c, "coding").iter().find_map(|x| s(x, "code")))
        .map(str::to_string)
}

/// The coding of a concept in a system (matched loosely: `icd-10` anywhere in the URI),
/// with its index.
pub(crate) fn coding_in<'a>(c: &'a Value, systems: &[&str]) -> Option<(usize, &'a str)> {
    arr(c, "coding").iter().enumerate().find_map(|(i, x)| {
        let sys = s(x, "system").unwrap_or("").to_ascii_lowercase();
        systems
            .iter()
            .any(|want| sys.contains(want))
            .then(|| s(x, "code"))
            .flatten()
            .map(|code| (i, code))
    })
}

pub(super) fn has_code(c: &Value, code: &str) -> bool {
    arr(c, "coding")
        .iter()
        .any(|x| s(x, "code").is_some_and(|k| k.eq_ignore_ascii_case(code)))
}

pub(super) fn html_to_text(div: &str) -> Vec<String> {
    // Block elements end a line; other tags vanish; the five XML entities are decoded.
    let mut out = String::new();
    let mut in_tag = false;
    let mut tag = String::new();
    for c in div.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let t = tag.trim_start_matches('/').to_ascii_lowercase();
                let name = t.split([' ', '/']).next().unwrap_or("");
                if matches!(name, "p" | "li" | "br" | "div" | "tr" | "h1" | "h2" | "h3") {
                    out.push('\n');
                }
            }
            (true, c) => tag.push(c),
            (false, c) => out.push(c),
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}
