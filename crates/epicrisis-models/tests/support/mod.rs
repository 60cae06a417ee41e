//! Test support: a file server (the testkit's loopback HTTP server) with Range support
//! and injectable faults, fake catalogue entries, and tiny valid GGUF files.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use epicrisis_models::{
    Artifacts, Downloader, Event, HubConfig, ModelSpec, Need, Pin, Progress, QuantFile,
    Recommendation, RepoFile, Role,
};
use epicrisis_testkit::http;

/// Something to do to the next request (faults are used up one per request, in order).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Send the headers (full Content-Length) and only this many body bytes, then close.
    DropAfter(usize),
    /// Answer this status once.
    Status(u16),
    /// Wait this long before answering.
    Delay(Duration),
    /// Answer 302 to this URL.
    Redirect(String),
}

/// One request the server saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    /// Status answered every time for a path (401 for a gated file…).
    statuses: HashMap<String, u16>,
    faults: VecDeque<Fault>,
    ignore_range: bool,
}

#[derive(Clone)]
pub struct Server {
    pub url: String,
    state: Arc<Mutex<State>>,
    http: http::Server,
}

impl Server {
    pub fn start() -> Server {
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let http = http::Server::start(move |req, out| answer(req, out, &st));
        Server {
            url: http.url.clone(),
            state,
            http,
        }
    }

    /// Serves `body` at `/{path}` (`path` like `org/repo/resolve/main/file`).
    pub fn put(&self, path: &str, body: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(format!("/{path}"), body);
    }
    pub fn status_for(&self, path: &str, status: u16) {
        self.state
            .lock()
            .unwrap()
            .statuses
            .insert(format!("/{path}"), status);
    }
    pub fn fault(&self, f: Fault) {
        self.state.lock().unwrap().faults.push_back(f);
    }
    pub fn ignore_range(&self) {
        self.state.lock().unwrap().ignore_range = true;
    }
    pub fn seen(&self) -> Vec<Seen> {
        self.http
            .requests()
            .iter()
            .map(|r| Seen {
                path: r.target.clone(),
                range: r.header("range").map(str::to_string),
                authorization: r.header("authorization").map(str::to_string),
            })
            .collect()
    }
}

/// Answers one request from the state: the next fault first, then a fixed status, then
/// the file (whole, or from a `Range: bytes=N-` offset).
fn answer(req: &http::Request, out: &mut TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let path = req.target.clone();
    let range = req.header("range").map(str::to_string);
    let (fault, body, status, ignore_range) = {
        let mut s = state.lock().unwrap();
        let fault = s.faults.pop_front();
        (
            fault,
            s.files.get(&path).cloned(),
            s.statuses.get(&path).copied(),
            s.ignore_range,
        )
    };
    let simple = |out: &mut TcpStream, code: u16, headers: &[(&str, &str)]| {
        http::respond(out, code, headers, format!("status {code}\n").as_bytes())
    };
    let mut drop_after = None;
    match fault {
        Some(Fault::Delay(d)) => std::thread::sleep(d),
        Some(Fault::Status(code)) => return simple(out, code, &[]),
        Some(Fault::Redirect(to)) => return simple(out, 302, &[("Location", &to)]),
        Some(Fault::DropAfter(n)) => drop_after = Some(n),
        None => {}
    }
    if let Some(code) = status {
        return simple(out, code, &[]);
    }
    let Some(body) = body else {
        return simple(out, 404, &[]);
    };
    let len = body.len();
    let start = range
        .as_deref()
        .filter(|_| !ignore_range)
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let (code, from, extra) = match start {
        Some(s) if s >= len => {
            let range = format!("bytes */{len}");
            return simple(out, 416, &[("Content-Range", &range)]);
        }
        Some(s) => (
            206,
            s,
            format!("Content-Range: bytes {s}-{}/{len}\r\n", len - 1),
        ),
        None => (200, 0, String::new()),
    };
    let part = &body[from..];
    write!(
        out,
        "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n{extra}\r\n",
        part.len()
    )?;
    match drop_after {
        Some(n) => {
            out.write_all(&part[..n.min(part.len())])?;
            out.flush()?;
            let _ = out.shutdown(std::net::Shutdown::Both);
        }
        None => out.write_all(part)?,
    }
    out.flush()
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// A one-quantization (Q4_K_M) LLM of repository `repo` with file `file`.
pub fn gguf_spec(
    name: &str,
    repo: &str,
    file: &str,
    size: u64,
    pin: Option<(u64, &str)>,
) -> &'static ModelSpec {
    let quants: &'static [QuantFile] = Box::leak(Box::new([QuantFile {
        quant: "Q4_K_M",
        file: leak(file),
        repo: None,
        approx_size: size,
        ram: size * 2,
        pin: pin.map(|(size, sha)| Pin {
            size,
            sha256: leak(sha),
        }),
    }]));
    Box::leak(Box::new(ModelSpec {
        name: leak(name),
        aliases: &[],
        display_name: leak(name),
        role: Role::Llm,
        repo: leak(repo),
        revision: "main",
        licence: "test",
        recommendation: Recommendation::Fixture,
        is_default: false,
        dimension: None,
        notes: "",
        artifacts: Artifacts::Gguf { quants },
    }))
}

/// An embeddings model with these (path, required) files.
pub fn folder_spec(name: &str, repo: &str, files: &[(&str, bool)]) -> &'static ModelSpec {
    let files: Vec<RepoFile> = files
        .iter()
        .map(|(p, req)| RepoFile {
            path: leak(p),
            need: if *req { Need::Required } else { Need::Optional },
            approx_size: 1_000,
            pin: None,
        })
        .collect();
    Box::leak(Box::new(ModelSpec {
        name: leak(name),
        aliases: &[],
        display_name: leak(name),
        role: Role::Embeddings,
        repo: leak(repo),
        revision: "main",
        licence: "test",
        recommendation: Recommendation::Fixture,
        is_default: false,
        dimension: Some(8),
        notes: "",
        artifacts: Artifacts::Folder {
            files: Box::leak(files.into_boxed_slice()),
            ram: 1_000,
        },
    }))
}

/// A valid GGUF file (version 3, file type Q4_K_M, one F32 tensor of `floats` elements
/// whose bytes follow a pattern seeded by `seed`).
pub use epicrisis_testkit::gguf::tiny as tiny_gguf;

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A downloader for the test server: fast retries, short timeouts, no disk check.
pub fn downloader(server: &Server, token: Option<&str>) -> Downloader {
    let mut cfg = HubConfig::new(Some(&server.url), token);
    cfg.retries = 3;
    cfg.backoff = Duration::from_millis(10);
    cfg.max_backoff = Duration::from_millis(50);
    cfg.read_timeout = Duration::from_millis(500);
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.space_margin = 0;
    Downloader::new(cfg)
        .unwrap()
        .with_free_space(|_| Ok(u64::MAX))
}

/// Records event kinds as lines (`start label resumed`, `retry reason`, `skipped reason`…).
#[derive(Default)]
pub struct Recorder {
    pub lines: Vec<String>,
}

impl Progress for Recorder {
    fn event(&mut self, e: &Event<'_>) {
        let line = match e {
            Event::Start {
                label,
                resumed_from,
                total,
                ..
            } => format!("start {label} from {resumed_from} of {total:?}"),
            Event::Retry { reason, .. } => format!("retry {reason}"),
            Event::Skipped { label, reason } => format!("skipped {label}: {reason}"),
            Event::Finished { label, .. } => format!("finished {label}"),
            Event::Verifying { .. } | Event::Bytes { .. } => return,
        };
        self.lines.push(line);
    }
}

/// Every file under `root`, relative, sorted.
pub fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}
