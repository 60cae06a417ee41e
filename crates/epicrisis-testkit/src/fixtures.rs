//! Where the tests find what they need: the project's `testdata/`, the model fixtures that
//! `tools/models/fetch.py` caches (an environment variable overrides each), external tools
//! on `PATH`, and the Python environments `scripts/test.sh` prepares. Every locator that
//! can come back empty applies the rule of [`crate::skip_or_fail`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository's root folder: the nearest folder holding `Cargo.lock` and `testdata/`
/// above the running test's crate (`CARGO_MANIFEST_DIR`, which cargo sets when it runs a
/// test), else above the working folder. The path compiled into this crate comes last:
/// when one target folder serves several checkouts (a CI copy, a git worktree), cargo
/// reuses a build whose compiled path names another, perhaps deleted, checkout.
pub fn workspace_root() -> PathBuf {
    let compiled = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let starts = [
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        std::env::current_dir().ok(),
        Some(compiled.clone()),
    ];
    starts
        .into_iter()
        .flatten()
        .find_map(|start| root_above(&start))
        .unwrap_or_else(|| compiled.join("../.."))
}

/// `start` or the nearest folder above it that looks like this repository's root.
fn root_above(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file() && dir.join("testdata").is_dir())
        .map(Path::to_path_buf)
}

/// A file or folder of one crate of the workspace, by its folder name under `crates/`
/// (its `tests/` data, its sources).
pub fn crate_path(krate: &str, rel: &str) -> PathBuf {
    workspace_root().join("crates").join(krate).join(rel)
}

/// A file or folder under the project's `testdata/` (part of the repository: always there).
pub fn testdata(rel: &str) -> PathBuf {
    workspace_root().join("testdata").join(rel)
}

/// The non-empty lines of `testdata/dev/train.jsonl`, one compact record each.
pub fn train_lines() -> Vec<String> {
    let p = testdata("dev/train.jsonl");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Writes `bytes` to `dir/name` (a test's temporary file) and returns its path.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    p
}

/// `~/.cache/epicrisis` (or under `XDG_CACHE_HOME`), where the scripts cache models, venvs
/// and builds.
pub fn cache_dir() -> PathBuf {
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"),
    };
    base.join("epicrisis")
}

/// A model fixture: the path in `var` when set, else `default` under the cache's
/// `models/`; `None` (skip or fail) when it is not there. `key` is the name
/// `tools/models/fetch.py` knows it by. A folder counts when it has `config.json`.
#[track_caller]
pub fn model(var: &str, default: &str, key: &str) -> Option<PathBuf> {
    let from_env = std::env::var_os(var).filter(|v| !v.is_empty());
    let path = from_env
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("models").join(default));
    let present = if path.is_dir() {
        path.join("config.json").is_file()
    } else {
        path.is_file()
    };
    if present {
        return Some(path);
    }
    let what = match from_env {
        Some(_) => format!("{var}={} does not exist", path.display()),
        None => format!("the {key} fixture is not at {}", path.display()),
    };
    crate::skip_or_fail(
        &what,
        &format!("run `python3 tools/models/fetch.py {key}` (scripts/test.sh does)"),
    );
    None
}

/// SmolLM2-135M-Instruct Q4_1, the small GGUF model (`EPICRISIS_TEST_MODEL`).
#[track_caller]
pub fn smollm2() -> Option<PathBuf> {
    model(
        "EPICRISIS_TEST_MODEL",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "smollm2-135m",
    )
}

/// all-MiniLM-L6-v2, an English sentence encoder (`EPICRISIS_TEST_EMBED_MINILM`).
#[track_caller]
pub fn minilm() -> Option<PathBuf> {
    model(
        "EPICRISIS_TEST_EMBED_MINILM",
        "embeddings/all-minilm-l6-v2",
        "all-minilm-l6-v2",
    )
}

/// multilingual-e5-small, the product's encoder (`EPICRISIS_TEST_EMBED_E5`).
#[track_caller]
pub fn e5() -> Option<PathBuf> {
    model(
        "EPICRISIS_TEST_EMBED_E5",
        "embeddings/multilingual-e5-small-q4",
        "multilingual-e5-small-q4",
    )
}

/// The program `name` on `PATH`, without the rule (for tests that have a fallback).
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The program `name` on `PATH`; `None` (skip or fail) when missing, `install` saying how
/// to get it (`apt-get install poppler-utils`).
#[track_caller]
pub fn tool(name: &str, install: &str) -> Option<PathBuf> {
    let found = on_path(name);
    if found.is_none() {
        crate::skip_or_fail(&format!("{name} is not on PATH"), install);
    }
    found
}

/// A Python interpreter that can import `module`: the one in `var` when set, else the venv
/// `venv` under the cache (`fhir-venv`, `st-venv`); `None` (skip or fail) otherwise.
/// `fix` says how to prepare it.
#[track_caller]
pub fn python(var: &str, venv: &str, module: &str, fix: &str) -> Option<PathBuf> {
    let python = std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(venv).join("bin/python"));
    let imports = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if imports {
        return Some(python);
    }
    crate::skip_or_fail(
        &format!("no Python with {module} ({var} or {})", python.display()),
        fix,
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testdata_is_in_the_repository() {
        assert!(
            testdata("episodes").is_dir(),
            "{}",
            testdata("episodes").display()
        );
    }

    #[test]
    fn the_root_is_found_from_any_folder_below_it() {
        let root = workspace_root();
        assert!(root.join("Cargo.lock").is_file(), "{}", root.display());
        let deep = root.join("crates/epicrisis-testkit/src");
        assert_eq!(root_above(&deep).unwrap(), root);
        assert_eq!(root_above(Path::new("/")), None);
        assert!(crate_path("epicrisis-testkit", "Cargo.toml").is_file());
    }

    #[test]
    fn the_shell_is_on_the_path() {
        assert!(on_path("sh").is_some());
        assert!(on_path("surely-not-a-program-here").is_none());
    }

    #[test]
    fn the_cache_is_under_the_home_or_xdg() {
        assert!(cache_dir().ends_with("epicrisis"));
    }
}
