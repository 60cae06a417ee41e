//! The OpenAI Chat Completions dialect: `POST {base}/chat/completions` with
//! `stream: true`; events are `data: {"choices":[{"delta":{"content":…}}]}` until
//! `data: [DONE]`. llama.cpp's server, vLLM and Ollama speak it too, so a hospital's own
//! generation machine is reached with the same backend and another base URL.

use super::{Chunk, Dialect, HttpGenerator, HttpSettings, SseEvent};
use crate::generator::{GenerationError, GenerationRequest, StopReason};
use serde_json::{Value, json};

/// The OpenAI dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAi;

/// A generator for an OpenAI-compatible server.
pub type OpenAiGenerator = HttpGenerator<OpenAi>;

/// Opens a generator for `settings` (nothing is sent until the first generation).
pub fn open(settings: HttpSettings) -> Result<OpenAiGenerator, GenerationError> {
    HttpGenerator::new(OpenAi, settings)
}

impl Dialect for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }
    fn key_setting(&self) -> &'static str {
        "OPENAI_API_KEY"
    }
    fn model_setting(&self) -> &'static str {
        "OPENAI_MODEL"
    }
    fn takes_grammar(&self) -> bool {
        true
    }
    fn url(&self, s: &HttpSettings) -> String {
        format!("{}/chat/completions", s.base_url)
    }
    fn headers(&self, s: &HttpSettings) -> Vec<(&'static str, String, bool)> {
        s.api_key
            .iter()
            .map(|k| ("authorization", format!("Bearer {}", k.expose()), true))
            .collect()
    }
    fn body(&self, s: &HttpSettings, r: &GenerationRequest) -> Value {
        let messages: Vec<Value> = r
            .messages
            .iter()
            .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        let mut body = json!({
            "model": s.model,
            "messages": messages,
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": r.settings.max_tokens,
            "temperature": super::decimal(r.settings.temperature),
            "top_p": super::decimal(r.settings.top_p),
            "seed": r.settings.seed,
        });
        // The API takes at most four stop strings; all of them are also applied here.
        let stops: Vec<&String> = r
            .settings
            .stop
            .iter()
            .filter(|s| !s.is_empty())
            .take(4)
            .collect();
        if !stops.is_empty() {
            body["stop"] = json!(stops);
        }
        // llama.cpp's server (and ours) take a GBNF grammar under this name.
        if let Some(g) = &r.settings.grammar {
            body["grammar"] = json!(g);
        }
        body
    }
    fn parse(&self, ev: &SseEvent) -> Result<Chunk, String> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            return Ok(Chunk::End);
        }
        if data.is_empty() {
            return Ok(Chunk::Nothing);
        }
        let v: Value = serde_json::from_str(data).map_err(|e| format!("unreadable event ({e})"))?;
        if let Some(e) = v.get("error") {
            return Err(e
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string()));
        }
        let choice = v.get("choices").and_then(|c| c.get(0));
        if let Some(c) = choice {
            if let Some(t) = c.pointer("/delta/content").and_then(Value::as_str)
                && !t.is_empty()
            {
                return Ok(Chunk::Text(t.to_string()));
            }
            if let Some(r) = c.get("finish_reason").and_then(Value::as_str) {
                return match r {
                    "length" => Ok(Chunk::Finish {
                        reason: StopReason::MaxTokens,
                        completion_tokens: None,
                    }),
                    "content_filter" => {
                        Err("the provider's content filter stopped the answer".into())
                    }
                    _ => Ok(Chunk::Finish {
                        reason: StopReason::EndOfText,
                        completion_tokens: None,
                    }),
                };
            }
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            let n = |k: &str| u.get(k).and_then(Value::as_u64).map(|x| x as u32);
            return Ok(Chunk::Usage {
                prompt_tokens: n("prompt_tokens"),
                completion_tokens: n("completion_tokens"),
            });
        }
        Ok(Chunk::Nothing)
    }
    fn is_unknown_model(&self, _status: u16, body: &Value) -> bool {
        let e = body.get("error");
        let code = e.and_then(|e| e.get("code")).and_then(Value::as_str);
        code == Some("model_not_found")
            || e.and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .is_some_and(|m| {
                    m.contains("model") && (m.contains("not found") || m.contains("does not exist"))
                })
    }
}
