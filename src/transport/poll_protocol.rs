//! The poll protocol between `harpoon tunnel` and an edge (docs/poll-protocol.md is the
//! contract): the wire shapes both sides use, and the bounds they share.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// Most commands one poll may ask for or carry.
pub const MAX_POLL_LIMIT: usize = 64;
/// Longest long-poll: under the idle timeouts of common proxies and load balancers (60 s).
pub const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest poll response a tunnel reads: a full batch of large requests.
pub const MAX_POLL_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Largest reply a tunnel posts or an edge accepts: the largest tool result (a 64 MiB body,
/// base64, twice: structured and text) would not fit, so targets with huge limits should not be
/// tunnelled; 32 MiB covers every default.
pub const MAX_REPLY_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Longest `Retry-After` a tunnel honours, so a misconfigured edge cannot park it for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// One queued MCP message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Unique per command; the tunnel runs a request_id at most once.
    pub request_id: String,
    /// The JSON-RPC message, as the MCP client sent it.
    pub jsonrpc: Value,
    /// How long the edge waits for the reply from when the poll answered, e.g. `"30s"`,
    /// `"1500ms"`. A tunnel drops a command it receives already past its time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_timeout: Option<String>,
}

/// A poll answer with commands (HTTP 200).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollResponse {
    pub commands: Vec<Command>,
}

/// What a tunnel posts back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub request_id: String,
    /// The JSON-RPC response or error object.
    pub resp_json: Value,
}

/// Parses `"30s"`, `"1500ms"`, `"2m"`, `"500us"` (tunnel-client's format); `None` if malformed.
pub fn parse_timeout(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    match unit {
        "ns" => Some(Duration::from_nanos(n)),
        "us" => Some(Duration::from_micros(n)),
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

/// Tunnel ids: `^[a-z0-9][a-z0-9_-]{0,63}$`, safe in a URL path segment.
pub fn valid_tunnel_id(id: &str) -> bool {
    crate::policy::Label::parse(id).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse() {
        assert_eq!(parse_timeout("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("0s"), Some(Duration::ZERO));
        assert_eq!(parse_timeout("30"), None);
        assert_eq!(parse_timeout("s"), None);
        assert_eq!(parse_timeout("5d"), None);
    }

    #[test]
    fn commands_round_trip() {
        let text = r#"{"commands":[{"request_id":"r1","jsonrpc":{"jsonrpc":"2.0","id":1,"method":"ping"},"response_timeout":"10s"}]}"#;
        let p: PollResponse = serde_json::from_str(text).expect("parses");
        assert_eq!(p.commands[0].response_timeout.as_deref(), Some("10s"));
        let back: serde_json::Value = serde_json::to_value(&p).expect("serializes");
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(text).expect("json")
        );
    }
}
