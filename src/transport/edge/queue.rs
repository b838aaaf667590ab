//! What the edge holds per tunnel: its queue of pending commands, their leases, where their
//! answers go, and the edge's counters. Batches are filled up to the poll bound in bytes.

use super::CONNECTED_WINDOW;
use crate::transport::poll_protocol::Reply;
use serde_json::value::RawValue;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot};

/// Progress notifications held for one caller before more are dropped (as the service's local
/// model does): a tunnel that floods progress cannot grow the edge's memory.
pub const NOTIFY_BUFFER: usize = 16;

pub(super) struct Pending {
    /// The command as it goes on the wire, written once when it was queued; its length counts
    /// against a poll answer's bound.
    pub(super) wire: Box<RawValue>,
    /// The command's shard token, which every reply post for it must carry.
    pub(super) shard_token: String,
    /// Where the final answer goes (taken when it arrives).
    pub(super) reply: Option<oneshot::Sender<Reply>>,
    /// Where `jsonrpc_notify` posts go, when the caller takes an event stream.
    pub(super) notes: Option<mpsc::Sender<Reply>>,
    /// Set while a replica holds it.
    pub(super) leased_until: Option<Instant>,
    /// Whether offering it again cannot run anything twice.
    pub(super) safe: bool,
    pub(super) deliveries: u8,
}

#[derive(Default)]
pub(super) struct Queue {
    pub(super) waiting: VecDeque<String>,
    pub(super) calls: HashMap<String, Pending>,
}

pub(super) struct TunnelState {
    pub(super) token: String,
    pub(super) queue: Mutex<Queue>,
    pub(super) available: Notify,
    pub(super) open_polls: AtomicUsize,
    pub(super) last_poll: Mutex<Option<Instant>>,
}

impl TunnelState {
    pub(super) fn new(token: String) -> Self {
        Self {
            token,
            queue: Mutex::default(),
            available: Notify::new(),
            open_polls: AtomicUsize::new(0),
            last_poll: Mutex::new(None),
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn connected(&self) -> bool {
        self.open_polls.load(Ordering::SeqCst) > 0
            || self
                .last_poll
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|t| t.elapsed() < CONNECTED_WINDOW)
    }

    pub(super) fn touch(&self) {
        *self.last_poll.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Leases waiting commands to the polling replica: at most `limit`, and no more than fit in
    /// `max_bytes` together (a command that would not fit waits for the next poll; no single
    /// command is larger than the bound, the connector refuses those).
    pub(super) fn take(
        &self,
        limit: usize,
        max_bytes: usize,
        safe_lease: Duration,
        call_timeout: Duration,
    ) -> Vec<Box<RawValue>> {
        let mut q = self.lock();
        let mut out = Vec::new();
        let mut used = ENVELOPE_BYTES;
        let now = Instant::now();
        while out.len() < limit {
            let Some(rid) = q.waiting.front().cloned() else {
                break;
            };
            let Some(p) = q.calls.get_mut(&rid) else {
                q.waiting.pop_front();
                continue;
            };
            let bytes = p.wire.get().len();
            if !out.is_empty() && used + bytes + 1 > max_bytes {
                break;
            }
            used += bytes + 1;
            p.deliveries += 1;
            p.leased_until = Some(now + if p.safe { safe_lease } else { call_timeout });
            out.push(p.wire.clone());
            q.waiting.pop_front();
        }
        out
    }
}

/// The bytes of a poll answer around its commands: `{"commands":[]}`.
pub const ENVELOPE_BYTES: usize = 15;

/// Removes a call its caller gave up on (or that was answered), so it is not delivered later.
pub(super) struct Abandon {
    pub(super) tunnel: Arc<TunnelState>,
    pub(super) request_id: String,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        let mut q = self.tunnel.lock();
        q.calls.remove(&self.request_id);
        q.waiting.retain(|r| *r != self.request_id);
    }
}

/// Counts of what the edge did, for `/metrics`.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) calls: AtomicU64,
    pub(super) notifications: AtomicU64,
    pub(super) notifications_dropped: AtomicU64,
    pub(super) replies: AtomicU64,
    pub(super) no_tunnel: AtomicU64,
    pub(super) timeouts: AtomicU64,
    pub(super) overloaded: AtomicU64,
    pub(super) too_large: AtomicU64,
    pub(super) requeued: AtomicU64,
}
