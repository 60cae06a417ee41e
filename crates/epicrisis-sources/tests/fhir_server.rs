//! The FHIR source against a real FHIR server: Medplum's FHIR router over its in-memory
//! repository (`tools/fhir-test-server`, Node), started once for this test binary and
//! loaded with three invented patients; and against scripted servers
//! (`epicrisis_testkit::http`) for what Medplum never answers: `$everything`, busy
//! answers with `Retry-After`, OperationOutcomes that quote a patient, pages on another
//! server, a token endpoint that refuses HTTP Basic.
//!
//! Without Node or `npm ci --prefix tools/fhir-test-server` the Medplum tests are skipped
//! (they fail under `EPICRISIS_REQUIRE_TOOLS=1`); the scripted ones always run.

use epicrisis_domain::Allergies;
use epicrisis_sources::fhir::{FhirAuth, FhirConfig, FhirSource, OutgoingDocument, VERSION_SYSTEM};
use epicrisis_sources::{Retry, Secret, Since, SourceError, settings};
use epicrisis_testkit::fhir_server::{CLIENT_ID, CLIENT_SECRET, FhirServer};
use epicrisis_testkit::http::{Request, Server, respond};
use serde_json::{Value, json};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const RUN: &str = "http://regcivil.cl/Validacion/RUN";

/// The shared server, loaded with the synthetic patients; `None` (skip or fail) when
/// Node or the package is missing.
#[track_caller]
fn medplum() -> Option<&'static FhirServer> {
    static SERVER: OnceLock<Option<FhirServer>> = OnceLock::new();
    let server = SERVER.get_or_init(|| {
        let server = FhirServer::start()?;
        let (base, token) = (server.base(), server.token.clone());
        std::thread::spawn(move || block_on(load(base, token)))
            .join()
            .expect("load the synthetic patients");
        Some(server)
    });
    server.as_ref()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

/// Posts the synthetic patients as one transaction Bundle.
async fn load(base: String, token: String) {
    let answer = reqwest::Client::new()
        .post(format!("{base}/"))
        .bearer_auth(token)
        .header("Content-Type", "application/fhir+json")
        .body(synthetic().to_string())
        .send()
        .await
        .expect("post the transaction");
    let status = answer.status();
    let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert!(status.is_success(), "{status}: {body}");
    for e in body["entry"].as_array().unwrap() {
        let s = e["response"]["status"].as_str().unwrap_or("");
        assert!(s.starts_with('2'), "{e}");
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

type Row5<T> = (&'static str, &'static str, &'static str, &'static str, T);
type PatientRow = (
    &'static str,
    [&'static str; 2],
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Three invented patients: id, given names, family names, sex, birth date, RUN.
#[rustfmt::skip]
const PATIENTS: [PatientRow; 3] = [
    ("pac-rosa", ["Rosa", "Elena"], "Quiroga Fuentes", "female", "1948-05-14", "12.345.678-5"),
    ("pac-jorge", ["Jorge", "Andrés"], "Muñoz Castillo", "male", "1961-11-02", "9.876.543-3"),
    ("pac-carmen", ["Carmen", "Gloria"], "Soto Vidal", "female", "1975-02-20", "15.432.109-K"),
];

/// Their encounters (id, patient, status, start, end), out of order; the listing since
/// 2025-03-01 must give, oldest discharge first: enc-jorge-feb, enc-rosa-mar,
/// enc-carmen-mar, enc-jorge-abr, enc-rosa-abr.
#[rustfmt::skip]
const ENCOUNTERS: [Row5<Option<&str>>; 7] = [
    ("enc-rosa-abr", "pac-rosa", "finished", "2025-04-20", Some("2025-04-25")),
    ("enc-rosa-ene", "pac-rosa", "finished", "2025-01-10", Some("2025-01-15")),
    ("enc-jorge-abr", "pac-jorge", "finished", "2025-04-01", Some("2025-04-03")),
    ("enc-carmen-urg", "pac-carmen", "in-progress", "2025-03-10", None),
    ("enc-carmen-mar", "pac-carmen", "finished", "2025-03-05", Some("2025-03-12")),
    ("enc-carmen-anul", "pac-carmen", "cancelled", "2025-03-06", Some("2025-03-06")),
    ("enc-jorge-feb", "pac-jorge", "finished", "2025-02-24", Some("2025-03-02T10:00:00-03:00")),
];

/// Rosa's laboratory (id, LOINC, test, when, value and unit or a text result).
#[rustfmt::skip]
const LABS: [Row5<Result<(f64, &str), &str>>; 5] = [
    ("obs-rosa-pcr1", "1988-5", "Proteína C reactiva", "2025-03-02T08:00:00", Ok((180.0, "mg/L"))),
    ("obs-rosa-pcr2", "1988-5", "Proteína C reactiva", "2025-03-08T08:00:00", Ok((35.0, "mg/L"))),
    ("obs-rosa-hb", "718-7", "Hemoglobina", "2025-03-02T08:00:00", Ok((11.2, "g/dL"))),
    ("obs-rosa-gb", "6690-2", "Leucocitos", "2025-03-02T08:00:00", Ok((15.8, "10*3/uL"))),
    ("obs-rosa-hemo", "600-7", "Hemocultivo", "2025-03-04T10:00:00", Err("Negativo")),
];

/// Rosa's evolution notes (id, day, date, inline text or the `Binary` that holds it).
#[rustfmt::skip]
const NOTES: [(&str, u32, &str, Result<&str, &str>); 3] = [
    ("doc-rosa-d1", 1, "2025-03-02", Ok("Ingresa febril, crépitos basales derechos.")),
    ("doc-rosa-d2", 2, "2025-03-03", Ok("Mejor mecánica ventilatoria, persiste subfebril.")),
    ("doc-rosa-d3", 3, "2025-03-04", Err("bin-rosa-d3")),
];
const BINARY_NOTE: &str = "Afebril, tolera vía oral; se planifica el alta.";

fn encounter((id, patient, status, start, end): Row5<Option<&str>>) -> Value {
    let mut e = json!({"resourceType": "Encounter", "id": id, "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": format!("Patient/{patient}")}, "period": {"start": start}});
    if let Some(end) = end {
        e["period"]["end"] = json!(end);
    }
    e
}

/// Rosa's March stay: the encounter with its diagnosis roles, three Conditions (one named
/// only by `Encounter.diagnosis`), a Procedure, a drug of the stay, two discharge
/// prescriptions (one by `Medication` reference), an allergy.
fn rosa_stay() -> Vec<Value> {
    let rosa = json!({"reference": "Patient/pac-rosa"});
    let stay = json!({"reference": "Encounter/enc-rosa-mar"});
    let atc = |code: &str, name: &str| json!({"text": name, "coding": [{"system": "http://www.whocc.no/atc", "code": code}]});
    let condition = |id: &str, code: &str, name: &str| {
        json!({"resourceType": "Condition", "id": id, "subject": rosa, "encounter": stay,
            "code": {"text": name, "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code}]}})
    };
    let role = |c: &str, u: &str| {
        json!({"condition": {"reference": format!("Condition/{c}")}, "use": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/diagnosis-role", "code": u}]}})
    };
    let discharge = json!([{"coding": [{"code": "discharge",
        "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category"}]}]);
    let mut enc = encounter((
        "enc-rosa-mar",
        "pac-rosa",
        "finished",
        "2025-03-02T14:00:00-03:00",
        Some("2025-03-09T11:30:00-03:00"),
    ));
    enc["identifier"] =
        json!([{"system": "urn:hospital-ficticio:episodio", "value": "EP-2025-00123"}]);
    enc["serviceType"] = json!({"text": "Medicina Interna"});
    enc["participant"] = json!([{"individual": {"display": "Dra. Paula Herrera Lagos"}}]);
    enc["reasonCode"] = json!([{"text": "Fiebre y tos productiva de 4 días"}]);
    enc["diagnosis"] = json!([
        role("cond-rosa-ing", "AD"),
        role("cond-rosa-egr", "DD"),
        role("cond-rosa-dm", "DD")
    ]);
    let mut diabetes = condition("cond-rosa-dm", "E11.9", "Diabetes mellitus tipo 2");
    diabetes.as_object_mut().unwrap().remove("encounter");
    vec![
        enc,
        condition(
            "cond-rosa-ing",
            "J18.9",
            "Neumonía adquirida en la comunidad",
        ),
        condition("cond-rosa-egr", "J13", "Neumonía neumocócica"),
        diabetes,
        json!({"resourceType": "Procedure", "id": "proc-rosa-rx", "status": "completed",
            "subject": rosa, "encounter": stay, "performedDateTime": "2025-03-02",
            "code": {"text": "Radiografía de tórax", "coding": [{"system": "http://hl7.org/fhir/sid/icd-9-cm", "code": "87.44"}]}}),
        json!({"resourceType": "MedicationStatement", "id": "ms-rosa-ceftriaxona", "status": "completed",
            "subject": rosa, "context": stay, "medicationCodeableConcept": atc("J01DD04", "Ceftriaxona"),
            "effectivePeriod": {"start": "2025-03-02", "end": "2025-03-08"},
            "dosage": [{"text": "2 g IV cada 24 horas", "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "g"}}]}]}),
        json!({"resourceType": "MedicationRequest", "id": "mr-rosa-amoxi", "status": "active", "intent": "order",
            "category": discharge, "subject": rosa, "encounter": stay,
            "medicationCodeableConcept": atc("J01CR02", "Amoxicilina/ácido clavulánico 875/125 mg"),
            "dosageInstruction": [{"text": "1 comprimido cada 12 horas por 7 días"}]}),
        json!({"resourceType": "MedicationRequest", "id": "mr-rosa-metformina", "status": "active", "intent": "order",
            "category": discharge, "subject": rosa, "encounter": stay,
            "medicationReference": {"reference": "Medication/med-metformina"},
            "dosageInstruction": [{"text": "850 mg cada 12 horas"}]}),
        json!({"resourceType": "Medication", "id": "med-metformina", "code": atc("A10BA02", "Metformina 850 mg")}),
        json!({"resourceType": "Binary", "id": "bin-rosa-d3", "contentType": "text/plain",
            "data": b64(BINARY_NOTE.as_bytes())}),
        json!({"resourceType": "AllergyIntolerance", "id": "alergia-rosa", "patient": rosa,
            "code": {"text": "Sulfonamidas"}}),
    ]
}

/// Rosa's laboratory Observations and DocumentReferences.
fn rosa_results() -> Vec<Value> {
    let mut out = Vec::new();
    for (id, loinc, name, when, value) in LABS {
        let mut o = json!({"resourceType": "Observation", "id": id, "status": "final",
            "category": [{"coding": [{"code": "laboratory",
                "system": "http://terminology.hl7.org/CodeSystem/observation-category"}]}],
            "code": {"text": name, "coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": "Patient/pac-rosa"},
            "encounter": {"reference": "Encounter/enc-rosa-mar"}, "effectiveDateTime": when});
        match value {
            Ok((v, unit)) => o["valueQuantity"] = json!({"value": v, "unit": unit}),
            Err(t) => o["valueString"] = json!(t),
        }
        out.push(o);
    }
    for (id, day, date, content) in NOTES {
        let attachment = match content {
            Ok(t) => json!({"contentType": "text/plain; charset=utf-8", "data": b64(t.as_bytes())}),
            Err(binary) => json!({"contentType": "text/plain", "url": format!("Binary/{binary}")}),
        };
        out.push(json!({"resourceType": "DocumentReference", "id": id, "status": "current",
            "description": format!("Día {day}"), "author": [{"display": "Dra. Paula Herrera Lagos"}],
            "subject": {"reference": "Patient/pac-rosa"}, "content": [{"attachment": attachment}],
            "context": {"encounter": [{"reference": "Encounter/enc-rosa-mar"}], "period": {"start": date}}}));
    }
    out
}

/// Everything as one transaction of PUTs (the ids are the test's).
fn synthetic() -> Value {
    let mut all: Vec<Value> = PATIENTS
        .iter()
        .map(|(id, given, family, sex, birth, run)| {
            json!({"resourceType": "Patient", "id": id, "gender": sex, "birthDate": birth,
                "identifier": [{"system": RUN, "value": run}],
                "name": [{"given": given, "family": family}]})
        })
        .collect();
    all.extend(ENCOUNTERS.into_iter().map(encounter));
    all.extend(rosa_stay());
    all.extend(rosa_results());
    let entry: Vec<Value> = all
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

fn quick() -> Retry {
    Retry {
        retries: 2,
        first_wait: Duration::from_millis(20),
        max_wait: Duration::from_millis(50),
    }
}

fn source(base: &str, auth: FhirAuth) -> FhirSource {
    let mut c = FhirConfig::new(base, auth);
    c.retry = quick();
    c.timeout = Duration::from_secs(10);
    FhirSource::new(c).expect("a valid configuration")
}

fn bearer(m: &FhirServer) -> FhirSource {
    source(&m.base(), FhirAuth::Bearer(Secret::new(m.token.clone())))
}

fn since() -> Since {
    Since::parse("2025-03-01").unwrap()
}

/// The kind of an error and the setting it names.
fn named(e: &SourceError) -> (&'static str, &'static str) {
    match e {
        SourceError::Setting { setting, .. } => ("Setting", setting),
        SourceError::Unreachable { setting, .. } => ("Unreachable", setting),
        SourceError::Refused { setting, .. } => ("Refused", setting),
        SourceError::Remote { setting, .. } => ("Remote", setting),
        SourceError::Answer { setting, .. } => ("Answer", setting),
        SourceError::NotFound { .. } => ("NotFound", ""),
    }
}

async fn ids(s: &FhirSource, from: &str) -> Vec<String> {
    let list = s
        .discharged_since(Since::parse(from).unwrap())
        .await
        .unwrap();
    list.into_iter().map(|d| d.id).collect()
}

#[tokio::test]
async fn medplum_lists_the_discharges_across_pages_oldest_first() {
    let Some(m) = medplum() else { return };
    let s = bearer(m).with_page_size(2);
    let want = [
        "enc-jorge-feb",
        "enc-rosa-mar",
        "enc-carmen-mar",
        "enc-jorge-abr",
        "enc-rosa-abr",
    ];
    assert_eq!(ids(&s, "2025-03-01").await, want);
    assert_eq!(ids(&s, "2025-04-04").await, ["enc-rosa-abr"]);
    // Pages of one and at most three: the bound stops the listing with a message.
    let capped = bearer(m).with_page_size(1).with_max_pages(3);
    let e = capped.discharged_since(since()).await.unwrap_err();
    assert_eq!(named(&e), ("Answer", settings::FHIR_URL), "{e}");
    assert!(e.to_string().contains("más de 3 páginas"), "{e}");
}

const ROSA_SUMMARY: &str = "Encounter 1, Patient 1, Condition 3, Procedure 1, \
    MedicationStatement 1, MedicationRequest 2, Observation 5, DocumentReference 3, \
    Medication 1, AllergyIntolerance 1; 1 adjunto(s) leído(s) del servidor";

#[tokio::test]
async fn medplum_episode_is_a_bundle_the_reader_reads() {
    let Some(m) = medplum() else { return };
    let fetched = bearer(m)
        .with_page_size(2)
        .episode("enc-rosa-mar")
        .await
        .unwrap();
    assert_eq!(
        (fetched.id.as_str(), fetched.summary.as_str()),
        ("enc-rosa-mar", ROSA_SUMMARY)
    );
    let bundle: Value = serde_json::from_slice(&fetched.document).unwrap();
    assert_eq!(bundle["type"], "collection");
    let first = format!("{}/Encounter/enc-rosa-mar", m.base());
    assert_eq!(bundle["entry"][0]["fullUrl"], first);
    assert_eq!(bundle["entry"][1]["resource"]["resourceType"], "Patient");
    let ep = epicrisis_ingest::read_episode(&fetched.document, "fhir").unwrap();
    let p = &ep.patient;
    assert_eq!(p.identifier.as_deref(), Some("12.345.678-5"));
    assert_eq!(p.name.as_deref(), Some("Rosa Elena Quiroga Fuentes"));
    assert_eq!((p.age, ep.id.as_deref()), (Some(76), Some("EP-2025-00123")));
    let dates = [ep.admission_date, ep.discharge_date].map(|d| d.unwrap().to_string());
    assert_eq!(dates, ["2025-03-02", "2025-03-09"]);
    assert_eq!(ep.service.as_deref(), Some("Medicina Interna"));
    let codes = |ds: &[epicrisis_domain::Diagnosis]| -> Vec<String> {
        ds.iter()
            .map(|d| d.code.as_ref().unwrap().raw.clone())
            .collect()
    };
    assert_eq!(codes(&ep.admission_diagnoses), ["J18.9"]);
    assert_eq!(codes(&ep.discharge_diagnoses), ["J13", "E11.9"]);
    let procedures: Vec<&str> = ep.procedures.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(procedures, ["Radiografía de tórax"]);
    let names = |ms: &[epicrisis_domain::Medication]| -> Vec<String> {
        ms.iter().map(|m| m.name.clone()).collect()
    };
    assert_eq!(names(&ep.treatments), ["Ceftriaxona"]);
    let prescribed = [
        "Amoxicilina/ácido clavulánico 875/125 mg",
        "Metformina 850 mg",
    ];
    assert_eq!(names(&ep.discharge.medications), prescribed);
    let lab = |t: &str| ep.labs.iter().find(|l| l.test == t).expect(t);
    let pcr = lab("Proteína C reactiva");
    let pcr_last = pcr.last.as_ref().map(|l| l.value);
    assert_eq!(
        (pcr.first.value, pcr_last, pcr.unit.as_deref()),
        (180.0, Some(35.0), Some("mg/L"))
    );
    let hb = lab("Hemoglobina");
    assert_eq!((hb.first.value, hb.unit.as_deref()), (11.2, Some("g/dL")));
    let findings: Vec<&str> = ep.lab_findings.iter().map(|f| f.result.as_str()).collect();
    assert_eq!(findings, ["Negativo"]);
    let notes: Vec<(Option<u32>, &str)> = ep
        .evolution
        .iter()
        .map(|n| (n.day, n.text.as_str()))
        .collect();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes.contains(&(Some(3), BINARY_NOTE)), "{notes:?}");
    assert_eq!(
        ep.history.allergies,
        Allergies::Known(vec!["Sulfonamidas".into()])
    );
}

#[tokio::test]
async fn medplum_receives_a_signed_epicrisis_once() {
    let Some(m) = medplum() else { return };
    let s = bearer(m);
    let hash = format!("{:064x}", 0xe71c_u64 + u64::from(std::process::id()));
    let doc = OutgoingDocument {
        episode: "EP-2025-00123".into(),
        version_hash: hash.clone(),
        signed_at: "2026-03-06T15:30:00Z".into(),
        signer: Some("Dra. Ana Pérez".into()),
        title: "Epicrisis".into(),
        pdf: b"%PDF-1.7 prueba".to_vec(),
        text: "EPICRISIS\nDiagnóstico de egreso: neumonía".into(),
        fhir_document: Some(br#"{"resourceType":"Bundle","type":"document"}"#.to_vec()),
    };
    let first = s.send_document(&doc).await.unwrap();
    assert!(first.created, "{first:?}");
    assert!(
        first.reference.starts_with("DocumentReference/"),
        "{first:?}"
    );
    // Sent again (a retry, a second click): the server keeps one. An episode known by
    // its Encounter's id instead of its number finds the same Encounter.
    let mut doc = doc;
    doc.episode = "enc-rosa-mar".into();
    let again = s.send_document(&doc).await.unwrap();
    assert_eq!(again.reference, first.reference);
    assert!(!again.created);
    // What the server holds: linked to the patient and the encounter, with the PDF.
    let url = format!("{}/{}", m.base(), first.reference);
    let stored: Value = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&m.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stored["context"]["encounter"][0]["reference"],
        "Encounter/enc-rosa-mar"
    );
    assert!(
        stored["subject"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Patient/")
    );
    assert_eq!(stored["masterIdentifier"]["value"], hash.as_str());
    assert_eq!(
        stored["content"][0]["attachment"]["contentType"],
        "application/pdf"
    );
    assert_eq!(
        stored["content"][0]["attachment"]["data"],
        b64(b"%PDF-1.7 prueba")
    );
    let search = format!(
        "{}/DocumentReference?identifier={VERSION_SYSTEM}|{hash}",
        m.base()
    );
    let found: Value = reqwest::Client::new()
        .get(&search)
        .bearer_auth(&m.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["entry"].as_array().map(Vec::len), Some(1), "{found}");
    // An encounter the server does not have.
    let mut lost = doc;
    lost.episode = "EP-NO-EXISTE".into();
    assert!(matches!(
        s.send_document(&lost).await,
        Err(SourceError::NotFound { .. })
    ));
}

#[tokio::test]
async fn medplum_refuses_a_missing_or_wrong_token_naming_the_setting() {
    let Some(m) = medplum() else { return };
    for auth in [
        FhirAuth::None,
        FhirAuth::Bearer(Secret::new("token-equivocado-123")),
    ] {
        let e = source(&m.base(), auth)
            .discharged_since(since())
            .await
            .unwrap_err();
        assert_eq!(named(&e), ("Refused", settings::FHIR_TOKEN_FILE), "{e}");
        let text = format!("{e} {e:?}");
        assert!(
            text.contains("401") && !text.contains("equivocado"),
            "{text}"
        );
    }
}

async fn tokens_issued(m: &FhirServer) -> u64 {
    let answer = reqwest::get(format!("{}/_test/stats", m.root))
        .await
        .unwrap();
    let stats: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    stats["tokensIssued"].as_u64().unwrap()
}

fn client(m: &FhirServer, secret: &str) -> FhirSource {
    let auth = FhirAuth::ClientCredentials {
        token_url: format!("{}/oauth2/token", m.root),
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(secret),
        scope: Some("system/*.read".into()),
    };
    source(&m.base(), auth)
}

#[tokio::test]
async fn medplum_client_credentials_are_kept_renewed_and_refused() {
    let Some(m) = medplum() else { return };
    let s = client(m, CLIENT_SECRET);
    let before = tokens_issued(m).await;
    assert_eq!(
        s.episode("enc-rosa-mar").await.unwrap().summary,
        ROSA_SUMMARY
    );
    assert_eq!(ids(&s, "2025-03-01").await.len(), 5);
    assert_eq!(
        tokens_issued(m).await,
        before + 1,
        "one token for all requests"
    );
    // The authorization server forgets its tokens: one 401, one new token, and on.
    let revoke = reqwest::Client::new().post(format!("{}/_test/revoke", m.root));
    assert!(revoke.send().await.unwrap().status().is_success());
    assert_eq!(ids(&s, "2025-03-01").await.len(), 5);
    assert_eq!(tokens_issued(m).await, before + 2);
    let wrong = client(m, "secreto-equivocado");
    let e = wrong.discharged_since(since()).await.unwrap_err();
    assert_eq!(named(&e), ("Refused", settings::FHIR_CLIENT_ID), "{e}");
    let text = format!("{e} {e:?}");
    assert!(
        text.contains("invalid_client") && !text.contains("equivocado"),
        "{text}"
    );
}

#[tokio::test]
async fn medplum_a_missing_encounter_is_not_found() {
    let Some(m) = medplum() else { return };
    for id in ["enc-no-existe", "no/es/un/id"] {
        let e = bearer(m).episode(id).await.unwrap_err();
        assert_eq!(named(&e).0, "NotFound", "{id}: {e}");
    }
}

#[tokio::test]
async fn medplum_has_no_everything_and_the_error_names_the_setting() {
    let Some(m) = medplum() else { return };
    let mut c = FhirConfig::new(m.base(), FhirAuth::Bearer(Secret::new(m.token.clone())));
    c.everything = true;
    let s = FhirSource::new(c).unwrap();
    let e = s.episode("enc-rosa-mar").await.unwrap_err();
    assert_eq!(named(&e), ("Remote", settings::FHIR_EVERYTHING), "{e}");
    let e = s.episode("enc-no-existe").await.unwrap_err();
    assert_eq!(named(&e).0, "NotFound", "{e}");
}

#[tokio::test]
async fn an_unreachable_server_is_unreachable_after_the_retries() {
    let port = epicrisis_testkit::free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}/fhir/R4");
    let started = Instant::now();
    let e = source(&format!("{base}/"), FhirAuth::None)
        .episode("e1")
        .await
        .unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_millis(40),
        "two waits of 20 ms"
    );
    let SourceError::Unreachable {
        setting,
        target,
        detail,
    } = &e
    else {
        panic!("{e}");
    };
    assert_eq!(
        (*setting, target.as_str()),
        (settings::FHIR_URL, base.as_str())
    );
    assert!(
        detail.contains("3 intento(s)") && e.is_transient(),
        "{detail}"
    );
}

/// Answers `body` (JSON text) with a status and a content type.
fn reply(out: &mut TcpStream, status: u16, json_type: &str, body: &str) -> std::io::Result<()> {
    respond(out, status, &[("Content-Type", json_type)], body.as_bytes())
}

fn fhir(out: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    reply(out, status, "application/fhir+json", body)
}

fn path(req: &Request) -> &str {
    req.target.split('?').next().unwrap_or("")
}

const EVERYTHING_1: &str = r#"{"resourceType": "Bundle", "type": "searchset",
    "link": [{"relation": "next", "url": "Encounter/e1/$everything?_count=2&page=2"}],
    "entry": [{"resource": {"resourceType": "Condition", "id": "c1",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "N10"}]}}},
        {"resource": {"resourceType": "Patient", "id": "p1", "name": [{"text": "Paciente Ficticia"}]}}]}"#;
const EVERYTHING_2: &str = r#"{"resourceType": "Bundle", "type": "searchset", "entry": [
    {"resource": {"resourceType": "Encounter", "id": "e1", "status": "finished",
        "period": {"start": "2025-03-01", "end": "2025-03-04"},
        "diagnosis": [{"condition": {"reference": "Condition/c1"}, "use": {"coding": [{"code": "DD"}]}}]}},
    {"resource": {"resourceType": "DocumentReference", "id": "d1", "description": "Día 1",
        "content": [{"attachment": {"contentType": "text/plain", "url": "Binary/b1"}}]}}]}"#;
const NOT_FOUND: &str = r#"{"resourceType": "OperationOutcome", "issue": [{"code": "not-found"}]}"#;

#[tokio::test]
async fn everything_is_read_page_by_page_with_raw_binaries() {
    let server = Server::start(|req, out| match path(req) {
        "/fhir/Encounter/e1/$everything" if req.target.contains("page=2") => {
            fhir(out, 200, EVERYTHING_2)
        }
        "/fhir/Encounter/e1/$everything" => fhir(out, 200, EVERYTHING_1),
        "/fhir/Binary/b1" => reply(out, 200, "text/plain", "Día 1: estable."),
        _ => fhir(out, 404, NOT_FOUND),
    });
    let mut c = FhirConfig::new(format!("{}/fhir", server.url), FhirAuth::None);
    c.everything = true;
    let s = FhirSource::new(c).unwrap().with_page_size(2);
    let fetched = s.episode("e1").await.unwrap();
    let want = "Encounter 1, Patient 1, Condition 1, DocumentReference 1; \
                1 adjunto(s) leído(s) del servidor";
    assert_eq!(fetched.summary, want);
    let ep = epicrisis_ingest::read_episode(&fetched.document, "fhir").unwrap();
    assert_eq!(ep.discharge_diagnoses[0].code.as_ref().unwrap().raw, "N10");
    assert_eq!(ep.evolution[0].text, "Día 1: estable.");
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    let fhir_json = |r: &Request| r.header("accept") == Some("application/fhir+json");
    assert!(
        seen.iter()
            .all(|r| fhir_json(r) && r.header("authorization").is_none())
    );
}

const ONE_ENCOUNTER: &str = r#"{"resourceType": "Bundle", "type": "searchset", "entry": [
    {"resource": {"resourceType": "Encounter", "id": "e9", "status": "finished",
        "period": {"end": "2025-03-03"}}}]}"#;

#[tokio::test]
async fn busy_servers_are_retried_honouring_retry_after() {
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let n = calls.clone();
    let server = Server::start(move |_, out| match n.fetch_add(1, Ordering::SeqCst) {
        0 => respond(out, 503, &[("Retry-After", "1")], b"en mantenimiento"),
        1 => respond(out, 429, &[], b""),
        _ => fhir(out, 200, ONE_ENCOUNTER),
    });
    let started = Instant::now();
    assert_eq!(
        ids(&source(&server.url, FhirAuth::None), "2025-03-01").await,
        ["e9"]
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 honoured"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let away = Server::start(|_, out| respond(out, 503, &[], b""));
    let e = source(&away.url, FhirAuth::None)
        .discharged_since(since())
        .await
        .unwrap_err();
    assert_eq!(named(&e), ("Unreachable", settings::FHIR_URL), "{e}");
    assert!(e.to_string().contains("HTTP 503"), "{e}");
    assert_eq!(away.requests().len(), 3);
}

const OFFSITE: &str = r#"{"resourceType": "Bundle", "type": "searchset",
    "link": [{"relation": "next", "url": "http://10.1.2.3:8080/fhir/Encounter?page=2"}]}"#;
const FORBIDDEN: &str = r#"{"resourceType": "OperationOutcome", "issue": [{"code": "forbidden"}]}"#;
const INVALID: &str = r#"{"resourceType": "OperationOutcome", "issue": [{"severity": "error",
    "code": "invalid", "diagnostics": "Paciente Ana Pérez, RUN 11.111.111-1"}]}"#;

#[tokio::test]
async fn bad_answers_are_named_without_quoting_them() {
    let server = Server::start(|req, out| match path(req).split('/').nth(1).unwrap_or("") {
        "html" => reply(out, 200, "text/html", "<h1>Ana Pérez</h1>"),
        "patient" => fhir(out, 200, r#"{"resourceType": "Patient", "id": "ana"}"#),
        "forbidden" => fhir(out, 403, FORBIDDEN),
        "offsite" => fhir(out, 200, OFFSITE),
        _ => fhir(out, 400, INVALID),
    });
    let fail = |p: &str| {
        let token = FhirAuth::Bearer(Secret::new("tk-visible-no"));
        let s = source(&format!("{}/{p}", server.url), token);
        async move { s.discharged_since(since()).await.unwrap_err() }
    };
    let cases = [
        ("html", "no es JSON (text/html)"),
        ("patient", "no es un Bundle"),
        ("offsite", "http://10.1.2.3:8080"),
    ];
    for (p, want) in cases {
        let e = fail(p).await;
        assert_eq!(named(&e), ("Answer", settings::FHIR_URL), "{p}: {e}");
        let text = e.to_string();
        assert!(text.contains(want) && !text.contains("Ana"), "{p}: {text}");
    }
    let e = fail("forbidden").await;
    assert_eq!(named(&e), ("Refused", settings::FHIR_TOKEN_FILE), "{e}");
    let e = fail("outcome").await;
    assert_eq!(named(&e), ("Remote", settings::FHIR_URL), "{e}");
    let text = format!("{e} {e:?}");
    assert!(
        text.contains("HTTP 400 (OperationOutcome: invalid)"),
        "{text}"
    );
    assert!(
        !text.contains("Ana") && !text.contains("tk-visible"),
        "{text}"
    );
}

const FORM_SECRET: &str = "client_secret=s3cr%3Ato+%C3%B1";
const TOKEN: &str = r#"{"access_token": "tok-form", "token_type": "bearer", "expires_in": 3600}"#;
const LOGIN: &str = r#"{"resourceType": "OperationOutcome", "issue": [{"code": "login"}]}"#;
const EMPTY_PAGE: &str = r#"{"resourceType": "Bundle", "type": "searchset"}"#;

#[tokio::test]
async fn the_token_endpoint_gets_the_form_when_it_refuses_basic() {
    let server = Server::start(|req, out| {
        let refused = r#"{"error": "invalid_client"}"#;
        match (path(req), req.header("authorization")) {
            ("/token", Some(_)) => reply(out, 401, "application/json", refused),
            ("/token", None) if req.text().contains(FORM_SECRET) => {
                reply(out, 200, "application/json", TOKEN)
            }
            ("/token", None) => reply(out, 400, "application/json", refused),
            (_, Some("Bearer tok-form")) => fhir(out, 200, EMPTY_PAGE),
            _ => fhir(out, 401, LOGIN),
        }
    });
    let auth = FhirAuth::ClientCredentials {
        token_url: format!("{}/token", server.url),
        client_id: "epicrisis".into(),
        client_secret: Secret::new("s3cr:to ñ"),
        scope: None,
    };
    let s = source(&format!("{}/fhir", server.url), auth);
    assert!(ids(&s, "2025-03-01").await.is_empty());
    assert!(ids(&s, "2025-03-01").await.is_empty());
    let seen = server.requests();
    let paths: Vec<&str> = seen.iter().map(path).collect();
    assert_eq!(
        paths,
        ["/token", "/token", "/fhir/Encounter", "/fhir/Encounter"]
    );
    let basic = format!("Basic {}", b64(b"epicrisis:s3cr%3Ato+%C3%B1"));
    assert_eq!(seen[0].header("authorization"), Some(basic.as_str()));
    let form = format!("grant_type=client_credentials&client_id=epicrisis&{FORM_SECRET}");
    assert_eq!(seen[1].text(), form);
}
