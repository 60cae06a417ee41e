//! The accept loop: HTTP/1.1 connections with the limits a hospital network needs from a
//! server that one careless or hostile client must not stall (issue 17, item 4).
//!
//! - **A connection cap** ([`Limits::max_connections`]): past it the loop stops accepting
//!   (the kernel's backlog holds newcomers) until a connection ends, so a flood of idle
//!   sockets cannot exhaust the process's file descriptors or memory.
//! - **A header-read timeout** ([`Limits::header_timeout`]): a client must send a
//!   request's headers within it, and an idle keep-alive connection is closed after it
//!   (hyper's `header_read_timeout`). A slow-headers attack ("slowloris") holds a slot for
//!   seconds, not forever.
//! - **A body-read timeout** ([`Limits::body_timeout`]): the whole body must arrive within
//!   it (tower-http's `RequestBodyTimeoutLayer`, applied in [`crate::router`]); an answer
//!   that takes long (an event stream, a draft) is not cut, only a client that sends slowly.
//!
//! - **TLS**, when configured ([`crate::tls`]): the handshake is bounded by the header
//!   timeout too, and each connection takes the certificate current when it arrives.
//!
//! Each connection carries the client's address (`ConnectInfo`), as `axum::serve` did.
//! A shutdown stops accepting, asks every connection to finish its request in flight and
//! close, and waits for them up to [`Limits::drain`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// What one server accepts from its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    /// How long a shutdown waits for open connections.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            drain: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains the connections;
/// over TLS when `tls` is given (the handshake must finish within the header timeout).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<crate::tls::Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, addr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                // Out of descriptors, or a connection reset before it was accepted: wait a
                // moment instead of spinning, and go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let stop = stop_rx.clone();
        let acceptor = tls.as_ref().map(crate::tls::Tls::acceptor);
        tokio::spawn(async move {
            match acceptor {
                None => connection(stream, addr, app, limits, stop).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(limits.header_timeout, acceptor.accept(stream));
                    // A client that cannot or will not finish the handshake is dropped.
                    if let Ok(Ok(stream)) = handshake.await {
                        connection(stream, addr, app, limits, stop).await;
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every slot back means every connection ended.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limits.drain, slots.acquire_many(all)).await;
    Ok(())
}

/// One HTTP/1.1 connection (plain or TLS) until it ends or the server stops.
async fn connection<I>(
    io: I,
    addr: std::net::SocketAddr,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(addr));
        app.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = async { drop(stop.wait_for(|s| *s).await) } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
