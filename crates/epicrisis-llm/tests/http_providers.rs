//! The HTTP providers against real HTTP servers on loopback, started here: streaming in
//! both formats, 429 with `Retry-After` then success, 500 then success, a bad key, an
//! unknown model, a refused request, a cut stream, stop strings and cancellation.
#![cfg(feature = "http")]

use epicrisis_llm::http::{ApiKey, HttpSettings, anthropic, openai};
use epicrisis_llm::{
    ChatMessage, Event, GenerationRequest, Generator, SamplingSettings, StopReason,
};
use epicrisis_testkit::http;
use std::io::Write;
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A scripted answer.
#[derive(Clone)]
enum Reply {
    /// Status, extra headers, body.
    Plain(u16, Vec<(&'static str, String)>, String),
    /// An SSE body, sent in pieces; `cut` closes the connection without the end marker.
    Stream(Vec<String>),
}

/// A loopback server (the testkit's) that answers each request with the next scripted
/// reply; it records every request.
struct Server {
    url: String,
    http: http::Server,
}

impl Server {
    /// Every request so far as text: request line, headers, blank line, body.
    fn requests(&self) -> Vec<String> {
        self.http
            .requests()
            .iter()
            .map(|r| {
                let mut t = format!("{} {} HTTP/1.1\r\n", r.method, r.target);
                for (k, v) in &r.headers {
                    t.push_str(&format!("{k}: {v}\r\n"));
                }
                t.push_str("\r\n");
                t + &r.text()
            })
            .collect()
    }
}

fn serve(script: Vec<Reply>) -> Server {
    let script = Mutex::new(script.into_iter());
    let http = http::Server::start(move |_, conn| {
        let reply = script.lock().unwrap().next().unwrap_or(Reply::Plain(
            500,
            vec![],
            "script ended".into(),
        ));
        answer(conn, reply);
        Ok(())
    });
    Server {
        url: http.url.clone(),
        http,
    }
}

fn answer(conn: &mut TcpStream, reply: Reply) {
    match reply {
        Reply::Plain(status, headers, body) => {
            let mut s = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                s.push_str(&format!("{k}: {v}\r\n"));
            }
            s.push_str("\r\n");
            s.push_str(&body);
            let _ = conn.write_all(s.as_bytes());
        }
        Reply::Stream(pieces) => {
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
            );
            for p in pieces {
                let _ = conn.write_all(p.as_bytes());
                let _ = conn.flush();
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    let _ = conn.shutdown(std::net::Shutdown::Both);
}

fn openai_stream(words: &[&str], done: bool) -> Reply {
    let mut v: Vec<String> = words
        .iter()
        .map(|w| {
            format!(
                "data: {}\n\n",
                serde_json::json!({"choices":[{"index":0,"delta":{"content":w}}]})
            )
        })
        .collect();
    if done {
        v.push(
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
                .into(),
        );
        v.push(
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}\n\n"
                .into(),
        );
        v.push("data: [DONE]\n\n".into());
    }
    Reply::Stream(v)
}

fn anthropic_stream(words: &[&str], done: bool) -> Reply {
    let mut v = vec![
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":9}}}\n\n".to_string(),
        "event: ping\ndata: {\"type\":\"ping\"}\n\n".to_string(),
    ];
    for w in words {
        v.push(format!(
            "event: content_block_delta\ndata: {}\n\n",
            serde_json::json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":w}})
        ));
    }
    if done {
        v.push("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":3}}\n\n".into());
        v.push("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".into());
    }
    Reply::Stream(v)
}

fn settings(url: &str, model: &str) -> HttpSettings {
    let mut s = HttpSettings::new(url, model);
    s.api_key = Some(ApiKey::new("sk-test-SECRETKEY"));
    s.backoff = Duration::from_millis(10);
    s.read_timeout = Duration::from_secs(5);
    s
}

fn request() -> GenerationRequest {
    GenerationRequest::new(
        vec![
            ChatMessage::system("Eres un médico."),
            ChatMessage::user("Resume."),
        ],
        SamplingSettings::default(),
    )
}

#[test]
fn openai_streams_text_and_sends_the_settings() {
    let s = serve(vec![openai_stream(
        &["Evoluciona ", "favorable", "mente."],
        true,
    )]);
    let g = openai::open(settings(&format!("{}/v1", s.url), "gpt-test")).unwrap();
    let mut pieces = Vec::new();
    let (text, stats) = g
        .start(request())
        .unwrap()
        .collect_with(|t| pieces.push(t.to_string()))
        .unwrap();
    assert_eq!(text, "Evoluciona favorablemente.");
    assert!(pieces.len() >= 2, "streamed in pieces: {pieces:?}");
    assert_eq!(stats.stop_reason, Some(StopReason::EndOfText));
    assert_eq!((stats.prompt_tokens, stats.generated_tokens), (12, 3));
    let req = &s.requests()[0];
    assert!(req.starts_with("POST /v1/chat/completions"));
    assert!(
        req.to_lowercase()
            .contains("authorization: bearer sk-test-secretkey")
    );
    for part in [
        "\"model\":\"gpt-test\"",
        "\"stream\":true",
        "\"max_tokens\":2048",
        "\"seed\":20584",
        "\"top_p\":0.9",
    ] {
        assert!(req.contains(part), "{part} missing from {req}");
    }
    assert_eq!(g.info().backend, "openai");
}

#[test]
fn anthropic_streams_text_and_sends_its_format() {
    let s = serve(vec![anthropic_stream(&["Sin ", "incidentes."], true)]);
    let g = anthropic::open(settings(&s.url, "claude-test")).unwrap();
    let (text, stats) = g.start(request()).unwrap().collect().unwrap();
    assert_eq!(text, "Sin incidentes.");
    assert_eq!((stats.prompt_tokens, stats.generated_tokens), (9, 3));
    let req = &s.requests()[0];
    assert!(req.starts_with("POST /v1/messages"));
    let lower = req.to_lowercase();
    assert!(lower.contains("x-api-key: sk-test-secretkey"));
    assert!(lower.contains("anthropic-version: 2023-06-01"));
    assert!(req.contains("\"system\":\"Eres un médico.\""));
}

#[test]
fn a_429_with_retry_after_is_waited_for_then_retried() {
    let s = serve(vec![
        Reply::Plain(
            429,
            vec![("retry-after", "1".into())],
            r#"{"error":{"message":"slow down"}}"#.into(),
        ),
        openai_stream(&["Listo."], true),
    ]);
    let g = openai::open(settings(&s.url, "m")).unwrap();
    let t = Instant::now();
    let (text, _) = g.start(request()).unwrap().collect().unwrap();
    assert_eq!(text, "Listo.");
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "Retry-After honoured"
    );
    assert_eq!(s.requests().len(), 2);
}

#[test]
fn a_500_then_success_and_an_overloaded_anthropic() {
    let s = serve(vec![
        Reply::Plain(500, vec![], "oops".into()),
        openai_stream(&["Bien."], true),
    ]);
    let g = openai::open(settings(&s.url, "m")).unwrap();
    assert_eq!(g.start(request()).unwrap().collect().unwrap().0, "Bien.");
    let s = serve(vec![
        Reply::Plain(
            529,
            vec![],
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.into(),
        ),
        anthropic_stream(&["Bien."], true),
    ]);
    let g = anthropic::open(settings(&s.url, "m")).unwrap();
    assert_eq!(g.start(request()).unwrap().collect().unwrap().0, "Bien.");
}

#[test]
fn retries_end_with_a_clear_error() {
    let s = serve(vec![Reply::Plain(503, vec![], "down".into()); 3]);
    let mut st = settings(&s.url, "m");
    st.max_retries = 2;
    let g = openai::open(st).unwrap();
    let e = g
        .start(request())
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 tries") && e.contains("HTTP 503"), "{e}");
}

#[test]
fn a_bad_key_names_the_setting_and_never_shows_the_key() {
    let s = serve(vec![Reply::Plain(
        401,
        vec![],
        r#"{"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}}"#.into(),
    )]);
    let g = openai::open(settings(&s.url, "m")).unwrap();
    let e = g
        .start(request())
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(e.contains("OPENAI_API_KEY") && e.contains("401"), "{e}");
    assert!(!e.contains("SECRETKEY"));
    assert_eq!(s.requests().len(), 1, "never retried");
    let s = serve(vec![Reply::Plain(
        401,
        vec![],
        r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#
            .into(),
    )]);
    let g = anthropic::open(settings(&s.url, "m")).unwrap();
    let e = g
        .start(request())
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ANTHROPIC_API_KEY") && e.contains("invalid x-api-key"),
        "{e}"
    );
}

#[test]
fn an_unknown_model_names_the_model_and_the_url() {
    let s = serve(vec![Reply::Plain(
        404,
        vec![],
        r#"{"error":{"message":"The model `gpt-9` does not exist","code":"model_not_found"}}"#
            .into(),
    )]);
    let g = openai::open(settings(&s.url, "gpt-9")).unwrap();
    let e = g
        .start(request())
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("«gpt-9»") && e.contains(&s.url) && e.contains("OPENAI_MODEL"),
        "{e}"
    );
    let s = serve(vec![Reply::Plain(
        400,
        vec![],
        r#"{"error":{"message":"model 'llama9' not found","code":"model_not_found"}}"#.into(),
    )]);
    let g = openai::open(settings(&s.url, "llama9")).unwrap();
    let e = g
        .start(request())
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(e.contains("«llama9»"), "{e}");
}

#[test]
fn a_refused_request_shows_the_providers_message() {
    let s = serve(vec![Reply::Plain(400, vec![], r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: 99999 > 8192"}}"#.into())]);
    let g = anthropic::open(settings(&s.url, "m")).unwrap();
    let e = g
        .start(request())
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("refused") && e.contains("max_tokens: 99999 > 8192"),
        "{e}"
    );
}

#[test]
fn a_cut_stream_is_an_error_and_not_retried_after_text() {
    let s = serve(vec![
        openai_stream(&["Evoluciona ", "favo"], false),
        openai_stream(&["x"], true),
    ]);
    let g = openai::open(settings(&s.url, "m")).unwrap();
    let e = g
        .start(request())
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(e.contains("cut"), "{e}");
    assert_eq!(s.requests().len(), 1, "text was streamed: no retry");
    let s = serve(vec![anthropic_stream(&["Sin "], false)]);
    let g = anthropic::open(settings(&s.url, "m")).unwrap();
    assert!(
        g.start(request())
            .unwrap()
            .collect()
            .unwrap_err()
            .to_string()
            .contains("cut")
    );
}

#[test]
fn a_cut_before_any_text_is_retried() {
    let s = serve(vec![Reply::Stream(vec![]), openai_stream(&["Bien."], true)]);
    let g = openai::open(settings(&s.url, "m")).unwrap();
    assert_eq!(g.start(request()).unwrap().collect().unwrap().0, "Bien.");
}

#[test]
fn an_error_event_inside_the_stream() {
    let mut r = anthropic_stream(&["Sin "], false);
    if let Reply::Stream(v) = &mut r {
        v.push("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n".into());
    }
    let s = serve(vec![r]);
    let g = anthropic::open(settings(&s.url, "m")).unwrap();
    let e = g
        .start(request())
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(e.contains("Overloaded"), "{e}");
}

#[test]
fn stop_strings_cut_the_text() {
    let s = serve(vec![openai_stream(&["Uno. ", "###", " dos"], true)]);
    let g = openai::open(settings(&s.url, "m")).unwrap();
    let mut req = request();
    req.settings.stop = vec!["###".into()];
    let (text, stats) = g.start(req).unwrap().collect().unwrap();
    assert_eq!(text, "Uno. ");
    assert_eq!(stats.stop_reason, Some(StopReason::StopString));
}

#[test]
fn cancellation_stops_the_stream() {
    let words: Vec<String> = (0..400).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let s = serve(vec![openai_stream(&refs, true)]);
    let g = openai::open(settings(&s.url, "m")).unwrap();
    let gen_ = g.start(request()).unwrap();
    let mut got = 0;
    loop {
        match gen_.events.recv_timeout(Duration::from_secs(5)).unwrap() {
            Event::Text(_) => {
                got += 1;
                if got == 3 {
                    gen_.cancel();
                }
            }
            Event::Done(st) => {
                assert_eq!(st.stop_reason, Some(StopReason::Cancelled));
                break;
            }
            Event::Failed(e) => panic!("{e}"),
            Event::Started => {}
        }
    }
    assert!(got < 400);
}

#[test]
fn an_unreachable_server_is_named() {
    let port = epicrisis_testkit::free_port().unwrap();
    let mut st = settings(&format!("http://127.0.0.1:{port}/v1"), "m");
    st.max_retries = 1;
    let g = openai::open(st).unwrap();
    let e = g
        .start(request())
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 tries") && e.contains("127.0.0.1"), "{e}");
}
