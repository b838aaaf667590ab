//! The calls a tunnel is running, so a `notifications/cancelled` reaches the call it names and
//! no other. JSON-RPC ids are unique only per client, and every 2026-07-28 call comes without a
//! session, so a call is known by who sent it as well as by its id: the connector's session
//! (`Mcp-Session-Id`, empty when there is none) and the caller's `Authorization`, kept only as a
//! keyed hash. Callers with no `Authorization` are one caller to harpoon anyway (anonymous).
//!
//! A call is removed only by the call that registered it, and a second call with the key of one
//! still running is not registered: the first stays the one a cancellation reaches.

use crate::transport::poll_protocol::PolledCommand;
use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;

/// Who sent a call, and its JSON-RPC id as JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CallKey {
    session: String,
    caller: u64,
    id: String,
}

#[derive(Default)]
pub(super) struct InFlight {
    calls: Mutex<HashMap<CallKey, (u64, CancellationToken)>>,
    /// Numbers each registration, so a call removes its own entry and never another's.
    next: AtomicU64,
    /// Keys the hash of each `Authorization`, so the map holds no token.
    hasher: RandomState,
}

/// A registered call: removed from the map when this is dropped, however the call ends.
pub(super) struct Registered<'a> {
    in_flight: &'a InFlight,
    key: CallKey,
    number: u64,
}

impl InFlight {
    fn key(&self, command: &PolledCommand, id: &serde_json::Value) -> CallKey {
        CallKey {
            session: command.header("mcp-session-id").unwrap_or("").to_owned(),
            caller: self
                .hasher
                .hash_one(command.header("authorization").unwrap_or("")),
            id: id.to_string(),
        }
    }

    /// Registers the call `command` carries (JSON-RPC id `id`); its token is cancelled by a
    /// matching `cancel` until the returned guard is dropped.
    pub(super) fn register(
        &self,
        command: &PolledCommand,
        id: &serde_json::Value,
        token: &CancellationToken,
    ) -> Registered<'_> {
        let key = self.key(command, id);
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        if let Entry::Vacant(slot) = self.lock().entry(key.clone()) {
            slot.insert((number, token.clone()));
        }
        Registered {
            in_flight: self,
            key,
            number,
        }
    }

    /// Cancels the call with JSON-RPC id `id` sent by whoever sent `command`, if it runs.
    pub(super) fn cancel(&self, command: &PolledCommand, id: &serde_json::Value) {
        if let Some((_, token)) = self.lock().get(&self.key(command, id)) {
            token.cancel();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CallKey, (u64, CancellationToken)>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut calls = self.in_flight.lock();
        if calls.get(&self.key).is_some_and(|(n, _)| *n == self.number) {
            calls.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::poll_protocol::parse_command;
    use serde_json::json;

    fn command(authorization: &str) -> PolledCommand {
        let wire = json!({"request_id": "r", "shard_token": "s", "command_type": "jsonrpc",
            "headers": {"Authorization": [authorization]},
            "jsonrpc": {"jsonrpc": "2.0", "id": 9, "method": "tools/call"}});
        parse_command(&serde_json::value::to_raw_value(&wire).expect("JSON")).expect("a command")
    }

    #[test]
    fn a_cancel_reaches_only_the_call_of_the_caller_who_sent_it() {
        let in_flight = InFlight::default();
        let (a, b) = (CancellationToken::new(), CancellationToken::new());
        let _a = in_flight.register(&command("Bearer a"), &json!(9), &a);
        let _b = in_flight.register(&command("Bearer b"), &json!(9), &b);
        in_flight.cancel(&command("Bearer b"), &json!(9));
        assert!(b.is_cancelled() && !a.is_cancelled());
        in_flight.cancel(&command("Bearer c"), &json!(9));
        in_flight.cancel(&command("Bearer a"), &json!("9"));
        assert!(!a.is_cancelled(), "another caller, or the id 9 as a string");
    }

    #[test]
    fn a_call_removes_its_own_entry_and_never_another_calls() {
        let in_flight = InFlight::default();
        let (first, second) = (CancellationToken::new(), CancellationToken::new());
        let registered = in_flight.register(&command("Bearer a"), &json!(9), &first);
        // The same caller reuses the id while the first call runs: the first stays registered.
        drop(in_flight.register(&command("Bearer a"), &json!(9), &second));
        in_flight.cancel(&command("Bearer a"), &json!(9));
        assert!(first.is_cancelled() && !second.is_cancelled());
        drop(registered);
        assert!(in_flight.lock().is_empty());
    }
}
