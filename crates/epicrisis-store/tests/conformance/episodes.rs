//! Episodes: put, replace, get, list (filters, order, pages) and search, patient and
//! diagnosis included.

use epicrisis_store::*;

use crate::common::*;

async fn check_episodes(db: &Db) {
    let store = Store::open(&db.url).await.unwrap();
    let first = store
        .put_episode(&episode(
            "EP-1",
            Some("Medicina Interna"),
            Some("2024-03-10"),
        ))
        .await
        .unwrap();
    store
        .put_episode(&episode("EP-2", Some("Cirugía"), Some("2024-05-01")))
        .await
        .unwrap();
    store
        .put_episode(&episode("EP-3", Some("Medicina Interna"), None))
        .await
        .unwrap();
    store
        .put_episode(&episode("X_100%", Some("Pediatría"), Some("2024-04-01")))
        .await
        .unwrap();
    assert!(store.episode("nope").await.unwrap().is_none());

    // Replace keeps imported_at and changes the content.
    let mut changed = episode("EP-1", Some("Medicina Interna"), Some("2024-03-11"));
    changed.source = "new source".to_string();
    let replaced = store.put_episode(&changed).await.unwrap();
    assert_eq!(replaced.imported_at, first.imported_at);
    assert!(replaced.updated_at > first.updated_at);
    // Every re-import moves the stamp forward, even several within one millisecond (the
    // server's cache of parsed episodes relies on it).
    let mut stamp = replaced.updated_at;
    for _ in 0..3 {
        let again = store.put_episode(&changed).await.unwrap();
        assert!(again.updated_at > stamp);
        assert_eq!(
            store.episode_stamp("EP-1").await.unwrap(),
            Some(again.updated_at)
        );
        stamp = again.updated_at;
    }
    assert_eq!(store.episode_stamp("nope").await.unwrap(), None);
    let got = store.episode("EP-1").await.unwrap().unwrap();
    assert_eq!(got.source, "new source");
    assert_eq!(got.discharge_date.as_deref(), Some("2024-03-11"));
    assert_eq!(got.episode_json, "{\"id\":\"EP-1\"}");
    assert_eq!(
        store.current_revision("EP-1").await.unwrap(),
        Some(got.revision)
    );
    assert_eq!(store.current_revision("nope").await.unwrap(), None);

    let ids = |v: Vec<EpisodeSummary>| v.into_iter().map(|e| e.episode_id).collect::<Vec<_>>();
    let all = store.list_episodes(&EpisodeQuery::default()).await.unwrap();
    assert_eq!(
        ids(all),
        ["EP-2", "X_100%", "EP-1", "EP-3"],
        "newest discharge first, none last"
    );

    let q = |text: Option<&str>, service: Option<&str>, from: Option<&str>, to: Option<&str>| {
        EpisodeQuery {
            text: text.map(str::to_string),
            service: service.map(str::to_string),
            discharged_from: from.map(str::to_string),
            discharged_to: to.map(str::to_string),
            ..Default::default()
        }
    };
    assert_eq!(
        ids(store
            .list_episodes(&q(Some("medicina"), None, None, None))
            .await
            .unwrap()),
        ["EP-1", "EP-3"]
    );
    assert_eq!(
        ids(store
            .list_episodes(&q(Some("ep-2"), None, None, None))
            .await
            .unwrap()),
        ["EP-2"]
    );
    // % and _ are literal.
    assert_eq!(
        ids(store
            .list_episodes(&q(Some("0%"), None, None, None))
            .await
            .unwrap()),
        ["X_100%"]
    );
    assert!(
        store
            .list_episodes(&q(Some("%"), None, None, None))
            .await
            .unwrap()
            .len()
            == 1
    );
    assert!(
        store
            .list_episodes(&q(Some("E_"), None, None, None))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(store
            .list_episodes(&q(None, Some("medicina interna"), None, None))
            .await
            .unwrap()),
        ["EP-1", "EP-3"]
    );
    assert_eq!(
        ids(store
            .list_episodes(&q(None, None, Some("2024-03-11"), Some("2024-04-01")))
            .await
            .unwrap()),
        ["X_100%", "EP-1"],
        "bounds are inclusive"
    );
    let page = EpisodeQuery {
        limit: Some(2),
        offset: Some(1),
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_episodes(&page).await.unwrap()),
        ["X_100%", "EP-1"]
    );

    // latest_status follows the newest version.
    let v1 = store
        .add_version(&version("EP-2", VersionKind::Generated, "a", None))
        .await
        .unwrap();
    let list = store
        .list_episodes(&q(Some("EP-2"), None, None, None))
        .await
        .unwrap();
    assert_eq!(list[0].latest_status, Some(VersionStatus::Draft));
    let signed = store
        .sign(
            v1.id,
            store
                .add_user("ana", "Ana", Role::Medico, "h")
                .await
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    let list = store.list_episodes(&EpisodeQuery::default()).await.unwrap();
    assert_eq!(list[0].latest_status, Some(VersionStatus::Signed));
    assert_eq!(list[1].latest_status, None);
    let n = signed.number;
    assert_eq!(
        (list[0].signed_number, list[0].latest_number),
        (Some(n), Some(n))
    );
    // An amendment after the signature: the latest is a draft, the signed one stays.
    store
        .add_version(&NewVersion {
            parent_id: Some(signed.id),
            ..version("EP-2", VersionKind::Amendment, "b", None)
        })
        .await
        .unwrap();
    let list = store
        .list_episodes(&q(Some("EP-2"), None, None, None))
        .await
        .unwrap();
    assert_eq!(list[0].latest_status, Some(VersionStatus::Draft));
    assert_eq!(
        (list[0].signed_number, list[0].latest_number),
        (Some(n), Some(n + 1))
    );

    // Patient and diagnosis: written on import, searched, filled for older rows.
    store
        .put_episode(&NewEpisode {
            patient_name: Some("María Soto".into()),
            diagnosis: Some("Infarto agudo al miocardio sin elevación del ST (I21.4)".into()),
            search_text: Some(
                "ep-9 uco maria soto infarto agudo al miocardio sin elevacion del st i21.4".into(),
            ),
            ..episode("EP-9", Some("UCO"), Some("2024-05-01"))
        })
        .await
        .unwrap();
    let terms = |text: &str, terms: &[&str]| EpisodeQuery {
        text: Some(text.into()),
        terms: terms.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    for (text, alts, want) in [
        ("IAMSEST", vec!["iamsest"], 0),
        ("IAMSEST", vec!["iamsest", "infarto agudo al miocardio"], 1),
        ("María", vec!["maria"], 1),
        ("I21.4", vec!["i21.4"], 1),
        ("uco", vec![], 1),
    ] {
        let found = store.list_episodes(&terms(text, &alts)).await.unwrap();
        assert_eq!(found.len(), want, "{text} {alts:?}");
    }
    let found = store
        .list_episodes(&terms("soto", &["soto"]))
        .await
        .unwrap();
    assert_eq!(found[0].patient_name.as_deref(), Some("María Soto"));
    let unlisted = store.unlisted_episodes(100).await.unwrap();
    assert!(unlisted.iter().all(|u| u.episode_id != "EP-9"));
    assert!(unlisted.iter().any(|u| u.episode_id == "EP-1"));
    store
        .set_list_columns(
            "EP-1",
            &ListColumns {
                patient_name: Some("Juan Pérez"),
                physician: Some("Dra. Ana Rojas"),
                search_text: "ep-1 juan perez",
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .unlisted_episodes(100)
            .await
            .unwrap()
            .iter()
            .all(|u| u.episode_id != "EP-1")
    );
    let juan = store
        .list_episodes(&terms("Juan", &["juan"]))
        .await
        .unwrap();
    assert_eq!(juan.len(), 1);
    assert_eq!(juan[0].physician.as_deref(), Some("Dra. Ana Rojas"));
    // No physician in the data: none listed, and the row is still done.
    assert_eq!(found[0].physician, None);
    assert!(
        store
            .set_list_columns("nadie", &ListColumns::default())
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn episodes_put_replace_get_list_search() {
    on_every_database!(check_episodes);
}
