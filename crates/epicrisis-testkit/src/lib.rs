//! What the tests of every crate share, so each rule exists once:
//!
//! - [`skip_or_fail`]: the one rule for a test whose tool or fixture is missing. With
//!   `EPICRISIS_REQUIRE_TOOLS=1` (what `scripts/test.sh` and CI set) the test fails and says
//!   how to get it; otherwise it is skipped, and the skip is written to the terminal even
//!   when cargo captures the test's output, so a plain `cargo test` on a fresh clone passes
//!   and says what it did not check.
//! - [`fixtures`]: where the project's `testdata/` and the model fixtures are
//!   (`tools/models/fetch.py` fills `~/.cache/epicrisis/models/`; environment variables
//!   override), and the external tools (`pdftotext`, Python venvs).
//! - [`http`]: a loopback HTTP/1.1 server whose handler writes the answer itself, faults
//!   included (a dropped connection, a delay, a redirect), and records what it was asked.
//! - [`postgres`]: the administrator URL of the test PostgreSQL (`scripts/test.sh` starts one
//!   on 127.0.0.1) and URLs of fresh databases on it.
//! - [`fhir_server`]: the FHIR test server (Medplum's router in memory, under Node).
//! - [`gguf`]: tiny but valid GGUF files, for what reads headers and downloads models.
//!
//! Standard library only: it is compiled into every crate's tests.

pub mod fhir_server;
pub mod fixtures;
pub mod gguf;
pub mod http;
pub mod postgres;

use std::io::Write;

/// The variable that turns a skip into a failure.
pub const REQUIRE_TOOLS: &str = "EPICRISIS_REQUIRE_TOOLS";

/// Whether missing tools and fixtures fail the tests (`EPICRISIS_REQUIRE_TOOLS=1`).
pub fn required() -> bool {
    std::env::var(REQUIRE_TOOLS).is_ok_and(|v| v.trim() == "1")
}

/// The test cannot run because `what` is missing; `fix` says how to get it. Fails the test
/// when [`required`]; otherwise prints `skipped: …` straight to the terminal and returns,
/// and the caller returns too.
#[track_caller]
pub fn skip_or_fail(what: &str, fix: &str) {
    if required() {
        panic!("{what} ({REQUIRE_TOOLS}=1): {fix}");
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    // `eprintln!` goes to the capture buffer that cargo shows only for failures; the
    // stderr handle itself is not captured.
    let _ = writeln!(std::io::stderr(), "skipped {test}: {what}; {fix}");
}

/// `Some(value)` when `value` is there, else [`skip_or_fail`] and `None`.
#[track_caller]
pub fn require<T>(value: Option<T>, what: &str, fix: &str) -> Option<T> {
    if value.is_none() {
        skip_or_fail(what, fix);
    }
    value
}

/// A number unlikely to repeat between calls in one process or across processes
/// (process id, nanoseconds now and a counter), for names of temporary databases, users
/// and episodes.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// What is wrong with a command's answer to bad input, each fault prefixed with the
/// case's `name`: it must exit with code 2, say why on stderr, naming each of
/// `stderr_has`, and print nothing on stdout. Empty when the answer is right.
pub fn bad_input_faults(
    name: &str,
    o: &std::process::Output,
    stderr_has: &[String],
) -> Vec<String> {
    let err = String::from_utf8_lossy(&o.stderr);
    let code = o.status.code().expect("the process exited normally");
    if code != 2 {
        return vec![format!(
            "[{name}] exit code {code}, expected 2; stderr: {err}"
        )];
    }
    let mut faults = Vec::new();
    if err.trim().is_empty() {
        faults.push(format!("[{name}] nothing on stderr"));
    }
    for needle in stderr_has {
        if !err.contains(needle.as_str()) {
            faults.push(format!("[{name}] stderr does not name {needle:?}: {err}"));
        }
    }
    if !o.stdout.is_empty() {
        faults.push(format!(
            "[{name}] bad input printed to stdout: {}",
            String::from_utf8_lossy(&o.stdout)
        ));
    }
    faults
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for a child process that must be
/// told its port before it binds).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_do_not_repeat() {
        let a = unique();
        let b = unique();
        assert_ne!(a, b);
        assert!(a.starts_with(&std::process::id().to_string()));
    }

    #[test]
    fn a_port_is_given() {
        assert!(free_port().unwrap() > 0);
    }

    #[test]
    fn require_passes_what_is_there() {
        assert_eq!(require(Some(3), "x", "y"), Some(3));
    }
}
