//! HL7 Chile's CL Core (docs/fhir-chile.md): the profiles the export claims are met by
//! what it writes (checked here on every example episode and the dev set, and by
//! fhir.resources plus `validate_cl_core.py` when that Python is there); the RUN, the
//! name in parts and the people of the document (golden JSON); the round trip; and a
//! CL Core Bundle the way a Chilean server sends it (record number first, RUN second,
//! the official name with its second surname in an extension) read back.

use epicrisis_domain::Episode;
use epicrisis_fhir::{
    Attester, CompositionStatus, DocumentInfo, PlainCodes, Section, SectionKind, clcore,
    from_bundle, to_bundle,
};
use epicrisis_testkit::fixtures::{crate_path, python, testdata};
use serde_json::{Value, json};
use std::collections::HashMap;

fn read(rel: &str) -> Episode {
    epicrisis_ingest::read_episode_path(&testdata(rel)).expect("example episode")
}

/// The example episode with an invented patient (a valid invented RUN, a name in the
/// register's «surnames, given names» order) and treating physician.
fn chilean_episode() -> Episode {
    let mut ep = read("episodes/episodio_1416169.json");
    ep.patient.name = Some("Quiroga Fuentes, Rosa Elena".into());
    ep.patient.identifier = Some("12.345.678-5".into());
    ep.physician = Some("Dra. Ana Soto Vidal".into());
    ep
}

fn info(author: &str, attester: Option<&str>, sections: bool) -> DocumentInfo {
    DocumentInfo {
        document_id: "cl-core-doc".into(),
        timestamp: "2025-12-26T18:30:00-03:00".into(),
        status: CompositionStatus::Final,
        title: "Epicrisis".into(),
        author: author.into(),
        attester: attester.map(|a| Attester {
            party: a.into(),
            time: "2025-12-26T19:05:00-03:00".into(),
        }),
        custodian: Some("Hospital de Prueba".into()),
        sections: if sections {
            vec![Section {
                kind: SectionKind::Identification,
                title: "Identificación".into(),
                paragraphs: Vec::new(),
                items: vec!["Paciente: Rosa Elena Quiroga Fuentes".into()],
            }]
        } else {
            Vec::new()
        },
    }
}

fn resources(bundle: &Value) -> Vec<&Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect()
}

fn profiles(r: &Value) -> Vec<&str> {
    r["meta"]["profile"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// What each claimed profile asks of our resources, and that references point to
/// resources of the profile the referring one requires (CL Core restricts them).
fn check_claims(case: &str, bundle: &Value) {
    let by_url: HashMap<&str, &Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["fullUrl"].as_str().unwrap(), &e["resource"]))
        .collect();
    let target = |r: &Value| -> Vec<&str> {
        r["reference"]
            .as_str()
            .and_then(|u| by_url.get(u))
            .map(|t| profiles(t))
            .unwrap_or_default()
    };
    for r in resources(bundle) {
        let ty = r["resourceType"].as_str().unwrap();
        let claimed = profiles(r);
        let expected: &[&str] = match ty {
            "Patient" => &[clcore::PATIENT],
            "Practitioner" => &[clcore::PRACTITIONER],
            "Organization" => &[clcore::ORGANIZATION],
            "Encounter" => &[clcore::ENCOUNTER],
            "Condition" => &[clcore::CONDITION],
            "Observation" => &[clcore::OBSERVATION],
            "Composition" if r["section"].is_array() => &[clcore::DOCUMENT],
            _ => &[],
        };
        assert_eq!(claimed, expected, "{case}: {ty} claims");
        for p in &claimed {
            assert!(
                r["subject"].is_null() || target(&r["subject"]) == [clcore::PATIENT],
                "{case}: {ty}'s subject is a CorePacienteCl"
            );
            if *p == clcore::ENCOUNTER {
                for part in r["participant"].as_array().into_iter().flatten() {
                    assert_eq!(
                        target(&part["individual"]),
                        [clcore::PRACTITIONER],
                        "{case}"
                    );
                }
                for d in r["diagnosis"].as_array().into_iter().flatten() {
                    assert_eq!(target(&d["condition"]), [clcore::CONDITION], "{case}");
                }
            }
            if *p == clcore::PRACTITIONER || *p == clcore::PATIENT {
                for n in r["name"].as_array().into_iter().flatten() {
                    assert_eq!(n["use"], "official", "{case}: {ty}'s names are official");
                }
            }
            if *p == clcore::DOCUMENT {
                assert!(!r["section"].as_array().unwrap().is_empty(), "{case}");
                assert_eq!(target(&r["encounter"]), [clcore::ENCOUNTER], "{case}");
            }
            if matches!(*p, clcore::OBSERVATION | clcore::CONDITION) {
                assert_eq!(target(&r["encounter"]), [clcore::ENCOUNTER], "{case}");
            }
        }
    }
}

#[test]
fn claimed_profiles_are_met_on_every_example() {
    let mut cases: Vec<(String, Episode)> = [
        "episodes/episodio_1416169.json",
        "episodes/compact_hernia.json",
        "episodes/predecessor_neumonia.json",
        "rich/sint-10-iamsest-angioplastia.json",
    ]
    .iter()
    .map(|r| (r.to_string(), read(r)))
    .collect();
    cases.push(("chilean".into(), chilean_episode()));
    let bytes = std::fs::read(testdata("dev/train.jsonl")).expect("dev set");
    let records = epicrisis_ingest::read_dataset(&bytes, "train.jsonl").expect("dev set");
    cases.extend(
        records
            .into_iter()
            .map(|r| (format!("train {}", r.line), r.episode)),
    );
    for (case, ep) in &cases {
        for (author, attester, sections) in [
            ("epicrisis (redacción automática)", None, true),
            ("Dra. Ana Soto Vidal", Some("Dr. Íñigo Ñúñez"), true),
            ("Dra. Ana Soto Vidal", Some("DRA. ANA SOTO VIDAL"), false),
        ] {
            check_claims(case, &to_bundle(ep, &info(author, attester, sections)));
        }
    }
}

/// The resources about people and the hospital, and the references to them.
fn people_view(bundle: &Value) -> Value {
    let mut out = Vec::new();
    for r in resources(bundle) {
        match r["resourceType"].as_str().unwrap() {
            "Patient" | "Practitioner" | "Organization" => out.push(r.clone()),
            "Encounter" => out.push(json!({
                "resourceType": "Encounter",
                "meta": r["meta"],
                "participant": r["participant"],
                "serviceProvider": r["serviceProvider"],
            })),
            "Composition" => out.push(json!({
                "resourceType": "Composition",
                "meta": r["meta"],
                "author": r["author"],
                "attester": r["attester"],
                "custodian": r["custodian"],
            })),
            _ => {}
        }
    }
    Value::Array(out)
}

#[test]
fn golden_people_of_the_document() {
    let ep = chilean_episode();
    let bundle = to_bundle(
        &ep,
        &info("Dra. Ana Soto Vidal", Some("Dr. Íñigo Ñúñez"), true),
    );
    let pretty = serde_json::to_string_pretty(&people_view(&bundle)).unwrap();
    insta::assert_snapshot!("people", pretty);
    // The signer is the physician: one Practitioner, referenced three times.
    let bundle = to_bundle(
        &ep,
        &info("Dra. Ana Soto Vidal", Some("DRA. ANA SOTO VIDAL"), true),
    );
    let practitioners: Vec<&Value> = resources(&bundle)
        .into_iter()
        .filter(|r| r["resourceType"] == "Practitioner")
        .collect();
    assert_eq!(practitioners.len(), 1);
}

#[test]
fn round_trip_keeps_the_patient_and_the_physician() {
    let ep = chilean_episode();
    let bundle = to_bundle(
        &ep,
        &info("Dra. Ana Soto Vidal", Some("Dr. Íñigo Ñúñez"), true),
    );
    let back = from_bundle(&bundle, &mut PlainCodes::default()).expect("own bundle");
    // The RUN travels normalised, as CL Core writes it.
    assert_eq!(back.patient.identifier.as_deref(), Some("12345678-5"));
    assert_eq!(back.patient.name, ep.patient.name);
    assert_eq!(back.patient.sex, ep.patient.sex);
    assert_eq!(back.patient.age, ep.patient.age);
    assert_eq!(back.physician, ep.physician);
    assert_eq!(back.id, ep.id);
    assert_eq!(back.service, ep.service);
    // A normalised RUN and a record number come back exactly as they left.
    for id in ["12345678-5", "1416169", "FC-00123"] {
        let mut ep = chilean_episode();
        ep.patient.identifier = Some(id.into());
        let bundle = to_bundle(&ep, &info("x", None, true));
        let back = from_bundle(&bundle, &mut PlainCodes::default()).unwrap();
        assert_eq!(back.patient.identifier.as_deref(), Some(id));
    }
}

/// A Patient as CL Core 1.9.4 and Minsal's guides write it (invented person, valid
/// invented RUN), with a hospital's record number first.
fn cl_core_patient(country_system: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "id": "pac-1",
        "meta": {"profile": [clcore::PATIENT]},
        "identifier": [
            {"use": "usual",
             "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
             "system": "https://hospital.example/fichas", "value": "FC-0042"},
            {"use": "official",
             "type": {
                "extension": [{"url": clcore::EXT_COUNTRY,
                    "valueCodeableConcept": {"coding": [{"system": country_system, "code": "152", "display": "Chile"}]}}],
                "coding": [{"system": clcore::ID_TYPE, "code": "01", "display": "RUN"}]},
             "value": "10.000.013-K"}
        ],
        "name": [
            {"use": "usual", "given": ["Xime"]},
            {"use": "official", "family": "Rosales",
             "_family": {"extension": [{"url": clcore::EXT_SECOND_SURNAME, "valueString": "Bosch"}]},
             "given": ["Marietta", "María", "Ximena"]}
        ],
        "gender": "female",
        "birthDate": "1983-03-24"
    })
}

fn bundle_with(patient: Value) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"fullUrl": "https://fhir.example/Patient/pac-1", "resource": patient},
            {"resource": {"resourceType": "Practitioner", "id": "pr-1",
                "meta": {"profile": [clcore::PRACTITIONER]},
                "identifier": [{"use": "official",
                    "type": {"coding": [{"system": clcore::ID_TYPE, "code": "01", "display": "RUN"}]},
                    "value": "11111111-1"}],
                "name": [{"use": "official", "family": "Soto",
                    "_family": {"extension": [{"url": clcore::EXT_SECOND_SURNAME, "valueString": "González"}]},
                    "given": ["María", "Luisa"]}]}},
            {"resource": {"resourceType": "Encounter", "id": "enc-1", "status": "finished",
                "class": {"code": "IMP"}, "subject": {"reference": "Patient/pac-1"},
                "period": {"start": "2025-03-01", "end": "2025-03-05"},
                "participant": [
                    {"type": [{"coding": [{"code": "PART"}]}], "individual": {"display": "TENS Pedro Rojas"}},
                    {"type": [{"coding": [{"code": "ATND"}]}], "individual": {"reference": "Practitioner/pr-1"}}
                ],
                "diagnosis": [{"condition": {"reference": "Condition/c-1"}, "use": {"coding": [{"code": "DD"}]}}]}},
            {"resource": {"resourceType": "Condition", "id": "c-1",
                "meta": {"profile": [clcore::CONDITION]},
                "subject": {"reference": "Patient/pac-1"},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J18.9"}], "text": "Neumonía"}}}
        ]
    })
}

#[test]
fn reads_a_cl_core_patient_with_its_second_surname() {
    for system in [clcore::ISO_3166, clcore::COUNTRY_CODES_OLD] {
        let ep = from_bundle(
            &bundle_with(cl_core_patient(system)),
            &mut PlainCodes::default(),
        )
        .expect("CL Core bundle");
        assert_eq!(
            ep.patient.identifier.as_deref(),
            Some("10.000.013-K"),
            "{system}"
        );
        assert_eq!(
            ep.patient.name.as_deref(),
            Some("Marietta María Ximena Rosales Bosch"),
            "the official name, not the social one, with its second surname"
        );
        assert_eq!(ep.patient.age, Some(41));
        // The attending physician, through the Practitioner it references.
        assert_eq!(ep.physician.as_deref(), Some("María Luisa Soto González"));
        assert_eq!(ep.discharge_diagnoses[0].name, "Neumonía");
    }
}

#[test]
fn the_run_wins_over_a_record_number_sent_first() {
    let patient = json!({"resourceType": "Patient", "id": "pac-1",
        "identifier": [
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
             "value": "MRN-778899"},
            {"system": "http://regcivil.cl/Validacion/RUN", "value": "12.345.678-5"}
        ],
        "name": [{"given": ["Rosa", "Elena"], "family": "Quiroga Fuentes"}]});
    let ep = from_bundle(&bundle_with(patient), &mut PlainCodes::default()).unwrap();
    assert_eq!(ep.patient.identifier.as_deref(), Some("12.345.678-5"));
    assert_eq!(
        ep.patient.name.as_deref(),
        Some("Rosa Elena Quiroga Fuentes")
    );
    // Without a RUN, the first identifier is kept.
    let patient = json!({"resourceType": "Patient", "id": "pac-1",
        "identifier": [{"value": "MRN-778899"}, {"system": "https://hospital.example/x", "value": "7"}]});
    let ep = from_bundle(&bundle_with(patient), &mut PlainCodes::default()).unwrap();
    assert_eq!(ep.patient.identifier.as_deref(), Some("MRN-778899"));
}

fn fhir_python() -> Option<std::path::PathBuf> {
    python(
        "EPICRISIS_FHIR_PYTHON",
        "fhir-venv",
        "fhir.resources",
        "run scripts/test.sh, which installs fhir.resources 6.5 (FHIR R4) and pydantic<2 into \
         ~/.cache/epicrisis/fhir-venv",
    )
}

#[test]
fn cl_core_bundles_validate_with_fhir_resources() {
    let Some(python) = fhir_python() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("epicrisis-fhir-cl-core-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    let example = read("episodes/episodio_1416169.json");
    for (name, ep, info) in [
        (
            "chilean_signed",
            chilean_episode(),
            info("Dra. Ana Soto Vidal", Some("Dr. Íñigo Ñúñez"), true),
        ),
        ("example_draft", example, info("epicrisis", None, true)),
    ] {
        let path = dir.join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(&to_bundle(&ep, &info)).unwrap();
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let input = bundle_with(cl_core_patient(clcore::ISO_3166));
    let path = dir.join("cl_core_input.json");
    std::fs::write(&path, input.to_string()).unwrap();
    let script = crate_path("epicrisis-fhir", "tests/validate_cl_core.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .args(&files)
        .arg("--input")
        .arg(&path)
        .output()
        .expect("python");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{said}");
    assert!(out.status.success(), "{said}");
    assert_eq!(
        said.lines().filter(|l| l.starts_with("ok ")).count(),
        3,
        "{said}"
    );
    // The checker is not vacuous: a bundle that breaks what it claims fails.
    let good = to_bundle(
        &chilean_episode(),
        &info("Dra. Ana Soto Vidal", Some("Dr. Íñigo Ñúñez"), true),
    );
    for (what, breaks) in broken() {
        let mut bad = good.clone();
        breaks(&mut bad);
        let path = dir.join("broken.json");
        std::fs::write(&path, bad.to_string()).unwrap();
        let out = std::process::Command::new(&python)
            .arg(crate_path("epicrisis-fhir", "tests/validate_cl_core.py"))
            .arg(&path)
            .output()
            .expect("python");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "the checker let through {what}");
        // Refused by a CL Core rule, not by the FHIR parser or a crash.
        assert!(err.contains("AssertionError"), "{what}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

type Breaker = fn(&mut Value);

/// Ways to break a CL Core claim, for the checker above.
fn broken() -> Vec<(&'static str, Breaker)> {
    fn resource<'a>(b: &'a mut Value, ty: &str) -> &'a mut Value {
        let entries = b["entry"].as_array_mut().unwrap();
        let e = entries
            .iter_mut()
            .find(|e| e["resource"]["resourceType"] == ty);
        &mut e.unwrap()["resource"]
    }
    vec![
        ("a RUN with dots", |b| {
            resource(b, "Patient")["identifier"][0]["value"] = json!("12.345.678-5");
        }),
        ("a RUN with a wrong check digit", |b| {
            resource(b, "Patient")["identifier"][0]["value"] = json!("12345678-9");
        }),
        ("a RUN without its country", |b| {
            let ty = &mut resource(b, "Patient")["identifier"][0]["type"];
            ty.as_object_mut().unwrap().remove("extension");
        }),
        ("a Practitioner name not official", |b| {
            resource(b, "Practitioner")["name"][0]["use"] = json!("usual");
        }),
        ("a DocumentoCl without sections", |b| {
            resource(b, "Composition")
                .as_object_mut()
                .unwrap()
                .remove("section");
        }),
        ("a participant without individual", |b| {
            let p = &mut resource(b, "Encounter")["participant"][0];
            p.as_object_mut().unwrap().remove("individual");
        }),
        ("a Condition with an onset string", |b| {
            resource(b, "Condition")["onsetString"] = json!("hace 3 días");
        }),
        ("an Observation with an invalid status", |b| {
            resource(b, "Observation")["status"] = json!("done");
        }),
    ]
}

#[test]
fn an_encounter_without_an_identifier_is_known_by_its_id() {
    let mut bundle = bundle_with(cl_core_patient(clcore::ISO_3166));
    let ep = from_bundle(&bundle, &mut PlainCodes::default()).unwrap();
    assert_eq!(
        ep.id, None,
        "no address: the id is not the hospital's number"
    );
    bundle["entry"][2]["fullUrl"] = json!("https://fhir.example/Encounter/enc-1");
    let ep = from_bundle(&bundle, &mut PlainCodes::default()).unwrap();
    assert_eq!(ep.id.as_deref(), Some("enc-1"));
    let mut with_number = bundle;
    with_number["entry"][2]["resource"]["identifier"] =
        json!([{"system": "urn:hospital:episodio", "value": "EP-77"}]);
    let ep = from_bundle(&with_number, &mut PlainCodes::default()).unwrap();
    assert_eq!(ep.id.as_deref(), Some("EP-77"));
}
