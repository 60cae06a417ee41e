//! Passage vectors: a round trip bit for bit, per model, replaced, bad input refused, and
//! stale once the episode's content changes.

use epicrisis_store::*;

use super::is_invalid;
use crate::common::*;

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
