//! The last calls, for the admin page (`/ui`): a bounded ring of what each call's audit record
//! says that the policy chose — the tool (as the policy names it), the target label, the method,
//! the decision and reason code — and numbers. Never a path, an argument, a body, a header or a
//! token's subject: those come from callers and upstreams. It hangs on the `Metrics` a reloaded
//! engine shares, so it survives reloads.

use crate::telemetry::CallRecord;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Calls kept: enough to see what just happened on a busy server, small enough that a page
/// poll (every two seconds) stays a few dozen KiB.
pub const RECENT_CALLS: usize = 200;

/// One call as the admin page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentCall {
    /// 1 for the first call since the process started, counting up.
    pub seq: u64,
    /// When the call finished, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The tool as the policy names it; `_unknown` for a name the policy does not have (the
    /// caller's text is not kept).
    pub tool: String,
    /// The target label, when the call named a known target.
    pub target: String,
    pub method: String,
    pub decision: &'static str,
    pub reason: &'static str,
    /// The upstream's status, 0 when nothing was answered.
    pub status: u16,
    pub latency_us: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
}

#[derive(Default)]
struct Ring {
    calls: VecDeque<RecentCall>,
    next_seq: u64,
}

/// The ring. Pushing costs one short lock and a few small allocations per call.
#[derive(Default)]
pub struct RecentCalls {
    ring: Mutex<Ring>,
}

impl RecentCalls {
    /// Keeps `r`, dropping the oldest call past `RECENT_CALLS`.
    pub fn push(&self, r: &CallRecord) {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        // An unknown tool's name is the caller's text; the target and method are only set
        // from the policy, so they pass as they are.
        let tool = if r.reason == "unknown_tool" {
            "_unknown"
        } else {
            r.tool
        };
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.next_seq += 1;
        let call = RecentCall {
            seq: ring.next_seq,
            time_ms,
            tool: tool.to_owned(),
            target: r.target.to_owned(),
            method: r.method.to_owned(),
            decision: r.decision,
            reason: r.reason,
            status: r.status,
            latency_us: r.duration_us,
            bytes_out: r.bytes_out,
            bytes_in: r.bytes_in,
        };
        if ring.calls.len() == RECENT_CALLS {
            ring.calls.pop_front();
        }
        ring.calls.push_back(call);
    }

    /// The calls kept, newest first.
    pub fn newest_first(&self) -> Vec<RecentCall> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.calls.iter().rev().cloned().collect()
    }
}
