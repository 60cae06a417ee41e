//! Inputs that cannot become an episode: each error names the file, the JSON path where
//! there is one, and what to do.

mod common;

use epicrisis_ingest::{
    ErrorKind, IngestError, Limits, read_dataset, read_episode, read_episode_from,
    read_episode_path, read_episode_with,
};
use std::io::Read;
use std::path::PathBuf;

fn bad_file(name: &str) -> PathBuf {
    epicrisis_testkit::fixtures::crate_path("epicrisis-ingest", "tests/bad").join(name)
}

fn check(case: &str, err: &IngestError, kind: ErrorKind, needles: &[&str]) {
    let msg = err.to_string();
    assert_eq!(err.kind, kind, "case {case}: {msg}");
    for n in needles {
        assert!(msg.contains(n), "case {case}: {msg:?} lacks {n:?}");
    }
}

/// Literal inputs read as `episode.json`; every message starts with the file name and,
/// where a value is at fault, its JSON path.
#[test]
fn literal_bad_inputs() {
    let cases: &[(&str, &str, ErrorKind, &[&str])] = &[
        (
            "not json",
            "{\"dx\": [\"a\" \"b\"]}",
            ErrorKind::NotJson,
            &["episode.json: not valid JSON at line 1, column 13"],
        ),
        (
            "trailing garbage",
            "{\"dx\": [\"Neumonia (J18.9)\"]} x",
            ErrorKind::NotJson,
            &["episode.json: not valid JSON at line 1"],
        ),
        (
            "two values on one line",
            "{\"dx\": [\"Neumonia (J18.9)\"]} {}",
            ErrorKind::NotJson,
            &["another value follows the first one"],
        ),
        (
            "xml",
            "<?xml version=\"1.0\"?><episode/>",
            ErrorKind::NotJson,
            &["looks like XML or HTML"],
        ),
        (
            "empty",
            "",
            ErrorKind::Empty,
            &["episode.json: the file is empty"],
        ),
        (
            "blank",
            "  \n\t\n",
            ErrorKind::Empty,
            &["episode.json: the file is empty"],
        ),
        (
            "wrong type of list",
            r#"{"diagnostico_ingreso": 7}"#,
            ErrorKind::Missing,
            &[
                "episode.json: no diagnosis found",
                "diagnostico_ingreso: expected a list of {codigo, nombre} objects, found a number",
            ],
        ),
        (
            "compact item not a string",
            r#"{"dx": ["Neumonia (J18.9)", 42]}"#,
            ErrorKind::WrongType,
            &["episode.json: dx[1]: expected a string, found a number (42)"],
        ),
        (
            "broken JSON inside a string",
            r#"{"diagnostico_ingreso": "[{\"codigo\": \"J18.9\""}"#,
            ErrorKind::Missing,
            &[
                "episode.json: no diagnosis found",
                "diagnostico_ingreso: ",
                "looks like JSON but does not parse",
            ],
        ),
        (
            "missing name",
            r#"{"diagnostico_ingreso": [{"codigo": "J18.9"}]}"#,
            ErrorKind::Missing,
            &[
                "episode.json: no diagnosis found",
                "diagnostico_ingreso[0]: missing \"nombre\"",
                "found keys codigo",
            ],
        ),
        (
            "no diagnosis (rich)",
            r#"{"motivo_ingreso": "Dolor", "diagnostico_egreso": []}"#,
            ErrorKind::Missing,
            &[
                "no diagnosis found",
                "diagnostico_ingreso and diagnostico_egreso",
            ],
        ),
        (
            "no diagnosis (compact)",
            r#"{"dx": [], "med": ["Paracetamol 1g VO c/8h (N02BE01)"]}"#,
            ErrorKind::Missing,
            &["no diagnosis found", "dx and dx_alta"],
        ),
        (
            "record input is a number",
            r#"{"instruction": "Epicrisis:", "input": 5, "output": "x"}"#,
            ErrorKind::WrongType,
            &[
                "episode.json: input: expected an object {dx, proc, tto, evo, dx_alta, med}, found a number",
            ],
        ),
        (
            "wrapper clinicalData is text",
            r#"{"episodeId": "1", "clinicalData": "sin datos"}"#,
            ErrorKind::WrongType,
            &["episode.json: clinicalData: expected an object"],
        ),
        (
            "unknown shape",
            r#"{"patient": {"name": "x"}, "visits": []}"#,
            ErrorKind::UnknownShape,
            &[
                "not an episode of a known shape: found keys patient, visits",
                "accepted shapes",
                "dx, proc, tto",
            ],
        ),
        (
            "empty object",
            "{}",
            ErrorKind::UnknownShape,
            &["found an empty object", "accepted shapes"],
        ),
        (
            "mixed shapes",
            r#"{"dx": ["Neumonia (J18.9)"], "diagnostico_egreso": []}"#,
            ErrorKind::UnknownShape,
            &["mixes keys of the compact record (dx) and of the rich episode (diagnostico_egreso)"],
        ),
        (
            "a list of episodes",
            r#"[{"dx": ["Neumonia (J18.9)"]}, {"dx": ["Neumonia (J18.9)"]}]"#,
            ErrorKind::UnknownShape,
            &[
                "expected one episode as a JSON object, found a list of 2 items",
                "epicrisis-dev eval",
            ],
        ),
        (
            "a bare string",
            r#""Neumonia""#,
            ErrorKind::UnknownShape,
            &["expected one episode as a JSON object, found a string"],
        ),
        (
            "fhir resource",
            r#"{"resourceType": "Patient", "id": "1"}"#,
            ErrorKind::Unsupported,
            &["a FHIR Patient resource is not an episode"],
        ),
    ];
    for (case, input, kind, needles) in cases {
        match read_episode(input.as_bytes(), "episode.json") {
            Ok(ep) => panic!("case {case}: read without error: {ep:?}"),
            Err(e) => check(case, &e, *kind, needles),
        }
    }
}

/// Small files under `tests/bad/`, read by path: the message names the file.
#[test]
fn bad_files() {
    let cases: &[(&str, ErrorKind, &[&str])] = &[
        (
            "latin1.json",
            ErrorKind::InvalidUtf8,
            &[
                "latin1.json: not valid UTF-8 at byte 18 (line 2",
                "Latin-1",
                "re-export",
            ],
        ),
        (
            "utf16.json",
            ErrorKind::InvalidUtf8,
            &["utf16.json: the file is UTF-16"],
        ),
        (
            "two_episodes.jsonl",
            ErrorKind::Dataset,
            &[
                "two_episodes.jsonl: found 3 JSON values on separate lines",
                "epicrisis-dev eval",
                "one line",
            ],
        ),
        (
            "fhir_bundle.json",
            ErrorKind::Missing,
            &[
                "fhir_bundle.json: entry: the Bundle has no Condition resources (diagnoses)",
                "at least one",
            ],
        ),
        (
            "no_diagnosis.json",
            ErrorKind::Missing,
            &["no_diagnosis.json: no diagnosis found"],
        ),
        (
            "broken.json",
            ErrorKind::NotJson,
            &["broken.json: not valid JSON at line 4, column 1"],
        ),
    ];
    let listed: Vec<&str> = cases.iter().map(|c| c.0).collect();
    for entry in std::fs::read_dir(bad_file("")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            listed.contains(&name.as_str()),
            "tests/bad/{name} has no case"
        );
    }
    for (file, kind, needles) in cases {
        match read_episode_path(&bad_file(file)) {
            Ok(ep) => panic!("case {file}: read without error: {ep:?}"),
            Err(e) => check(file, &e, *kind, needles),
        }
    }
}

#[test]
fn dataset_errors_name_the_line() {
    let text = concat!(
        r#"{"instruction": "Epicrisis:", "input": {"dx": ["Neumonia (J18.9)"]}, "output": "x"}"#,
        "\n\n",
        r#"{"instruction": "Epicrisis:", "input": {"dx": [17]}, "output": "x"}"#,
        "\n"
    );
    let e = read_dataset(text.as_bytes(), "train.jsonl").unwrap_err();
    assert_eq!(
        e.to_string(),
        "train.jsonl: line 3: dx[0]: expected a string, found a number (17)"
    );
    assert_eq!(e.line, Some(3));
    assert_eq!(e.path.as_deref(), Some("dx[0]"));

    let text = "{\"input\": {\"dx\": [\"a (J18.9)\"]}}\n{\"input\": {\"dx\": [\n";
    let e = read_dataset(text.as_bytes(), "train.jsonl").unwrap_err();
    check(
        "broken line",
        &e,
        ErrorKind::NotJson,
        &["train.jsonl: line 2: not valid JSON at column"],
    );

    let pretty = "{\n  \"dx\": [\"Neumonia (J18.9)\"]\n}\n";
    let e = read_dataset(pretty.as_bytes(), "one.json").unwrap_err();
    check(
        "pretty document as dataset",
        &e,
        ErrorKind::NotJson,
        &["one.json: line 1: ", "not a JSONL dataset"],
    );

    // A runaway line is refused by its size, naming the line, before it is parsed.
    let huge = format!(
        "{{\"input\": {{\"dx\": [\"a (J18.9)\"]}}}}\n{{\"input\": {{\"evo\": \"{}\"}}}}\n",
        "x".repeat(17 * 1024 * 1024)
    );
    let e = read_dataset(huge.as_bytes(), "train.jsonl").unwrap_err();
    check(
        "runaway line",
        &e,
        ErrorKind::TooLarge,
        &["train.jsonl: line 2: record is ", "at most 16 MiB"],
    );

    let e = read_dataset(b"\n\n", "train.jsonl").unwrap_err();
    check(
        "empty dataset",
        &e,
        ErrorKind::Empty,
        &["train.jsonl: the dataset is empty"],
    );

    let e = read_dataset(b"{\"dx\": [\"x\"]}\n\xff\n", "train.jsonl").unwrap_err();
    check(
        "dataset not utf-8",
        &e,
        ErrorKind::InvalidUtf8,
        &["train.jsonl: not valid UTF-8 at byte 14 (line 2"],
    );
}

#[test]
fn dataset_passed_as_one_episode() {
    let bytes = common::read("dev/train.jsonl");
    let e = read_episode(&bytes, "train.jsonl").unwrap_err();
    check(
        "train.jsonl",
        &e,
        ErrorKind::Dataset,
        &[
            "train.jsonl: found 321 JSON values on separate lines",
            "epicrisis-dev eval",
        ],
    );
}

#[test]
fn fifty_megabytes_are_refused_before_reading() {
    // A sparse file: refused from its size alone.
    let path =
        std::env::temp_dir().join(format!("epicrisis-ingest-big-{}.json", std::process::id()));
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(50 * 1024 * 1024).unwrap();
    drop(f);
    let result = read_episode_path(&path);
    std::fs::remove_file(&path).unwrap();
    let e = result.unwrap_err();
    let name = path.display().to_string();
    check(
        "50 MiB file",
        &e,
        ErrorKind::TooLarge,
        &[
            &format!("{name}: file is 52.4 MB; one episode may be at most 16 MiB"),
            "split it into one file per episode",
        ],
    );

    // The same from bytes and from a stream that never ends.
    let limits = Limits { max_bytes: 1000 };
    let e = read_episode_with(&[b' '; 1001], "big.json", &limits).unwrap_err();
    check(
        "bytes",
        &e,
        ErrorKind::TooLarge,
        &["big.json: file is 0.0 MB"],
    );
    let endless = std::io::repeat(b' ');
    let e = read_episode_from(endless, "<stdin>", &limits).unwrap_err();
    check(
        "stream",
        &e,
        ErrorKind::TooLarge,
        &["<stdin>: input is larger than 0.0 MB"],
    );
    let small = std::io::repeat(b' ').take(10);
    let e = read_episode_from(small, "<stdin>", &limits).unwrap_err();
    check(
        "small blank stream",
        &e,
        ErrorKind::Empty,
        &["<stdin>: the file is empty"],
    );
}

#[test]
fn a_missing_file_is_an_io_error() {
    let e = read_episode_path(&bad_file("does-not-exist.json")).unwrap_err();
    check(
        "missing file",
        &e,
        ErrorKind::Io,
        &["does-not-exist.json: cannot open the file"],
    );
}

/// A laboratory entry that cannot be read is no reason to refuse an episode (issue: ten
/// exports of real shape were refused for a lab value written as a string): it is left
/// out with a warning that names it, and the rest is read.
#[test]
fn unreadable_lab_entries_are_warnings_not_refusals() {
    let json = r#"{"diagnostico_ingreso": [{"codigo": "J18.9", "nombre": "N"}],
        "laboratorios_resumen": [{"unidad": "g/dL", "ingreso": {"valor": 7}},
                                 {"prueba": "Hb", "ingreso": "7,5 g/dL"}]}"#;
    let ep = read_episode(json.as_bytes(), "episode.json").expect("read with a warning");
    assert_eq!(ep.labs.len(), 1);
    assert_eq!(ep.labs[0].first.value, 7.5);
    let w = ep
        .warnings
        .iter()
        .find(|w| w.path == "laboratorios_resumen[0]")
        .expect("a warning names the entry");
    assert!(w.message.contains("missing \"prueba\""), "{}", w.message);
}

/// Fields written in shapes the reader cannot use are warnings at their path, and the
/// rest of the episode is read (a hospital export with one odd field must not block a
/// discharge); only an episode left without any diagnosis is refused (above).
#[test]
fn odd_fields_are_warnings_and_the_rest_is_read() {
    // (case, input, path of the warning or "" for none, what must still be there)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        fn(&epicrisis_domain::Episode) -> bool,
    );
    let cases: &[Case] = &[
        (
            "single object instead of a list",
            r#"{"diagnostico_ingreso": {"codigo": "J18.9", "nombre": "Neumonia"}}"#,
            "",
            |ep| ep.admission_diagnoses.len() == 1,
        ),
        (
            "code of the wrong type",
            r#"{"diagnostico_ingreso": [{"codigo": "J18.9", "nombre": "Neumonia"}, {"codigo": ["J18.9"], "nombre": "X"}]}"#,
            "diagnostico_ingreso[1].codigo",
            |ep| ep.admission_diagnoses.len() == 1,
        ),
        (
            "patient is a list",
            r#"{"paciente": ["F", 68], "diagnostico_ingreso": [{"codigo": "J18.9", "nombre": "N"}]}"#,
            "paciente",
            |ep| ep.patient.age.is_none() && ep.admission_diagnoses.len() == 1,
        ),
        (
            "age is an object",
            r#"{"paciente": {"edad": {"anos": 68}}, "diagnostico_ingreso": [{"codigo": "J18.9", "nombre": "N"}]}"#,
            "paciente.edad",
            |ep| ep.admission_diagnoses.len() == 1,
        ),
        (
            "age of the wrong type keeps the rest of the patient",
            r#"{"paciente": {"edad": true, "sexo": "F", "nombre": "Paciente Sintetica", "rut": "11111111-1"},
                "diagnostico_ingreso": [{"codigo": "J18.9", "nombre": "N"}]}"#,
            "paciente.edad",
            |ep| {
                ep.patient.age.is_none()
                    && ep.patient.sex.is_some()
                    && ep.patient.name.is_some()
                    && ep.patient.identifier.is_some()
            },
        ),
        (
            "name of the wrong type keeps the age",
            r#"{"paciente": {"nombre": ["Paciente", "Sintetica"], "edad": 68},
                "diagnostico_ingreso": [{"codigo": "J18.9", "nombre": "N"}]}"#,
            "paciente.nombre",
            |ep| ep.patient.name.is_none() && ep.patient.age == Some(68),
        ),
        (
            "treatment is a number",
            r#"{"diagnostico_ingreso": [{"codigo": "J18.9", "nombre": "N"}], "tratamientos_intrahosp": [{"nombre": "Ceftriaxona"}, 3]}"#,
            "tratamientos_intrahosp[1]",
            |ep| ep.treatments.len() == 1,
        ),
        (
            "admission diagnoses a number, discharge ones fine",
            r#"{"diagnostico_ingreso": 42, "diagnostico_egreso": [{"codigo": "J18.9", "nombre": "Neumonia"}]}"#,
            "diagnostico_ingreso",
            |ep| ep.discharge_diagnoses.len() == 1,
        ),
        (
            "a discharge diagnosis without its name",
            r#"{"diagnostico_egreso": [{"codigo": "J18.9", "nombre": "Neumonia"}, {"codigo": "I10", "nombres": "HTA"}]}"#,
            "diagnostico_egreso[1]",
            |ep| ep.discharge_diagnoses.len() == 1,
        ),
        (
            "a discharge dose of the wrong type keeps the drug",
            r#"{"diagnostico_egreso": [{"codigo": "J18.9", "nombre": "Neumonia"}],
                "indicaciones_alta": {"medicamentos": [{"codigo": "N02BE01", "nombre": "Paracetamol", "dosis": true}]}}"#,
            "indicaciones_alta.medicamentos[0].dosis",
            |ep| ep.discharge.medications.len() == 1 && ep.discharge.medications[0].dose.is_none(),
        ),
        (
            "discharge instructions are text",
            r#"{"diagnostico_egreso": [{"codigo": "J18.9", "nombre": "Neumonia"}], "indicaciones_alta": 5}"#,
            "indicaciones_alta",
            |ep| ep.discharge_diagnoses.len() == 1,
        ),
    ];
    for (case, input, path, holds) in cases {
        let ep = read_episode(input.as_bytes(), "episode.json")
            .unwrap_or_else(|e| panic!("case {case}: refused: {e}"));
        assert!(holds(&ep), "case {case}: {ep:?}");
        if path.is_empty() {
            assert!(ep.warnings.is_empty(), "case {case}: {:?}", ep.warnings);
        } else {
            let w = ep
                .warnings
                .iter()
                .find(|w| w.path.starts_with(path))
                .unwrap_or_else(|| panic!("case {case}: no warning at {path}: {:?}", ep.warnings));
            assert_eq!(
                w.kind,
                epicrisis_domain::WarningKind::Unreadable,
                "case {case}"
            );
            assert!(
                w.message_es.contains("El resto del episodio se leyó")
                    || w.message_es.contains("se omitió"),
                "case {case}: {}",
                w.message_es
            );
        }
    }
}

/// Exports name the same fields in other ways: accents, case, camelCase, spaces and
/// synonyms are read as the canonical field (issue: `diagnosticos_egreso` was silently
/// ignored, and with it every discharge diagnosis); a field no reader knows is a warning
/// that names it, never silence.
#[test]
fn field_names_as_exports_write_them_are_read_and_unknown_ones_named() {
    let json = r#"{
        "ID Atención": "A-77",
        "Diagnósticos de Ingreso": [{"Código": "J18.9", "Nombre": "Neumonía"}],
        "diagnosticosEgreso": [{"codigo": "J18.9", "nombre": "Neumonía resuelta"},
                               {"codigo": "I10", "nombre": "Hipertensión arterial"}],
        "Procedimiento": [{"codigo": "87.44", "nombre": "Radiografía de tórax"}],
        "tratamientos-intrahospitalarios": [{"codigo": "J01DD04", "nombre": "Ceftriaxona", "dosis": "2 g"}],
        "indicaciones al alta": {"Fármacos": [{"codigo": "J01CA04", "nombre": "Amoxicilina", "dosis": "1 g"}],
                                 "signos de alarma": ["Fiebre"]},
        "sistema_origen": "HIS-3",
        "vacio": ""
    }"#;
    let ep = read_episode(json.as_bytes(), "episode.json").expect("read");
    assert_eq!(ep.id.as_deref(), Some("A-77"));
    assert_eq!(ep.admission_diagnoses.len(), 1);
    assert_eq!(ep.discharge_diagnoses.len(), 2);
    assert_eq!(ep.procedures.len(), 1);
    assert_eq!(ep.treatments.len(), 1);
    assert_eq!(ep.discharge.medications.len(), 1);
    assert_eq!(ep.discharge.warning_signs, vec!["Fiebre".to_string()]);
    let unknown: Vec<&str> = ep.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(unknown, vec!["sistema_origen"], "{:?}", ep.warnings);
    assert!(ep.warnings[0].message_es.contains("«sistema_origen»"));
    assert!(
        !ep.warnings[0].message.contains("HIS-3"),
        "no content in the English message"
    );
}

#[test]
fn a_bundle_of_runaway_resources_is_capped_like_a_list() {
    let mut entries = vec![serde_json::json!({"resource": {
        "resourceType": "Condition",
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J18.9", "display": "Neumonia"}]}
    }})];
    for i in 0..2_500 {
        entries.push(serde_json::json!({"resource": {
            "resourceType": "MedicationStatement",
            "id": format!("m{i}"),
            "medicationCodeableConcept": {"text": "Paracetamol"}
        }}));
    }
    let bundle =
        serde_json::json!({"resourceType": "Bundle", "type": "collection", "entry": entries});
    let bytes = serde_json::to_vec(&bundle).unwrap();
    let ep = epicrisis_ingest::read_episode(&bytes, "bundle.json").expect("a Bundle reads");
    let meds = ep.treatments.len() + ep.discharge.medications.len();
    assert_eq!(meds, epicrisis_ingest::MAX_LIST_ITEMS, "{meds}");
    let w = ep
        .warnings
        .iter()
        .find(|w| w.message.contains("only the first"))
        .expect("a warning that names the cap");
    assert_eq!(w.path, "entry");
    assert!(w.message.contains("2500"), "{}", w.message);
}
