//! The reference edge (`harpoon edge`): a public Streamable HTTP MCP endpoint per tunnel
//! (`/t/{id}/mcp`) whose requests it queues for the polling tunnel, answering each caller when
//! the tunnel posts the reply, or with a clear error when no tunnel is connected or the reply
//! does not come. Several tunnel clients polling the same tunnel share its work.
//!
//! Delivery: a `tools/call` is leased to exactly one tunnel replica and never handed to another
//! (it may have run); requests that change nothing (`initialize`, `tools/list`, `ping`, ...)
//! are requeued if the replica holding them goes quiet, so another replica answers them.

mod handlers;
mod queue;

use axum::Router;
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use handlers::{mcp, metrics, not_allowed, poll, response};
use queue::{Counters, TunnelState};

/// Most commands one poll may take from the edge (tunnel-client asks for up to 25, harpoon's
/// tunnel likewise; the edge accepts a little more from other pollers).
pub const EDGE_MAX_POLL_LIMIT: usize = 64;
/// Default time an MCP caller waits for its reply.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Default most commands queued per tunnel; past it callers get an "overloaded" error.
pub const DEFAULT_MAX_QUEUE: usize = 256;
/// Default long-poll when the tunnel names none.
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(25);
/// Default time a replica may hold a request that changes nothing before it is offered again.
pub const SAFE_LEASE: Duration = Duration::from_secs(10);
/// Most times a request that changes nothing is offered.
pub const MAX_SAFE_DELIVERIES: u8 = 3;
/// A tunnel counts as connected while a poll is open or one ended this recently.
pub const CONNECTED_WINDOW: Duration = Duration::from_secs(5);

/// How the edge is set up.
#[derive(Debug, Clone)]
pub struct EdgeOptions {
    /// (tunnel id, token) pairs; a tunnel polls with `Authorization: Bearer <token>`.
    pub tunnels: Vec<(String, String)>,
    pub call_timeout: Duration,
    pub max_queue: usize,
    /// When set, `/t/{id}/mcp` requires `Authorization: Bearer <client_token>`.
    pub client_token: Option<String>,
    /// How long a replica may hold a request that changes nothing before it is offered again.
    pub safe_lease: Duration,
    /// Test hook: answer the first N reply posts with 503, to prove tunnels retry them.
    #[doc(hidden)]
    pub fail_first_replies: usize,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        Self {
            tunnels: Vec::new(),
            call_timeout: DEFAULT_CALL_TIMEOUT,
            max_queue: DEFAULT_MAX_QUEUE,
            client_token: None,
            safe_lease: SAFE_LEASE,
            fail_first_replies: 0,
        }
    }
}

/// The edge's state, shared by its handlers.
pub struct Edge {
    tunnels: HashMap<String, Arc<TunnelState>>,
    options: EdgeOptions,
    next_id: AtomicU64,
    failing_replies: AtomicUsize,
    counters: Counters,
    /// Distinguishes request ids across edge restarts.
    epoch: u64,
}

impl Edge {
    pub fn new(options: EdgeOptions) -> Arc<Self> {
        let tunnels = options
            .tunnels
            .iter()
            .map(|(id, token)| {
                let state = TunnelState {
                    token: token.clone(),
                    queue: Mutex::default(),
                    available: Notify::new(),
                    open_polls: AtomicUsize::new(0),
                    last_poll: Mutex::new(None),
                };
                (id.clone(), Arc::new(state))
            })
            .collect();
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Arc::new(Self {
            tunnels,
            failing_replies: AtomicUsize::new(options.fail_first_replies),
            options,
            next_id: AtomicU64::new(1),
            counters: Counters::default(),
            epoch,
        })
    }

    /// Offers again the requests that change nothing whose replica went quiet. Runs until
    /// `shutdown` is cancelled.
    pub async fn sweep_leases(self: Arc<Self>, shutdown: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = Instant::now();
            for t in self.tunnels.values() {
                let mut q = t.lock();
                let expired: Vec<String> = q
                    .calls
                    .iter()
                    .filter(|(_, p)| {
                        p.safe
                            && p.deliveries < MAX_SAFE_DELIVERIES
                            && p.leased_until.is_some_and(|u| u < now)
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in expired {
                    if let Some(p) = q.calls.get_mut(&id) {
                        p.leased_until = None;
                    }
                    q.waiting.push_back(id);
                    self.counters.requeued.fetch_add(1, Ordering::Relaxed);
                }
                if !q.waiting.is_empty() {
                    t.available.notify_waiters();
                }
            }
        }
    }
}

/// The edge's routes.
pub fn router(edge: Arc<Edge>) -> Router {
    Router::new()
        .route(
            "/t/{id}/mcp",
            post(mcp).get(not_allowed).delete(not_allowed),
        )
        .route("/v1/tunnels/{id}/poll", get(poll))
        // A reply may be as large as the protocol's bound, past axum's default 2 MiB body limit
        // (the handler refuses anything larger with 413 itself).
        .route(
            "/v1/tunnels/{id}/response",
            post(response).layer(axum::extract::DefaultBodyLimit::max(
                crate::transport::poll_protocol::MAX_REPLY_BODY_BYTES + 1,
            )),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .route("/metrics", get(metrics))
        .with_state(edge)
}
