//! A drafting backend that crashes (issue 17, item 6): the job it was drafting fails
//! with a plain message, the worker takes the next job, and the server keeps serving.
//! The backend is a generator that panics when asked to start, standing in for a model
//! library that crashes inside its call; everything around it is the real server on
//! loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use epicrisis_llm::{
    ChatMessage, Generation, GenerationError, GenerationRequest, Generator, ModelInfo,
};
use epicrisis_pipeline::engine::Engine;
use epicrisis_pipeline::grounded::PipelineOptions;
use epicrisis_server::{Server, Settings};
use epicrisis_store::{Role, Store};
use serde_json::Value;

mod common;

struct Crashing;

impl Generator for Crashing {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            backend: "crashing".into(),
            name: "crashing".into(),
            path: None,
            size_bytes: None,
            sha256: None,
            quantization: None,
            architecture: None,
            template: "raw".into(),
            context_size: 8192,
            threads: None,
            gpu_layers: None,
            draft_tokens: None,
            parallel: None,
            flash_attention: None,
        }
    }

    fn start(&self, _: GenerationRequest) -> Result<Generation, GenerationError> {
        panic!("the model library crashed");
    }

    fn render_prompt(&self, messages: &[ChatMessage]) -> Result<String, GenerationError> {
        Ok(messages.iter().map(|m| m.content.as_str()).collect())
    }
}

async fn job_end(c: &reqwest::Client, base: &str, token: &str, job: &Value) -> Value {
    let url = format!("{base}/api/v1/jobs/{}", job["jobId"].as_str().unwrap());
    let started = Instant::now();
    loop {
        let v: Value = c
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if matches!(v["status"].as_str(), Some("done" | "failed" | "cancelled")) {
            return v;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_backend_fails_its_job_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("faults.db").display());
    let store = Store::open(&url).await.unwrap();
    let (_, token) = common::account_with_token(&store, "ana", Role::Medico).await;
    let engine = Engine::Model {
        generator: Arc::new(Crashing),
        options: PipelineOptions::default(),
        external: false,
    };
    let settings = Settings {
        log_requests: false,
        ..Settings::default()
    };
    let server = Server::new(store, engine, settings).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(listener, async move {
        let _ = stopped.await;
    }));

    let c = reqwest::Client::new();
    let episode = std::fs::read(epicrisis_testkit::fixtures::testdata(
        "episodes/episodio_1416169.json",
    ))
    .unwrap();
    let r = c
        .post(format!("{base}/api/v1/episodes"))
        .bearer_auth(&token)
        .body(episode)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    for attempt in 0..2 {
        let job: Value = c
            .post(format!("{base}/api/v1/episodes/1416169/drafts"))
            .bearer_auth(&token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let end = job_end(&c, &base, &token, &job).await;
        assert_eq!(end["status"], "failed", "attempt {attempt}: {end}");
        let message = end["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("el servidor sigue funcionando"),
            "attempt {attempt}: {message}"
        );
    }
    // Still serving, and nothing was saved as a version.
    let v: Value = c
        .get(format!("{base}/api/v1/episodes/1416169/versions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["versions"].as_array().unwrap().len(), 0, "{v}");
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}
