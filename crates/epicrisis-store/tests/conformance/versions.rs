//! Versions: the chain, signatures and amendments, and concurrent saves of which only one
//! wins.

use epicrisis_store::*;

use crate::common::*;

async fn check_version_chain(db: &Db) {
    let store = Store::open(&db.url).await.unwrap();
    store
        .put_episode(&episode("E", Some("UCI"), Some("2024-01-02")))
        .await
        .unwrap();
    let ana = store
        .add_user("ana", "Dra. Ana Pérez", Role::Medico, "h")
        .await
        .unwrap();

    match store
        .add_version(&version("missing", VersionKind::Generated, "x", None))
        .await
    {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("{other:?}"),
    }
    assert!(store.latest_version("E").await.unwrap().is_none());
    let v1 = store
        .add_version(&version("E", VersionKind::Generated, "uno", None))
        .await
        .unwrap();
    assert_eq!(
        (v1.number, v1.kind, v1.status),
        (1, VersionKind::Generated, VersionStatus::Draft)
    );
    // The record's hash (text, data revision, metadata), not the text's alone.
    assert_eq!(
        (v1.hash_scheme, v1.episode_revision),
        (HASH_SCHEME_RECORD, 1)
    );
    assert_ne!(
        v1.content_hash, "bf0ec3694e122e067d9964a38ec7d8415781df4b24f442ad767b4621fb98f8c5",
        "not sha256(\"uno\")"
    );
    let mut edit = version("E", VersionKind::Edited, "dos", Some(v1.id));
    edit.author_id = Some(ana.id);
    edit.engine = None;
    let v2 = store.add_version(&edit).await.unwrap();
    assert_eq!((v2.number, v2.parent_id), (2, Some(v1.id)));
    assert_eq!(v2.author_name.as_deref(), Some("Dra. Ana Pérez"));
    assert_ne!(v1.content_hash, v2.content_hash);

    // A save based on an old version, or on none.
    let m = is_conflict(
        store
            .add_version(&version("E", VersionKind::Edited, "x", Some(v1.id)))
            .await,
    );
    assert!(m.contains("version 2 is newer"), "{m}");
    is_conflict(
        store
            .add_version(&version("E", VersionKind::Edited, "x", None))
            .await,
    );
    // An amendment needs something signed.
    is_conflict(
        store
            .add_version(&version("E", VersionKind::Amendment, "x", Some(v2.id)))
            .await,
    );
    // Only the latest is signed.
    is_conflict(store.sign(v1.id, ana.id).await);
    match store.sign(987_654, ana.id).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("{other:?}"),
    }

    let s3 = store.sign(v2.id, ana.id).await.unwrap();
    assert_eq!(
        (s3.number, s3.kind, s3.status),
        (3, VersionKind::Signed, VersionStatus::Signed)
    );
    assert_eq!(
        (s3.text.as_str(), s3.parent_id, s3.author_id),
        ("dos", Some(v2.id), Some(ana.id))
    );
    // The signature's hash covers its signer and time too.
    assert_ne!(s3.content_hash, v2.content_hash);
    assert_eq!(s3.episode_revision, v2.episode_revision);
    assert!(store.verify_version(s3.id).await.unwrap().matches);
    assert_eq!(s3.report_json, v2.report_json);

    // Nothing but an amendment after a signature.
    let m = is_conflict(
        store
            .add_version(&version("E", VersionKind::Edited, "x", Some(s3.id)))
            .await,
    );
    assert!(m.contains("version 3 is signed"), "{m}");
    is_conflict(
        store
            .add_version(&version("E", VersionKind::Generated, "x", Some(s3.id)))
            .await,
    );
    is_conflict(store.sign(s3.id, ana.id).await);

    let a4 = store
        .add_version(&version("E", VersionKind::Amendment, "tres", Some(s3.id)))
        .await
        .unwrap();
    assert_eq!(
        (a4.number, a4.status, a4.amends),
        (4, VersionStatus::Draft, Some(s3.id))
    );
    // A draft amendment may be edited, amended again, and signed.
    let e5 = store
        .add_version(&version("E", VersionKind::Edited, "tres bis", Some(a4.id)))
        .await
        .unwrap();
    assert_eq!(e5.amends, None);
    let a6 = store
        .add_version(&version("E", VersionKind::Amendment, "cuatro", Some(e5.id)))
        .await
        .unwrap();
    assert_eq!(a6.amends, Some(s3.id));
    let s7 = store.sign(a6.id, ana.id).await.unwrap();
    let a8 = store
        .add_version(&version("E", VersionKind::Amendment, "cinco", Some(s7.id)))
        .await
        .unwrap();
    assert_eq!(a8.amends, Some(s7.id));

    let all = store.versions("E").await.unwrap();
    assert_eq!(
        all.iter().map(|v| v.number).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 7, 8]
    );
    assert_eq!(all[2].text, "dos", "a signed version's text never changes");
    assert_eq!(store.latest_version("E").await.unwrap().unwrap().id, a8.id);
    assert_eq!(
        store.version(s3.id).await.unwrap().unwrap().status,
        VersionStatus::Signed
    );
    assert!(store.version(123_456).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_chain_signatures_and_amendments() {
    on_every_database!(check_version_chain);
}

async fn check_concurrent_saves(db: &Db) {
    let store = Store::open(&db.url).await.unwrap();
    store.put_episode(&episode("C", None, None)).await.unwrap();
    let v1 = store
        .add_version(&version("C", VersionKind::Generated, "base", None))
        .await
        .unwrap();
    for round in 0..3 {
        let parent = store.latest_version("C").await.unwrap().unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            let v = version(
                "C",
                VersionKind::Edited,
                &format!("r{round} t{i}"),
                Some(parent.id),
            );
            tasks.push(tokio::spawn(async move { store.add_version(&v).await }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(ok, 1, "round {round}: exactly one concurrent save wins");
    }
    let numbers: Vec<i64> = store
        .versions("C")
        .await
        .unwrap()
        .iter()
        .map(|v| v.number)
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert_eq!(v1.number, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_only_one_wins() {
    on_every_database!(check_concurrent_saves);
}
