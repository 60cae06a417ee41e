//! The store's conformance suite: every test runs the same checks on SQLite (a temporary
//! file) and on PostgreSQL (a fresh database per test, created through
//! `EPICRISIS_TEST_DATABASE_URL`, e.g. `postgres://postgres@127.0.0.1:54329/postgres`;
//! `scripts/test.sh` starts such a server). Without that variable the PostgreSQL half is
//! skipped, unless `EPICRISIS_REQUIRE_TOOLS=1`, which makes it a failure.

use std::time::{Duration, Instant};

use epicrisis_store::*;

#[macro_use]
mod common;
use common::*;

// --- opening (migrations: tests/migrations.rs)

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

// --- vectors

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn passage(note: u32, day: Option<u32>, start: u32, end: u32, vector: Vec<f32>) -> PassageVector {
    PassageVector {
        note_index: note,
        day,
        char_start: start,
        char_end: end,
        vector,
    }
}

fn is_invalid<T: std::fmt::Debug>(r: Result<T>) -> String {
    match r {
        Err(StoreError::Invalid(m)) => m,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

async fn check_passage_vectors(db: &Db) {
    let store = Store::open(&db.url).await.unwrap();
    let ep = "VEC-P-1";
    let row = store.put_episode(&episode(ep, None, None)).await.unwrap();
    let sha = row.content_sha256();
    assert_eq!(sha.len(), 64);
    assert!(store.passage_vectors(ep, "e5").await.unwrap().is_none());

    // Bit for bit: signed zero, a subnormal, extremes, values with no short decimal form.
    let tricky = vec![
        0.1f32,
        -0.0,
        1.0e-45,
        f32::MIN_POSITIVE,
        f32::MAX,
        -f32::MAX,
        1.0 / 3.0,
        std::f32::consts::PI,
    ];
    let first = vec![
        passage(0, Some(1), 0, 120, tricky.clone()),
        passage(0, Some(1), 100, 250, vec![0.5; 8]),
        passage(3, None, 7, 7, (0..8).map(|i| i as f32 * -0.25).collect()),
    ];
    store
        .put_passage_vectors(ep, "e5", &sha, &first)
        .await
        .unwrap();
    let back = store.passage_vectors(ep, "e5").await.unwrap().unwrap();
    assert_eq!(back.len(), 3);
    for (a, b) in back.iter().zip(&first) {
        assert_eq!(
            (a.note_index, a.day, a.char_start, a.char_end),
            (b.note_index, b.day, b.char_start, b.char_end)
        );
        assert_eq!(bits(&a.vector), bits(&b.vector));
    }

    // Another model keeps its own set, of another length.
    let other = vec![passage(1, Some(2), 0, 10, vec![1.0, 0.0])];
    store
        .put_passage_vectors(ep, "minilm", &sha, &other)
        .await
        .unwrap();
    assert_eq!(
        store.passage_vectors(ep, "minilm").await.unwrap().unwrap(),
        other
    );
    assert_eq!(
        store
            .passage_vectors(ep, "e5")
            .await
            .unwrap()
            .unwrap()
            .len(),
        3
    );
    assert!(store.passage_vectors(ep, "bge").await.unwrap().is_none());

    // Replace: the new set, nothing of the old one.
    let second = vec![passage(2, Some(4), 5, 9, vec![0.25; 8])];
    store
        .put_passage_vectors(ep, "e5", &sha, &second)
        .await
        .unwrap();
    assert_eq!(
        store.passage_vectors(ep, "e5").await.unwrap().unwrap(),
        second
    );
    // An empty set is a set (no passages), not a missing one.
    store
        .put_passage_vectors(ep, "e5", &sha, &[])
        .await
        .unwrap();
    assert_eq!(
        store.passage_vectors(ep, "e5").await.unwrap(),
        Some(Vec::new())
    );
    store
        .put_passage_vectors(ep, "e5", &sha, &second)
        .await
        .unwrap();

    // Bad input changes nothing.
    let mixed = vec![
        passage(0, None, 0, 1, vec![1.0; 8]),
        passage(0, None, 1, 2, vec![1.0; 4]),
    ];
    let m = is_invalid(store.put_passage_vectors(ep, "e5", &sha, &mixed).await);
    assert!(
        m.contains("e5") && m.contains('4') && m.contains('8'),
        "{m}"
    );
    is_invalid(
        store
            .put_passage_vectors(ep, "e5", &sha, &[passage(0, None, 0, 1, vec![f32::NAN])])
            .await,
    );
    is_invalid(
        store
            .put_passage_vectors(ep, "e5", &sha, &[passage(0, None, 0, 1, vec![])])
            .await,
    );
    is_invalid(
        store
            .put_passage_vectors(ep, "e5", &sha, &[passage(0, None, 9, 1, vec![1.0])])
            .await,
    );
    is_invalid(store.put_passage_vectors(ep, "", &sha, &second).await);
    assert_eq!(
        store.passage_vectors(ep, "e5").await.unwrap().unwrap(),
        second
    );
    match store
        .put_passage_vectors("VEC-nope", "e5", &sha, &second)
        .await
    {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("{other:?}"),
    }

    // The same document imported again: the vectors stay.
    let again = store.put_episode(&episode(ep, None, None)).await.unwrap();
    assert_eq!(again.content_sha256(), sha);
    assert!(store.passage_vectors(ep, "e5").await.unwrap().is_some());
    // Other content: every model's set is stale, and vectors cut from the old content
    // are refused.
    let mut changed = episode(ep, None, None);
    changed.episode_json = format!("{{\"id\":\"{ep}\",\"notes\":[\"otra\"]}}");
    let new_row = store.put_episode(&changed).await.unwrap();
    assert_ne!(new_row.content_sha256(), sha);
    assert!(store.passage_vectors(ep, "e5").await.unwrap().is_none());
    assert!(store.passage_vectors(ep, "minilm").await.unwrap().is_none());
    let m = is_conflict(store.put_passage_vectors(ep, "e5", &sha, &second).await);
    assert!(m.contains("again"), "{m}");
    assert!(store.passage_vectors(ep, "e5").await.unwrap().is_none());
    store
        .put_passage_vectors(ep, "e5", &new_row.content_sha256(), &first)
        .await
        .unwrap();
    let fresh = store.passage_vectors(ep, "e5").await.unwrap().unwrap();
    assert_eq!(bits(&fresh[0].vector), bits(&tricky));
    assert!(store.passage_vectors(ep, "minilm").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passage_vectors_round_trip_replace_and_go_stale() {
    on_every_database!(check_passage_vectors);
}

/// Imports `ep` with one signed version and returns that version's id.
async fn signed_episode(store: &Store, ep: &str, signer: i64) -> i64 {
    store.put_episode(&episode(ep, None, None)).await.unwrap();
    let latest = store.latest_version(ep).await.unwrap();
    let v = store
        .add_version(&version(
            ep,
            VersionKind::Generated,
            &format!("epicrisis de {ep}"),
            latest.map(|l| l.id),
        ))
        .await
        .unwrap();
    store.sign(v.id, signer).await.unwrap().id
}

fn ids(hits: &[ArchiveHit]) -> Vec<&str> {
    hits.iter().map(|h| h.episode_id.as_str()).collect()
}

async fn check_archive(db: &Db) {
    let store = Store::open(&db.url).await.unwrap();
    // SQLite scans in Rust; PostgreSQL searches with pgvector where it is installed
    // (scripts/test.sh builds it and says so with EPICRISIS_TEST_PGVECTOR=1).
    let want_pgvector =
        db.label == "postgres" && std::env::var("EPICRISIS_TEST_PGVECTOR").as_deref() == Ok("1");
    assert_eq!(
        store.uses_pgvector(),
        want_pgvector,
        "pgvector in use on {}",
        db.label
    );
    let ana = store
        .add_user("vec-ana", "Ana", Role::Medico, "h")
        .await
        .unwrap();
    assert!(store.archive_missing("e5").await.unwrap().is_empty());
    assert!(
        store
            .search_archive("e5", &[1.0, 0.0, 0.0], 5, None)
            .await
            .unwrap()
            .is_empty()
    );

    let mut signed = Vec::new();
    for ep in ["VEC-A", "VEC-B", "VEC-C", "VEC-D"] {
        signed.push((ep.to_string(), signed_episode(&store, ep, ana.id).await));
    }
    // An episode with only a draft is not in the archive.
    store
        .put_episode(&episode("VEC-DRAFT", None, None))
        .await
        .unwrap();
    let draft = store
        .add_version(&version("VEC-DRAFT", VersionKind::Generated, "x", None))
        .await
        .unwrap();
    assert_eq!(store.archive_missing("e5").await.unwrap(), signed);

    let vectors: [(&str, [f32; 3]); 4] = [
        ("VEC-A", [1.0, 0.0, 0.0]),
        ("VEC-B", [0.6, 0.8, 0.0]),
        ("VEC-C", [0.0, 1.0, 0.0]),
        ("VEC-D", [-1.0, 0.0, 0.0]),
    ];
    for ((ep, v), (_, version_id)) in vectors.iter().zip(&signed) {
        store
            .put_archive_vector(ep, *version_id, "e5", v)
            .await
            .unwrap();
    }
    assert!(store.archive_missing("e5").await.unwrap().is_empty());
    assert_eq!(store.archive_missing("minilm").await.unwrap(), signed);

    // Highest dot product first; k; the episode being written left out.
    let q = [1.0f32, 0.0, 0.0];
    let all = store.search_archive("e5", &q, 10, None).await.unwrap();
    assert_eq!(ids(&all), ["VEC-A", "VEC-B", "VEC-C", "VEC-D"]);
    let scores: Vec<f32> = all.iter().map(|h| h.score).collect();
    for (got, want) in scores.iter().zip([1.0f32, 0.6, 0.0, -1.0]) {
        assert!((got - want).abs() < 1e-6, "{scores:?}");
    }
    assert_eq!(all[0].version_id, signed[0].1);
    let two = store.search_archive("e5", &q, 2, None).await.unwrap();
    assert_eq!(ids(&two), ["VEC-A", "VEC-B"]);
    let without = store
        .search_archive("e5", &q, 2, Some("VEC-A"))
        .await
        .unwrap();
    assert_eq!(ids(&without), ["VEC-B", "VEC-C"]);
    assert!(
        store
            .search_archive("e5", &q, 0, None)
            .await
            .unwrap()
            .is_empty()
    );
    let q2 = [0.0f32, 1.0, 0.0];
    let near_c = store.search_archive("e5", &q2, 3, None).await.unwrap();
    assert_eq!(ids(&near_c), ["VEC-C", "VEC-B", "VEC-A"]);

    // Dimension mismatch: a clear error naming the model, on search and on store.
    let m = is_invalid(store.search_archive("e5", &[1.0; 4], 3, None).await);
    assert!(
        m.contains("\"e5\"") && m.contains('3') && m.contains('4'),
        "{m}"
    );
    let m = is_invalid(
        store
            .put_archive_vector("VEC-A", signed[0].1, "e5", &[1.0; 4])
            .await,
    );
    assert!(m.contains("\"e5\""), "{m}");
    is_invalid(store.search_archive("e5", &[], 3, None).await);
    is_invalid(
        store
            .search_archive("e5", &[f32::NAN, 0.0, 0.0], 3, None)
            .await,
    );

    // Another model: its own vectors, of its own length; the first model's stay.
    store
        .put_archive_vector("VEC-C", signed[2].1, "minilm", &[0.0, 1.0])
        .await
        .unwrap();
    let other = store
        .search_archive("minilm", &[0.0, 1.0], 5, None)
        .await
        .unwrap();
    assert_eq!(ids(&other), ["VEC-C"]);
    assert_eq!(
        store.archive_missing("minilm").await.unwrap(),
        [signed[0].clone(), signed[1].clone(), signed[3].clone()]
    );
    assert_eq!(store.search_archive("e5", &q, 10, None).await.unwrap(), all);
    if want_pgvector {
        // Rows stored before pgvector was installed get their column filled on open.
        sqlx::query("ALTER TABLE archive_vectors DROP COLUMN embedding")
            .execute(&sqlx::AnyPool::connect(&db.url).await.unwrap())
            .await
            .unwrap();
        let reopened = Store::open(&db.url).await.unwrap();
        assert!(reopened.uses_pgvector());
        assert_eq!(
            reopened.search_archive("e5", &q, 10, None).await.unwrap(),
            all
        );
        assert_eq!(
            ids(&reopened
                .search_archive("minilm", &[0.0, 1.0], 5, None)
                .await
                .unwrap()),
            ["VEC-C"]
        );
    }

    // Only signed versions of the named episode.
    is_conflict(
        store
            .put_archive_vector("VEC-DRAFT", draft.id, "e5", &q)
            .await,
    );
    is_invalid(
        store
            .put_archive_vector("VEC-B", signed[0].1, "e5", &q)
            .await,
    );
    match store.put_archive_vector("VEC-A", 987_654, "e5", &q).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("{other:?}"),
    }

    // Amended and signed again: the new version is missing until its vector comes; an
    // older version's vector arriving late does not replace the newer one.
    let signed_a = store.latest_version("VEC-A").await.unwrap().unwrap();
    let amendment = store
        .add_version(&version(
            "VEC-A",
            VersionKind::Amendment,
            "epicrisis corregida",
            Some(signed_a.id),
        ))
        .await
        .unwrap();
    assert!(store.archive_missing("e5").await.unwrap().is_empty());
    let resigned = store.sign(amendment.id, ana.id).await.unwrap();
    assert_eq!(
        store.archive_missing("e5").await.unwrap(),
        [("VEC-A".to_string(), resigned.id)]
    );
    store
        .put_archive_vector("VEC-A", resigned.id, "e5", &[0.0, 0.0, 1.0])
        .await
        .unwrap();
    store
        .put_archive_vector("VEC-A", signed_a.id, "e5", &[1.0, 0.0, 0.0])
        .await
        .unwrap();
    assert!(store.archive_missing("e5").await.unwrap().is_empty());
    let hits = store
        .search_archive("e5", &[0.0, 0.0, 1.0], 1, None)
        .await
        .unwrap();
    assert_eq!(
        (hits[0].episode_id.as_str(), hits[0].version_id),
        ("VEC-A", resigned.id)
    );
    assert!((hits[0].score - 1.0).abs() < 1e-6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_vectors_search_and_missing() {
    on_every_database!(check_archive);
}

/// More archived episodes than one round trip of the scan reads (500), with ties: the
/// same hits, in the same order, as sorting all of them here.
async fn check_archive_scan(db: &Db) {
    let store = Store::open(&db.url).await.unwrap();
    let ana = store
        .add_user("vec-bea", "Bea", Role::Medico, "h")
        .await
        .unwrap();
    let n = 620;
    let mut expected = Vec::new();
    for i in 0..n {
        let ep = format!("VEC-S-{i:04}");
        let version_id = signed_episode(&store, &ep, ana.id).await;
        // Scores repeat every 7 episodes: ties are broken by the episode id.
        let a = (i % 7) as f32 / 7.0;
        let v = [a, (1.0 - a * a).sqrt()];
        store
            .put_archive_vector(&ep, version_id, "e5", &v)
            .await
            .unwrap();
        expected.push((ep, a));
    }
    expected.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    let hits = store
        .search_archive("e5", &[1.0, 0.0], 200, Some("VEC-S-0006"))
        .await
        .unwrap();
    let want: Vec<&str> = expected
        .iter()
        .map(|(e, _)| e.as_str())
        .filter(|e| *e != "VEC-S-0006")
        .take(200)
        .collect();
    assert_eq!(ids(&hits), want);
    let every = store
        .search_archive("e5", &[1.0, 0.0], 5000, None)
        .await
        .unwrap();
    assert_eq!(every.len(), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_search_scans_past_one_page() {
    on_every_database!(check_archive_scan);
}

// --- episodes

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

// --- versions

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

// --- users, sessions, tokens

async fn check_users(db: &Db) {
    let store = Store::open(&db.url).await.unwrap();
    let ana = store
        .add_user("ana", "Ana", Role::Medico, "hash1")
        .await
        .unwrap();
    assert_eq!((ana.role, ana.disabled), (Role::Medico, false));
    let m = is_conflict(store.add_user("ana", "Otra", Role::Admin, "h").await);
    assert!(m.contains("ana"), "{m}");
    let bob = store
        .add_user("bob", "Bob", Role::Administrativo, "h")
        .await
        .unwrap();
    assert_eq!(
        store
            .users()
            .await
            .unwrap()
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["ana", "bob"]
    );
    assert_eq!(
        store.user(bob.id).await.unwrap().unwrap().role,
        Role::Administrativo
    );
    assert!(store.user(99_999).await.unwrap().is_none());
    store.set_password("ana", "hash2", None).await.unwrap();
    assert_eq!(
        store
            .user_by_name("ana")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "hash2"
    );
    assert!(matches!(
        store.set_password("zoe", "h", None).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_disabled("zoe", true).await,
        Err(StoreError::NotFound(_))
    ));

    // Sessions expire.
    store
        .create_session("s-live", ana.id, "csrf1", 2_000)
        .await
        .unwrap();
    store
        .create_session("s-old", ana.id, "csrf2", 1_000)
        .await
        .unwrap();
    store
        .create_session("s-bob", bob.id, "csrf3", 2_000)
        .await
        .unwrap();
    let (s, u) = store.session("s-live", 1_500).await.unwrap().unwrap();
    assert_eq!(
        (
            s.user_id,
            s.csrf.as_str(),
            s.expires_at,
            u.username.as_str()
        ),
        (ana.id, "csrf1", 2_000, "ana")
    );
    assert!(store.session("s-old", 1_500).await.unwrap().is_none());
    assert!(
        store.session("s-live", 2_000).await.unwrap().is_none(),
        "expired at expires_at"
    );
    assert!(store.session("nope", 0).await.unwrap().is_none());
    store.delete_session("s-bob").await.unwrap();
    assert!(store.session("s-bob", 1_500).await.unwrap().is_none());

    // API tokens: they work until they expire or are revoked.
    let far = 4_000_000_000_000;
    let t = store
        .add_api_token(ana.id, "ci", "tok-hash", far)
        .await
        .unwrap();
    assert!(t > 0);
    assert_eq!(
        store
            .api_token_user("tok-hash", 1)
            .await
            .unwrap()
            .unwrap()
            .id,
        ana.id
    );
    assert!(store.api_token_user("other", 1).await.unwrap().is_none());
    is_conflict(store.add_api_token(bob.id, "dup", "tok-hash", far).await);
    store
        .add_api_token(bob.id, "corto", "tok-short", 1_000)
        .await
        .unwrap();
    assert!(
        store
            .api_token_user("tok-short", 999)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .api_token_user("tok-short", 1_000)
            .await
            .unwrap()
            .is_none(),
        "expired at expires_at"
    );
    let bob_tok = store
        .add_api_token(bob.id, "his", "tok-bob", far)
        .await
        .unwrap();
    let all = store.api_tokens(None).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].id, bob_tok, "newest first");
    let anas = store.api_tokens(Some(ana.id)).await.unwrap();
    assert_eq!(
        anas.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["ci"]
    );
    // Someone else's token cannot be revoked by its id; one's own can.
    assert!(matches!(
        store.revoke_api_token(bob_tok, Some(ana.id)).await,
        Err(StoreError::NotFound(_))
    ));
    let revoked = store.revoke_api_token(bob_tok, Some(bob.id)).await.unwrap();
    assert!(revoked.revoked_at.is_some() && !revoked.active(1));
    assert!(store.api_token_user("tok-bob", 1).await.unwrap().is_none());
    assert!(matches!(
        store.revoke_api_token(99_999, None).await,
        Err(StoreError::NotFound(_))
    ));

    // A password change ends the other sessions and revokes the tokens.
    store
        .create_session("s-bob-a", bob.id, "c", 5_000)
        .await
        .unwrap();
    store
        .create_session("s-bob-b", bob.id, "c", 5_000)
        .await
        .unwrap();
    store
        .add_api_token(bob.id, "his2", "tok-bob2", far)
        .await
        .unwrap();
    store
        .set_password("bob", "hash-b2", Some("s-bob-a"))
        .await
        .unwrap();
    assert!(store.session("s-bob-a", 1).await.unwrap().is_some());
    assert!(store.session("s-bob-b", 1).await.unwrap().is_none());
    assert!(store.api_token_user("tok-bob2", 1).await.unwrap().is_none());

    // Disabling ends sessions and revokes tokens, for good.
    store.set_disabled("ana", true).await.unwrap();
    assert!(store.user(ana.id).await.unwrap().unwrap().disabled);
    assert!(store.session("s-live", 1_500).await.unwrap().is_none());
    assert!(store.api_token_user("tok-hash", 1).await.unwrap().is_none());
    store.set_disabled("ana", false).await.unwrap();
    assert!(!store.user(ana.id).await.unwrap().unwrap().disabled);
    assert!(store.session("s-live", 1_500).await.unwrap().is_none());
    assert!(store.api_token_user("tok-hash", 1).await.unwrap().is_none());
    // A disabled user's fresh session is refused too.
    store
        .create_session("s-bob2", bob.id, "c", 5_000)
        .await
        .unwrap();
    store.set_disabled("bob", true).await.unwrap();
    store
        .create_session("s-bob3", bob.id, "c", 5_000)
        .await
        .unwrap();
    assert!(store.session("s-bob3", 1).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_sessions_and_tokens() {
    on_every_database!(check_users);
}

// --- crash safety (SQLite: the file is ours to keep consistent)

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
