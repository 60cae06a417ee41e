//! Test support: a small HTTP/1.1 file server on 127.0.0.1 with Range support and
//! injectable faults, fake catalogue entries, and tiny valid GGUF files.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use epicrisis_models::{
    Artifacts, Downloader, Event, HubConfig, ModelSpec, Need, Pin, Progress, QuantFile,
    Recommendation, RepoFile, Role,
};

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
    seen: Vec<Seen>,
}

#[derive(Clone)]
pub struct Server {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = handle(conn, &st);
                });
            }
        });
        Server { url, state }
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
        self.state.lock().unwrap().seen.clone()
    }
}

fn handle(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let v = v.trim().to_string();
            match k.trim().to_ascii_lowercase().as_str() {
                "range" => range = Some(v),
                "authorization" => authorization = Some(v),
                _ => {}
            }
        }
    }
    let (fault, body, status, ignore_range) = {
        let mut s = state.lock().unwrap();
        s.seen.push(Seen {
            path: path.clone(),
            range: range.clone(),
            authorization,
        });
        let fault = s.faults.pop_front();
        (
            fault,
            s.files.get(&path).cloned(),
            s.statuses.get(&path).copied(),
            s.ignore_range,
        )
    };
    let mut out = conn;
    let simple = |out: &mut TcpStream, code: u16, extra: &str| {
        let text = format!("status {code}\n");
        write!(
            out,
            "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{text}",
            text.len()
        )
    };
    let mut drop_after = None;
    match fault {
        Some(Fault::Delay(d)) => std::thread::sleep(d),
        Some(Fault::Status(code)) => return simple(&mut out, code, ""),
        Some(Fault::Redirect(to)) => return simple(&mut out, 302, &format!("Location: {to}\r\n")),
        Some(Fault::DropAfter(n)) => drop_after = Some(n),
        None => {}
    }
    if let Some(code) = status {
        return simple(&mut out, code, "");
    }
    let Some(body) = body else {
        return simple(&mut out, 404, "");
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
            return simple(&mut out, 416, &format!("Content-Range: bytes */{len}\r\n"));
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
pub fn tiny_gguf(floats: u64, seed: u8) -> Vec<u8> {
    let mut b: Vec<u8> = Vec::new();
    b.extend_from_slice(b"GGUF");
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes()); // tensors
    b.extend_from_slice(&2u64.to_le_bytes()); // metadata
    let s = |b: &mut Vec<u8>, x: &str| {
        b.extend_from_slice(&(x.len() as u64).to_le_bytes());
        b.extend_from_slice(x.as_bytes());
    };
    s(&mut b, "general.architecture");
    b.extend_from_slice(&8u32.to_le_bytes());
    s(&mut b, "llama");
    s(&mut b, "general.file_type");
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&15u32.to_le_bytes()); // Q4_K_M
    s(&mut b, "w");
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&floats.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // F32
    b.extend_from_slice(&0u64.to_le_bytes());
    while !b.len().is_multiple_of(32) {
        b.push(0);
    }
    b.extend((0..floats * 4).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    b
}

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
