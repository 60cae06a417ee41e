//! Small JSON values shared by the resource writers: dates, numbers, periods, optional
//! fields, the `meta` that claims a profile, and the XHTML narrative of a section.

use epicrisis_domain::Date;
use serde_json::{Map, Value, json};

pub(super) fn date(d: Date) -> Value {
    Value::String(d.to_string())
}

pub(crate) fn num(v: f64) -> Value {
    // Integers print without a fraction (`7`, not `7.0`); FHIR decimals accept both.
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// XHTML narrative for `text.div`.
pub(super) fn narrative(paragraphs: &[String], items: &[String]) -> Value {
    let mut div = String::from("<div xmlns=\"http://www.w3.org/1999/xhtml\">");
    for p in paragraphs {
        for line in p.split('\n').filter(|l| !l.trim().is_empty()) {
            div.push_str("<p>");
            div.push_str(&xml_escape(line));
            div.push_str("</p>");
        }
    }
    if !items.is_empty() {
        div.push_str("<ul>");
        for i in items {
            div.push_str("<li>");
            div.push_str(&xml_escape(i));
            div.push_str("</li>");
        }
        div.push_str("</ul>");
    }
    if paragraphs.is_empty() && items.is_empty() {
        div.push_str("<p>No consignado</p>");
    }
    div.push_str("</div>");
    json!({"status": "generated", "div": div})
}

pub(super) fn period(start: Option<Date>, end: Option<Date>) -> Option<Value> {
    let mut p = Map::new();
    if let Some(s) = start {
        p.insert("start".into(), date(s));
    }
    if let Some(e) = end {
        p.insert("end".into(), date(e));
    }
    (!p.is_empty()).then_some(Value::Object(p))
}

/// `meta` claiming one profile (a CL Core canonical URL, see [`crate::clcore`]).
pub(super) fn profile(url: &str) -> Value {
    json!({ "profile": [url] })
}

pub(super) fn insert_opt(m: &mut Value, key: &str, v: Option<Value>) {
    if let (Some(obj), Some(v)) = (m.as_object_mut(), v) {
        obj.insert(key.into(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrative_escapes_markup() {
        let n = narrative(&["a < b & c".into()], &["<script>".into()]);
        let div = n["div"].as_str().unwrap();
        assert!(div.contains("a &lt; b &amp; c"));
        assert!(div.contains("&lt;script&gt;"));
    }
}
