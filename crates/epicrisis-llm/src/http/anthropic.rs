//! The Anthropic Messages dialect: `POST {base}/v1/messages` with `stream: true`; text
//! arrives in `content_block_delta` events (`delta.text`), the stop reason in
//! `message_delta`, the end in `message_stop`; an `error` event reports a failure inside
//! the stream (`overloaded_error`…).

use super::{Chunk, Dialect, HttpGenerator, HttpSettings, SseEvent};
use crate::generator::{GenerationError, GenerationRequest, Role, StopReason};
use serde_json::{Value, json};

/// The API version sent in `anthropic-version`.
pub const API_VERSION: &str = "2023-06-01";

/// The Anthropic dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct Anthropic;

/// A generator for the Anthropic Messages API.
pub type AnthropicGenerator = HttpGenerator<Anthropic>;

/// Opens a generator for `settings` (nothing is sent until the first generation).
pub fn open(settings: HttpSettings) -> Result<AnthropicGenerator, GenerationError> {
    HttpGenerator::new(Anthropic, settings)
}

impl Dialect for Anthropic {
    fn name(&self) -> &'static str {
        "anthropic"
    }
    fn key_setting(&self) -> &'static str {
        "ANTHROPIC_API_KEY"
    }
    fn model_setting(&self) -> &'static str {
        "ANTHROPIC_MODEL"
    }
    fn url(&self, s: &HttpSettings) -> String {
        format!("{}/v1/messages", s.base_url.trim_end_matches("/v1"))
    }
    fn headers(&self, s: &HttpSettings) -> Vec<(&'static str, String, bool)> {
        let mut h = vec![("anthropic-version", API_VERSION.to_string(), false)];
        if let Some(k) = &s.api_key {
            h.push(("x-api-key", k.expose().to_string(), true));
        }
        h
    }
    fn body(&self, s: &HttpSettings, r: &GenerationRequest) -> Value {
        // System messages go to `system`; the rest must alternate user/assistant, so
        // consecutive messages of one role are joined.
        let system: Vec<&str> = r
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let mut messages: Vec<(Role, String)> = Vec::new();
        for m in r.messages.iter().filter(|m| m.role != Role::System) {
            match messages.last_mut() {
                Some((role, text)) if *role == m.role => {
                    text.push_str("\n\n");
                    text.push_str(&m.content);
                }
                _ => messages.push((m.role, m.content.clone())),
            }
        }
        let messages: Vec<Value> = messages
            .into_iter()
            .map(|(role, content)| json!({"role": role.as_str(), "content": content}))
            .collect();
        // Recent models take temperature or top_p, not both: temperature is sent.
        let mut body = json!({
            "model": s.model,
            "messages": messages,
            "max_tokens": r.settings.max_tokens,
            "temperature": super::decimal(r.settings.temperature.min(1.0)),
            "stream": true,
        });
        if !system.is_empty() {
            body["system"] = json!(system.join("\n\n"));
        }
        let stops: Vec<&String> = r
            .settings
            .stop
            .iter()
            .filter(|s| !s.trim().is_empty())
            .collect();
        if !stops.is_empty() {
            body["stop_sequences"] = json!(stops);
        }
        body
    }
    fn parse(&self, ev: &SseEvent) -> Result<Chunk, String> {
        let v: Value = if ev.data.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&ev.data).map_err(|e| format!("unreadable event ({e})"))?
        };
        let kind = ev
            .event
            .clone()
            .or_else(|| v.get("type").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        match kind.as_str() {
            "content_block_delta" => Ok(v
                .pointer("/delta/text")
                .and_then(Value::as_str)
                .map(|t| Chunk::Text(t.to_string()))
                .unwrap_or(Chunk::Nothing)),
            "message_start" => Ok(Chunk::Usage {
                prompt_tokens: v
                    .pointer("/message/usage/input_tokens")
                    .and_then(Value::as_u64)
                    .map(|x| x as u32),
                completion_tokens: None,
            }),
            "message_delta" => {
                let output = v
                    .pointer("/usage/output_tokens")
                    .and_then(Value::as_u64)
                    .map(|n| n as u32);
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    return Ok(Chunk::Finish {
                        reason: match r {
                            "max_tokens" => StopReason::MaxTokens,
                            "stop_sequence" => StopReason::StopString,
                            "refusal" => return Err("the model refused to answer".into()),
                            _ => StopReason::EndOfText,
                        },
                        completion_tokens: output,
                    });
                }
                Ok(v.pointer("/usage/output_tokens")
                    .and_then(Value::as_u64)
                    .map(|n| Chunk::Usage {
                        prompt_tokens: None,
                        completion_tokens: Some(n as u32),
                    })
                    .unwrap_or(Chunk::Nothing))
            }
            "message_stop" => Ok(Chunk::End),
            "error" => Err(v
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())),
            _ => Ok(Chunk::Nothing),
        }
    }
    fn is_unknown_model(&self, _status: u16, body: &Value) -> bool {
        body.pointer("/error/type").and_then(Value::as_str) == Some("not_found_error")
            || body
                .pointer("/error/message")
                .and_then(Value::as_str)
                .is_some_and(|m| m.starts_with("model:"))
    }
}
