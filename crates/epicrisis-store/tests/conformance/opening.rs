//! Opening a store: bad URLs and unwritable places are explained, without the password.
//! (Migrations: tests/migrations.rs.)

use epicrisis_store::*;

use crate::common::episode;

#[tokio::test]
async fn bad_urls_and_unwritable_places_are_explained() {
    match Store::open("mysql://u@h/d").await {
        Err(StoreError::BadUrl(_)) => {}
        other => panic!("{:?}", other.err()),
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "x").unwrap();
    let url = format!("sqlite:{}/epicrisis.db", file.display());
    match Store::open(&url).await {
        Err(e @ StoreError::Open { .. }) => {
            let m = e.to_string();
            assert!(m.contains("not-a-folder") && m.contains("folder"), "{m}");
        }
        other => panic!("{:?}", other.err()),
    }
    match Store::open("postgres://app:hunter2@127.0.0.1:1/nothing").await {
        Err(e @ StoreError::Open { .. }) => {
            let m = e.to_string();
            assert!(
                !m.contains("hunter2") && m.contains("app:***@127.0.0.1:1"),
                "{m}"
            );
        }
        other => panic!("{:?}", other.err()),
    }
    let mem = Store::open("sqlite::memory:").await.unwrap();
    mem.put_episode(&episode("M", None, None)).await.unwrap();
    assert!(mem.episode("M").await.unwrap().is_some());
}
