//! Importing files fetched by hand, verifying the folder, and the doctor's findings.

mod support;

use epicrisis_models::{
    FileState, ModelState, ModelsDir, ModelsError, NoProgress, Role, Severity, Source, health,
    import, listing, quick_check, verify,
};
use support::{Server, downloader, gguf_spec, sha256, tiny_gguf, tree};

fn dirs() -> (tempfile::TempDir, tempfile::TempDir, ModelsDir) {
    let src = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let dir = ModelsDir::new(models.path());
    (src, models, dir)
}

#[test]
fn a_gguf_file_is_imported_under_a_derived_name() {
    let (src, models, dir) = dirs();
    let body = tiny_gguf(2_000, 1);
    let file = src.path().join("My-Model-7B.Q4_K_M.gguf");
    std::fs::write(&file, &body).unwrap();
    let out = import(&dir, &file, None, &mut NoProgress).unwrap();
    assert!(!out.already_installed && out.recognised.is_none());
    let e = &out.model.entry;
    assert_eq!(
        (e.name.as_str(), e.quant.as_deref()),
        ("my-model-7b", Some("Q4_K_M"))
    );
    assert_eq!(e.files[0].sha256, sha256(&body));
    assert_eq!(
        e.source,
        Source::Import {
            original: file.display().to_string()
        }
    );
    assert_eq!(
        tree(models.path()),
        ["llm/my-model-7b/My-Model-7B.Q4_K_M.gguf", "manifest.json"]
    );
    assert!(out.model.present);
    assert_eq!(
        dir.path_of("my-model-7b", None).unwrap(),
        Some(
            models
                .path()
                .join("llm/my-model-7b/My-Model-7B.Q4_K_M.gguf")
        )
    );

    // The same file again: nothing to do. Another file under the same name: refused.
    assert!(
        import(&dir, &file, None, &mut NoProgress)
            .unwrap()
            .already_installed
    );
    std::fs::write(&file, tiny_gguf(2_000, 2)).unwrap();
    let e = import(&dir, &file, None, &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ya está instalado desde otro archivo") && e.contains("--name"),
        "{e}"
    );
    // Under another name it is fine.
    let out = import(&dir, &file, Some("my-model-7b-v2"), &mut NoProgress).unwrap();
    assert_eq!(out.model.entry.name, "my-model-7b-v2");
    // No temporary files left anywhere.
    assert!(
        tree(models.path()).iter().all(|p| !p.contains("import")),
        "{:?}",
        tree(models.path())
    );
}

#[test]
fn catalogue_files_are_recognised_by_name_and_pinned_hashes_enforced() {
    let (src, _models, dir) = dirs();
    let file = src.path().join("tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf");
    std::fs::write(&file, tiny_gguf(100, 1)).unwrap();
    let out = import(&dir, &file, None, &mut NoProgress).unwrap();
    assert_eq!(out.recognised.map(|s| s.name), Some("tinyllama-1.1b-chat"));
    assert_eq!(out.model.entry.name, "tinyllama-1.1b-chat");
    assert_eq!(
        dir.default_llm_path().unwrap(),
        Some(out.model.path.clone())
    );

    // A pinned catalogue file name with other contents is not the official file.
    let fake = src.path().join("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
    std::fs::write(&fake, tiny_gguf(100, 1)).unwrap();
    let e = import(&dir, &fake, None, &mut NoProgress).unwrap_err();
    assert!(matches!(e, ModelsError::ChecksumMismatch { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32")
    );

    // An embeddings model's name for a GGUF is refused.
    let other = src.path().join("x.gguf");
    std::fs::write(&other, tiny_gguf(100, 1)).unwrap();
    let e = import(&dir, &other, Some("bge-m3"), &mut NoProgress).unwrap_err();
    assert!(matches!(e, ModelsError::WrongRole { .. }), "{e}");
    let e = import(&dir, &other, Some("../evil"), &mut NoProgress).unwrap_err();
    assert!(e.to_string().contains("--name"), "{e}");
}

#[test]
fn broken_files_are_refused_with_a_reason() {
    let (src, models, dir) = dirs();
    let html = src.path().join("model.gguf");
    std::fs::write(&html, b"<html>Access denied</html>").unwrap();
    let e = import(&dir, &html, None, &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a GGUF") && e.contains("model.gguf"), "{e}");

    let txt = src.path().join("notes.txt");
    std::fs::write(&txt, b"hello").unwrap();
    let e = import(&dir, &txt, None, &mut NoProgress).unwrap_err();
    assert!(matches!(e, ModelsError::NotImportable { .. }), "{e}");

    let mut body = tiny_gguf(1_000, 1);
    body.truncate(body.len() - 500);
    let cut = src.path().join("cut.gguf");
    std::fs::write(&cut, &body).unwrap();
    let e = import(&dir, &cut, None, &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(e.contains("truncated") && e.contains("500 missing"), "{e}");

    let e = import(&dir, &src.path().join("nope.gguf"), None, &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nope.gguf") && e.contains("no existe ese archivo"),
        "{e}"
    );
    assert_eq!(tree(models.path()), Vec::<String>::new());
}

#[test]
fn an_embeddings_folder_is_imported_and_incomplete_ones_refused() {
    let (src, models, dir) = dirs();
    let folder = src.path().join("multilingual-e5-small");
    std::fs::create_dir_all(folder.join("1_Pooling")).unwrap();
    std::fs::create_dir_all(folder.join("onnx")).unwrap();
    std::fs::write(folder.join("config.json"), br#"{"hidden_size": 384}"#).unwrap();
    std::fs::write(folder.join("1_Pooling/config.json"), b"{}").unwrap();
    std::fs::write(folder.join("onnx/model.onnx"), b"x").unwrap();
    let e = import(&dir, &folder, None, &mut NoProgress).unwrap_err();
    match &e {
        ModelsError::IncompleteEmbeddings { missing, .. } => assert_eq!(
            missing,
            &["model.safetensors or pytorch_model.bin", "tokenizer.json"]
        ),
        other => panic!("{other}"),
    }
    std::fs::write(folder.join("model.safetensors"), vec![1u8; 500]).unwrap();
    std::fs::write(folder.join("tokenizer.json"), b"{}").unwrap();
    // The catalogue pins e5-small's tokenizer.json: a different one is refused.
    let e = import(&dir, &folder, None, &mut NoProgress).unwrap_err();
    assert!(matches!(e, ModelsError::ChecksumMismatch { .. }), "{e}");
    // Under a name of its own it is accepted.
    let out = import(&dir, &folder, Some("my-e5"), &mut NoProgress).unwrap();
    assert_eq!(out.model.entry.role, Role::Embeddings);
    assert_eq!(out.model.entry.dimension, Some(384));
    assert_eq!(
        tree(models.path()),
        [
            "embeddings/my-e5/1_Pooling/config.json",
            "embeddings/my-e5/config.json",
            "embeddings/my-e5/model.safetensors",
            "embeddings/my-e5/tokenizer.json",
            "manifest.json"
        ]
    );
    assert!(
        import(&dir, &folder, Some("my-e5"), &mut NoProgress)
            .unwrap()
            .already_installed
    );
    let empty = src.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(matches!(
        import(&dir, &empty, None, &mut NoProgress),
        Err(ModelsError::NotImportable { .. })
    ));
}

#[test]
fn verify_finds_damage_missing_files_strays_and_unsafe_paths() {
    let (src, models, dir) = dirs();
    let a = src.path().join("alpha.Q4_K_M.gguf");
    let b = src.path().join("beta.Q4_K_M.gguf");
    std::fs::write(&a, tiny_gguf(1_000, 1)).unwrap();
    std::fs::write(&b, tiny_gguf(1_000, 2)).unwrap();
    let ia = import(&dir, &a, None, &mut NoProgress).unwrap();
    let ib = import(&dir, &b, None, &mut NoProgress).unwrap();
    let all_ok = verify(&dir, &mut NoProgress).unwrap();
    assert_eq!(all_ok.len(), 2);
    assert!(
        all_ok
            .iter()
            .all(|r| r.is_ok() && r.fix.is_none() && r.hashed)
    );

    // One flipped byte: the quick check cannot see it, verify can.
    let mut bytes = std::fs::read(&ia.model.path).unwrap();
    bytes[3_000] ^= 1;
    std::fs::write(&ia.model.path, bytes).unwrap();
    std::fs::remove_file(&ib.model.path).unwrap();
    assert!(
        quick_check(&dir)
            .unwrap()
            .iter()
            .any(|r| r.name == "alpha" && r.is_ok())
    );
    let reports = verify(&dir, &mut NoProgress).unwrap();
    let ra = reports.iter().find(|r| r.name == "alpha").unwrap();
    assert_eq!(ra.state, ModelState::Damaged);
    assert!(matches!(ra.files[0].state, FileState::HashMismatch { .. }));
    assert!(
        ra.fix
            .as_deref()
            .unwrap()
            .contains("epicrisis models import"),
        "{:?}",
        ra.fix
    );
    assert!(ra.summary().contains("sha256"), "{}", ra.summary());
    let rb = reports.iter().find(|r| r.name == "beta").unwrap();
    assert_eq!(rb.state, ModelState::Missing);
    assert!(
        rb.fix
            .as_deref()
            .unwrap()
            .contains("epicrisis models remove beta")
    );

    // A GGUF copied in by hand, and an interrupted download.
    let stray = models.path().join("llm/gamma/gamma.gguf");
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, tiny_gguf(10, 1)).unwrap();
    std::fs::write(models.path().join("llm/gamma/delta.gguf.part"), b"GGUF").unwrap();
    let reports = verify(&dir, &mut NoProgress).unwrap();
    let rg = reports
        .iter()
        .find(|r| r.state == ModelState::Unrecorded)
        .unwrap();
    assert_eq!(rg.path, stray);
    assert!(
        rg.fix
            .as_deref()
            .unwrap()
            .contains("epicrisis models import")
    );
    assert!(reports.iter().any(|r| r.state == ModelState::Partial));
    // Importing the stray in place records it without copying.
    let g = import(&dir, &stray, Some("gamma"), &mut NoProgress).unwrap();
    assert_eq!(g.model.path, stray);
    assert!(
        verify(&dir, &mut NoProgress)
            .unwrap()
            .iter()
            .all(|r| r.state != ModelState::Unrecorded)
    );

    // A manifest pointing outside the folder is flagged, and remove leaves that file alone.
    let outside = src.path().join("precious.txt");
    std::fs::write(&outside, b"keep").unwrap();
    let mut m = dir.load_manifest().unwrap();
    m.models[0].files[0].path = format!(
        "../{}/precious.txt",
        src.path().file_name().unwrap().to_string_lossy()
    );
    dir.save_manifest(&m).unwrap();
    let reports = verify(&dir, &mut NoProgress).unwrap();
    let unsafe_ = reports.iter().find(|r| r.name == "alpha").unwrap();
    assert_eq!(unsafe_.state, ModelState::Unsafe);
    assert_eq!(unsafe_.files[0].state, FileState::OutsideModelsDir);
    dir.remove("alpha", None).unwrap();
    assert!(outside.exists());
}

#[test]
fn a_corrupt_manifest_is_an_error_naming_it_not_a_panic() {
    let (_src, models, dir) = dirs();
    std::fs::write(
        models.path().join("manifest.json"),
        b"{\"version\": 1, \"models\": [",
    )
    .unwrap();
    let e = verify(&dir, &mut NoProgress).unwrap_err().to_string();
    assert!(e.contains("manifest.json") && e.contains("import"), "{e}");
    let h = health(&dir);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].severity, Severity::Fail);
    assert!(h[0].fix.as_deref().unwrap().contains("manifest.json"));
}

#[test]
fn health_reports_the_defaults_and_each_model() {
    let (src, _models, dir) = dirs();
    let h = health(&dir);
    assert_eq!(h.len(), 2);
    assert!(h.iter().all(|f| f.severity == Severity::Warn));
    assert!(
        h[0].fix
            .as_deref()
            .unwrap()
            .contains("epicrisis models download --llm")
    );
    assert!(h[1].fix.as_deref().unwrap().contains("--embeddings"));

    let file = src.path().join("tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf");
    std::fs::write(&file, tiny_gguf(100, 1)).unwrap();
    let out = import(&dir, &file, None, &mut NoProgress).unwrap();
    let h = health(&dir);
    assert_eq!(h[0].severity, Severity::Ok, "{h:?}");
    assert_eq!(h.len(), 3);
    assert_eq!(h[2].severity, Severity::Ok);
    std::fs::write(&out.model.path, b"GGUF").unwrap();
    let h = health(&dir);
    assert_eq!(h[2].severity, Severity::Fail, "{h:?}");
    assert!(h[2].fix.is_some());

    let (rows, others) = listing(&dir).unwrap();
    assert_eq!(rows.len(), epicrisis_models::catalogue().len());
    assert_eq!(rows[0].installed.len(), 1);
    assert!(others.is_empty());
}

#[test]
fn a_downloaded_model_is_verified_from_its_recorded_hash() {
    let server = Server::start();
    let body = tiny_gguf(1_000, 4);
    server.put("o/r/resolve/main/m.gguf", body);
    let models = tempfile::tempdir().unwrap();
    let dir = ModelsDir::new(models.path());
    let spec = gguf_spec("m", "o/r", "m.gguf", 4_000, None);
    let out = downloader(&server, None)
        .install(&dir, spec, None, &mut NoProgress)
        .unwrap();
    let mut bytes = std::fs::read(&out.model.path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xFF;
    std::fs::write(&out.model.path, bytes).unwrap();
    let r = verify(&dir, &mut NoProgress).unwrap();
    assert_eq!(r[0].state, ModelState::Damaged);
    // Not a catalogue model, downloaded: the fix is to download it again.
    assert!(
        r[0].fix
            .as_deref()
            .unwrap()
            .contains("epicrisis models download m"),
        "{:?}",
        r[0].fix
    );
}
