//! The result of the last reload SIGHUP or `--watch` started, for the admin page: when, whether
//! the new allowlists went into service, and what was said (the tool counts, or the text
//! `check` prints). That text comes from the allowlist files, never from an upstream.

use std::sync::Mutex;
use std::time::SystemTime;

/// Most bytes of a refusal kept: `check`'s text for a broken file is a few lines per error,
/// and a file with thousands of errors must not make the slot (or the page) huge.
pub const MAX_RELOAD_MESSAGE_BYTES: usize = 16 * 1024;

/// One reload's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadResult {
    pub at: SystemTime,
    /// Whether the new allowlists serve now; when not, the ones before still do.
    pub applied: bool,
    pub message: String,
}

/// The slot, shared by every generation of a service.
#[derive(Debug, Default)]
pub struct LastReload {
    slot: Mutex<Option<ReloadResult>>,
}

impl LastReload {
    /// Keeps `message` (cut to `MAX_RELOAD_MESSAGE_BYTES` on a character boundary).
    pub fn set(&self, applied: bool, message: &str) {
        let mut end = message.len().min(MAX_RELOAD_MESSAGE_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let mut kept = message[..end].to_owned();
        if end < message.len() {
            kept.push_str("\n… (cut; the log has the whole text)");
        }
        let result = ReloadResult {
            at: SystemTime::now(),
            applied,
            message: kept,
        };
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
    }

    /// The last result, if a reload has run since the start.
    pub fn get(&self) -> Option<ReloadResult> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
