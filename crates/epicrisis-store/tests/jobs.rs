//! Durable draft jobs on SQLite and PostgreSQL (see `common`): one active job per
//! episode, a bounded queue, claims in order and never twice at once, a dead worker's
//! job taken over when its lease runs out (and abandoned after three deaths), a draft
//! saved exactly once however many workers finish it, cancellation and hand-back.

use epicrisis_store::*;
use std::time::Duration;

#[macro_use]
mod common;
use common::*;

fn request(episode: &str, user: i64) -> NewJob {
    NewJob {
        episode_id: Some(episode.into()),
        episode_revision: Some(1),
        inline_json: None,
        options_json: r#"{"layout":"sections"}"#.into(),
        requested_by: user,
        batch: false,
    }
}

async fn new(store: &Store, job: &NewJob) -> JobRow {
    match store.enqueue_job(job, 8).await.unwrap() {
        Enqueued::New(j) => j,
        other => panic!("not queued: {other:?}"),
    }
}

async fn setup(db: &Db) -> (Store, i64) {
    let store = Store::open(&db.url).await.unwrap();
    let user = store
        .add_user("ana", "Dra. Ana", Role::Medico, "h")
        .await
        .unwrap()
        .id;
    for id in ["A", "B", "C"] {
        store.put_episode(&episode(id, None, None)).await.unwrap();
    }
    (store, user)
}

async fn check_queue(db: &Db) {
    let (store, user) = setup(db).await;
    let a = new(&store, &request("A", user)).await;
    assert_eq!(a.state, JobState::Queued);
    // The same episode again: the job under way, not a second one.
    match store.enqueue_job(&request("A", user), 8).await.unwrap() {
        Enqueued::Existing(j) => assert_eq!(j.id, a.id),
        other => panic!("{other:?}"),
    }
    let b = new(&store, &request("B", user)).await;
    assert_eq!(store.jobs_ahead(&a).await.unwrap(), Some(0));
    assert_eq!(store.jobs_ahead(&b).await.unwrap(), Some(1));
    // A full queue says how many wait.
    match store.enqueue_job(&request("C", user), 2).await.unwrap() {
        Enqueued::Full { waiting } => assert_eq!(waiting, 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.job_counts().await.unwrap(), (2, 0));
    // Claimed oldest first, each by one worker only.
    let first = store.claim_job("w1", 30_000).await.unwrap().unwrap();
    assert_eq!(first.job.id, a.id);
    assert_eq!(first.job.state, JobState::Running);
    assert_eq!(first.job.attempts, 1);
    let second = store.claim_job("w2", 30_000).await.unwrap().unwrap();
    assert_eq!(second.job.id, b.id);
    assert!(store.claim_job("w3", 30_000).await.unwrap().is_none());
    assert_eq!(store.job_counts().await.unwrap(), (0, 2));
    let active: Vec<String> = store
        .active_jobs()
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(active, [a.id.clone(), b.id.clone()]);
    // Progress: only the owner's counts.
    let beat = store
        .job_progress(
            &a.id,
            "w1",
            30_000,
            Some(r#"{"stage":"checking"}"#),
            Some("Pac"),
        )
        .await
        .unwrap();
    assert_eq!(
        beat,
        Heartbeat {
            cancel_requested: false,
            owned: true
        }
    );
    let row = store.job(&a.id).await.unwrap().unwrap();
    assert_eq!(row.partial_text, "Pac");
    assert!(row.stage_json.unwrap().contains("checking"));
    let stranger = store
        .job_progress(&a.id, "w2", 30_000, None, Some("x"))
        .await
        .unwrap();
    assert!(!stranger.owned);
    // Saved exactly once, even when a second finish comes (a worker thought dead).
    let v = version("A", VersionKind::Generated, "Borrador.", None);
    let saved = store.complete_job(&a.id, "local", &v).await.unwrap();
    let again = store.complete_job(&a.id, "local", &v).await.unwrap();
    assert_eq!(saved, again);
    let Completed::Saved(version_id) = saved else {
        panic!("{saved:?}")
    };
    assert_eq!(store.versions("A").await.unwrap().len(), 1);
    let done = store.job(&a.id).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.version_id, Some(version_id));
    assert_eq!(done.engine.as_deref(), Some("local"));
    assert!(store.typical_job_seconds().await.unwrap().is_some());
    // The episode may be drafted again.
    new(&store, &request("A", user)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_job_per_episode_claimed_in_order_and_saved_once() {
    on_every_database!(check_queue);
}

async fn check_leases(db: &Db) {
    let (store, user) = setup(db).await;
    let a = new(&store, &request("A", user)).await;
    // A worker that dies three times with the job: taken over twice, then abandoned.
    for attempt in 1..=3 {
        let c = store.claim_job(&format!("w{attempt}"), 50).await.unwrap();
        assert_eq!(c.unwrap().job.attempts, attempt);
        assert!(
            store.claim_job("other", 50).await.unwrap().is_none(),
            "a live lease is not taken"
        );
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    assert!(store.claim_job("w4", 50).await.unwrap().is_none());
    let failed = store.job(&a.id).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert!(failed.message.unwrap().contains("3 veces"));
    // A worker that stops hands its job back without spending an attempt.
    let b = new(&store, &request("B", user)).await;
    let c = store.claim_job("w1", 30_000).await.unwrap().unwrap();
    assert!(store.end_job(&b.id, "w1", &JobEnd::Released).await.unwrap());
    let back = store.job(&b.id).await.unwrap().unwrap();
    assert_eq!((back.state, back.attempts), (JobState::Queued, 0));
    assert_eq!(c.job.id, b.id);
    // A restarted server takes back its dead predecessor's job at once.
    store.claim_job("host:1:x", 30_000).await.unwrap().unwrap();
    assert_eq!(
        store.job_owners().await.unwrap(),
        vec!["host:1:x".to_string()]
    );
    assert_eq!(
        store
            .release_jobs_of(&["host:1:x".to_string()])
            .await
            .unwrap(),
        1
    );
    let c = store.claim_job("host:2:y", 30_000).await.unwrap().unwrap();
    assert_eq!(c.job.id, b.id);
    // Only the owner ends a job.
    assert!(
        !store
            .end_job(&b.id, "w1", &JobEnd::Failed("x".into()))
            .await
            .unwrap()
    );
    assert!(
        store
            .end_job(&b.id, "host:2:y", &JobEnd::Failed("el modelo falló".into()))
            .await
            .unwrap()
    );
    assert_eq!(
        store.job(&b.id).await.unwrap().unwrap().state,
        JobState::Failed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_workers_lose_their_jobs_and_stopping_ones_hand_them_back() {
    on_every_database!(check_leases);
}

async fn check_cancel(db: &Db) {
    let (store, user) = setup(db).await;
    // Queued: ends at once.
    let a = new(&store, &request("A", user)).await;
    assert_eq!(
        store.cancel_job(&a.id).await.unwrap(),
        Some(JobState::Cancelled)
    );
    assert!(store.claim_job("w", 30_000).await.unwrap().is_none());
    // Running: the worker hears it, and a draft finished anyway is not saved.
    let b = new(&store, &request("B", user)).await;
    store.claim_job("w", 30_000).await.unwrap().unwrap();
    assert_eq!(
        store.cancel_job(&b.id).await.unwrap(),
        Some(JobState::Running)
    );
    let beat = store
        .job_progress(&b.id, "w", 30_000, None, None)
        .await
        .unwrap();
    assert!(beat.cancel_requested);
    let v = version("B", VersionKind::Generated, "Borrador.", None);
    assert_eq!(
        store.complete_job(&b.id, "local", &v).await.unwrap(),
        Completed::Cancelled
    );
    assert!(store.versions("B").await.unwrap().is_empty());
    assert_eq!(store.cancel_job("nope").await.unwrap(), None);
    // An inline request keeps its episode only until it is drafted.
    let inline = NewJob {
        episode_id: None,
        episode_revision: None,
        inline_json: Some("{}".into()),
        ..request("C", user)
    };
    let c = new(&store, &inline).await;
    let claimed = store.claim_job("w", 30_000).await.unwrap().unwrap();
    assert_eq!(claimed.inline_json.as_deref(), Some("{}"));
    store
        .end_job(&c.id, "w", &JobEnd::InlineDone(r#"{"text":"t"}"#.into()))
        .await
        .unwrap();
    let done = store.job(&c.id).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.result_json.as_deref(), Some(r#"{"text":"t"}"#));
    assert_eq!(store.prune_jobs(1).await.unwrap(), 0, "finished just now");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_jobs_save_nothing_and_inline_jobs_keep_their_draft() {
    on_every_database!(check_cancel);
}

async fn check_batches(db: &Db) {
    let (store, user) = setup(db).await;
    // A batch's jobs ignore the capacity and wait behind what a person asks for later.
    let b = store.create_batch("altas 2025-03-01", user).await.unwrap();
    let mut batch_jobs = Vec::new();
    for id in ["A", "B"] {
        let job = NewJob {
            batch: true,
            ..request(id, user)
        };
        let Enqueued::New(j) = store.enqueue_job(&job, 1).await.unwrap() else {
            panic!("a batch is not bound by the capacity")
        };
        store.put_batch_item(&b.id, id, Some(&j.id)).await.unwrap();
        batch_jobs.push(j);
    }
    let asked = new(&store, &request("C", user)).await;
    assert_eq!(store.jobs_ahead(&asked).await.unwrap(), Some(0));
    assert_eq!(store.jobs_ahead(&batch_jobs[0]).await.unwrap(), Some(1));
    let first = store.claim_job("w", 30_000).await.unwrap().unwrap();
    assert_eq!(first.job.id, asked.id);
    assert!(!first.job.batch);
    let second = store.claim_job("w", 30_000).await.unwrap().unwrap();
    assert_eq!(second.job.id, batch_jobs[0].id);
    assert!(second.job.batch);
    // Items keep their order; putting one again changes its job, not its place.
    store.put_batch_item(&b.id, "A", None).await.unwrap();
    let items = store.batch_items(&b.id).await.unwrap();
    let ids: Vec<(&str, bool)> = items
        .iter()
        .map(|i| (i.episode_id.as_str(), i.job_id.is_some()))
        .collect();
    assert_eq!(ids, [("A", false), ("B", true)]);
    assert_eq!(
        store.batch(&b.id).await.unwrap().unwrap().name,
        "altas 2025-03-01"
    );
    assert_eq!(store.batches(10).await.unwrap().len(), 1);
    assert!(store.batch("nope").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_keep_their_order_and_wait_behind_what_people_ask_for() {
    on_every_database!(check_batches);
}

async fn check_announcements(db: &Db) {
    let (store, user) = setup(db).await;
    let listener = store.job_listener().await.unwrap();
    let Some(mut listener) = listener else {
        assert_eq!(db.label, "sqlite", "PostgreSQL announces jobs");
        return;
    };
    // Another process's store (a server) queues; this one (a worker) hears it.
    let server = Store::open(&db.url).await.unwrap();
    new(&server, &request("A", user)).await;
    tokio::time::timeout(Duration::from_secs(20), listener.next())
        .await
        .expect("the new job was announced")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_announces_new_jobs_to_listening_workers() {
    on_every_database!(check_announcements);
}
