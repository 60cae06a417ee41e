//! The readers never panic: on arbitrary bytes, on arbitrary JSON (placed where the
//! readers look), and on the example files mutated byte-wise or value-wise.

mod common;

use epicrisis_ingest::{read_dataset, read_episode};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Keys and strings the readers react to, so random documents reach deep code paths.
const KEYS: &[&str] = &[
    "dx",
    "proc",
    "tto",
    "evo",
    "dx_alta",
    "med",
    "input",
    "instruction",
    "output",
    "clinicalData",
    "episodeId",
    "patientInfo",
    "resourceType",
    "id_atencion",
    "paciente",
    "atencion",
    "motivo_ingreso",
    "antecedentes",
    "alergias",
    "medicos",
    "diagnostico_ingreso",
    "diagnostico_egreso",
    "procedimientos",
    "tratamientos_intrahosp",
    "evolucion_resumen",
    "evolucion",
    "laboratorios_resumen",
    "laboratorios_relevantes",
    "indicaciones_alta",
    "medicamentos",
    "controles",
    "codigo",
    "nombre",
    "dosis",
    "via",
    "frecuencia",
    "duracion",
    "inicio",
    "fin",
    "fecha",
    "dia",
    "texto",
    "nota",
    "prueba",
    "parametro",
    "valor",
    "ingreso",
    "ultimo",
    "periodo",
    "min",
    "max",
    "estado",
    "rango_inferior",
    "sexo",
    "edad",
    "fechaNacimiento",
];

const STRINGS: &[&str] = &[
    "",
    "J18.9",
    "J189",
    "J18-9",
    "ATC:J01DH02",
    "B01AB01",
    "48.52",
    "Enoxaparina 40mg SC c/24h (B01AB01)",
    "Neumonia lobar (J18.1)",
    "Control pediatria 48h",
    "Meropenem 1g c/8h",
    "cada 8 horas",
    "1 g",
    "EV",
    "Completar esquema",
    "2025-12-15",
    "15/12/2025",
    "ayer",
    "7,8",
    "7.8 g/dL",
    "H",
    "Sin alergias conocidas",
    "Bundle",
    "[{\"codigo\": \"J18.9\", \"nombre\": \"N\"}]",
    "[{",
    "{\"dx\": [\"a (J18.9)\"]}",
    "F",
    "68 años",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(|s| Value::String(s.to_string())),
        ".{0,30}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        4 => prop::sample::select(KEYS).prop_map(str::to_string),
                        1 => "[a-z_]{1,8}",
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn read_both(bytes: &[u8]) {
    let _ = read_episode(bytes, "prop.json");
    let _ = read_dataset(bytes, "prop.jsonl");
}

/// Every JSON pointer of a value.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        _ => {}
    }
}

fn examples() -> Vec<Value> {
    [
        "episodes/episodio_1416169.json",
        "episodes/compact_hernia.json",
        "episodes/predecessor_neumonia.json",
    ]
    .iter()
    .map(|p| serde_json::from_slice(&common::read(p)).unwrap())
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        read_both(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(v in json_value(), wrap in 0usize..6) {
        let doc = match wrap {
            0 => v,
            1 => serde_json::json!({"diagnostico_ingreso": [{"codigo": "J18.9", "nombre": "N"}], "x": v}),
            2 => serde_json::json!({"input": v}),
            3 => serde_json::json!({"clinicalData": v, "patientInfo": v}),
            4 => serde_json::json!({"dx": ["N (J18.9)"], "med": v, "tto": v}),
            _ => serde_json::json!({"diagnostico_ingreso": v, "indicaciones_alta": v, "laboratorios_resumen": v}),
        };
        let bytes = serde_json::to_vec(&doc).unwrap();
        read_both(&bytes);
    }

    #[test]
    fn mutated_example_bytes_never_panic(
        which in 0usize..3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..8),
    ) {
        let mut bytes = serde_json::to_vec_pretty(&examples()[which]).unwrap();
        for (at, byte, op) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                2 => bytes.insert(i, byte),
                _ => bytes.truncate(i),
            }
        }
        read_both(&bytes);
    }

    #[test]
    fn example_with_a_value_replaced_never_panics(
        which in 0usize..3,
        at in any::<prop::sample::Index>(),
        replacement in json_value(),
    ) {
        let mut doc = examples()[which].clone();
        let mut ptrs = Vec::new();
        pointers(&doc, String::new(), &mut ptrs);
        let ptr = &ptrs[at.index(ptrs.len())];
        if let Some(slot) = doc.pointer_mut(ptr) {
            *slot = replacement;
        }
        let bytes = serde_json::to_vec(&doc).unwrap();
        read_both(&bytes);
    }
}
