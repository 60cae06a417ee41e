//! The downloader against a real HTTP server on 127.0.0.1 with injected faults.

mod support;

use std::time::Duration;

use epicrisis_models::{HashOrigin, ModelsDir, ModelsError, NoProgress, Source};
use support::{
    Fault, Recorder, Server, downloader, folder_spec, gguf_spec, sha256, tiny_gguf, tree,
};

const REPO: &str = "org/Test-GGUF";
const FILE: &str = "test-model.Q4_K_M.gguf";

fn path() -> String {
    format!("{REPO}/resolve/main/{FILE}")
}

fn setup(floats: u64) -> (Server, Vec<u8>, tempfile::TempDir, ModelsDir) {
    let server = Server::start();
    let body = tiny_gguf(floats, 7);
    server.put(&path(), body.clone());
    let tmp = tempfile::tempdir().unwrap();
    let dir = ModelsDir::new(tmp.path());
    (server, body, tmp, dir)
}

#[test]
fn a_fresh_download_is_installed_and_recorded_then_not_fetched_again() {
    let (server, body, tmp, dir) = setup(20_000);
    let spec = gguf_spec("test-model", REPO, FILE, body.len() as u64, None);
    let dl = downloader(&server, None);
    let mut rec = Recorder::default();
    let out = dl.install(&dir, spec, None, &mut rec).unwrap();
    assert!(!out.already_installed);
    assert_eq!(out.bytes_downloaded, body.len() as u64);
    let dest = tmp.path().join("llm/test-model").join(FILE);
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(out.model.path, dest);
    assert!(out.model.present);
    assert_eq!(
        tree(tmp.path()),
        ["llm/test-model/test-model.Q4_K_M.gguf", "manifest.json"]
    );

    let m = dir.load_manifest().unwrap();
    let e = m.find("test-model", Some("Q4_K_M")).unwrap();
    assert_eq!(e.files[0].sha256, sha256(&body));
    assert_eq!(e.files[0].size, body.len() as u64);
    assert_eq!(
        e.source,
        Source::Download {
            url: format!("{}/{}", server.url, path())
        }
    );
    assert!(
        rec.lines[0].starts_with("start test-model Q4_K_M from 0"),
        "{:?}",
        rec.lines
    );

    // Again: verified in place, nothing requested.
    let n = server.seen().len();
    let mut rec = Recorder::default();
    let again = dl.install(&dir, spec, Some("q4_k_m"), &mut rec).unwrap();
    assert!(again.already_installed);
    assert_eq!(server.seen().len(), n);
    assert!(
        rec.lines.iter().any(|l| l.contains("ya está instalado")),
        "{:?}",
        rec.lines
    );
}

#[test]
fn a_cut_connection_is_resumed_with_a_range_request() {
    let (server, body, tmp, dir) = setup(50_000);
    let spec = gguf_spec("test-model", REPO, FILE, body.len() as u64, None);
    server.fault(Fault::DropAfter(60_000));
    let mut rec = Recorder::default();
    downloader(&server, None)
        .install(&dir, spec, None, &mut rec)
        .unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].range, None);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=60000-"));
    assert!(
        rec.lines.iter().any(|l| l.starts_with("retry")),
        "{:?}",
        rec.lines
    );
    assert!(
        rec.lines.iter().any(|l| l.contains("from 60000")),
        "{:?}",
        rec.lines
    );
    let dest = tmp.path().join("llm/test-model").join(FILE);
    assert_eq!(sha256(&std::fs::read(dest).unwrap()), sha256(&body));
}

#[test]
fn an_interrupted_run_leaves_a_part_file_that_the_next_run_resumes() {
    let (server, body, tmp, dir) = setup(50_000);
    let spec = gguf_spec("test-model", REPO, FILE, body.len() as u64, None);
    let mut dl = downloader(&server, None);
    let mut cfg = dl.config().clone();
    cfg.retries = 0;
    dl = epicrisis_models::Downloader::new(cfg)
        .unwrap()
        .with_free_space(|_| Ok(u64::MAX));
    server.fault(Fault::DropAfter(70_000));
    let e = dl.install(&dir, spec, None, &mut NoProgress).unwrap_err();
    assert!(matches!(e, ModelsError::RetriesExhausted { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains(".part") && msg.contains("continúa"), "{msg}");
    let part = tmp
        .path()
        .join("llm/test-model")
        .join(format!("{FILE}.part"));
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 70_000);
    assert!(!tmp.path().join("llm/test-model").join(FILE).exists());
    assert!(dir.load_manifest().unwrap().models.is_empty());

    let out = dl.install(&dir, spec, None, &mut NoProgress).unwrap();
    assert_eq!(out.bytes_downloaded, body.len() as u64 - 70_000);
    assert_eq!(server.seen()[1].range.as_deref(), Some("bytes=70000-"));
    assert!(!part.exists());
    assert_eq!(out.model.entry.files[0].sha256, sha256(&body));
}

#[test]
fn a_server_error_is_retried() {
    let (server, body, _tmp, dir) = setup(1_000);
    let spec = gguf_spec("test-model", REPO, FILE, body.len() as u64, None);
    server.fault(Fault::Status(500));
    server.fault(Fault::Status(503));
    let mut rec = Recorder::default();
    downloader(&server, None)
        .install(&dir, spec, None, &mut rec)
        .unwrap();
    assert_eq!(server.seen().len(), 3);
    let retries: Vec<_> = rec
        .lines
        .iter()
        .filter(|l| l.starts_with("retry"))
        .collect();
    assert_eq!(retries.len(), 2, "{:?}", rec.lines);
    assert!(retries[0].contains("500"), "{retries:?}");
}

#[test]
fn a_stalled_response_times_out_and_is_retried() {
    let (server, body, _tmp, dir) = setup(1_000);
    let spec = gguf_spec("test-model", REPO, FILE, body.len() as u64, None);
    server.fault(Fault::Delay(Duration::from_millis(1_500)));
    let mut rec = Recorder::default();
    downloader(&server, None)
        .install(&dir, spec, None, &mut rec)
        .unwrap();
    assert!(
        rec.lines
            .iter()
            .any(|l| l.starts_with("retry") && l.contains("tiempo de espera")),
        "{:?}",
        rec.lines
    );
}

#[test]
fn a_refused_token_names_hf_token_and_never_shows_it() {
    let (server, body, tmp, dir) = setup(1_000);
    let spec = gguf_spec("test-model", REPO, FILE, body.len() as u64, None);
    server.status_for(&path(), 401);
    let e = downloader(&server, Some("hf_SeCrEt123"))
        .install(&dir, spec, None, &mut NoProgress)
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, ModelsError::Unauthorized { status: 401, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("HF_TOKEN") && msg.contains(REPO) && msg.contains("licencia"),
        "{msg}"
    );
    assert!(
        !msg.contains("SeCrEt") && !format!("{e:?}").contains("SeCrEt"),
        "{msg}"
    );
    // Sent to the endpoint, once (no retry on 401).
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some("Bearer hf_SeCrEt123")
    );
    assert!(!tmp.path().join("llm/test-model").join(FILE).exists());
}

#[test]
fn the_token_does_not_follow_a_redirect_to_another_host() {
    let hub = Server::start();
    let cdn = Server::start();
    let body = tiny_gguf(1_000, 3);
    cdn.put("blob/x", body.clone());
    hub.fault(Fault::Redirect(format!("{}/blob/x", cdn.url)));
    let tmp = tempfile::tempdir().unwrap();
    let dir = ModelsDir::new(tmp.path());
    let spec = gguf_spec("test-model", REPO, FILE, body.len() as u64, None);
    downloader(&hub, Some("hf_tok"))
        .install(&dir, spec, None, &mut NoProgress)
        .unwrap();
    assert_eq!(
        hub.seen()[0].authorization.as_deref(),
        Some("Bearer hf_tok")
    );
    assert_eq!(cdn.seen()[0].authorization, None);
}

#[test]
fn a_missing_file_names_the_url_and_the_ways_out() {
    let (server, _body, _tmp, dir) = setup(1_000);
    let spec = gguf_spec("test-model", REPO, "renamed.gguf", 1_000, None);
    let e = downloader(&server, None)
        .install(&dir, spec, None, &mut NoProgress)
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("{}/{REPO}/resolve/main/renamed.gguf", server.url)),
        "{msg}"
    );
    assert!(
        msg.contains("--mirror") && msg.contains("epicrisis models import"),
        "{msg}"
    );
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn a_pinned_hash_mismatch_installs_nothing_and_keeps_no_part() {
    let (server, body, tmp, dir) = setup(1_000);
    let wrong = "0".repeat(64);
    let spec = gguf_spec(
        "test-model",
        REPO,
        FILE,
        body.len() as u64,
        Some((body.len() as u64, &wrong)),
    );
    let e = downloader(&server, None)
        .install(&dir, spec, None, &mut NoProgress)
        .unwrap_err();
    assert!(
        matches!(&e, ModelsError::ChecksumMismatch { origin: HashOrigin::Pinned, actual, .. } if *actual == sha256(&body)),
        "{e}"
    );
    assert!(e.to_string().contains("no se instaló nada"), "{e}");
    assert_eq!(tree(tmp.path()), Vec::<String>::new());

    // A pinned size the server contradicts stops before the body is stored.
    let spec = gguf_spec("test-model", REPO, FILE, 5, Some((5, &sha256(&body))));
    let e = downloader(&server, None)
        .install(&dir, spec, None, &mut NoProgress)
        .unwrap_err();
    assert!(
        matches!(e, ModelsError::SizeMismatch { expected: 5, .. }),
        "{e}"
    );
    assert_eq!(tree(tmp.path()), Vec::<String>::new());

    // The right pin installs.
    let spec = gguf_spec(
        "test-model",
        REPO,
        FILE,
        body.len() as u64,
        Some((body.len() as u64, &sha256(&body))),
    );
    downloader(&server, None)
        .install(&dir, spec, None, &mut NoProgress)
        .unwrap();
}

#[test]
fn a_recorded_hash_holds_later_downloads_to_the_first() {
    let (server, body, tmp, dir) = setup(1_000);
    let spec = gguf_spec("test-model", REPO, FILE, body.len() as u64, None);
    let dl = downloader(&server, None);
    dl.install(&dir, spec, None, &mut NoProgress).unwrap();
    // The installed copy is damaged and upstream now serves another file.
    let dest = tmp.path().join("llm/test-model").join(FILE);
    std::fs::write(&dest, vec![1u8; body.len()]).unwrap();
    server.put(&path(), tiny_gguf(1_000, 99));
    let e = dl.install(&dir, spec, None, &mut NoProgress).unwrap_err();
    assert!(
        matches!(
            e,
            ModelsError::ChecksumMismatch {
                origin: HashOrigin::Recorded,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("epicrisis models remove"), "{e}");
    assert!(
        !tmp.path()
            .join("llm/test-model")
            .join(format!("{FILE}.part"))
            .exists()
    );
    // The good upstream file repairs the damaged copy.
    server.put(&path(), body.clone());
    let out = dl.install(&dir, spec, None, &mut NoProgress).unwrap();
    assert!(!out.already_installed);
    assert_eq!(std::fs::read(&dest).unwrap(), body);
}

#[test]
fn too_little_disk_space_is_refused_before_downloading() {
    let (server, body, tmp, dir) = setup(1_000);
    let spec = gguf_spec("test-model", REPO, FILE, 3_000_000_000, None);
    let e = downloader(&server, None)
        .with_free_space(|_| Ok(1_000_000_000))
        .install(&dir, spec, None, &mut NoProgress)
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            ModelsError::InsufficientSpace {
                needed: 3_000_000_000,
                available: 1_000_000_000,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains(&tmp.path().join("llm/test-model").display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("3.0 GB") && msg.contains("1.0 GB"), "{msg}");
    assert!(server.seen().is_empty());
    let _ = body;
}

#[test]
fn a_server_that_ignores_range_restarts_from_zero() {
    let (server, body, tmp, dir) = setup(10_000);
    server.ignore_range();
    let folder = tmp.path().join("llm/test-model");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(format!("{FILE}.part")), vec![0xAAu8; 5_000]).unwrap();
    let spec = gguf_spec("test-model", REPO, FILE, body.len() as u64, None);
    let out = downloader(&server, None)
        .install(&dir, spec, None, &mut NoProgress)
        .unwrap();
    assert_eq!(server.seen()[0].range.as_deref(), Some("bytes=5000-"));
    assert_eq!(std::fs::read(folder.join(FILE)).unwrap(), body);
    assert_eq!(out.model.entry.files[0].sha256, sha256(&body));
}

#[test]
fn a_complete_part_file_answered_416_is_finished_without_a_body() {
    let (server, body, tmp, dir) = setup(1_000);
    let folder = tmp.path().join("llm/test-model");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(format!("{FILE}.part")), &body).unwrap();
    let spec = gguf_spec("test-model", REPO, FILE, body.len() as u64, None);
    let out = downloader(&server, None)
        .install(&dir, spec, None, &mut NoProgress)
        .unwrap();
    assert_eq!(out.bytes_downloaded, 0);
    assert_eq!(std::fs::read(folder.join(FILE)).unwrap(), body);
}

#[test]
fn a_downloaded_file_that_is_not_gguf_is_not_installed() {
    let (server, _body, tmp, dir) = setup(1_000);
    server.put(&path(), b"<html>proxy login</html>".to_vec());
    let spec = gguf_spec("test-model", REPO, FILE, 24, None);
    let e = downloader(&server, None)
        .install(&dir, spec, None, &mut NoProgress)
        .unwrap_err();
    assert!(e.to_string().contains("not a GGUF"), "{e}");
    assert_eq!(tree(tmp.path()), Vec::<String>::new());
}

#[test]
fn an_embeddings_folder_skips_an_optional_file_the_repo_lacks() {
    let server = Server::start();
    let repo = "org/embed";
    let config = br#"{"hidden_size": 8, "model_type": "bert"}"#.to_vec();
    server.put(&format!("{repo}/resolve/main/config.json"), config.clone());
    server.put(
        &format!("{repo}/resolve/main/model.safetensors"),
        vec![5u8; 3_000],
    );
    server.put(
        &format!("{repo}/resolve/main/tokenizer.json"),
        b"{}".to_vec(),
    );
    server.put(
        &format!("{repo}/resolve/main/1_Pooling/config.json"),
        b"{\"pooling_mode_mean_tokens\": true}".to_vec(),
    );
    let spec = folder_spec(
        "test-embed",
        repo,
        &[
            ("config.json", true),
            ("model.safetensors", true),
            ("tokenizer.json", true),
            ("modules.json", false),
            ("1_Pooling/config.json", false),
        ],
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = ModelsDir::new(tmp.path());
    let dl = downloader(&server, None);
    let plan = dl.plan(&dir, spec, None).unwrap();
    assert_eq!(plan.files.len(), 5);
    let out = dl.install(&dir, spec, None, &mut NoProgress).unwrap();
    assert_eq!(out.absent_optional, ["embeddings/test-embed/modules.json"]);
    assert_eq!(out.model.path, tmp.path().join("embeddings/test-embed"));
    assert_eq!(out.model.entry.dimension, Some(8));
    assert_eq!(
        tree(tmp.path()),
        [
            "embeddings/test-embed/1_Pooling/config.json",
            "embeddings/test-embed/config.json",
            "embeddings/test-embed/model.safetensors",
            "embeddings/test-embed/tokenizer.json",
            "manifest.json"
        ]
    );
    assert_eq!(out.model.entry.files.len(), 4);
    assert!(dl.plan(&dir, spec, None).unwrap().looks_installed());

    // A required file missing upstream is an error.
    let n = server.seen().len();
    let again = dl.install(&dir, spec, None, &mut NoProgress).unwrap();
    assert!(again.already_installed);
    assert_eq!(server.seen().len(), n, "nothing fetched again");
    let spec2 = folder_spec("other", repo, &[("config.json", true), ("vocab.txt", true)]);
    let e = dl.install(&dir, spec2, None, &mut NoProgress).unwrap_err();
    assert!(matches!(e, ModelsError::NotFound { .. }), "{e}");
    assert!(
        !tmp.path().join("embeddings/other/config.json").exists(),
        "nothing half-installed"
    );
}
