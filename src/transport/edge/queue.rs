//! What the edge holds per tunnel: its queue of pending requests, leases and counters.

use super::CONNECTED_WINDOW;
use crate::transport::poll_protocol::{Command, Reply};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;
use tokio::sync::{Notify, oneshot};

pub(super) struct Pending {
    pub(super) command: Command,
    /// Where the final answer goes (taken when it arrives).
    pub(super) reply: Option<oneshot::Sender<Reply>>,
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
}

/// Counts of what the edge did, for `/metrics`.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) calls: AtomicU64,
    pub(super) notifications: AtomicU64,
    pub(super) replies: AtomicU64,
    pub(super) no_tunnel: AtomicU64,
    pub(super) timeouts: AtomicU64,
    pub(super) overloaded: AtomicU64,
    pub(super) requeued: AtomicU64,
}
