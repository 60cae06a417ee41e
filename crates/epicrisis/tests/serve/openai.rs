//! The OpenAI-compatible endpoint (`/v1/models`, `/v1/chat/completions`) serving the local
//! model, to our own OpenAI backend.

use reqwest::blocking::Client;
use serde_json::{Value, json};

use super::setup;
use crate::common::model_fixture;
use crate::common::server::{add_user, login, serve};

#[test]
fn openai_compatible_endpoint_serves_the_local_model_to_our_openai_backend() {
    use epicrisis_llm::{ChatMessage, GenerationRequest, Generator, SamplingSettings};
    let Some(model) = model_fixture() else { return };
    let dir = setup();
    let srv = serve(
        dir.path(),
        &[
            "--engine",
            "local",
            "--model",
            &model.display().to_string(),
            "--context-size",
            "1024",
            "--threads",
            "1",
        ],
    );
    add_user(dir.path(), "tic", "admin", "Informática");
    let s = login(&srv.url, "tic");
    let token = s
        .post("/api/v1/tokens", &json!({"name": "other server"}))
        .json::<Value>()
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let c = Client::new();
    let models: Value = c
        .get(format!("{}/v1/models", srv.url))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let name = models["data"][0]["id"].as_str().unwrap().to_string();
    assert!(name.contains("SmolLM2"), "{models}");
    // Not streamed. The words are forced by a grammar (llama.cpp server's `grammar`
    // field): what a free model says depends on the CPU.
    let hola = epicrisis_llm::grammar::exactly("¡Hola! ¿En qué puedo ayudar?");
    let r: Value = c
        .post(format!("{}/v1/chat/completions", srv.url))
        .bearer_auth(&token)
        .json(&json!({"model": name, "messages": [{"role": "user", "content": "Di hola."}], "max_tokens": 32, "temperature": 0, "grammar": hola}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["object"], "chat.completion");
    assert!(r["usage"]["completion_tokens"].as_u64().unwrap() >= 1);
    assert_eq!(r["choices"][0]["finish_reason"], "stop", "{r}");
    let plain = r["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(plain, "¡Hola! ¿En qué puedo ayudar?");
    // A grammar llama.cpp cannot build is the caller's mistake, named.
    let r = c
        .post(format!("{}/v1/chat/completions", srv.url))
        .bearer_auth(&token)
        .json(&json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 4, "grammar": "root ::= saludo"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().unwrap();
    assert!(
        e["error"]["message"].as_str().unwrap().contains("grammar"),
        "{e}"
    );
    // One answer may not ask for more than the server allows (EPICRISIS_V1_MAX_TOKENS).
    let r = c
        .post(format!("{}/v1/chat/completions", srv.url))
        .bearer_auth(&token)
        .json(&json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 40000}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("EPICRISIS_V1_MAX_TOKENS"),
        "{e}"
    );
    // Free words: greedy decoding gives the same text twice on one machine.
    let free = |c: &Client| -> String {
        let r: Value = c
            .post(format!("{}/v1/chat/completions", srv.url))
            .bearer_auth(&token)
            .json(&json!({"messages": [{"role": "user", "content": "Di hola."}], "max_tokens": 8, "temperature": 0}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        r["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(free(&c), free(&c));
    // Streamed, through our own OpenAI backend (real HTTP, real server).
    let mut settings =
        epicrisis_llm::http::HttpSettings::new(format!("{}/v1", srv.url), name.clone());
    settings.api_key = Some(epicrisis_llm::http::ApiKey::new(&token));
    let g = epicrisis_llm::http::openai::open(settings).unwrap();
    let sampling = SamplingSettings {
        max_tokens: 32,
        temperature: 0.0,
        grammar: Some(hola.clone()),
        ..SamplingSettings::default()
    };
    let (text, stats) = g
        .start(GenerationRequest::new(
            vec![ChatMessage::user("Di hola.")],
            sampling,
        ))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(
        text, plain,
        "the grammar reaches the server through our backend, streamed"
    );
    assert!(stats.generated_tokens >= 1 || !text.is_empty());
    // A wrong token gets the OpenAI error shape.
    let r = c
        .post(format!("{}/v1/chat/completions", srv.url))
        .bearer_auth("wrong")
        .json(&json!({"messages": [{"role": "user", "content": "x"}]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // An unknown model is named.
    let r: Value = c
        .post(format!("{}/v1/chat/completions", srv.url))
        .bearer_auth(&token)
        .json(&json!({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(r["error"]["message"].as_str().unwrap().contains("gpt-9"));
}
