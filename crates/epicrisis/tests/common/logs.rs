//! The server's log as JSON lines (`EPICRISIS_LOG_FORMAT=json`): a server started that
//! way, and the checks every line must pass.

use super::server::{Served, bin, serve_command};
use serde_json::Value;
use std::path::Path;

/// `epicrisis serve` on loopback with JSON logs and the given settings.
pub fn serve_json(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Served {
    let mut cmd = bin(dir);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("EPICRISIS_LOG_FORMAT", "json");
    for (k, v) in env {
        cmd.env(k, v);
    }
    serve_command(cmd)
}

/// Every line of the log as JSON, each with a time, a level, a target and a message.
pub fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"));
            assert!(v["timestamp"].is_string(), "{line}");
            assert!(
                ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
                    .contains(&v["level"].as_str().unwrap_or("")),
                "{line}"
            );
            assert!(v["target"].is_string(), "{line}");
            assert!(v["message"].is_string(), "{line}");
            v
        })
        .collect()
}

/// The request lines: the method, the route pattern, the status, the time and the
/// span's request id, and nothing else (no URI, no query, no body).
pub fn request_lines(lines: &[Value]) -> Vec<&Value> {
    const KEYS: &[&str] = &[
        "timestamp",
        "level",
        "target",
        "message",
        "method",
        "route",
        "status",
        "duration_ms",
        "span",
    ];
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "epicrisis::requests")
        .collect();
    for l in &requests {
        for key in l.as_object().unwrap().keys() {
            assert!(KEYS.contains(&key.as_str()), "{key} in {l}");
        }
        assert!(l["method"].is_string(), "{l}");
        let route = l["route"].as_str().unwrap();
        assert!(route.starts_with('/') || route == "(sin ruta)", "{l}");
        assert!(l["status"].is_u64(), "{l}");
        assert!(
            l["duration_ms"].is_f64() || l["duration_ms"].is_u64(),
            "{l}"
        );
        assert_eq!(l["span"]["name"], "request", "{l}");
        assert!(
            l["span"]["request_id"]
                .as_str()
                .is_some_and(|id| id.len() >= 16),
            "{l}"
        );
    }
    requests
}
