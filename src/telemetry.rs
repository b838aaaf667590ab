//! Logging and the canonical audit event. Logs go to stderr (stdout belongs to command output
//! and to MCP under `stdio`). Each tool call produces exactly one audit event, with a stable
//! reason code and never a body, a query string or a secret.

use std::str::FromStr;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// The log filter when neither `--log` nor `HARPOON_LOG` says otherwise: harpoon's own events,
/// and only warnings from rmcp (which logs tool arguments at debug).
pub const DEFAULT_LOG_FILTER: &str = "info,rmcp=warn";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the global subscriber. `filter` is `target=level,...` (as in `RUST_LOG`).
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    let targets = Targets::from_str(filter)
        .map_err(|e| format!("log filter '{filter}' is not valid: {e}"))?;
    let registry = tracing_subscriber::registry().with(targets);
    let result = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    result.map_err(|e| format!("logging could not start: {e}"))
}

/// One call, as the audit event records it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallRecord<'a> {
    pub tool: &'a str,
    /// The target label, when the call named a known one.
    pub target: &'a str,
    pub method: &'a str,
    /// The path relative to the base URL, without the query string.
    pub path: &'a str,
    /// `allow` (a request went out) or `deny`.
    pub decision: &'static str,
    /// `ok`, a `DenyReason` code, a `CallError` code, or `upstream_status`.
    pub reason: &'static str,
    pub status: u16,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub truncated: bool,
    pub redirects: u8,
    pub duration_us: u64,
    /// `local`, `anonymous` or `token`: how the caller was established.
    pub caller: &'a str,
    /// The token's `sub` and client id (`client_id` or `azp`), when a token was validated;
    /// the token itself is never recorded.
    pub subject: &'a str,
    pub client_id: &'a str,
}

/// Emits the canonical audit event for one call.
pub fn audit(r: &CallRecord) {
    tracing::info!(
        target: "harpoon::audit",
        tool = r.tool,
        target_label = r.target,
        method = r.method,
        path = r.path,
        decision = r.decision,
        reason = r.reason,
        status = r.status,
        bytes_out = r.bytes_out,
        bytes_in = r.bytes_in,
        truncated = r.truncated,
        redirects = r.redirects,
        duration_us = r.duration_us,
        caller = r.caller,
        subject = r.subject,
        client_id = r.client_id,
        "call"
    );
}
