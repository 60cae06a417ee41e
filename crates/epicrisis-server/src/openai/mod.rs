//! An OpenAI-compatible endpoint with the local model: `GET /v1/models` and
//! `POST /v1/chat/completions` (streaming and not), behind the same authentication as
//! everything else (an API token as `Authorization: Bearer …`, or a session). Other
//! hospital systems, and other epicrisis servers (`MODEL_TYPE=openai` with
//! `OPENAI_BASE_URL=http://this-host:3000/v1`), can so share one generation machine.
//! Prompts and answers are never logged or stored; the audit trail records who called.
//! Only physicians and admins may call it, with a cap on one answer's length and a budget
//! of tokens per user and hour ([`budget`]).

pub mod budget;

use crate::AppState;
use crate::api::audit;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use budget::V1Limits;
use epicrisis_llm::{
    ChatMessage, Event as GenEvent, GenerationError, GenerationRequest, GenerationStats, Generator,
    SamplingSettings, StopReason,
};
use epicrisis_pipeline::engine::Engine;
use epicrisis_store::Role;
use serde::Deserialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(models))
        .routes(routes!(chat))
        .layer(crate::api::body::limit(crate::api::body::TEXT_BODY))
}

fn generator(state: &AppState) -> ApiResult<(Arc<dyn Generator>, SamplingSettings)> {
    match &state.engine {
        Engine::Model {
            generator,
            options,
            external: false,
        } => Ok((generator.clone(), options.sampling.clone())),
        Engine::Model { external: true, .. } => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "este servidor usa un proveedor externo; /v1 solo sirve un modelo local / this server drafts with an external provider: /v1 serves only a local model",
        )),
        Engine::Deterministic => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no hay un modelo local cargado (MODEL_TYPE=local y LOCAL_LLM_PATH, o `epicrisis models download`) / no local model is loaded",
        )),
    }
}

fn openai_error(e: ApiError) -> Response {
    // The OpenAI error shape, so OpenAI clients show the message.
    let kind = match e.status.as_u16() {
        401 => "invalid_api_key",
        404 => "model_not_found",
        429 => "rate_limit_exceeded",
        400 | 422 => "invalid_request_error",
        _ => "server_error",
    };
    let mut r = (
        e.status,
        Json(json!({"error": {"message": e.message, "type": kind, "code": kind}})),
    )
        .into_response();
    if let Some(s) = e.retry_after
        && let Ok(v) = s.to_string().parse()
    {
        r.headers_mut().insert("retry-after", v);
    }
    r
}

/// The local model, as OpenAI's model list (`{object: "list", data: [{id, …}]}`).
#[utoipa::path(get, path = "/v1/models", tag = "openai",
    summary = "Modelo local (forma de OpenAI)",
    description = "El modelo local, como la lista de modelos de OpenAI (`{object: \
                   \"list\", data: [{id, …}]}`). Cualquier rol. Error 503 (en la forma \
                   de OpenAI) si el servidor no tiene un modelo local cargado.",
    responses((status = 200, description = "La lista de modelos, en la forma de OpenAI", body = Object),
              (status = 503, description = "Sin modelo local: un error en la forma de OpenAI", body = Object)))]
async fn models(State(state): State<AppState>, _p: Principal) -> Response {
    match generator(&state) {
        Ok((g, _)) => {
            let info = g.info();
            Json(json!({"object": "list", "data": [{
                "id": info.name, "object": "model", "created": 0, "owned_by": "epicrisis",
                "context_length": info.context_size,
            }]}))
            .into_response()
        }
        Err(e) => openai_error(e),
    }
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: Value,
}

#[derive(Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    stop: Option<Value>,
    seed: Option<u32>,
    /// llama.cpp server's extension: a GBNF grammar the answer must fit.
    grammar: Option<String>,
}

fn content_text(v: &Value) -> ApiResult<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        // [{"type":"text","text":…}, …]
        Value::Array(parts) => Ok(parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("")),
        Value::Null => Ok(String::new()),
        _ => Err(ApiError::bad_request(
            "messages[].content must be a string or a list of text parts",
        )),
    }
}

fn request(
    body: &[u8],
    defaults: SamplingSettings,
    max_tokens: u32,
) -> ApiResult<(ChatRequest, GenerationRequest)> {
    let req: ChatRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the body is not a chat completion request: {e}"))
    })?;
    if req.messages.is_empty() {
        return Err(ApiError::bad_request(
            "messages: at least one message is needed",
        ));
    }
    let mut messages = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let text = content_text(&m.content)?;
        messages.push(match m.role.as_str() {
            "system" | "developer" => ChatMessage::system(text),
            "user" => ChatMessage::user(text),
            "assistant" => ChatMessage::assistant(text),
            other => {
                return Err(ApiError::bad_request(format!(
                    "messages[{i}].role {other:?}: use system, user or assistant"
                )));
            }
        });
    }
    let mut s = defaults;
    s.max_tokens = s.max_tokens.min(max_tokens);
    if let Some(n) = req.max_completion_tokens.or(req.max_tokens) {
        if n > max_tokens {
            return Err(ApiError::bad_request(format!(
                "max_tokens {n} is more than this server allows for one answer ({max_tokens}; \
                 EPICRISIS_V1_MAX_TOKENS)"
            )));
        }
        s.max_tokens = n;
    }
    if let Some(t) = req.temperature {
        s.temperature = t;
    }
    if let Some(p) = req.top_p {
        s.top_p = p;
    }
    if let Some(seed) = req.seed {
        s.seed = seed;
    }
    s.grammar = req.grammar.clone();
    // An OpenAI-compatible caller gets what it asked for; a caller that guards against
    // loops (another epicrisis server) does so on the stream it receives.
    s.loop_words = 0;
    match &req.stop {
        None | Some(Value::Null) => {}
        Some(Value::String(x)) => s.stop = vec![x.clone()],
        Some(Value::Array(xs)) => {
            s.stop = xs
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "stop must be a string or a list of strings",
            ));
        }
    }
    s.validate()
        .map_err(|e| ApiError::bad_request(format!("invalid sampling setting: {e}")))?;
    Ok((req, GenerationRequest::new(messages, s)))
}

fn start_error(e: GenerationError) -> ApiError {
    match e {
        GenerationError::Busy { .. } => ApiError::busy(e.to_string(), 5),
        GenerationError::PromptTooLong { .. } | GenerationError::Settings(_) => {
            ApiError::bad_request(e.to_string())
        }
        other => ApiError::internal(other),
    }
}

fn finish_reason(stats: &GenerationStats) -> &'static str {
    match stats.stop_reason {
        Some(StopReason::MaxTokens) | Some(StopReason::ContextFull) => "length",
        _ => "stop",
    }
}

fn completion_id() -> String {
    crate::auth::random_token()
        .map(|t| format!("chatcmpl-{}", &t[..20]))
        .unwrap_or_else(|_| "chatcmpl-epicrisis".into())
}

/// A chat completion with the local model, in OpenAI's shapes (`stream: true` answers
/// Server-Sent Events of `chat.completion.chunk`). Errors are OpenAI's
/// `{error: {message, type, code}}`.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai",
    summary = "Respuesta de chat del modelo local (forma de OpenAI)",
    description = "Una respuesta de chat del modelo local, en las formas de OpenAI \
                   (`stream: true` responde Server-Sent Events de \
                   `chat.completion.chunk`). Los errores tienen la forma de OpenAI \
                   `{error: {message, type, code}}`. Solo médicos (y admin), con un tope \
                   de largo por respuesta y un presupuesto de tokens por cuenta y hora. \
                   Las instrucciones y las respuestas nunca se guardan ni se registran; \
                   la bitácora registra quién llamó (`llm_completion`). Errores: 400 si \
                   la solicitud no es válida, 403 si el rol no lo permite, 404 si pide \
                   otro modelo, 429 si la cola está llena o se agotó el presupuesto, 503 \
                   sin modelo local.",
    request_body(content = Object, description = "Una solicitud de OpenAI: {model, messages, max_tokens?, temperature?, stream?}"),
    responses((status = 200, description = "Una respuesta de OpenAI (o eventos, con stream)", body = Object),
              (status = 400, description = "Un error en la forma de OpenAI", body = Object),
              (status = 429, description = "La cola está llena", body = Object)))]
async fn chat(State(state): State<AppState>, p: Principal, body: Bytes) -> Response {
    match chat_inner(state, p, body).await {
        Ok(r) => r,
        Err(e) => openai_error(e),
    }
}

async fn chat_inner(state: AppState, p: Principal, body: Bytes) -> ApiResult<Response> {
    p.require(&[Role::Medico], "usar el modelo por /v1")?;
    let limits: V1Limits = state.settings.v1;
    if let Err(wait) = state.v1_budget.check(p.user.id, limits.tokens_per_hour) {
        return Err(ApiError::busy(
            format!(
                "this account spent its {} tokens of the hour on /v1 \
                 (EPICRISIS_V1_TOKENS_PER_HOUR); try again in {} s",
                limits.tokens_per_hour,
                wait.as_secs()
            ),
            wait.as_secs(),
        ));
    }
    let (g, defaults) = generator(&state)?;
    let (req, gen_req) = request(&body, defaults, limits.max_tokens)?;
    let name = g.info().name;
    if let Some(m) = &req.model
        && !m.is_empty()
        && m != &name
        && m != "default"
    {
        return Err(ApiError::not_found(format!(
            "the model {m:?} is not served here; GET /v1/models lists {name:?}"
        )));
    }
    audit(
        &state,
        Some(&p),
        "llm_completion",
        None,
        None,
        json!({"stream": req.stream}),
    )
    .await?;
    let generation = g.start(gen_req).map_err(start_error)?;
    let answer = Answer {
        id: completion_id(),
        created: crate::now_ms() / 1000,
        model: name,
    };
    let cancel = generation.cancel.clone();
    let rx = forward(generation, state.clone(), p.user.id);
    if req.stream {
        Ok(streamed_answer(rx, answer))
    } else {
        whole_answer(rx, cancel, answer).await
    }
}

/// What every answer of one completion carries.
struct Answer {
    id: String,
    created: i64,
    model: String,
}

/// Forwards the backend's (blocking) channel to the async side; a client that goes
/// away stops the generation. What the generation spent is charged to `user`'s budget,
/// also when the client left before the end.
fn forward(
    generation: epicrisis_llm::Generation,
    state: AppState,
    user: i64,
) -> tokio::sync::mpsc::Receiver<GenEvent> {
    let (tx, rx) = tokio::sync::mpsc::channel::<GenEvent>(256);
    tokio::task::spawn_blocking(move || {
        let mut listening = true;
        for ev in generation.events.iter() {
            if let GenEvent::Done(s) = &ev {
                let spent = u64::from(s.prompt_tokens) + u64::from(s.generated_tokens);
                state.v1_budget.spend(user, spent);
            }
            let end = matches!(ev, GenEvent::Done(_) | GenEvent::Failed(_));
            if listening && tx.blocking_send(ev).is_err() {
                // Gone: stop the model, and read on only to charge what it spent.
                generation.cancel.cancel();
                listening = false;
            }
            if end {
                return;
            }
        }
    });
    rx
}

/// `stream: false`: the whole text in one `chat.completion`, with the token counts.
async fn whole_answer(
    mut rx: tokio::sync::mpsc::Receiver<GenEvent>,
    cancel: epicrisis_llm::CancelToken,
    a: Answer,
) -> ApiResult<Response> {
    let mut text = String::new();
    let stats = loop {
        match rx.recv().await {
            Some(GenEvent::Text(t)) => text.push_str(&t),
            Some(GenEvent::Done(s)) => break s,
            Some(GenEvent::Failed(e)) => return Err(start_error(e)),
            Some(GenEvent::Started) => {}
            None => {
                cancel.cancel();
                return Err(ApiError::internal("the model stopped before finishing"));
            }
        }
    };
    Ok(Json(json!({
        "id": a.id, "object": "chat.completion", "created": a.created, "model": a.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": finish_reason(&stats)}],
        "usage": {"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.generated_tokens,
                  "total_tokens": stats.prompt_tokens + stats.generated_tokens},
    }))
    .into_response())
}

/// `stream: true`: Server-Sent Events of `chat.completion.chunk`s, then `[DONE]`.
fn streamed_answer(rx: tokio::sync::mpsc::Receiver<GenEvent>, a: Answer) -> Response {
    let Answer {
        id,
        created,
        model: name,
    } = a;
    let chunk = move |delta: Value, finish: Option<&str>| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": name,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        .to_string()
    };
    let first = chunk(json!({"role": "assistant", "content": ""}), None);
    let stream = futures_util::stream::unfold(
        (Some(first), rx, false, chunk),
        |(first, mut rx, done, chunk)| async move {
            if let Some(f) = first {
                return Some((
                    Ok::<Event, Infallible>(Event::default().data(f)),
                    (None, rx, false, chunk),
                ));
            }
            if done {
                return None;
            }
            loop {
                match rx.recv().await {
                    Some(GenEvent::Text(t)) => {
                        let data = chunk(json!({"content": t}), None);
                        return Some((Ok(Event::default().data(data)), (None, rx, false, chunk)));
                    }
                    Some(GenEvent::Started) => continue,
                    Some(GenEvent::Done(s)) => {
                        let data = chunk(json!({}), Some(finish_reason(&s)));
                        // The final `[DONE]` follows as its own event.
                        return Some((
                            Ok(Event::default().data(data)),
                            (Some("[DONE]".into()), rx, true, chunk),
                        ));
                    }
                    Some(GenEvent::Failed(e)) => {
                        let data =
                            json!({"error": {"message": e.to_string(), "type": "server_error"}})
                                .to_string();
                        return Some((Ok(Event::default().data(data)), (None, rx, true, chunk)));
                    }
                    None => return None,
                }
            }
        },
    );
    Sse::new(stream).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_answer_may_not_ask_for_more_than_the_cap() {
        let body = |n: u32| {
            format!(r#"{{"messages": [{{"role": "user", "content": "x"}}], "max_tokens": {n}}}"#)
        };
        let defaults = SamplingSettings {
            max_tokens: 8192,
            ..SamplingSettings::default()
        };
        let (_, r) = request(body(100).as_bytes(), defaults.clone(), 4096).unwrap();
        assert_eq!(r.settings.max_tokens, 100);
        let Err(e) = request(body(40_000).as_bytes(), defaults.clone(), 4096) else {
            panic!("40,000 tokens were accepted");
        };
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(
            e.message.contains("EPICRISIS_V1_MAX_TOKENS"),
            "{}",
            e.message
        );
        // Without max_tokens, the server's default is held to the cap too.
        let (_, r) = request(
            br#"{"messages": [{"role": "user", "content": "x"}]}"#,
            defaults,
            4096,
        )
        .unwrap();
        assert_eq!(r.settings.max_tokens, 4096);
    }
}
