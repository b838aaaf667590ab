//! How every harpoon listener serves HTTP (`serve`, the edge, the demo API, the tunnel's health
//! port): each connection with `TCP_NODELAY`, a bound on how long a client may take to send a
//! request's headers, and a cap on open connections. `axum::serve` has neither bound: 40
//! connections that send half a request line stayed open for good.

use super::self_wake::PollAgainOnSelfWake;
use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Layer;

/// How long a client may take to send a request's headers, on a new connection and between
/// requests on a kept-alive one: far longer than any real client needs on any network, short
/// enough that a slow-loris client holds a connection for seconds, not forever.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Most connections open at once on one listener. An MCP client holds one or two; past the cap
/// a new connection is closed at once, and the ones open keep being served.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The bounds of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ListenLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The most a connection buffers: a request's header section, or a reply's bytes queued
/// ahead of the socket.
pub const MAX_BUFFERED_BYTES: usize = 64 * 1024;

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and waits for
/// the connections in flight to finish (streams end when the app's own shutdown token is
/// cancelled).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ListenLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // hyper's default lets a connection queue about 400 KiB of a reply ahead of a slow
        // reader, on top of the body the reply is made from; 64 KiB keeps a large streamed
        // result near one copy of its body (docs/performance.md, memory bound). It also caps a
        // request's header section at 64 KiB, more than any MCP client sends.
        .max_buf_size(MAX_BUFFERED_BYTES)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // A refused accept (out of file descriptors, a reset in the backlog) ends no
                // other connection; a short pause keeps a persistent error from spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        // The peer's address, as axum's `ConnectInfo` (the admin page answers loopback peers).
        let service = TowerToHyperService::new(Extension(ConnectInfo(peer)).layer(app.clone()));
        let conn = builder.serve_connection(TokioIo::new(tcp), service);
        // hyper wakes the connection's task during its own poll on every request with a body;
        // answered in place, that wake costs no second thread (`self_wake` says why).
        let conn = PollAgainOnSelfWake::new(graceful.watch(conn));
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    graceful.shutdown().await;
}
