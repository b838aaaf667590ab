//! The wire shapes of OpenAI's tunnel service protocol, as `harpoon tunnel` speaks it to the
//! service (or to `harpoon edge`, its local model), and the bounds both sides share.
//! docs/poll-protocol.md is the contract; `../shared/openai-tunnel-protocol.md` is where each
//! element comes from.
//!
//! A poll answer is read one command at a time (`parse_command`): a command that is malformed,
//! of an unknown type or on a bad channel is skipped alone, and its siblings still run.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::time::Duration;

/// Most commands a poll asks for: the service's schema allows 1 to 25.
pub const MAX_POLL_LIMIT: usize = 25;
/// Longest long-poll: under the idle timeouts of common proxies and load balancers (60 s).
pub const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(30);
/// Shortest `timeout_ms` a poll sends: the schema's minimum (a "quick" poll uses it).
pub const MIN_POLL_TIMEOUT_MS: u64 = 1;
/// Largest poll response a tunnel reads: a full batch of large requests.
pub const MAX_POLL_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Largest reply a tunnel posts or an edge accepts: the largest tool result (a 64 MiB body,
/// base64, twice: structured and text) would not fit, so targets with huge limits should not be
/// tunnelled; 32 MiB covers every default.
pub const MAX_REPLY_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Longest `Retry-After` a tunnel honours, so a misconfigured service cannot park it for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The header that carries a command's shard token on every reply post (never in the body).
pub const SHARD_TOKEN_HEADER: &str = "x-tunnel-shard-token";
/// The channel harpoon serves; any other is answered "unsupported channel".
pub const MAIN_CHANNEL: &str = "main";

/// What a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandType {
    /// One JSON-RPC request or notification for the MCP server.
    Jsonrpc,
    /// The connector ended its session (`DELETE` with `Mcp-Session-Id`).
    SessionTermination,
    /// The service asks for the server's protected resource metadata (RFC 9728).
    OauthDiscovery,
}

/// One command as it is on the wire: what an edge emits. Unknown fields are ignored when read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Command {
    pub request_id: String,
    /// Opaque; echoed only in the `X-Tunnel-Shard-Token` header of every reply post.
    pub shard_token: String,
    pub command_type: CommandType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// RFC 3339 enqueue time; informational only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// A relative budget such as `"30s"`, anchored when the poll answer's headers arrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_timeout: Option<String>,
    /// Multi-valued headers of the connector's request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Vec<String>>,
    /// The caller's JSON-RPC message as the text it came as (checked to be a JSON object):
    /// the edge and the tunnel only pass it on, so neither builds it into a `Value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonrpc: Option<Box<RawValue>>,
}

/// A poll answer with commands (HTTP 200), as an edge writes it: each command is the text it
/// was written as when it was queued (a `Command`), so a batch is not written twice.
#[derive(Debug, Serialize)]
pub struct PollResponse {
    pub commands: Vec<Box<RawValue>>,
}

/// A poll answer as a tunnel reads it: each command is judged on its own, from its text in the
/// answer (`parse_command`).
#[derive(Debug, Deserialize)]
pub struct PollAnswer<'a> {
    #[serde(default, borrow)]
    pub commands: Vec<&'a RawValue>,
}

/// A command a tunnel accepted: typed, its channel normalized, its budget parsed.
#[derive(Debug, Clone)]
pub struct PolledCommand {
    pub request_id: String,
    pub shard_token: String,
    pub kind: CommandType,
    /// Lowercase, trimmed; `main` when absent or empty.
    pub channel: String,
    /// `None` when absent or not valid (the client fails open: no deadline).
    pub response_timeout: Option<Duration>,
    pub headers: BTreeMap<String, Vec<String>>,
    /// Present for `jsonrpc` commands, always a JSON object, as the text it came as: it is
    /// handed to the MCP handler as it is, not built into a `Value` and written again.
    pub jsonrpc: Option<Box<RawValue>>,
}

/// Two commands are the same when every field is, the JSON-RPC message compared as text.
impl PartialEq for PolledCommand {
    fn eq(&self, other: &Self) -> bool {
        self.request_id == other.request_id
            && self.shard_token == other.shard_token
            && self.kind == other.kind
            && self.channel == other.channel
            && self.response_timeout == other.response_timeout
            && self.headers == other.headers
            && self.jsonrpc.as_ref().map(|j| j.get()) == other.jsonrpc.as_ref().map(|j| j.get())
    }
}

/// Why a command was skipped (logged; its siblings still run; nothing is posted for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    NotAnObject,
    /// A required field is missing, empty or of the wrong type.
    Missing(&'static str),
    UnknownType(String),
    BadChannel(String),
    /// A `jsonrpc` command without a JSON-RPC object.
    BadJsonrpc,
    /// A `shard_token` no HTTP header can carry (a control character): no answer to the
    /// command could be posted, so it is not run.
    BadShardToken,
    /// A field is given twice (which one counts would be a guess) or the text is not JSON.
    Unreadable(String),
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::NotAnObject => f.write_str("the command is not a JSON object"),
            CommandError::Missing(field) => write!(f, "the command has no '{field}'"),
            CommandError::UnknownType(t) => write!(f, "unknown command_type '{t}'"),
            CommandError::BadChannel(c) => write!(f, "channel '{c}' is not ^[a-z0-9_-]{{1,64}}$"),
            CommandError::BadJsonrpc => f.write_str("a jsonrpc command without a JSON-RPC object"),
            CommandError::BadShardToken => f.write_str(
                "the shard_token has a control character, so no answer could be posted with it",
            ),
            CommandError::Unreadable(why) => write!(f, "the command cannot be read: {why}"),
        }
    }
}

impl std::error::Error for CommandError {}

/// The members of a command harpoon reads, each as its text; every other member is skipped
/// unread. `null` reads as absent.
#[derive(Deserialize)]
struct CommandFields<'a> {
    #[serde(default, borrow)]
    request_id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    shard_token: Option<&'a RawValue>,
    #[serde(default, borrow)]
    command_type: Option<&'a RawValue>,
    #[serde(default, borrow)]
    channel: Option<&'a RawValue>,
    #[serde(default, borrow)]
    response_timeout: Option<&'a RawValue>,
    #[serde(default, borrow)]
    headers: Option<&'a RawValue>,
    #[serde(default, borrow)]
    jsonrpc: Option<&'a RawValue>,
}

/// A member's text as a JSON string, if it is one.
fn string(member: Option<&RawValue>) -> Option<String> {
    serde_json::from_str(member?.get()).ok()
}

/// Whether a value's text is a JSON object (raw values start at their first character).
fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}

/// Reads one command of a poll answer, from its text.
pub fn parse_command(raw: &RawValue) -> Result<PolledCommand, CommandError> {
    if !is_object(raw) {
        return Err(CommandError::NotAnObject);
    }
    let m: CommandFields =
        serde_json::from_str(raw.get()).map_err(|e| CommandError::Unreadable(e.to_string()))?;
    let text = |member: Option<&RawValue>, field: &'static str| match string(member) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(CommandError::Missing(field)),
    };
    let request_id = text(m.request_id, "request_id")?;
    let shard_token = text(m.shard_token, "shard_token")?;
    if http::HeaderValue::from_str(&shard_token).is_err() {
        return Err(CommandError::BadShardToken);
    }
    let kind = match string(m.command_type) {
        Some(t) => match t.as_str() {
            "jsonrpc" => CommandType::Jsonrpc,
            "session_termination" => CommandType::SessionTermination,
            "oauth_discovery" => CommandType::OauthDiscovery,
            _ => return Err(CommandError::UnknownType(t)),
        },
        None => return Err(CommandError::Missing("command_type")),
    };
    let channel = match (m.channel, string(m.channel)) {
        (None, _) => MAIN_CHANNEL.to_owned(),
        (Some(_), Some(c)) => {
            let c = c.trim().to_ascii_lowercase();
            if c.is_empty() {
                MAIN_CHANNEL.to_owned()
            } else if valid_channel(&c) {
                c
            } else {
                return Err(CommandError::BadChannel(c));
            }
        }
        (Some(other), None) => return Err(CommandError::BadChannel(other.get().to_owned())),
    };
    // Fails open, as tunnel-client does: a budget that is not a valid string means no deadline.
    let response_timeout = string(m.response_timeout).and_then(|t| parse_timeout(&t));
    let headers = match m.headers.map(|h| serde_json::from_str(h.get())) {
        Some(Ok(Value::Object(h))) => h
            .into_iter()
            .map(|(k, v)| {
                let values = match v {
                    Value::Array(items) => items
                        .into_iter()
                        .filter_map(|i| match i {
                            Value::String(s) => Some(s),
                            _ => None,
                        })
                        .collect(),
                    Value::String(s) => vec![s],
                    _ => Vec::new(),
                };
                (k, values)
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    let jsonrpc = match (kind, m.jsonrpc) {
        (CommandType::Jsonrpc, Some(j)) if is_object(j) => Some(j.to_owned()),
        (CommandType::Jsonrpc, _) => return Err(CommandError::BadJsonrpc),
        (_, _) => None,
    };
    Ok(PolledCommand {
        request_id,
        shard_token,
        kind,
        channel,
        response_timeout,
        headers,
        jsonrpc,
    })
}

/// What the tunnel and the edge read of a JSON-RPC message they pass on: its method (when it
/// is a string) and its id (`None` when absent or `null`). Everything else is skipped unread.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonrpcHead {
    pub method: Option<String>,
    pub id: Option<Value>,
}

impl JsonrpcHead {
    /// Reads the head of a message known to be a JSON object. A message that names a member
    /// twice is read as a `Value` reads it (the last one counts), so both ways agree.
    pub fn read(message: &RawValue) -> JsonrpcHead {
        #[derive(Deserialize)]
        struct Head<'a> {
            #[serde(default, borrow)]
            method: Option<&'a RawValue>,
            #[serde(default)]
            id: Option<Value>,
        }
        match serde_json::from_str::<Head>(message.get()) {
            Ok(h) => JsonrpcHead {
                method: string(h.method),
                id: h.id.filter(|i| !i.is_null()),
            },
            Err(_) => {
                let v: Value = serde_json::from_str(message.get()).unwrap_or(Value::Null);
                JsonrpcHead {
                    method: v.get("method").and_then(Value::as_str).map(str::to_owned),
                    id: v.get("id").filter(|i| !i.is_null()).cloned(),
                }
            }
        }
    }
}

impl PolledCommand {
    /// The first value of a command header, its name matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }
}

/// What a reply post says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RespType {
    /// The final answer to a JSON-RPC request.
    #[default]
    JsonrpcResponse,
    /// A notification sent while the call runs (progress); not final.
    JsonrpcNotify,
    /// The final answer to a JSON-RPC notification: no `resp_json`.
    NotifyAck,
    /// The final answer to a `session_termination`: no `resp_json`.
    SessionTerminationResponse,
    /// The final answer to an `oauth_discovery`.
    OauthDiscoveryResponse,
}

impl RespType {
    /// Whether this post completes the command (every type but `jsonrpc_notify`).
    pub fn is_terminal(self) -> bool {
        self != RespType::JsonrpcNotify
    }
}

/// One reply post's body (`additionalProperties: false` in the service's schema).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The JSON-RPC message as the text it came as: checked to be JSON when read, but not
    /// built into a `Value`, since both sides only pass it on (a tool result would otherwise be
    /// parsed and written again on each side of every tunnelled call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp_json: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp_headers: Option<BTreeMap<String, Vec<String>>>,
    /// The HTTP-style status of the MCP exchange; the service answers the connector with it.
    pub resp_code: u16,
    #[serde(default)]
    pub resp_type: RespType,
}

/// `message` as a reply's `resp_json`.
pub fn raw_json(message: &Value) -> Box<RawValue> {
    // Writing a `Value` cannot fail (its keys are strings); `null` keeps this total anyway.
    serde_json::value::to_raw_value(message).unwrap_or_else(|_| RawValue::NULL.to_owned())
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

/// Channel names: `^[a-z0-9_-]{1,64}$`.
pub fn valid_channel(c: &str) -> bool {
    (1..=64).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Tunnel ids harpoon accepts: `^[a-z0-9][a-z0-9_-]{0,63}$`, safe in a URL path segment (the
/// service's own ids, `tunnel_` and 32 `[a-z0-9]`, are of this form).
pub fn valid_tunnel_id(id: &str) -> bool {
    crate::policy::Label::parse(id).is_ok()
}

/// The service's tunnel ids: `tunnel_` and 32 lowercase letters or digits.
pub fn is_service_tunnel_id(id: &str) -> bool {
    id.strip_prefix("tunnel_").is_some_and(|rest| {
        rest.len() == 32
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// The service's keys: `^[0-9A-Za-z_-]+$`.
pub fn is_service_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `Retry-After` in either form (delta-seconds or an HTTP-date), capped at `MAX_RETRY_AFTER`;
/// `None` when absent, malformed or already past.
pub fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .ok()?,
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: &Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(v).expect("JSON")
    }

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
    fn each_command_is_judged_alone() {
        let ok = json!({"request_id": "r1", "shard_token": "s1", "command_type": "jsonrpc",
            "channel": " MAIN ", "response_timeout": 30, "headers": {"X-Request-Id": ["t1"]},
            "jsonrpc": {"jsonrpc": "2.0", "id": 1, "method": "ping"}, "extra": true});
        let c = parse_command(&raw(&ok)).expect("parses");
        assert_eq!(c.channel, "main");
        assert_eq!(c.response_timeout, None, "a JSON number fails open");
        assert_eq!(c.header("x-request-id"), Some("t1"));
        let term =
            json!({"request_id": "r2", "shard_token": "s2", "command_type": "session_termination"});
        assert_eq!(
            parse_command(&raw(&term)).expect("parses").kind,
            CommandType::SessionTermination
        );
        for (bad, why) in [
            (json!([]), CommandError::NotAnObject),
            (
                json!({"shard_token": "s", "command_type": "jsonrpc"}),
                CommandError::Missing("request_id"),
            ),
            (
                json!({"request_id": "r", "command_type": "jsonrpc"}),
                CommandError::Missing("shard_token"),
            ),
            (
                json!({"request_id": "r", "shard_token": "s"}),
                CommandError::Missing("command_type"),
            ),
            (
                json!({"request_id": "r", "shard_token": "s", "command_type": "x"}),
                CommandError::UnknownType("x".into()),
            ),
            (
                json!({"request_id": "r", "shard_token": "s", "command_type": "jsonrpc"}),
                CommandError::BadJsonrpc,
            ),
            (
                json!({"request_id": "r", "shard_token": "s", "command_type": "jsonrpc", "channel": "a b", "jsonrpc": {}}),
                CommandError::BadChannel("a b".into()),
            ),
            (
                json!({"request_id": "r", "shard_token": "s\r\nx: 1", "command_type": "jsonrpc", "jsonrpc": {}}),
                CommandError::BadShardToken,
            ),
        ] {
            assert_eq!(parse_command(&raw(&bad)), Err(why), "{bad}");
        }
    }

    #[test]
    fn a_command_keeps_its_jsonrpc_text_and_a_doubled_member_is_refused() {
        let text = r#"{"request_id":"r","shard_token":"s","command_type":"jsonrpc","jsonrpc":{"method":"tools/call","id":7,"params":{"name":"t","arguments":{"q":"\u00e9 1e3"}}}}"#;
        let command: &RawValue = serde_json::from_str(text).expect("JSON");
        let c = parse_command(command).expect("parses");
        assert_eq!(
            c.jsonrpc.expect("jsonrpc").get(),
            r#"{"method":"tools/call","id":7,"params":{"name":"t","arguments":{"q":"\u00e9 1e3"}}}"#,
            "passed on as it came, escapes and all"
        );
        let doubled: &RawValue = serde_json::from_str(
            r#"{"request_id":"r","request_id":"q","shard_token":"s","command_type":"session_termination"}"#,
        )
        .expect("JSON");
        assert!(
            matches!(parse_command(doubled), Err(CommandError::Unreadable(why)) if why.contains("request_id")),
            "which request_id counts would be a guess"
        );
    }

    #[test]
    fn the_head_of_a_message_reads_as_a_value_reads_it() {
        for text in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#,
            r#"{"id":"a","method":"tools\/call"}"#,
            r#"{"id":null,"method":"notifications/cancelled","params":{"requestId":1}}"#,
            r#"{"method":"notifications/initialized"}"#,
            r#"{"id":2,"result":{}}"#,
            r#"{"id":3,"method":7}"#,
            r#"{"id":4,"method":"a","method":"b"}"#,
            r#"{"id":5,"id":6,"method":"ping"}"#,
            r#"{"id":{"x":[1,2]},"method":null}"#,
        ] {
            let raw: &RawValue = serde_json::from_str(text).expect("JSON");
            let v: Value = serde_json::from_str(text).expect("JSON");
            let want = JsonrpcHead {
                method: v.get("method").and_then(Value::as_str).map(str::to_owned),
                id: v.get("id").filter(|i| !i.is_null()).cloned(),
            };
            assert_eq!(JsonrpcHead::read(raw), want, "{text}");
        }
    }

    #[test]
    fn retry_after_reads_both_forms() {
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("3600", now), Some(MAX_RETRY_AFTER));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(retry_after(&later, now), Some(Duration::from_secs(7)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(retry_after(&past, now), None);
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn replies_carry_only_the_schema_fields() {
        let r = Reply {
            request_id: "r".into(),
            channel: Some("main".into()),
            resp_json: None,
            resp_headers: None,
            resp_code: 202,
            resp_type: RespType::NotifyAck,
        };
        assert_eq!(
            serde_json::to_value(&r).expect("json"),
            json!({"request_id": "r", "channel": "main", "resp_code": 202, "resp_type": "notify_ack"})
        );
        assert!(serde_json::from_str::<Reply>(r#"{"request_id": "r", "resp_code": 200}"#).is_ok());
        assert!(
            serde_json::from_str::<Reply>(r#"{"request_id": "r", "resp_code": 200, "x": 1}"#)
                .is_err()
        );
    }
}
