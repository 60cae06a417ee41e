//! The three example episodes read into the fields they hold, and the variants real
//! exports produce (JSON inside strings, decimal commas, odd codes and dates).

mod common;

use epicrisis_domain::{
    Allergies, Date, DoseUnit, Duration, Episode, Frequency, ItemKind, LabStatus, Route, Sex,
    SourceShape, TimeUnit, WarningKind,
};
use epicrisis_ingest::{read_episode, read_episode_path};
use serde_json::{Value, json};

fn date(s: &str) -> Option<Date> {
    Some(Date::parse(s).unwrap())
}

fn warnings_of(ep: &Episode, kind: WarningKind) -> Vec<String> {
    ep.warnings
        .iter()
        .filter(|w| w.kind == kind)
        .map(|w| w.message.clone())
        .collect()
}

fn codes(list: &[epicrisis_domain::Diagnosis]) -> Vec<String> {
    list.iter()
        .map(|d| d.code.as_ref().map(|c| c.display()).unwrap_or_default())
        .collect()
}

fn read_json(v: &Value) -> Episode {
    let bytes = serde_json::to_vec(v).unwrap();
    read_episode(&bytes, "episode.json").unwrap_or_else(|e| panic!("{e}"))
}

fn rich_value() -> Value {
    serde_json::from_slice(&common::read("episodes/episodio_1416169.json")).unwrap()
}

#[test]
fn rich_example() {
    let ep = read_episode_path(&common::testdata("episodes/episodio_1416169.json")).unwrap();
    assert_eq!(ep.shape, SourceShape::Rich);
    assert_eq!(ep.id.as_deref(), Some("1416169"));
    assert_eq!(ep.patient.sex, Some(Sex::Female));
    assert_eq!(ep.patient.age, Some(68));
    assert_eq!(ep.admission_date, date("2025-12-15"));
    assert_eq!(ep.discharge_date, date("2025-12-26"));
    assert_eq!(ep.length_of_stay(), Some(11));
    assert_eq!(ep.history.medical.len(), 4);
    assert_eq!(ep.history.allergies, Allergies::NoneKnown);
    assert_eq!(codes(&ep.admission_diagnoses), ["C20", "K74.6", "J90"]);
    assert_eq!(
        codes(&ep.discharge_diagnoses),
        ["C20", "J90", "K74.6", "K65.0"]
    );
    assert_eq!(ep.procedures.len(), 5);
    assert_eq!(ep.procedures[0].code.as_ref().unwrap().display(), "48.52");

    // "Meropenem 1g c/8h": clean name, posology from the name, route from `via`.
    let mero = &ep.treatments[1];
    assert_eq!(mero.name, "Meropenem");
    assert_eq!(mero.dose.as_ref().unwrap().to_string(), "1 g");
    assert_eq!(mero.frequency, Some(Frequency::EveryHours(8.0)));
    assert_eq!(mero.route, Some(Route::Intravenous));
    assert_eq!(mero.raw.as_deref(), Some("Meropenem 1g c/8h"));
    assert_eq!(mero.start, date("2025-12-19"));
    assert_eq!(mero.end, date("2025-12-26"));
    assert_eq!(mero.code.as_ref().unwrap().display(), "J01DH02");
    assert_eq!(mero.code.as_ref().unwrap().raw, "ATC:J01DH02");
    assert!(ep.treatments.iter().all(|t| t.kind == ItemKind::Drug));

    // Ceftriaxona coded with vancomycin's code.
    let suspicious = warnings_of(&ep, WarningKind::SuspiciousCode);
    assert_eq!(suspicious.len(), 1, "{suspicious:?}");
    assert!(suspicious[0].starts_with("tratamientos_intrahosp[2].codigo: "));
    assert!(suspicious[0].contains("vancomicina"), "{}", suspicious[0]);
    assert!(suspicious[0].contains("J01DD04"), "{}", suspicious[0]);
    // Every `ATC:` prefix is a normalisation, said once per code.
    assert_eq!(warnings_of(&ep, WarningKind::Normalised).len(), 5);
    assert!(warnings_of(&ep, WarningKind::MalformedCode).is_empty());

    assert_eq!(ep.evolution.len(), 11);
    assert_eq!(ep.evolution[0].day, Some(1));
    assert!(ep.evolution[0].text.starts_with("TORAX- PLEUROSTOMIA"));

    assert_eq!(ep.labs.len(), 10);
    let hb = &ep.labs[0];
    assert_eq!(hb.test, "Hemoglobina en sangre total");
    assert_eq!(hb.unit.as_deref(), Some("g/dL"));
    assert_eq!(hb.first.value, 7.8);
    assert_eq!(hb.first.status, LabStatus::Low);
    assert_eq!(hb.first.range_low, Some(12.3));
    assert_eq!(hb.first.timestamp.as_deref(), Some("2025-12-25T07:11:09"));
    assert_eq!(hb.first.date, date("2025-12-25"));
    assert!(hb.last.is_none());
    assert_eq!((hb.min, hb.max), (7.8, 7.8));

    let d = &ep.discharge;
    assert_eq!(d.medications.len(), 1);
    let m = &d.medications[0];
    assert_eq!(m.dose.as_ref().unwrap().to_string(), "1 g");
    assert_eq!(m.route, Some(Route::Intravenous));
    assert_eq!(m.frequency, Some(Frequency::EveryHours(8.0)));
    assert_eq!(
        m.duration,
        Some(Duration::Text {
            text: "Completar esquema segun infectologia".into()
        })
    );
    assert_eq!(d.controls.len(), 4);
    assert_eq!(d.care.len(), 5);
    assert_eq!(d.warning_signs.len(), 6);
}

#[test]
fn compact_example() {
    let ep = read_episode_path(&common::testdata("episodes/compact_hernia.json")).unwrap();
    assert_eq!(ep.shape, SourceShape::Compact);
    assert_eq!(codes(&ep.admission_diagnoses), ["K42.0", "K42.0"]);
    assert_eq!(codes(&ep.discharge_diagnoses), ["K42.0"]);
    assert_eq!(ep.procedures[0].name, "Hernioplastia umbilical urgente");
    assert_eq!(ep.procedures[0].code.as_ref().unwrap().display(), "53.49");
    assert_eq!(ep.treatments.len(), 2);
    let c = &ep.treatments[0];
    assert_eq!(c.name, "Ceftriaxona");
    assert_eq!(c.dose.as_ref().unwrap().unit, DoseUnit::G);
    assert_eq!(c.route, Some(Route::Intravenous));
    assert_eq!(c.frequency, Some(Frequency::EveryHours(24.0)));
    assert_eq!(
        c.duration,
        Some(Duration::Span {
            min: 3.0,
            max: None,
            unit: TimeUnit::Days
        })
    );
    assert_eq!(
        c.raw.as_deref(),
        Some("Ceftriaxona 1g EV c/24h 3d (J01DD04)")
    );
    assert_eq!(ep.evolution.len(), 1);
    assert_eq!(ep.evolution[0].day, None);
    assert_eq!(ep.discharge.medications[0].name, "Paracetamol");
    assert!(ep.warnings.is_empty(), "{:?}", ep.warnings);
}

#[test]
fn predecessor_example_in_its_api_wrapper() {
    let ep = read_episode_path(&common::testdata("episodes/predecessor_neumonia.json")).unwrap();
    assert_eq!(ep.shape, SourceShape::Predecessor);
    assert_eq!(ep.id.as_deref(), Some("4471"));
    assert_eq!(
        ep.patient.name.as_deref(),
        Some("Hernan Ignacio Soto Parra")
    );
    assert_eq!(ep.patient.identifier.as_deref(), Some("11111111-1"));
    // The predecessor sends no admission date, so no age from fechaNacimiento.
    assert_eq!(ep.patient.age, None);
    assert_eq!(codes(&ep.admission_diagnoses), ["J18.9", "J96.0", "E11.9"]);
    assert!(
        warnings_of(&ep, WarningKind::Normalised)
            .iter()
            .any(|w| w == "diagnostico_ingreso[1].codigo: \"J960\" read as J96.0")
    );
    assert_eq!(ep.procedures[1].date, date("2025-07-03"));

    let t = &ep.treatments;
    assert_eq!(t.len(), 5);
    assert_eq!(t[0].dose.as_ref().unwrap().to_string(), "2 g");
    assert_eq!(t[0].route, Some(Route::Intravenous));
    assert_eq!(
        t[1].duration,
        Some(Duration::Span {
            min: 3.0,
            max: None,
            unit: TimeUnit::Days
        })
    );
    assert_eq!(t[3].dose, None);
    assert_eq!(t[3].notes, ["segun esquema"]);
    assert_eq!(t[3].frequency, Some(Frequency::Text("segun HGT".into())));
    assert_eq!(t[4].kind, ItemKind::Therapy);
    assert_eq!(t[4].code, None);
    let unreadable = warnings_of(&ep, WarningKind::Unreadable);
    assert!(
        unreadable
            .iter()
            .any(|w| w.starts_with("tratamientos_intrahosp[3].dosis: ")),
        "{unreadable:?}"
    );
    // «Negativo» (hemocultivos) is a qualitative result, not an unreadable one.
    assert!(
        !unreadable
            .iter()
            .any(|w| w.starts_with("laboratorios_relevantes[6].valor: ")),
        "{unreadable:?}"
    );
    let found: Vec<(&str, &str)> = ep
        .lab_findings
        .iter()
        .map(|f| (f.test.as_str(), f.result.as_str()))
        .collect();
    assert_eq!(found, [("Hemocultivos", "Negativo")]);
    assert!(ep.lab_findings[0].date.is_some());

    assert_eq!(ep.evolution.len(), 4);
    assert_eq!(ep.evolution[1].date, date("2025-07-05"));
    assert_eq!(ep.evolution[1].author.as_deref(), Some("Dr. Pavez"));

    // Raw results summarised: first by date, last when it differs, min and max.
    assert_eq!(ep.labs.len(), 3);
    let pcr = &ep.labs[0];
    assert_eq!(pcr.test, "Proteina C reactiva");
    assert_eq!(pcr.unit.as_deref(), Some("mg/dL"));
    assert_eq!(pcr.first.value, 21.3);
    assert_eq!(pcr.last.as_ref().unwrap().value, 4.2);
    assert_eq!((pcr.min, pcr.max), (4.2, 21.3));
    assert_eq!(ep.labs[1].unit.as_deref(), Some("x10^3/uL"));

    let meds = &ep.discharge.medications;
    assert_eq!(meds.len(), 3);
    assert_eq!(meds[0].dose.as_ref().unwrap().amounts, [875.0, 125.0]);
    assert!(meds[1].as_needed);
    assert_eq!(meds[1].frequency, Some(Frequency::EveryHours(8.0)));
    assert_eq!(meds[1].route, Some(Route::Oral));
    assert_eq!(ep.discharge.controls.len(), 2);
    assert_eq!(ep.discharge.recommendations.len(), 2);
    assert!(warnings_of(&ep, WarningKind::SuspiciousCode).is_empty());
}

#[test]
fn predecessor_bare_clinical_data_reads_the_same() {
    let v: Value =
        serde_json::from_slice(&common::read("episodes/predecessor_neumonia.json")).unwrap();
    let wrapped = read_json(&v);
    let bare = read_json(&v["clinicalData"]);
    assert_eq!(bare.shape, SourceShape::Predecessor);
    assert_eq!(bare.id, None);
    assert_eq!(bare.patient.name, None);
    assert_eq!(bare.treatments, wrapped.treatments);
    assert_eq!(bare.labs, wrapped.labs);
    assert_eq!(bare.warnings, wrapped.warnings);
}

#[test]
fn predecessor_days_and_age_from_dates() {
    let v = json!({
        "episodeId": 7,
        "clinicalData": {
            "fecha_ingreso": "2025-07-03",
            "diagnostico_ingreso": [{"codigo": "J18.9", "nombre": "Neumonia"}],
            "evolucion": [{"fecha": "2025-07-05", "nota": "Afebril"}]
        },
        "patientInfo": {"nombre": "Paciente Prueba", "rut": "1-9", "fechaNacimiento": "1951-07-04", "sexo": "masculino"}
    });
    let ep = read_json(&v);
    assert_eq!(ep.id.as_deref(), Some("7"));
    assert_eq!(ep.evolution[0].day, Some(3));
    assert_eq!(ep.patient.age, Some(73));
    assert_eq!(ep.patient.sex, Some(Sex::Male));
}

#[test]
fn nested_lists_as_json_strings() {
    let mut v = rich_value();
    let plain = read_json(&v);
    for k in [
        "diagnostico_ingreso",
        "procedimientos",
        "laboratorios_resumen",
        "indicaciones_alta",
    ] {
        v[k] = Value::String(v[k].to_string());
    }
    let ep = read_json(&v);
    assert_eq!(ep.admission_diagnoses, plain.admission_diagnoses);
    assert_eq!(ep.procedures, plain.procedures);
    assert_eq!(ep.labs, plain.labs);
    assert_eq!(ep.discharge, plain.discharge);
    assert_eq!(ep.warnings, plain.warnings);
}

#[test]
fn decimal_commas_flags_and_ranges() {
    let mut v = rich_value();
    v["laboratorios_resumen"] = json!([
        {"prueba": "Hemoglobina", "unidad": "g/dL",
         "ingreso": {"valor": "7,8", "fecha": "2025-12-16T08:00:00", "rango_inferior": "12,3", "rango_superior": "15,3"},
         "ultimo": {"valor": "10,1", "fecha": "2025-12-25T08:00:00", "rango_inferior": 12.3, "rango_superior": 15.3, "estado": "L"},
         "periodo": {"min": "7,8", "max": "10,4"}},
        {"prueba": "Sodio", "ingreso": {"valor": 150, "estado": "H"}},
        {"prueba": "Cultivo", "ingreso": {"valor": "positivo"}}
    ]);
    let ep = read_json(&v);
    assert_eq!(ep.labs.len(), 2);
    let hb = &ep.labs[0];
    assert_eq!(hb.first.value, 7.8);
    assert_eq!(hb.first.range_low, Some(12.3));
    assert_eq!(hb.first.status, LabStatus::Low, "from the range");
    assert_eq!(hb.last.as_ref().unwrap().value, 10.1);
    assert_eq!((hb.min, hb.max), (7.8, 10.4));
    assert_eq!(ep.labs[1].first.status, LabStatus::High);
    assert_eq!((ep.labs[1].min, ep.labs[1].max), (150.0, 150.0));
    // «positivo» is a qualitative result, kept as written.
    assert_eq!(ep.lab_findings.len(), 1);
    assert_eq!(
        (
            ep.lab_findings[0].test.as_str(),
            ep.lab_findings[0].result.as_str()
        ),
        ("Cultivo", "positivo")
    );
    assert!(
        !warnings_of(&ep, WarningKind::Unreadable)
            .iter()
            .any(|w| w.starts_with("laboratorios_resumen[2]"))
    );
}

#[test]
fn odd_codes_and_dates_become_warnings() {
    let mut v = rich_value();
    v["diagnostico_ingreso"][0]["codigo"] = json!("c20");
    v["diagnostico_ingreso"][2]["codigo"] = json!("J18-9");
    v["diagnostico_egreso"][0]["codigo"] = json!("J18.7");
    v["procedimientos"][0]["codigo"] = json!(48.52);
    v["atencion"]["fecha_alta"] = json!("2025-12-10");
    v["procedimientos"][1]["fecha"] = json!("ayer");
    v["indicaciones_alta"]["medicamentos"][0]["codigo"] = json!("J01DH0");
    let ep = read_json(&v);

    let d = &ep.admission_diagnoses[2];
    assert_eq!(d.code.as_ref().unwrap().raw, "J18-9");
    assert_eq!(d.code.as_ref().unwrap().parsed, None);
    let malformed = warnings_of(&ep, WarningKind::MalformedCode);
    assert!(
        malformed.contains(
            &"diagnostico_ingreso[2].codigo: \"J18-9\" is not a CIE-10 code (expected a letter, \
              two digits, optional . and one or two digits, e.g. J18.9)"
                .to_string()
        ),
        "{malformed:?}"
    );
    assert!(
        malformed
            .iter()
            .any(|w| w.starts_with("indicaciones_alta.medicamentos[0].codigo: \"J01DH0\""))
    );
    assert_eq!(
        ep.admission_diagnoses[0].code.as_ref().unwrap().display(),
        "C20"
    );
    let normalised = warnings_of(&ep, WarningKind::Normalised);
    assert!(normalised.iter().any(|w| w.contains("\"c20\" read as C20")));
    assert!(
        normalised
            .iter()
            .any(|w| w.starts_with("procedimientos[0].codigo: the code is a JSON number"))
    );
    assert!(
        warnings_of(&ep, WarningKind::SuspiciousCode)
            .iter()
            .any(|w| w.starts_with(
                "diagnostico_egreso[0].codigo: J18.7 is not in the Spanish CIE-10 list"
            ))
    );
    assert!(
        warnings_of(&ep, WarningKind::Inconsistent)
            .iter()
            .any(|w| w.starts_with("atencion.fecha_alta: the discharge date 2025-12-10 is before"))
    );
    assert_eq!(ep.procedures[1].date, None);
    assert!(
        warnings_of(&ep, WarningKind::Unreadable)
            .iter()
            .any(|w| w.starts_with("procedimientos[1].fecha: \"ayer\" is not a date"))
    );
}

#[test]
fn allergies_in_their_spellings() {
    for (given, expected) in [
        (json!("Sin alergias conocidas"), Allergies::NoneKnown),
        (json!("No refiere"), Allergies::NoneKnown),
        (json!(["niega"]), Allergies::NoneKnown),
        (json!("ninguna"), Allergies::NoneKnown),
        (json!(""), Allergies::NotRecorded),
        (json!([]), Allergies::NotRecorded),
        (Value::Null, Allergies::NotRecorded),
        (
            json!("Penicilina"),
            Allergies::Known(vec!["Penicilina".into()]),
        ),
        (
            json!(["Penicilina", "Sulfas"]),
            Allergies::Known(vec!["Penicilina".into(), "Sulfas".into()]),
        ),
    ] {
        let mut v = rich_value();
        v["antecedentes"]["alergias"] = given.clone();
        assert_eq!(read_json(&v).history.allergies, expected, "{given}");
    }
    let mut v = rich_value();
    v["antecedentes"]
        .as_object_mut()
        .unwrap()
        .remove("alergias");
    assert_eq!(read_json(&v).history.allergies, Allergies::NotRecorded);
}

#[test]
fn compact_med_items_go_where_they_belong() {
    let v = json!({
        "instruction": "Epicrisis:",
        "input": {
            "dx": ["Neumonia (J18.9)"],
            "tto": ["Enoxaparina 40mg SC c/24h (B01AB01)", "Transfusion 2U GR"],
            "med": [
                "Enoxaparina 40mg SC c/24h 10d (B01AB05)",
                "Control pediatria 48h",
                "Kinesioterapia respiratoria",
                "Paracetamol 1g VO c/8h SOS (N02BE01)"
            ]
        },
        "output": "Ingresa por neumonia (J18.9)."
    });
    let ep = read_json(&v);
    assert_eq!(ep.treatments[1].kind, ItemKind::Therapy);
    let d = &ep.discharge;
    assert_eq!(d.medications.len(), 2);
    assert_eq!(d.controls, ["Control pediatria 48h"]);
    assert_eq!(d.care, ["Kinesioterapia respiratoria"]);
    let suspicious = warnings_of(&ep, WarningKind::SuspiciousCode);
    assert!(
        suspicious.iter().any(|w| w
            .starts_with("tto[0]: ATC B01AB01 does not fit \"Enoxaparina\"")
            && w.contains("heparina")
            && w.contains("B01AB05")),
        "{suspicious:?}"
    );
    let inconsistent = warnings_of(&ep, WarningKind::Inconsistent);
    assert_eq!(inconsistent.len(), 1, "{inconsistent:?}");
    assert!(
        inconsistent[0]
            .starts_with("med[0]: \"enoxaparina\" is coded B01AB05 here but B01AB01 at tto[0]")
    );
}

#[test]
fn rich_discharge_items_that_are_not_drugs() {
    let mut v = rich_value();
    v["indicaciones_alta"]["medicamentos"] = json!([
        {"codigo": "ATC:J01DH02", "nombre": "Meropenem", "dosis": "1g", "via": "EV", "frecuencia": "cada 8 horas"},
        {"nombre": "Oxigeno domiciliario", "dosis": "2 L/min", "frecuencia": "nocturno"},
        {"nombre": "Control con hemograma", "frecuencia": "en 1 semana"},
        "Kinesioterapia motora"
    ]);
    let ep = read_json(&v);
    let d = &ep.discharge;
    assert_eq!(d.medications.len(), 1);
    assert!(
        d.care
            .contains(&"Oxigeno domiciliario 2 L/min cada noche".to_string()),
        "{:?}",
        d.care
    );
    assert!(d.care.contains(&"Kinesioterapia motora".to_string()));
    assert!(
        d.controls
            .iter()
            .any(|c| c.starts_with("Control con hemograma")),
        "{:?}",
        d.controls
    );
}

#[test]
fn unknown_extra_keys_are_ignored() {
    let mut v = rich_value();
    v["exportado_por"] = json!({"sistema": "HIS", "version": 3});
    v["diagnostico_ingreso"][0]["glosa_larga"] = json!(12);
    let ep = read_json(&v);
    assert_eq!(ep.admission_diagnoses.len(), 3);
}
