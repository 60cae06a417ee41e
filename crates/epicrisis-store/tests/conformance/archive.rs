//! The archive of signed epicrisis: their vectors, the similarity search, the versions
//! still missing a vector, and a search that scans past one page.

use epicrisis_store::*;

use super::is_invalid;
use crate::common::*;

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
