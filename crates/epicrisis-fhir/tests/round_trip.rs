//! Episode → Bundle → episode keeps every code, date and medication; a Bundle shaped the
//! way other FHIR servers write it (relative references, structured dosage only, birth
//! date instead of age) reads too.

use epicrisis_domain::{Episode, Medication};
use epicrisis_fhir::{
    CompositionStatus, DocumentInfo, PlainCodes, Section, SectionKind, from_bundle, to_bundle,
};
use epicrisis_testkit::fixtures::testdata;
use serde_json::json;

fn read(rel: &str) -> Episode {
    epicrisis_ingest::read_episode_path(&testdata(rel)).expect("example episode")
}

fn info(ep: &Episode) -> DocumentInfo {
    let items = |kind, title: &str, v: &[String]| Section {
        kind,
        title: title.into(),
        paragraphs: Vec::new(),
        items: v.to_vec(),
    };
    DocumentInfo {
        document_id: "test-doc".into(),
        timestamp: "2025-12-26T18:30:00-03:00".into(),
        status: CompositionStatus::Preliminary,
        title: "Epicrisis".into(),
        author: "Dra. Prueba".into(),
        attester: None,
        custodian: Some("Hospital de Prueba".into()),
        sections: vec![
            items(
                SectionKind::Controls,
                "Indicaciones al alta: controles",
                &ep.discharge.controls,
            ),
            items(
                SectionKind::Care,
                "Indicaciones al alta: cuidados",
                &ep.discharge.care,
            ),
            items(
                SectionKind::WarningSigns,
                "Indicaciones al alta: signos de alarma",
                &ep.discharge.warning_signs,
            ),
        ],
    }
}

fn med_key(m: &Medication) -> String {
    format!(
        "{} | {:?} | {} | dose {:?} + {:?} | route {:?} | freq {:?} | dur {:?} | sos {} | {:?}–{:?} | {:?} | then {:?}",
        m.name,
        m.kind,
        m.code.as_ref().map(|c| c.display()).unwrap_or_default(),
        m.dose.as_ref().map(|d| d.to_string()),
        m.extra_doses
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>(),
        m.route.as_ref().map(|r| r.to_string()),
        m.frequency.as_ref().map(|f| f.to_string()),
        m.duration.as_ref().map(|d| d.to_string()),
        m.as_needed,
        m.start,
        m.end,
        m.notes,
        m.then
            .iter()
            .map(|p| {
                format!(
                    "{:?} {:?} {:?} {:?} {:?} {}",
                    p.doses().map(|d| d.to_string()).collect::<Vec<_>>(),
                    p.route.as_ref().map(|r| r.to_string()),
                    p.frequency.as_ref().map(|f| f.to_string()),
                    p.duration.as_ref().map(|d| d.to_string()),
                    p.notes,
                    p.as_needed
                )
            })
            .collect::<Vec<_>>(),
    )
}

fn assert_same(case: &str, a: &Episode, b: &Episode) {
    assert_eq!(a.id, b.id, "{case}: id");
    assert_eq!(a.patient, b.patient, "{case}: patient");
    assert_eq!(a.admission_date, b.admission_date, "{case}: admission date");
    assert_eq!(a.discharge_date, b.discharge_date, "{case}: discharge date");
    assert_eq!(a.service, b.service, "{case}: service");
    assert_eq!(a.physician, b.physician, "{case}: physician");
    assert_eq!(a.reason, b.reason, "{case}: reason");
    // Codes travel in canonical form (`J960` read as `J96.0` leaves as `J96.0`; the
    // reader warned about the spelling when it first read the source).
    let dx = |v: &[epicrisis_domain::Diagnosis]| {
        v.iter()
            .map(|d| (d.name.clone(), d.code.as_ref().map(|c| c.display())))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        dx(&a.admission_diagnoses),
        dx(&b.admission_diagnoses),
        "{case}: admission dx"
    );
    assert_eq!(
        dx(&a.discharge_diagnoses),
        dx(&b.discharge_diagnoses),
        "{case}: discharge dx"
    );
    let px = |v: &[epicrisis_domain::Procedure]| {
        v.iter()
            .map(|p| (p.name.clone(), p.code.as_ref().map(|c| c.display()), p.date))
            .collect::<Vec<_>>()
    };
    assert_eq!(px(&a.procedures), px(&b.procedures), "{case}: procedures");
    let keys = |v: &[Medication]| v.iter().map(med_key).collect::<Vec<_>>();
    assert_eq!(
        keys(&a.treatments),
        keys(&b.treatments),
        "{case}: treatments"
    );
    assert_eq!(
        keys(&a.discharge.medications),
        keys(&b.discharge.medications),
        "{case}: discharge medications"
    );
    assert_eq!(a.labs.len(), b.labs.len(), "{case}: labs");
    for (x, y) in a.labs.iter().zip(&b.labs) {
        let t = &x.test;
        assert_eq!(x.test, y.test, "{case}: lab");
        assert_eq!(x.unit, y.unit, "{case}: {t} unit");
        assert_eq!(x.first.value, y.first.value, "{case}: {t} first");
        assert_eq!(x.first.date, y.first.date, "{case}: {t} first date");
        assert_eq!(x.first.status, y.first.status, "{case}: {t} status");
        assert_eq!(
            (x.first.range_low, x.first.range_high),
            (y.first.range_low, y.first.range_high),
            "{case}: {t} range"
        );
        assert_eq!(
            x.last.as_ref().map(|l| (l.value, l.date)),
            y.last.as_ref().map(|l| (l.value, l.date)),
            "{case}: {t} last"
        );
        assert_eq!((x.min, x.max), (y.min, y.max), "{case}: {t} min/max");
    }
    let notes = |e: &Episode| {
        e.evolution
            .iter()
            .map(|n| (n.day, n.date, n.text.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(notes(a), notes(b), "{case}: evolution notes");
    assert_eq!(
        a.discharge.controls, b.discharge.controls,
        "{case}: controls"
    );
    assert_eq!(a.discharge.care, b.discharge.care, "{case}: care");
    assert_eq!(
        a.discharge.warning_signs, b.discharge.warning_signs,
        "{case}: warning signs"
    );
    let codes = |e: &Episode| {
        e.codes()
            .into_iter()
            .map(|c| (c.display, c.role))
            .collect::<Vec<_>>()
    };
    assert_eq!(codes(a), codes(b), "{case}: every code");
}

#[test]
fn example_episodes_round_trip() {
    for rel in [
        "episodes/episodio_1416169.json",
        "episodes/compact_hernia.json",
        "episodes/predecessor_neumonia.json",
        // Regimens in steps: loading doses with their maintenance, a discharge drug
        // whose dose changes after 21 days.
        "rich/sint-10-iamsest-angioplastia.json",
        "rich/sint-12-tromboembolismo-pulmonar.json",
        "rich/sint-22-preeclampsia-severa-cesarea.json",
    ] {
        let ep = read(rel);
        let bundle = to_bundle(&ep, &info(&ep));
        assert_eq!(bundle["type"], "document");
        assert_eq!(
            bundle["entry"][0]["resource"]["resourceType"],
            "Composition"
        );
        let back = from_bundle(&bundle, &mut PlainCodes::default()).expect(rel);
        assert_same(rel, &ep, &back);
    }
}

#[test]
fn dev_dataset_round_trips() {
    let bytes = std::fs::read(testdata("dev/train.jsonl")).expect("dev set");
    let records = epicrisis_ingest::read_dataset(&bytes, "train.jsonl").expect("dev set");
    for r in &records {
        let bundle = to_bundle(&r.episode, &info(&r.episode));
        let back = from_bundle(&bundle, &mut PlainCodes::default())
            .unwrap_or_else(|e| panic!("line {}: {e}", r.line));
        assert_same(&format!("train.jsonl line {}", r.line), &r.episode, &back);
    }
}

#[test]
fn reads_a_foreign_bundle() {
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "gender": "male",
                "birthDate": "1950-06-01", "identifier": [{"value": "12.345.678-5"}],
                "name": [{"given": ["Juan"], "family": "Pérez"}]}},
            {"resource": {"resourceType": "Encounter", "id": "e1", "status": "finished",
                "period": {"start": "2025-03-01T10:00:00-03:00", "end": "2025-03-05"},
                "diagnosis": [
                    {"condition": {"reference": "Condition/c1"}, "use": {"coding": [{"code": "AD"}]}},
                    {"condition": {"reference": "Condition/c2"}, "use": {"coding": [{"code": "DD"}]}}
                ]}},
            {"resource": {"resourceType": "Condition", "id": "c1",
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J189", "display": "Neumonía"}]}}},
            {"resource": {"resourceType": "Condition", "id": "c2",
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J18.9"}], "text": "Neumonía, no especificada"}}},
            {"resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
                "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "J01CR02"}], "text": "Amoxicilina/ácido clavulánico"},
                "dosageInstruction": [{
                    "route": {"coding": [{"system": "http://snomed.info/sct", "code": "26643006"}]},
                    "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d",
                        "boundsDuration": {"value": 7, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"}}},
                    "doseAndRate": [{"doseQuantity": {"value": 875, "unit": "mg"}}]
                }]}},
            {"resource": {"resourceType": "Observation", "status": "final",
                "code": {"text": "PCR"}, "valueQuantity": {"value": 120.5, "unit": "mg/L"},
                "effectiveDateTime": "2025-03-01T08:00:00-03:00",
                "referenceRange": [{"high": {"value": 5}}]}},
            {"resource": {"resourceType": "Observation", "status": "final",
                "code": {"text": "PCR"}, "valueQuantity": {"value": 20, "unit": "mg/L"},
                "effectiveDateTime": "2025-03-04T08:00:00-03:00"}}
        ]
    });
    let ep = from_bundle(&bundle, &mut PlainCodes::default()).expect("foreign bundle");
    assert_eq!(ep.patient.name.as_deref(), Some("Juan Pérez"));
    assert_eq!(ep.patient.age, Some(74));
    assert_eq!(
        ep.admission_date.map(|d| d.to_string()).as_deref(),
        Some("2025-03-01")
    );
    assert_eq!(ep.admission_diagnoses.len(), 1);
    assert_eq!(
        ep.admission_diagnoses[0].code.as_ref().unwrap().display(),
        "J18.9"
    );
    assert!(
        ep.warnings.iter().any(|w| w.message.contains("J189")),
        "{:?}",
        ep.warnings
    );
    assert_eq!(ep.discharge_diagnoses[0].name, "Neumonía, no especificada");
    let m = &ep.discharge.medications[0];
    assert_eq!(
        epicrisis_domain::text::fold_words(&format!(
            "{} {} {} {}",
            m.dose.as_ref().unwrap(),
            m.route.as_ref().unwrap(),
            m.frequency.as_ref().unwrap(),
            m.duration.as_ref().unwrap()
        )),
        "875 mg vo cada 12 horas por 7 dias"
    );
    assert_eq!(ep.labs.len(), 1);
    assert_eq!(ep.labs[0].first.value, 120.5);
    assert_eq!(ep.labs[0].last.as_ref().unwrap().value, 20.0);
    assert_eq!(ep.labs[0].first.status, epicrisis_domain::LabStatus::High);
}

#[test]
fn refuses_what_is_not_an_episode() {
    let cases = [
        (
            json!({"resourceType": "Patient"}),
            "resourceType",
            "not an episode",
        ),
        (
            json!({"resourceType": "Bundle", "type": "document"}),
            "entry",
            "no entries",
        ),
        (
            json!({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]}),
            "entry",
            "no Condition",
        ),
        (
            json!({"resourceType": "Bundle", "entry": [{"resource": {"id": "x"}}]}),
            "entry[0].resource.resourceType",
            "missing",
        ),
    ];
    for (v, path, needle) in cases {
        let e = from_bundle(&v, &mut PlainCodes::default()).expect_err(needle);
        assert_eq!(e.path, path, "{needle}");
        assert!(e.message.contains(needle), "{e}");
    }
}
