//! Write-back: a signed epicrisis sent to the FHIR server as a `DocumentReference`
//! (LOINC 18842-5, «Epicrisis»), with the PDF, the plain text and, when given, the
//! structured FHIR document Bundle attached, linked to the patient and the encounter it
//! was drafted from.
//!
//! The resource carries the signed version's hash as its `masterIdentifier` and
//! `identifier` (system [`VERSION_SYSTEM`]) and is created with `If-None-Exist` on that
//! identifier, so a retry after a lost answer, or sending the same signature twice,
//! leaves exactly one document on the server; the server's id for it is given back for
//! the audit trail.

use super::auth::base64;
use super::client::{Answer, Http, Outgoing, Reply};
use crate::SourceError;
use serde_json::{Value, json};

/// The identifier system of a signed version's hash.
pub const VERSION_SYSTEM: &str = "urn:epicrisis:version-sha256";

/// A signed epicrisis to send.
pub struct OutgoingDocument {
    /// The episode's number: the Encounter's identifier (what the reader takes as the
    /// episode number), or its id on this server.
    pub episode: String,
    /// The signed version's hash (hex), which identifies the document.
    pub version_hash: String,
    /// Signature time, RFC 3339.
    pub signed_at: String,
    /// Who signed, as the document shows it.
    pub signer: Option<String>,
    pub title: String,
    pub pdf: Vec<u8>,
    pub text: String,
    /// The FHIR document Bundle (`Composition` first) of the same version, if any.
    pub fhir_document: Option<Vec<u8>>,
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// `DocumentReference/{id}` on the server.
    pub reference: String,
    /// Whether this call created it (false: it was there from an earlier send).
    pub created: bool,
}

/// Sends one document; see the module documentation.
pub(super) async fn send(http: &Http, doc: &OutgoingDocument) -> Result<Sent, SourceError> {
    let what = "envío de la epicrisis firmada";
    let encounter = find_encounter(http, &doc.episode).await?;
    let encounter_id = encounter
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| http.answer_error("Encounter", "el Encounter no trae id"))?
        .to_string();
    let subject = encounter
        .get("subject")
        .and_then(|s| s.get("reference"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let resource = document_reference(doc, &encounter_id, subject.as_deref());
    let outgoing = Outgoing {
        body: resource.to_string().into_bytes(),
        if_none_exist: Some(format!("identifier={VERSION_SYSTEM}|{}", doc.version_hash)),
    };
    let url = http.url(&["DocumentReference"], &[]);
    let answer = http.exchange(&url, Some(&outgoing), what).await?;
    if !answer.ok() {
        return Err(http.remote(&answer, what));
    }
    let id = created_id(&answer).ok_or_else(|| {
        http.answer_error(what, "el servidor aceptó el documento sin decir su id")
    })?;
    Ok(Sent {
        reference: format!("DocumentReference/{id}"),
        created: answer.status == 201,
    })
}

/// The episode's Encounter: the one whose identifier is `episode` (the reader takes the
/// first identifier as the episode number), else `Encounter/{episode}`.
async fn find_encounter(http: &Http, episode: &str) -> Result<Value, SourceError> {
    let search = http.url(&["Encounter"], &[("identifier", episode)]);
    if let Reply::Json(bundle) = http.get_json(&search, "Encounter").await? {
        let found: Vec<&Value> = bundle
            .get("entry")
            .and_then(Value::as_array)
            .map(|e| e.iter().filter_map(|e| e.get("resource")).collect())
            .unwrap_or_default();
        match found.as_slice() {
            [one] => return Ok((*one).clone()),
            [] => {}
            _ => {
                return Err(http.answer_error(
                    "Encounter",
                    "hay más de un Encounter con el número de este episodio",
                ));
            }
        }
    }
    let url = http.url(&["Encounter", episode], &[]);
    match http.get_json(&url, "Encounter").await? {
        Reply::Json(v) => Ok(v),
        Reply::Status(a) if matches!(a.status, 400 | 404 | 410) => Err(SourceError::NotFound {
            detail: "el servidor FHIR no tiene el Encounter del episodio".into(),
        }),
        Reply::Status(a) => Err(http.remote(&a, "Encounter")),
    }
}

/// The id of the created (or found) resource: from its body, which servers return by
/// default (`Prefer: return=representation`).
fn created_id(answer: &Answer) -> Option<String> {
    let v: Value = serde_json::from_slice(&answer.body).ok()?;
    let v = match v.get("resourceType").and_then(Value::as_str) {
        // A search-set answer to a conditional create that matched.
        Some("Bundle") => v.get("entry")?.get(0)?.get("resource")?.clone(),
        _ => v,
    };
    v.get("id").and_then(Value::as_str).map(str::to_string)
}

/// The `DocumentReference` of a signed epicrisis.
fn document_reference(doc: &OutgoingDocument, encounter_id: &str, subject: Option<&str>) -> Value {
    let identifier = json!({"system": VERSION_SYSTEM, "value": doc.version_hash});
    let mut content = vec![
        attachment("application/pdf", &doc.pdf, &doc.title),
        attachment("text/plain; charset=utf-8", doc.text.as_bytes(), &doc.title),
    ];
    if let Some(bundle) = &doc.fhir_document {
        content.push(attachment("application/fhir+json", bundle, &doc.title));
    }
    let mut r = json!({
        "resourceType": "DocumentReference",
        "masterIdentifier": identifier,
        "identifier": [identifier],
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "18842-5",
                             "display": "Discharge summary"}], "text": "Epicrisis"},
        "date": doc.signed_at,
        "description": doc.title,
        "content": content.into_iter().map(|a| json!({"attachment": a})).collect::<Vec<_>>(),
        "context": {"encounter": [{"reference": format!("Encounter/{encounter_id}")}]},
    });
    if let Some(s) = subject {
        r["subject"] = json!({"reference": s});
    }
    if let Some(who) = &doc.signer {
        r["authenticator"] = json!({"display": who});
        r["author"] = json!([{"display": who}]);
    }
    r
}

fn attachment(content_type: &str, bytes: &[u8], title: &str) -> Value {
    json!({
        "contentType": content_type,
        "language": "es-CL",
        "data": base64(bytes),
        "title": title,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> OutgoingDocument {
        OutgoingDocument {
            episode: "EP-1".into(),
            version_hash: "ab12".into(),
            signed_at: "2026-03-05T12:00:00Z".into(),
            signer: Some("Dra. Ana Pérez".into()),
            title: "Epicrisis".into(),
            pdf: b"%PDF-1.7".to_vec(),
            text: "Epicrisis".into(),
            fhir_document: None,
        }
    }

    #[test]
    fn the_document_names_its_version_patient_and_encounter() {
        let r = document_reference(&doc(), "enc-1", Some("Patient/p-1"));
        assert_eq!(r["masterIdentifier"]["value"], "ab12");
        assert_eq!(r["identifier"][0]["system"], VERSION_SYSTEM);
        assert_eq!(r["subject"]["reference"], "Patient/p-1");
        assert_eq!(r["context"]["encounter"][0]["reference"], "Encounter/enc-1");
        assert_eq!(r["type"]["coding"][0]["code"], "18842-5");
        assert_eq!(
            r["content"][0]["attachment"]["contentType"],
            "application/pdf"
        );
        assert_eq!(r["content"][0]["attachment"]["data"], "JVBERi0xLjc=");
        assert_eq!(r["content"].as_array().unwrap().len(), 2);
        assert_eq!(r["authenticator"]["display"], "Dra. Ana Pérez");
    }

    #[test]
    fn the_id_comes_from_the_resource_or_the_matching_search() {
        let a = |body: &str, status| Answer {
            status,
            content_type: None,
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            created_id(&a(r#"{"resourceType":"DocumentReference","id":"d1"}"#, 201)),
            Some("d1".into())
        );
        assert_eq!(
            created_id(&a(
                r#"{"resourceType":"Bundle","entry":[{"resource":{"id":"d2"}}]}"#,
                200
            )),
            Some("d2".into())
        );
        assert_eq!(created_id(&a("no json", 200)), None);
    }
}
