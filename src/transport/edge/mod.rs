//! The reference edge (`harpoon edge`): a local model of OpenAI's tunnel service. MCP clients
//! call the connector endpoint `/v1/mcp/{tunnel_id}`; their requests are queued as commands for
//! the polling tunnels (`/v1/tunnels/{id}/poll`), and each caller is answered when a tunnel
//! posts the final reply (`/v1/tunnels/{id}/response`), with progress relayed as SSE events
//! first, or with a clear error when no tunnel is connected or the reply does not come.
//!
//! - `connector`: the callers' side (POST, DELETE, the SSE relay);
//! - `control`: the tunnels' side (metadata, poll, response);
//! - `queue`: pending commands, leases, batches bounded in bytes;
//! - `guard`, `caller_headers`, `answers`, `metrics`: what those share.
//!
//! Delivery: a `tools/call` is leased to exactly one tunnel replica and never handed to another
//! (it may have run); requests that change nothing (`initialize`, `tools/list`, `ping`, ...)
//! are requeued if the replica holding them goes quiet, so another replica answers them.

mod answers;
mod caller_headers;
mod connector;
mod control;
mod guard;
mod metrics;
mod queue;

use axum::Router;
use axum::routing::{get, post};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use queue::{Counters, TunnelState};

pub use queue::NOTIFY_BUFFER;

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
    /// When set, `/v1/mcp/{id}` requires `Authorization: Bearer <client_token>`.
    pub client_token: Option<String>,
    /// How long a replica may hold a request that changes nothing before it is offered again.
    pub safe_lease: Duration,
    /// Most bytes of one poll answer: batches are filled up to it, and a request larger than it
    /// alone is refused (413). The tunnel reads up to the same bound.
    pub max_poll_bytes: usize,
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
            max_poll_bytes: crate::transport::poll_protocol::MAX_POLL_BODY_BYTES,
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
    /// Keys the shard tokens: random per process, so a token cannot be guessed from its id.
    shard_key: std::collections::hash_map::RandomState,
}

impl Edge {
    pub fn new(options: EdgeOptions) -> Arc<Self> {
        let tunnels = options
            .tunnels
            .iter()
            .map(|(id, token)| (id.clone(), Arc::new(TunnelState::new(token.clone()))))
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
            shard_key: std::collections::hash_map::RandomState::new(),
        })
    }

    /// A fresh request id: opaque, unique across restarts.
    fn next_request_id(&self) -> String {
        format!(
            "req_{:x}_{}",
            self.epoch,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The shard token of a request: 32 hex characters keyed by this process's random key.
    fn shard_token(&self, request_id: &str) -> String {
        let half = |salt: u8| self.shard_key.hash_one((salt, request_id));
        format!("{:016x}{:016x}", half(1), half(2))
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
            "/v1/mcp/{id}",
            post(connector::post)
                .delete(connector::delete)
                .get(connector::not_allowed),
        )
        .route("/v1/tunnels/{id}", get(control::metadata))
        .route("/v1/tunnels/{id}/poll", get(control::poll))
        // A reply may be as large as the protocol's bound, past axum's default 2 MiB body limit
        // (the handler refuses anything larger with 413 itself).
        .route(
            "/v1/tunnels/{id}/response",
            post(control::response).layer(axum::extract::DefaultBodyLimit::max(
                crate::transport::poll_protocol::MAX_REPLY_BODY_BYTES + 1,
            )),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .route("/metrics", get(metrics::metrics))
        .with_state(edge)
}
