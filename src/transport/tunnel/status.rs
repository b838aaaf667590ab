//! What a tunnel is doing, as its counters: `/readyz` reads `ready`, `/metrics` renders all.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What the tunnel is doing, for `/readyz` and `/metrics`.
#[derive(Default)]
pub struct TunnelStatus {
    /// True while polls succeed.
    pub ready: AtomicBool,
    pub polls_ok: AtomicU64,
    pub polls_failed: AtomicU64,
    pub commands: AtomicU64,
    pub duplicates: AtomicU64,
    pub expired: AtomicU64,
    /// Commands skipped as malformed, of an unknown type or on a bad channel.
    pub skipped: AtomicU64,
    pub replies_posted: AtomicU64,
    pub reply_retries: AtomicU64,
    pub replies_lost: AtomicU64,
    /// When the last poll succeeded, in seconds since the Unix epoch (0: none yet).
    pub last_poll_ok: AtomicU64,
}

impl TunnelStatus {
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let ready = u64::from(self.ready.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "# HELP harpoon_tunnel_ready 1 while polls succeed.\n# TYPE harpoon_tunnel_ready gauge\nharpoon_tunnel_ready {ready}"
        );
        crate::metrics::write_counters(
            &mut out,
            &[
                (
                    "harpoon_tunnel_polls_ok_total",
                    "Polls answered 200 or 204.",
                    &self.polls_ok,
                ),
                (
                    "harpoon_tunnel_polls_failed_total",
                    "Polls that failed.",
                    &self.polls_failed,
                ),
                (
                    "harpoon_tunnel_commands_total",
                    "Commands run.",
                    &self.commands,
                ),
                (
                    "harpoon_tunnel_duplicates_total",
                    "Commands received again and not run again.",
                    &self.duplicates,
                ),
                (
                    "harpoon_tunnel_expired_total",
                    "Commands dropped past their response timeout.",
                    &self.expired,
                ),
                (
                    "harpoon_tunnel_skipped_total",
                    "Commands skipped as malformed or unknown (their siblings still ran).",
                    &self.skipped,
                ),
                (
                    "harpoon_tunnel_replies_posted_total",
                    "Replies the edge accepted.",
                    &self.replies_posted,
                ),
                (
                    "harpoon_tunnel_reply_retries_total",
                    "Reply posts retried.",
                    &self.reply_retries,
                ),
                (
                    "harpoon_tunnel_replies_lost_total",
                    "Replies given up on.",
                    &self.replies_lost,
                ),
            ],
        );
        out
    }
}
