//! A tunnel command read the obvious way (docs/poll-protocol.md, "Commands"): the whole command
//! built into a `Value`, each field looked up in it. A `Value` keeps the last of a member named
//! twice, so the member names are listed separately to tell such a command apart.

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// What the reference reads of one command: the fields, or why it is skipped (a short name:
/// `not_an_object`, `missing:<field>`, `unknown_type`, `bad_channel`, `bad_jsonrpc`).
#[derive(Debug, Clone, PartialEq)]
pub struct RefCommand {
    pub request_id: String,
    pub shard_token: String,
    pub kind: &'static str,
    pub channel: String,
    pub response_timeout: Option<Duration>,
    pub headers: BTreeMap<String, Vec<String>>,
    pub jsonrpc: Option<Value>,
}

/// The member names of a JSON object's text, in order, repeats kept; `None` if it is no object.
pub fn member_names(text: &str) -> Option<Vec<String>> {
    struct Names;
    impl<'de> Visitor<'de> for Names {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut names = Vec::new();
            while let Some((name, _)) = map.next_entry::<String, IgnoredAny>()? {
                names.push(name);
            }
            Ok(names)
        }
    }
    serde_json::Deserializer::from_str(text)
        .deserialize_map(Names)
        .ok()
}

/// Whether a JSON object's text names one of `members` twice.
pub fn names_a_member_twice(text: &str, members: &[&str]) -> bool {
    member_names(text).is_some_and(|names| {
        members
            .iter()
            .any(|m| names.iter().filter(|n| n == m).count() > 1)
    })
}

/// `"30s"`, `"1500ms"`, `"2m"`, `"500us"`: digits that fit in 64 bits, then one of Go's units
/// from `ns` to `h`; counted in nanoseconds, and no budget when the seconds overflow 64 bits.
fn budget(text: &str) -> Option<Duration> {
    const UNITS: &[(&str, u128)] = &[
        ("ns", 1),
        ("us", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let count: u64 = digits.parse().ok()?;
    let unit = &text[digits.len()..];
    let (_, per) = UNITS.iter().find(|(name, _)| *name == unit)?;
    let nanos = u128::from(count) * per;
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// One command, read from its `Value`.
pub fn command(v: &Value) -> Result<RefCommand, String> {
    let Value::Object(m) = v else {
        return Err("not_an_object".into());
    };
    let text = |field: &str| match m.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(format!("missing:{field}")),
    };
    let request_id = text("request_id")?;
    let shard_token = text("shard_token")?;
    // Posted back as a header value: a control character but the tab cannot be sent.
    if shard_token
        .chars()
        .any(|c| c.is_ascii_control() && c != '\t')
    {
        return Err("bad_shard_token".into());
    }
    let kind = match m.get("command_type").and_then(Value::as_str) {
        Some("jsonrpc") => "jsonrpc",
        Some("session_termination") => "session_termination",
        Some("oauth_discovery") => "oauth_discovery",
        Some(_) => return Err("unknown_type".into()),
        None => return Err("missing:command_type".into()),
    };
    let channel = match m.get("channel") {
        None | Some(Value::Null) => "main".to_owned(),
        Some(Value::String(c)) => {
            let c = c.trim().to_ascii_lowercase();
            let fits = (1..=64).contains(&c.len())
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            match c.as_str() {
                "" => "main".to_owned(),
                _ if fits => c,
                _ => return Err("bad_channel".into()),
            }
        }
        Some(_) => return Err("bad_channel".into()),
    };
    let response_timeout = m
        .get("response_timeout")
        .and_then(Value::as_str)
        .and_then(budget);
    let mut headers = BTreeMap::new();
    if let Some(Value::Object(h)) = m.get("headers") {
        for (name, values) in h {
            let list = match values {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            headers.insert(name.clone(), list);
        }
    }
    let jsonrpc = match (kind, m.get("jsonrpc")) {
        ("jsonrpc", Some(j @ Value::Object(_))) => Some(j.clone()),
        ("jsonrpc", _) => return Err("bad_jsonrpc".into()),
        _ => None,
    };
    Ok(RefCommand {
        request_id,
        shard_token,
        kind,
        channel,
        response_timeout,
        headers,
        jsonrpc,
    })
}

/// A JSON-RPC message's method (when a string) and id (when present and not `null`).
pub fn jsonrpc_head(message: &Value) -> (Option<String>, Option<Value>) {
    (
        message
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_owned),
        message.get("id").filter(|i| !i.is_null()).cloned(),
    )
}
