//! The store's conformance suite: every test runs the same checks on SQLite (a temporary
//! file) and on PostgreSQL (a fresh database per test, created through
//! `EPICRISIS_TEST_DATABASE_URL`, e.g. `postgres://postgres@127.0.0.1:54329/postgres`;
//! `scripts/test.sh` starts such a server). Without that variable the PostgreSQL half is
//! skipped, unless `EPICRISIS_REQUIRE_TOOLS=1`, which makes it a failure.

use std::time::{Duration, Instant};

use epicrisis_store::*;

#[path = "../common/mod.rs"]
#[macro_use]
mod common;
use common::*;

mod archive;
mod episodes;
mod opening;
mod users;
mod vectors;
mod versions;

/// The message of a `StoreError::Invalid` (the vectors and archive checks share it).
fn is_invalid<T: std::fmt::Debug>(r: Result<T>) -> String {
    match r {
        Err(StoreError::Invalid(m)) => m,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

// --- crash safety (SQLite: the file is ours to keep consistent)
// At the crate root, not in a module: the child is started by its test name
// (`--exact crash_child_writer`).

const CRASH_ENV: &str = "EPICRISIS_STORE_CRASH_CHILD_DB";
/// The signer's user id, for the child's signatures.
const CRASH_SIGNER_ENV: &str = "EPICRISIS_STORE_CRASH_CHILD_SIGNER";

/// Not a test on its own: the child process of `sqlite_survives_sigkill` (does nothing
/// unless its environment variable names a database).
#[test]
fn crash_child_writer() {
    let Ok(url) = std::env::var(CRASH_ENV) else {
        return;
    };
    let signer: i64 = std::env::var(CRASH_SIGNER_ENV).unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open(&url).await.unwrap();
        loop {
            let latest = store.latest_version("K").await.unwrap();
            let number = latest.as_ref().map_or(1, |l| l.number + 1);
            // Every third version is a signature of the one before it.
            if number % 3 == 0
                && let Some(l) = &latest
            {
                let row = store.sign(l.id, signer).await.unwrap();
                let mut e = audit_entry("sign", Some("K"), "{}");
                e.version_id = Some(row.id);
                store.audit(&e).await.unwrap();
                continue;
            }
            // After a signature, a change is an amendment.
            let kind = match &latest {
                Some(l) if l.status == VersionStatus::Signed => VersionKind::Amendment,
                _ => VersionKind::Edited,
            };
            let v = version("K", kind, &format!("text {number}"), latest.map(|l| l.id));
            let row = store.add_version(&v).await.unwrap();
            let mut e = audit_entry("edit", Some("K"), "{}");
            e.version_id = Some(row.id);
            store.audit(&e).await.unwrap();
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("crash.db").display());
    let store = Store::open(&url).await.unwrap();
    store.put_episode(&episode("K", None, None)).await.unwrap();
    let signer = store
        .add_user("firma", "Firma", Role::Medico, "$argon2id$not-used-here")
        .await
        .unwrap();

    for round in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "crash_child_writer",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_ENV, &url)
            .env(CRASH_SIGNER_ENV, signer.id.to_string())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let before = store
            .latest_version("K")
            .await
            .unwrap()
            .map_or(0, |v| v.number);
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the writer stopped by itself: {status}");
            }
            let n = store
                .latest_version("K")
                .await
                .unwrap()
                .map_or(0, |v| v.number);
            if n >= before + 25 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the writer is too slow"
            );
            tokio::time::sleep(Duration::from_millis(5 + round * 7)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    drop(store);

    let store = Store::open(&url).await.unwrap();
    let check = store.verify_audit().await.unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    let versions = store.versions("K").await.unwrap();
    assert!(versions.len() >= 75);
    let mut signed = 0;
    for (i, v) in versions.iter().enumerate() {
        assert_eq!(v.number, i as i64 + 1, "numbers are contiguous");
        if v.number % 3 == 0 {
            // A signature is whole or absent: the signed row, the text it signed, and a
            // hash that verifies.
            signed += 1;
            assert_eq!(v.status, VersionStatus::Signed, "version {}", v.number);
            assert_eq!(v.text, versions[i - 1].text);
        } else {
            assert_eq!(v.text, format!("text {}", v.number));
        }
        let check = store.verify_version(v.id).await.unwrap();
        assert!(check.matches, "{}", check.message());
        if i > 0 {
            assert_eq!(v.parent_id, Some(versions[i - 1].id));
        }
    }
    // Every audited version exists (an audit row never outlives its version).
    for row in store.audit_trail(Some("K"), 100_000).await.unwrap() {
        assert!(
            store
                .version(row.version_id.unwrap())
                .await
                .unwrap()
                .is_some()
        );
    }
    assert!(signed >= 20, "{signed} signatures");
    let latest = store.latest_version("K").await.unwrap().unwrap();
    let kind = match latest.status {
        VersionStatus::Signed => VersionKind::Amendment,
        _ => VersionKind::Edited,
    };
    let next = store
        .add_version(&version("K", kind, "after the crash", Some(latest.id)))
        .await
        .unwrap();
    assert_eq!(next.number, latest.number + 1);
}
