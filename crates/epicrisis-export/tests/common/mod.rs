//! Shared test helpers: example and synthetic episodes, metadata, external tools.
#![allow(dead_code)]

use epicrisis_domain::{
    Date, Diagnosis, Dose, DoseUnit, Duration, Episode, EvolutionNote, Frequency, ItemKind,
    LabStatus, LabSummary, LabValue, Medication, Route, TimeUnit,
};
use epicrisis_export::{DocumentMeta, DocumentState, Signature};
pub use epicrisis_testkit::fixtures::testdata;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn example() -> Episode {
    epicrisis_ingest::read_episode_path(&testdata("episodes/episodio_1416169.json"))
        .expect("example episode")
}

/// Where test artefacts (PDFs, PNG renders, DOCX) go: under the cargo target dir.
pub fn artefacts(sub: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("epicrisis-export")
        .join(sub);
    std::fs::create_dir_all(&dir).expect("artefact dir");
    dir
}

pub fn draft_meta() -> DocumentMeta {
    DocumentMeta {
        hospital_name: "Hospital Clínico de Prueba".into(),
        generated_at: Some("2025-12-26T18:30:00-03:00".into()),
        ..DocumentMeta::default()
    }
}

pub fn signed_meta(draft: &epicrisis_pipeline::Draft) -> DocumentMeta {
    DocumentMeta {
        state: DocumentState::Signed,
        signature: Some(Signature {
            signer: "Dra. Carolina Muñoz Peña".into(),
            signed_at: "2025-12-26T19:05:00-03:00".into(),
            version: 2,
            content_hash: epicrisis_export::content_hash(draft),
        }),
        reviewed_by: Some("Dra. Carolina Muñoz Peña".into()),
        version: 2,
        treating_physician: Some("Dr. Íñigo Ñúñez".into()),
        service: Some("Cirugía Digestiva".into()),
        ..draft_meta()
    }
}

fn med(name: &str, mg: f64, route: Route, every: f64, days: f64, atc: &str) -> Medication {
    let mut m = Medication::named(name, ItemKind::Drug);
    m.dose = Some(Dose {
        amounts: vec![mg],
        unit: DoseUnit::Mg,
        per: Vec::new(),
    });
    m.route = Some(route);
    m.frequency = Some(Frequency::EveryHours(every));
    m.duration = Some(Duration::Span {
        min: days,
        max: None,
        unit: TimeUnit::Days,
    });
    m.code = epicrisis_domain::AtcCode::parse(atc)
        .ok()
        .map(|p| epicrisis_domain::SourceCode {
            raw: atc.into(),
            parsed: Some(p.code),
        });
    m
}

/// A long synthetic stay (no real patient data): 30 days of notes, 45 laboratory tests,
/// 16 discharge medications, long Spanish words.
pub fn long_episode() -> Episode {
    let mut ep = example();
    ep.id = Some("SINT-0001".into());
    ep.patient.name = Some("Paciente Sintético Ñandú".into());
    ep.patient.identifier = Some("11.111.111-1".into());
    ep.service = Some("Medicina Interna".into());
    ep.physician = Some("Dr. Prueba Electroencefalografista".into());
    let start = Date::parse("2025-10-01").unwrap();
    ep.admission_date = Some(start);
    ep.discharge_date = Some(start.add_days(30));
    ep.reason = Some(
        "Paciente con descompensación cardiorrespiratoria y esternocleidomastoideo doloroso; \
         hepatoesplenomegalia e inmunodeficiencia a estudiar; caracteres especiales # $ * _ @ < > [ ] \\ ~ ` = + / ' \" : para probar el escape."
            .into(),
    );
    ep.evolution = (1..=30)
        .map(|d| EvolutionNote {
            day: Some(d),
            date: Some(start.add_days(i64::from(d) - 1)),
            text: format!(
                "DIA {d}: PACIENTE HEMODINAMICAMENTE ESTABLE, AFEBRIL. SE REALIZA \
                 ELECTROENCEFALOGRAFIA Y COLANGIOPANCREATOGRAFIA RETROGRADA ENDOSCOPICA SIN \
                 INCIDENTES. BUENA TOLERANCIA ORAL, DIURESIS CONSERVADA, SIN SIGNOS DE \
                 DIFICULTAD RESPIRATORIA. SE AJUSTA TRATAMIENTO ANTIBIOTICO SEGUN CULTIVOS \
                 Y SE MANTIENE KINESIOTERAPIA RESPIRATORIA Y MOTORA DOS VECES AL DIA."
            ),
            author: None,
        })
        .collect();
    ep.labs = (1..=45)
        .map(|i| {
            let v = 10.0 + f64::from(i) * 0.37;
            LabSummary {
                test: format!("Examen sintético número {i} de química sanguínea"),
                unit: Some("mg/dL".into()),
                first: LabValue {
                    value: v,
                    comparator: None,
                    date: Some(start),
                    timestamp: Some(format!("{start}T08:00:00")),
                    range_low: Some(5.0),
                    range_high: Some(20.0),
                    status: if v > 20.0 {
                        LabStatus::High
                    } else {
                        LabStatus::Normal
                    },
                },
                last: Some(LabValue {
                    value: v - 1.5,
                    comparator: None,
                    date: Some(start.add_days(29)),
                    timestamp: Some(format!("{}T08:00:00", start.add_days(29))),
                    range_low: Some(5.0),
                    range_high: Some(20.0),
                    status: LabStatus::Normal,
                }),
                min: v - 2.0,
                max: v + 1.0,
            }
        })
        .collect();
    let atcs = [
        ("Amoxicilina", "J01CA04"),
        ("Omeprazol", "A02BC01"),
        ("Paracetamol", "N02BE01"),
        ("Furosemida", "C03CA01"),
        ("Enalapril", "C09AA02"),
        ("Metformina", "A10BA02"),
        ("Atorvastatina", "C10AA05"),
        ("Espironolactona", "C03DA01"),
        ("Levotiroxina", "H03AA01"),
        ("Sertralina", "N06AB06"),
        ("Losartán", "C09CA01"),
        ("Amlodipino", "C08CA01"),
        ("Bisoprolol", "C07AB07"),
        ("Ácido fólico", "B03BB01"),
        ("Tramadol", "N02AX02"),
        ("Clopidogrel", "B01AC04"),
    ];
    ep.discharge.medications = atcs
        .iter()
        .enumerate()
        .map(|(i, (n, c))| {
            med(
                n,
                50.0 * (i as f64 + 1.0),
                Route::Oral,
                12.0,
                7.0 + i as f64,
                c,
            )
        })
        .collect();
    ep.discharge_diagnoses.push(Diagnosis {
        name: "Insuficiencia cardíaca congestiva".into(),
        code: epicrisis_domain::Icd10Code::parse("I50.0").ok().map(|p| {
            epicrisis_domain::SourceCode {
                raw: "I50.0".into(),
                parsed: Some(p.code),
            }
        }),
    });
    ep.discharge.controls = (1..=6)
        .map(|i| format!("Control en policlínico de especialidad número {i} en 7 días"))
        .collect();
    ep
}

pub fn sections_draft(ep: &Episode) -> epicrisis_pipeline::Draft {
    epicrisis_pipeline::writer::write(ep, epicrisis_pipeline::Layout::Sections)
}

/// Whether an external tool is on PATH (skip or fail otherwise: the testkit's rule).
pub fn tool(name: &str, install: &str) -> bool {
    epicrisis_testkit::fixtures::tool(name, install).is_some()
}

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn pdftotext(pdf: &Path) -> String {
    run(Command::new("pdftotext").arg("-layout").arg(pdf).arg("-"))
}

/// pdftotext without layout, whitespace collapsed: for finding phrases that wrap.
pub fn pdf_words(pdf: &Path) -> String {
    let t = run(Command::new("pdftotext").arg(pdf).arg("-"));
    // Hyphenated line ends ("electroencefalo-\ngrafía") are joined.
    t.replace("\u{ad}\n", "")
        .replace("-\n", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
