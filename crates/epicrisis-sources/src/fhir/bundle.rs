//! The pure parts of the FHIR source: the issue codes of an OperationOutcome, the `next`
//! link of a page, a search's resources, the discharges of a listing, references and
//! attachments, and the `collection` Bundle handed on with its summary.

use super::auth::base64;
use crate::{Discharge, Since};
use reqwest::Url;
use serde_json::{Value, json};
use std::collections::HashSet;

/// The `issue[].code`s of an OperationOutcome body (at most five, each once): FHIR's
/// issue-type codes only, never `diagnostics` or `details` (they may quote patient data).
pub(super) fn issue_codes(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    if kind(&v) != Some("OperationOutcome") {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for issue in v
        .get("issue")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(code) = issue.get("code").and_then(Value::as_str) else {
            continue;
        };
        let plain = !code.is_empty()
            && code.len() <= 40
            && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
        if plain && out.len() < 5 && !out.iter().any(|c| c == code) {
            out.push(code.to_string());
        }
    }
    out
}

/// Same scheme, host and port.
pub(super) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The page after this one: the `next` link, absolute or relative to the base, on the
/// base's origin only (the credentials go with it); an error says why not.
pub(super) fn next_link(bundle: &Value, base: &Url) -> Result<Option<Url>, String> {
    let links = bundle.get("link").and_then(Value::as_array);
    let next = links.into_iter().flatten().find(|l| {
        l.get("relation")
            .and_then(Value::as_str)
            .is_some_and(|r| r.eq_ignore_ascii_case("next"))
    });
    let Some(href) = next.and_then(|l| l.get("url")).and_then(Value::as_str) else {
        return Ok(None);
    };
    let href = href.trim();
    if href.is_empty() {
        return Ok(None);
    }
    let dir = Url::parse(&format!("{}/", base.as_str().trim_end_matches('/')))
        .map_err(|_| "la URL base no sirve para seguir la paginación".to_string())?;
    let url = dir
        .join(href)
        .map_err(|_| "el enlace a la página siguiente no es una URL".to_string())?;
    if !same_origin(&url, base) {
        return Err(format!(
            "el enlace a la página siguiente apunta a otro servidor ({}); no se sigue, para \
             no enviar credenciales fuera de la URL configurada (¿un proxy que no informa su \
             dirección pública?)",
            url.origin().ascii_serialization()
        ));
    }
    Ok(Some(url))
}

/// Whether a JSON object is a Bundle.
pub(super) fn is_bundle(v: &Value) -> bool {
    kind(v) == Some("Bundle")
}

/// A resource's `resourceType`.
pub(super) fn kind(v: &Value) -> Option<&str> {
    v.get("resourceType").and_then(Value::as_str)
}

fn id_of(v: &Value) -> Option<&str> {
    v.get("id").and_then(Value::as_str)
}

/// The resources of a page: those of type `only` when given, else all but
/// OperationOutcomes (the server's notes on the search).
pub(super) fn search_resources(bundle: &Value, only: Option<&str>) -> Vec<Value> {
    let entries = bundle.get("entry").and_then(Value::as_array);
    entries
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("resource"))
        .filter(|r| match (kind(r), only) {
            (Some(k), Some(want)) => k == want,
            (Some(k), None) => k != "OperationOutcome",
            (None, _) => false,
        })
        .cloned()
        .collect()
}

/// The latest day a FHIR date(-time) can mean, as `YYYY-MM-DD` text to compare
/// (`2025-03` → `2025-03-99`): a partial date is never dropped for being early.
fn latest_day(when: &str) -> String {
    let w = when.trim();
    match w.len() {
        0..=4 => format!("{w}-99-99"),
        5..=7 => format!("{w}-99"),
        _ => w.chars().take(10).collect(),
    }
}

/// The discharges of a listing: finished encounters (a server may ignore `status`) whose
/// `period.end`, when present, is on or after `since` (the day as written); each once,
/// oldest discharge first, those without an end last.
pub(super) fn select_discharges(encounters: &[Value], since: Since) -> Vec<Discharge> {
    let since = since.iso();
    let mut seen = HashSet::new();
    let mut picked: Vec<(Option<String>, &str, &str)> = Vec::new();
    for e in encounters {
        let Some(id) = id_of(e) else { continue };
        if e.get("status")
            .and_then(Value::as_str)
            .is_some_and(|s| s != "finished")
        {
            continue;
        }
        let end = e.pointer("/period/end").and_then(Value::as_str);
        let day = end.map(latest_day);
        if day.as_deref().is_some_and(|d| *d < *since) || !seen.insert(id) {
            continue;
        }
        picked.push((day, end.unwrap_or(""), id));
    }
    picked.sort_by(|a, b| (a.0.is_none(), &a.0, a.1, a.2).cmp(&(b.0.is_none(), &b.0, b.1, b.2)));
    picked
        .into_iter()
        .map(|(_, _, id)| Discharge { id: id.to_string() })
        .collect()
}

/// A FHIR id: 1 to 64 of `A-Z a-z 0-9 - .`.
pub(super) fn fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// `Type/id` at the end of a reference, relative or absolute, with or without
/// `_history/…`.
pub(super) fn typed_id(reference: &str) -> Option<(&str, &str)> {
    let r = reference.trim();
    let r = r.find("/_history/").map_or(r, |i| &r[..i]);
    let mut parts = r.rsplit('/');
    let id = parts.next()?;
    let ty = parts.next()?;
    let type_ok = ty.starts_with(|c: char| c.is_ascii_uppercase())
        && ty.bytes().all(|b| b.is_ascii_alphanumeric());
    (type_ok && fhir_id(id)).then_some((ty, id))
}

/// The Conditions an Encounter's `diagnosis` list references.
pub(super) fn diagnosis_refs(encounter: &Value) -> Vec<String> {
    let list = encounter.get("diagnosis").and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .filter_map(|d| d.pointer("/condition/reference").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// The Medications that drug resources reference (`medicationReference`).
pub(super) fn medication_refs(resources: &[Value]) -> Vec<String> {
    resources
        .iter()
        .filter(|r| kind(r).is_some_and(|k| k.starts_with("Medication")))
        .filter_map(|r| r.pointer("/medicationReference/reference"))
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Resources gathered for one episode, each once (by `Type/id`), in the order found.
#[derive(Default)]
pub(super) struct Gathered {
    resources: Vec<Value>,
    keys: HashSet<String>,
}

impl Gathered {
    /// Adds a resource not yet here; one without a type is dropped.
    pub fn add(&mut self, r: Value) {
        let Some(ty) = kind(&r) else { return };
        if let Some(id) = id_of(&r)
            && !self.keys.insert(format!("{ty}/{id}"))
        {
            return;
        }
        self.resources.push(r);
    }

    pub fn has(&self, ty: &str, id: &str) -> bool {
        self.keys.contains(&format!("{ty}/{id}"))
    }

    pub fn resources(&self) -> &[Value] {
        &self.resources
    }

    pub fn resources_mut(&mut self) -> &mut [Value] {
        &mut self.resources
    }

    pub fn into_vec(self) -> Vec<Value> {
        self.resources
    }
}

/// The attachments of a DocumentReference to fetch: by `url`, without `data`, plain text
/// (or of no stated type); `(index in content, url)`.
pub(super) fn text_attachments(doc: &Value) -> Vec<(usize, String)> {
    let content = doc.get("content").and_then(Value::as_array);
    let mut out = Vec::new();
    for (i, c) in content.into_iter().flatten().enumerate() {
        let Some(a) = c.get("attachment") else {
            continue;
        };
        let url = a.get("url").and_then(Value::as_str).map(str::trim);
        let has_data = a.get("data").and_then(Value::as_str).is_some();
        let text = a
            .get("contentType")
            .and_then(Value::as_str)
            .is_none_or(|t| t.trim().to_ascii_lowercase().starts_with("text/"));
        if let Some(url) = url.filter(|u| !u.is_empty())
            && !has_data
            && text
        {
            out.push((i, url.to_string()));
        }
    }
    out
}

/// The base64 data of a fetched attachment and its type: a `Binary` resource's `data`
/// (when the server answered with the resource), else the raw body.
pub(super) fn attachment_data(
    content_type: Option<&str>,
    body: &[u8],
) -> Option<(String, Option<String>)> {
    let json = content_type.is_some_and(|t| t.ends_with("json"));
    if json && let Ok(v) = serde_json::from_slice::<Value>(body) {
        if kind(&v) != Some("Binary") {
            return None;
        }
        let data = v.get("data").and_then(Value::as_str)?;
        let ct = v.get("contentType").and_then(Value::as_str);
        return Some((data.to_string(), ct.map(str::to_string)));
    }
    Some((base64(body), content_type.map(str::to_string)))
}

/// Puts fetched data into `content[index].attachment`, with its type when it had none.
pub(super) fn inline_attachment(doc: &mut Value, index: usize, data: String, ct: Option<String>) {
    let Some(a) = doc.pointer_mut(&format!("/content/{index}/attachment")) else {
        return;
    };
    let Some(a) = a.as_object_mut() else { return };
    a.insert("data".into(), Value::String(data));
    if let Some(ct) = ct
        && !a.contains_key("contentType")
    {
        a.insert("contentType".into(), Value::String(ct));
    }
}

/// The `collection` Bundle handed on: the Encounter `encounter_id` first, then the
/// Patient(s), then the rest in the order gathered; every entry with its `fullUrl` on
/// the server.
pub(super) fn assemble(base: &str, encounter_id: &str, resources: Vec<Value>) -> Value {
    let rank = |r: &Value| match kind(r) {
        Some("Encounter") if id_of(r) == Some(encounter_id) => 0,
        Some("Patient") => 1,
        _ => 2,
    };
    let mut resources = resources;
    resources.sort_by_key(rank);
    let entry: Vec<Value> = resources
        .into_iter()
        .map(|r| match (kind(&r), id_of(&r)) {
            (Some(ty), Some(id)) => json!({"fullUrl": format!("{base}/{ty}/{id}"), "resource": r}),
            _ => json!({ "resource": r }),
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "collection", "entry": entry})
}

/// `Encounter 1, Patient 1, Condition 3`: counts by resource type, in the Bundle's order.
pub(super) fn summary(bundle: &Value) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in search_resources(bundle, None) {
        let ty = kind(&r).unwrap_or("?");
        match counts.iter_mut().find(|(k, _)| k == ty) {
            Some((_, n)) => *n += 1,
            None => counts.push((ty.to_string(), 1)),
        }
    }
    counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://fhir.example.cl/fhir/R4").unwrap()
    }

    fn page(next: &str) -> Value {
        json!({"resourceType": "Bundle", "type": "searchset", "link": [
            {"relation": "self", "url": "https://fhir.example.cl/fhir/R4/Encounter?x=1"},
            {"relation": "next", "url": next}]})
    }

    #[test]
    fn the_next_link_is_chosen_and_kept_on_the_server() {
        let next = |n: &str| next_link(&page(n), &base()).map(|u| u.map(|u| u.to_string()));
        assert_eq!(
            next("https://fhir.example.cl/fhir/R4?_getpages=abc&_offset=50").unwrap(),
            Some("https://fhir.example.cl/fhir/R4?_getpages=abc&_offset=50".into())
        );
        assert_eq!(
            next("Encounter?_offset=2").unwrap(),
            Some("https://fhir.example.cl/fhir/R4/Encounter?_offset=2".into())
        );
        let e = next("http://10.0.0.5:8080/fhir/Encounter?_offset=2").unwrap_err();
        assert!(e.contains("http://10.0.0.5:8080"), "{e}");
        assert_eq!(next("").unwrap(), None);
        let last = json!({"resourceType": "Bundle", "link": [{"relation": "self", "url": "x"}]});
        assert_eq!(next_link(&last, &base()).unwrap(), None);
        assert_eq!(next_link(&json!({}), &base()).unwrap(), None);
    }

    #[test]
    fn operation_outcome_codes_are_read_without_text() {
        let body = json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "invalid", "diagnostics": "RUN 11.111.111-1"},
            {"severity": "error", "code": "invalid"},
            {"severity": "warning", "code": "Juan Pérez"},
            {"severity": "error", "code": "not-supported"}]});
        let codes = issue_codes(body.to_string().as_bytes());
        assert_eq!(codes, ["invalid", "not-supported"]);
        assert!(issue_codes(b"<html>error</html>").is_empty());
        assert!(issue_codes(br#"{"resourceType":"Patient","issue":[{"code":"x"}]}"#).is_empty());
    }

    fn encounter(id: &str, status: &str, end: Option<&str>) -> Value {
        let mut e = json!({"resourceType": "Encounter", "id": id, "status": status,
            "period": {"start": "2025-01-01"}});
        if let Some(end) = end {
            e["period"]["end"] = json!(end);
        }
        e
    }

    #[test]
    fn discharges_are_filtered_deduplicated_and_oldest_first() {
        let since = Since::parse("2025-03-01").unwrap();
        let list = [
            encounter("late", "finished", Some("2025-03-12T09:00:00-03:00")),
            encounter("early", "finished", Some("2025-03-01T23:30:00-03:00")),
            encounter("before", "finished", Some("2025-02-28T10:00:00Z")),
            encounter("open", "in-progress", None),
            encounter("month", "finished", Some("2025-03")),
            encounter("noend", "finished", None),
            encounter("early", "finished", Some("2025-03-01T23:30:00-03:00")),
            json!({"resourceType": "Encounter", "status": "finished"}),
        ];
        let ids: Vec<String> = select_discharges(&list, since)
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(ids, ["early", "late", "month", "noend"]);
    }

    #[test]
    fn references_and_ids_are_read() {
        assert_eq!(typed_id("Patient/p-1"), Some(("Patient", "p-1")));
        assert_eq!(
            typed_id("https://h/fhir/R4/Condition/c.2/_history/3"),
            Some(("Condition", "c.2"))
        );
        assert_eq!(typed_id("urn:uuid:0b6d"), None);
        assert_eq!(typed_id("#med1"), None);
        assert_eq!(typed_id("patient/1"), None);
        assert!(fhir_id("enc-a1") && !fhir_id("a/b") && !fhir_id("") && !fhir_id(&"x".repeat(65)));
        let enc = json!({"diagnosis": [{"condition": {"reference": "Condition/c1"}},
            {"condition": {"display": "sin referencia"}}]});
        assert_eq!(diagnosis_refs(&enc), ["Condition/c1"]);
        let meds = [
            json!({"resourceType": "MedicationRequest", "medicationReference": {"reference": "Medication/m1"}}),
            json!({"resourceType": "Observation", "medicationReference": {"reference": "Medication/x"}}),
        ];
        assert_eq!(medication_refs(&meds), ["Medication/m1"]);
    }

    #[test]
    fn the_bundle_puts_the_encounter_and_patient_first() {
        let mut got = Gathered::default();
        got.add(json!({"resourceType": "Condition", "id": "c1"}));
        got.add(json!({"resourceType": "Encounter", "id": "parent"}));
        got.add(json!({"resourceType": "Patient", "id": "p1"}));
        got.add(json!({"resourceType": "Condition", "id": "c1", "note": "again"}));
        got.add(json!({"resourceType": "Encounter", "id": "e1"}));
        got.add(json!({"id": "no-type"}));
        assert!(got.has("Condition", "c1") && !got.has("Condition", "c2"));
        let b = assemble("https://h/fhir", "e1", got.into_vec());
        assert_eq!(b["type"], "collection");
        let urls: Vec<&str> = b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["fullUrl"].as_str().unwrap())
            .collect();
        assert_eq!(
            urls,
            [
                "https://h/fhir/Encounter/e1",
                "https://h/fhir/Patient/p1",
                "https://h/fhir/Condition/c1",
                "https://h/fhir/Encounter/parent"
            ]
        );
        assert_eq!(summary(&b), "Encounter 2, Patient 1, Condition 1");
    }

    #[test]
    fn text_attachments_by_url_are_found_and_inlined() {
        let mut doc = json!({"resourceType": "DocumentReference", "content": [
            {"attachment": {"contentType": "text/plain", "data": "SG9sYQ=="}},
            {"attachment": {"contentType": "text/plain; charset=utf-8", "url": "Binary/b1"}},
            {"attachment": {"contentType": "application/pdf", "url": "Binary/b2"}},
            {"attachment": {"url": "https://h/fhir/Binary/b3"}}]});
        let found = text_attachments(&doc);
        assert_eq!(
            found,
            [
                (1, "Binary/b1".into()),
                (3, "https://h/fhir/Binary/b3".into())
            ]
        );
        let binary = br#"{"resourceType":"Binary","contentType":"text/plain","data":"RMOtYQ=="}"#;
        let (data, ct) = attachment_data(Some("application/fhir+json"), binary).unwrap();
        assert_eq!(
            (data.as_str(), ct.as_deref()),
            ("RMOtYQ==", Some("text/plain"))
        );
        let (raw, ct) = attachment_data(Some("text/plain"), "Día".as_bytes()).unwrap();
        assert_eq!(
            (raw.as_str(), ct.as_deref()),
            ("RMOtYQ==", Some("text/plain"))
        );
        assert_eq!(
            attachment_data(Some("application/json"), br#"{"resourceType":"Patient"}"#),
            None
        );
        inline_attachment(&mut doc, 3, raw, ct);
        assert_eq!(doc["content"][3]["attachment"]["data"], "RMOtYQ==");
        assert_eq!(doc["content"][3]["attachment"]["contentType"], "text/plain");
        assert!(text_attachments(&doc).len() == 1);
    }

    #[test]
    fn search_pages_give_their_resources() {
        let page = json!({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Condition", "id": "1"}},
            {"resource": {"resourceType": "Patient", "id": "2"}, "search": {"mode": "include"}},
            {"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "outcome"}},
            {"fullUrl": "x"}]});
        assert_eq!(search_resources(&page, Some("Condition")).len(), 1);
        assert_eq!(search_resources(&page, None).len(), 2);
        assert!(is_bundle(&page) && !is_bundle(&json!({"resourceType": "Patient"})));
    }
}
