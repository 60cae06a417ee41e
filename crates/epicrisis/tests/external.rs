//! External providers end to end: `epicrisis generate --engine openai|anthropic` against
//! a provider server on loopback that records every byte it receives. None of the
//! episode's identifiers may appear in those bytes; the final draft has the real values
//! back and passes validation. Also: the provider is refused unless an administrator
//! enabled it.

use epicrisis_testkit::http;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};

/// A provider on loopback (the testkit's server) speaking `format` ("openai" or
/// "anthropic"). It answers with a sentence that names every placeholder it was sent, so
/// re-identification is exercised.
fn recorder(format: &'static str) -> http::Server {
    http::Server::start(move |req, out| answer(req, format, out))
}

/// Everything the provider received: request lines, headers and bodies.
fn received(server: &http::Server) -> String {
    let mut all = String::new();
    for r in server.requests() {
        all.push_str(&format!("{} {}\n", r.method, r.target));
        for (k, v) in &r.headers {
            all.push_str(&format!("{k}: {v}\n"));
        }
        all.push_str(&r.text());
        all.push('\n');
    }
    all
}

fn answer(req: &http::Request, format: &str, conn: &mut TcpStream) -> std::io::Result<()> {
    let body = req.text();
    // Every placeholder the request carries, named in the answer.
    let mut answer = String::from("Evoluciona favorablemente.");
    let mut seen = Vec::new();
    let mut rest = body.as_str();
    while let Some(i) = rest.find('[') {
        let tail = &rest[i..];
        if let Some(j) = tail.find(']') {
            let p = &tail[..=j];
            if p.len() < 20
                && p[1..p.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && !seen.contains(&p.to_string())
            {
                seen.push(p.to_string());
                answer.push_str(&format!(" Evaluado por {p}."));
            }
        }
        rest = &rest[i + 1..];
    }
    let words: Vec<String> = answer.split_inclusive(' ').map(str::to_string).collect();
    let mut out = String::from(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
    );
    if format == "openai" {
        for w in &words {
            out.push_str(&format!(
                "data: {}\n\n",
                serde_json::json!({"choices":[{"index":0,"delta":{"content":w}}]})
            ));
        }
        out.push_str("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    } else {
        out.push_str("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5}}}\n\n");
        for w in &words {
            out.push_str(&format!(
                "event: content_block_delta\ndata: {}\n\n",
                serde_json::json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":w}})
            ));
        }
        out.push_str("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":5}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    }
    conn.write_all(out.as_bytes())
}

/// Identifiers planted into the example episode (all synthetic).
const NAME: &str = "Yasna Huenchullán Cifuentes";
const PLANTED_NOTES: [&str; 3] = [
    "PACIENTE YASNA HUENCHULLAN, RUT 12.345.678-5, INGRESA EL 15/12/2025. HIJA MARISOL (+56 9 8765 4321) INFORMADA. ATTE LETELIER",
    "DOMICILIO CALLE LOS AROMOS 1234, DEPTO 5. CORREO marisol.h@gmail.com. EPISODIO 1416169. Dr(a)|Reinaldo Quintanilla",
    "RUT PCTE 123456785. CONTROL EL 20 DE DICIEMBRE DE 2025. FIRMA: DRA. ELIANA AHUMADA",
];
const LEAKS: &[&str] = &[
    "yasna",
    "huenchull",
    "cifuentes",
    "marisol",
    "letelier",
    "quintanilla",
    "reinaldo",
    "eliana",
    "ahumada",
    "12.345.678",
    "12345678",
    "8765",
    "aromos",
    "marisol.h",
    "1416169",
    "15/12/2025",
    "2025-12-15",
    "2025-12-26",
    "20 de diciembre",
];

fn episode(dir: &Path) -> std::path::PathBuf {
    let src = epicrisis_testkit::fixtures::testdata("episodes/episodio_1416169.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src).unwrap()).unwrap();
    v["paciente"]["nombre"] = NAME.into();
    v["paciente"]["rut"] = "12.345.678-5".into();
    v["atencion"]["medico_tratante"] = "Dr. Reinaldo Quintanilla".into();
    let notes = v["evolucion_resumen"].as_array_mut().unwrap();
    for (i, p) in PLANTED_NOTES.iter().enumerate() {
        let t = notes[i]["texto"].as_str().unwrap().to_string();
        // In front: the prompt keeps the start of each note.
        notes[i]["texto"] = format!("{p}. {t}").into();
    }
    let path = dir.join("episodio.json");
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    path
}

fn compact(dir: &Path) -> std::path::PathBuf {
    let src = epicrisis_testkit::fixtures::testdata("dev/train.jsonl");
    let first = std::fs::read_to_string(src)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let mut v: serde_json::Value = serde_json::from_str(&first).unwrap();
    let evo = v["input"]["evo"].as_str().unwrap().to_string();
    v["input"]["evo"] = format!(
        "{evo}. Paciente Yasna Huenchullán, RUT 12345678-5, fono +56 9 8765 4321. Hija Marisol informada. atte LETELIER. Dr(a)|Reinaldo Quintanilla. Domicilio Calle Los Aromos 1234. Correo marisol.h@gmail.com. Episodio 1416169."
    ).into();
    let path = dir.join("record.json");
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    path
}

fn run(dir: &Path, engine: &str, url: &str, allow: bool, file: &Path) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_epicrisis"));
    for k in [
        "MODEL_TYPE",
        "LOCAL_LLM_PATH",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "EPICRISIS_ALLOW_EXTERNAL",
    ] {
        c.env_remove(k);
    }
    c.current_dir(dir)
        .env("OPENAI_BASE_URL", format!("{url}/v1"))
        .env("OPENAI_MODEL", "test-model")
        .env("OPENAI_API_KEY", "sk-test-key")
        .env("ANTHROPIC_BASE_URL", url)
        .env("ANTHROPIC_MODEL", "claude-test")
        .env("ANTHROPIC_API_KEY", "sk-ant-test")
        .env("EPICRISIS_MODELS_DIR", dir.join("models"));
    if allow {
        c.env("EPICRISIS_ALLOW_EXTERNAL", "true");
    }
    c.args([
        "generate",
        file.to_str().unwrap(),
        "--engine",
        engine,
        "--format",
        "json",
    ])
    .output()
    .unwrap()
}

fn check_no_leak(engine: &'static str, file: &Path, dir: &Path) {
    let server = recorder(engine);
    let out = run(dir, engine, &server.url, true, file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{engine}: {stderr}");
    assert!(stderr.contains("desidentificado"), "{stderr}");
    let recorded = received(&server).to_lowercase();
    assert!(
        recorded.contains("evoluci"),
        "the prompt reached the server"
    );
    assert!(
        recorded.contains("[paciente]") || recorded.contains("[nombre_"),
        "placeholders sent"
    );
    for leak in LEAKS {
        assert!(
            !recorded.contains(&leak.to_lowercase()),
            "{engine}: «{leak}» reached the provider"
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ext = &v["provenance"]["external"];
    assert_eq!(ext["provider"], engine);
    assert_eq!(ext["deidentified"], true);
    assert_eq!(v["validation"]["ok"], true, "{}", v["validation"]);
    // The model's answer came back with the real values in place of the placeholders.
    let first = v["attempts"][0]["text"].as_str().unwrap();
    assert!(!first.contains('['), "placeholders left: {first}");
    assert!(
        first.contains("12.345.678-5") || first.contains("12345678-5"),
        "{first}"
    );
    // Long notes reach the provider as retrieved passages, not whole (the note that
    // names one clinician may be left out): every name that went out as a placeholder
    // must come back real, and most of them do go out.
    let names = ["letelier", "quintanilla", "marisol", "yasna"];
    let back = names
        .iter()
        .filter(|n| first.to_lowercase().contains(*n))
        .count();
    assert!(back >= 3, "real names back: {first}");
}

#[test]
fn nothing_identifying_reaches_an_openai_provider() {
    let dir = tempfile::tempdir().unwrap();
    check_no_leak("openai", &episode(dir.path()), dir.path());
    check_no_leak("openai", &compact(dir.path()), dir.path());
}

#[test]
fn nothing_identifying_reaches_an_anthropic_provider() {
    let dir = tempfile::tempdir().unwrap();
    check_no_leak("anthropic", &episode(dir.path()), dir.path());
    check_no_leak("anthropic", &compact(dir.path()), dir.path());
}

#[test]
fn external_providers_are_refused_unless_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let server = recorder("openai");
    let out = run(
        dir.path(),
        "openai",
        &server.url,
        false,
        &compact(dir.path()),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("EPICRISIS_ALLOW_EXTERNAL=true"), "{stderr}");
    assert!(server.requests().is_empty(), "nothing sent");
}
