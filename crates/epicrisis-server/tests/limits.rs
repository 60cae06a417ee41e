//! The accept loop's limits on a real socket (`src/listen.rs`): a client that sends its
//! headers or its body too slowly is cut off, and past the connection cap newcomers wait
//! for a slot instead of being served at once. Margins are wide: these check behaviour,
//! not speed.

use std::time::{Duration, Instant};

use epicrisis_pipeline::engine::Engine;
use epicrisis_server::listen::Limits;
use epicrisis_server::{Server, Settings};
use epicrisis_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(limits: Limits) -> (tempfile::TempDir, String, tokio::sync::oneshot::Sender<()>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("limits.db").display());
    let store = Store::open(&url).await.unwrap();
    let settings = Settings {
        log_requests: false,
        worker: false,
        limits,
        ..Settings::default()
    };
    let server = Server::new(store, Engine::Deterministic, settings).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(listener, async move {
        let _ = rx.await;
    }));
    (dir, addr, tx)
}

fn limits(max_connections: usize, header_s: u64, body_s: u64) -> Limits {
    Limits {
        max_connections,
        header_timeout: Duration::from_secs(header_s),
        body_timeout: Duration::from_secs(body_s),
        drain: Duration::from_secs(5),
    }
}

/// Reads until the server closes the connection (or 30 s pass); returns what came.
async fn read_to_close(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

async fn health(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    read_to_close(&mut s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    let (_dir, addr, _stop) = start(limits(64, 1, 60)).await;
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let t = Instant::now();
    // Half a request line, then nothing.
    s.write_all(b"GET /api/health HTTP/1.1\r\nHost:")
        .await
        .unwrap();
    let answer = read_to_close(&mut s).await;
    let waited = t.elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "the connection stayed open {waited:?}"
    );
    assert!(!answer.contains("200 OK"), "{answer}");
    // An honest client is still served.
    assert!(health(&addr).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_cut_off() {
    let (_dir, addr, _stop) = start(limits(64, 30, 1)).await;
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let t = Instant::now();
    s.write_all(
        b"POST /login HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 1000\r\nConnection: close\r\n\r\nusername=ana&pass",
    )
    .await
    .unwrap();
    let answer = read_to_close(&mut s).await;
    let waited = t.elapsed();
    // The login form waited for the rest of its body, then gave up: a 4xx, not a login.
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_cap_newcomers_wait_for_a_slot() {
    let (_dir, addr, stop) = start(limits(8, 2, 60)).await;
    // Eight idle connections take every slot…
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // …so the ninth is answered only once the header timeout has closed one of them.
    let t = Instant::now();
    let answer = health(&addr).await;
    let waited = t.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        waited >= Duration::from_millis(1000),
        "served at once ({waited:?}) although every slot was taken"
    );
    drop(idle);
    // With slots free, at once (well within the header timeout).
    let t = Instant::now();
    assert!(health(&addr).await.starts_with("HTTP/1.1 200"));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let _ = stop.send(());
}
