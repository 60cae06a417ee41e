//! What several integration tests of the binary share. Each test file uses only part of
//! it, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod browser;
pub mod server;

/// A file under the project's `testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

/// Where the SmolLM2-135M test model is (`EPICRISIS_TEST_MODEL`, else the cache that
/// `tools/models/fetch.py smollm2-135m` fills); it may not exist.
pub fn fixture_path() -> PathBuf {
    if let Ok(p) = std::env::var("EPICRISIS_TEST_MODEL") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_default();
    PathBuf::from(std::env::var("XDG_CACHE_HOME").unwrap_or(format!("{home}/.cache")))
        .join("epicrisis/models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// The SmolLM2-135M test model; fails the test when it is missing.
pub fn fixture() -> PathBuf {
    let p = fixture_path();
    assert!(
        p.exists(),
        "fixture missing: run `python3 tools/models/fetch.py smollm2-135m`"
    );
    p
}

/// The SmolLM2-135M test model, or `None` with a printed reason (the test then skips);
/// with `EPICRISIS_REQUIRE_TOOLS` set, a missing fixture fails the test instead.
pub fn model_fixture() -> Option<PathBuf> {
    let p = fixture_path();
    if p.exists() {
        Some(p)
    } else {
        assert!(
            std::env::var("EPICRISIS_REQUIRE_TOOLS").is_err(),
            "fixture missing: run `python3 tools/models/fetch.py smollm2-135m`"
        );
        eprintln!("skipping: SmolLM2 fixture missing");
        None
    }
}

/// A number unlikely to repeat between calls (nanoseconds now plus a counter).
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    t * 1000 + N.fetch_add(1, Ordering::SeqCst)
}
