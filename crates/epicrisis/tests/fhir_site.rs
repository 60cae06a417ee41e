//! A hospital whose episodes live on a FHIR server, end to end with the real binary: the
//! FHIR test server (Medplum's router in memory, `epicrisis_testkit::fhir_server`) holds
//! a synthetic stay; `sources check` reads it in counts only; `pull` imports and drafts
//! it; the physician signs on the web API; `sources send` writes the signed epicrisis
//! back as a DocumentReference with its PDF, once however often it is sent, and the
//! audit trail records it and still verifies.

use epicrisis_testkit::fhir_server::FhirServer;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

mod common;
use common::server::{add_user, bin, login, serve};

const EPISODE: &str = "EP-2026-0042";
const PATIENT_NAME: &str = "Marisol Fuenzalida";

/// The stay, as a transaction of PUTs: patient, encounter (finished), two diagnoses, a
/// drug of the stay, a discharge prescription, a lab value, two evolution notes.
fn stay() -> Value {
    let b64 = |t: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(t.as_bytes())
    };
    let pat = json!({"reference": "Patient/pac-1"});
    let enc = json!({"reference": "Encounter/enc-1"});
    let icd = |code: &str, text: &str| json!({"text": text, "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code}]});
    let atc = |code: &str, text: &str| json!({"text": text, "coding": [{"system": "http://www.whocc.no/atc", "code": code}]});
    let role = |c: &str, u: &str| {
        json!({"condition": {"reference": format!("Condition/{c}")},
        "use": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/diagnosis-role", "code": u}]}})
    };
    let note = |id: &str, date: &str, text: &str| {
        json!({"resourceType": "DocumentReference", "id": id,
        "status": "current", "subject": pat, "date": date, "context": {"encounter": [enc]},
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "data": b64(text)}}]})
    };
    let resources = vec![
        json!({"resourceType": "Patient", "id": "pac-1", "gender": "female", "birthDate": "1958-04-11",
            "identifier": [{"system": "http://regcivil.cl/Validacion/RUN", "value": "11111111-1"}],
            "name": [{"text": PATIENT_NAME}]}),
        json!({"resourceType": "Encounter", "id": "enc-1", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "identifier": [{"system": "urn:hospital-ficticio:episodio", "value": EPISODE}],
            "subject": pat, "period": {"start": "2026-03-02T10:00:00-03:00", "end": "2026-03-06T12:00:00-03:00"},
            "serviceType": {"text": "Medicina Interna"},
            "reasonCode": [{"text": "Fiebre y disuria de 3 días"}],
            "diagnosis": [role("c-ing", "AD"), role("c-egr", "DD")]}),
        json!({"resourceType": "Condition", "id": "c-ing", "subject": pat, "encounter": enc,
            "code": icd("N39.0", "Infección del tracto urinario")}),
        json!({"resourceType": "Condition", "id": "c-egr", "subject": pat, "encounter": enc,
            "code": icd("N10", "Pielonefritis aguda")}),
        json!({"resourceType": "MedicationStatement", "id": "m-1", "status": "completed", "subject": pat,
            "context": enc, "medicationCodeableConcept": atc("J01DD04", "Ceftriaxona"),
            "dosage": [{"text": "1 g cada 24 horas endovenoso"}]}),
        json!({"resourceType": "MedicationRequest", "id": "r-1", "status": "active", "intent": "order",
            "subject": pat, "encounter": enc,
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category", "code": "discharge"}]}],
            "medicationCodeableConcept": atc("J01DC02", "Cefuroxima"),
            "dosageInstruction": [{"text": "500 mg cada 12 horas por 7 días, vía oral"}]}),
        json!({"resourceType": "Observation", "id": "o-1", "status": "final", "subject": pat, "encounter": enc,
            "code": {"text": "Proteína C reactiva"}, "effectiveDateTime": "2026-03-02T11:00:00-03:00",
            "valueQuantity": {"value": 18.2, "unit": "mg/dL"}}),
        note(
            "n-1",
            "2026-03-02T18:00:00-03:00",
            "Ingresa febril, con dolor lumbar derecho. Se inicia ceftriaxona.",
        ),
        note(
            "n-2",
            "2026-03-05T09:00:00-03:00",
            "Afebril hace 48 horas, tolera vía oral. Se planifica alta.",
        ),
    ];
    let entry: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let url = format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            );
            json!({"resource": r, "request": {"method": "PUT", "url": url}})
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entry})
}

fn run(dir: &Path, server: &FhirServer, args: &[&str]) -> (i32, String, String) {
    let mut c: Command = bin(dir);
    let out = c
        .env("EPICRISIS_SOURCE", "fhir")
        .env("EPICRISIS_SOURCE_FHIR_URL", server.base())
        .env("EPICRISIS_SOURCE_FHIR_TOKEN_FILE", dir.join("token"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The hospital's server loaded with the stay, and a site with a physician and the token.
fn site(server: &FhirServer) -> tempfile::TempDir {
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/", server.base()))
        .bearer_auth(&server.token)
        .header("Content-Type", "application/fhir+json")
        .body(stay().to_string())
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("db")).unwrap();
    std::fs::write(d.join("token"), format!("{}\n", server.token)).unwrap();
    add_user(d, "ana", "medico", "Dra. Ana Pérez");
    dir
}

/// The physician signs the pulled draft on the web API; the signed version's id.
fn sign_the_draft(d: &Path) -> i64 {
    let srv = serve(d, &["--engine", "deterministic"]);
    let s = login(&srv.url, "ana");
    let list: Value = s
        .get(&format!("/api/v1/episodes/{EPISODE}/versions"))
        .json()
        .unwrap();
    let id = list["versions"][0]["id"]
        .as_i64()
        .expect("the pulled draft");
    let r = s.post(
        &format!("/api/v1/versions/{id}/sign"),
        &json!({"acknowledgeFindings": true}),
    );
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let signed: Value = r.json().unwrap();
    signed["id"].as_i64().unwrap()
}

#[test]
fn a_fhir_hospital_is_pulled_drafted_signed_and_written_back() {
    let Some(server) = FhirServer::start() else {
        return;
    };
    let dir = site(&server);
    let d = dir.path();

    let (code, out, err) = run(d, &server, &["sources", "check", "--since", "2026-03-01"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("altas desde 2026-03-01: 1") && out.contains("forma fhir"),
        "{out}"
    );
    assert!(
        out.contains("2 notas de evolución") && out.contains("1 medicamentos al alta"),
        "{out}"
    );
    assert!(!out.contains(PATIENT_NAME) && !out.contains(EPISODE) && !out.contains(&server.token));

    let pull = [
        "pull",
        "--since",
        "2026-03-01",
        "--as",
        "ana",
        "--engine",
        "deterministic",
    ];
    let (code, _, err) = run(d, &server, &pull);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 borradores listos"), "{err}");

    let v = sign_the_draft(d).to_string();
    let (code, out, err) = run(d, &server, &["sources", "send", &v, "--as", "ana"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("DocumentReference/") && out.contains("recibida"),
        "{out}"
    );
    let (code, out, err) = run(d, &server, &["sources", "send", &v, "--as", "ana"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ya estaba"), "{out}");

    // On the server: one document for the encounter, with the signed PDF.
    let found: Value = reqwest::blocking::Client::new()
        .get(format!(
            "{}/DocumentReference?encounter=Encounter/enc-1&type=18842-5",
            server.base()
        ))
        .bearer_auth(&server.token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let entries = found["entry"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 1, "{found}");
    let doc = &entries[0]["resource"];
    assert_eq!(doc["subject"]["reference"], "Patient/pac-1");
    assert_eq!(
        doc["content"][0]["attachment"]["contentType"],
        "application/pdf"
    );
    let pdf = {
        use base64::Engine;
        let data = doc["content"][0]["attachment"]["data"].as_str().unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap()
    };
    assert!(pdf.starts_with(b"%PDF"));

    // An unsigned version is not sent; the audit trail verifies with the sends in it.
    let (code, _, err) = run(d, &server, &["sources", "send", "999", "--as", "ana"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no existe esa versión"), "{err}");
    let out = bin(d).args(["audit", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
