//! Expired sessions are deleted, on both databases; live ones stay.

use epicrisis_store::*;

#[macro_use]
mod common;
use common::*;

async fn check_prune_sessions(db: &Db) {
    let store = Store::open(&db.url).await.unwrap();
    let u = store
        .add_user("ana", "Ana", Role::Medico, "$argon2id$x")
        .await
        .unwrap();
    store
        .create_session("old", u.id, "c1", 1_000)
        .await
        .unwrap();
    store
        .create_session("live", u.id, "c2", 9_000)
        .await
        .unwrap();
    assert_eq!(store.prune_sessions(5_000).await.unwrap(), 1);
    assert_eq!(store.prune_sessions(5_000).await.unwrap(), 0);
    assert!(store.session("live", 5_000).await.unwrap().is_some());
    assert!(
        store.session("old", 500).await.unwrap().is_none(),
        "deleted, not only expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_deleted() {
    on_every_database!(check_prune_sessions);
}
