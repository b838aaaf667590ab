//! Tunnel commands: how `parse_command` reads one command of a poll answer from its text, and
//! how the tunnel and the edge read the head of the JSON-RPC message they pass on.

use super::input::Input;
use super::reference;
use crate::transport::poll_protocol::{CommandError, CommandType, JsonrpcHead, parse_command};
use serde_json::Value;
use serde_json::value::RawValue;

/// A command reads as the reference reads the same text as a `Value`, field by field; one that
/// names a member the tunnel reads twice is refused rather than read either way; the JSON-RPC message is passed
/// on as the very text it came as, and its method and id read as a `Value` reads them.
pub fn poll_command(data: &[u8]) {
    let mut inp = Input::new(data);
    let text = command_text(&mut inp);
    let raw: &RawValue = serde_json::from_str(&text).expect("the generator writes JSON");
    let got = parse_command(raw);
    if reference::names_a_member_twice(&text, READ_MEMBERS) {
        assert!(
            matches!(got, Err(CommandError::Unreadable(_))),
            "{text}: {got:?}"
        );
        return;
    }
    let value: Value = serde_json::from_str(&text).expect("JSON");
    let want = reference::command(&value);
    let command = match (got, want) {
        (Ok(c), Ok(w)) => {
            assert_eq!(c.request_id, w.request_id, "{text}");
            assert_eq!(c.shard_token, w.shard_token, "{text}");
            assert_eq!(kind_name(c.kind), w.kind, "{text}");
            assert_eq!(c.channel, w.channel, "{text}");
            assert_eq!(c.response_timeout, w.response_timeout, "{text}");
            assert_eq!(c.headers, w.headers, "{text}");
            let passed_on = c.jsonrpc.as_ref().map(|j| {
                assert!(
                    text.contains(j.get()),
                    "{text}: not as it came: {}",
                    j.get()
                );
                serde_json::from_str::<Value>(j.get()).expect("JSON")
            });
            assert_eq!(passed_on, w.jsonrpc, "{text}");
            c
        }
        (Err(e), Err(w)) => {
            assert_eq!(error_name(&e), w, "{text}");
            return;
        }
        (got, want) => panic!("{text}: harpoon {got:?}, reference {want:?}"),
    };
    if let Some(message) = &command.jsonrpc {
        let head = JsonrpcHead::read(message);
        let value: Value = serde_json::from_str(message.get()).expect("JSON");
        assert_eq!(
            (head.method, head.id),
            reference::jsonrpc_head(&value),
            "{}",
            message.get()
        );
    }
}

fn kind_name(kind: CommandType) -> &'static str {
    match kind {
        CommandType::Jsonrpc => "jsonrpc",
        CommandType::SessionTermination => "session_termination",
        CommandType::OauthDiscovery => "oauth_discovery",
    }
}

fn error_name(e: &CommandError) -> String {
    match e {
        CommandError::NotAnObject => "not_an_object".into(),
        CommandError::Missing(field) => format!("missing:{field}"),
        CommandError::UnknownType(_) => "unknown_type".into(),
        CommandError::BadChannel(_) => "bad_channel".into(),
        CommandError::BadJsonrpc => "bad_jsonrpc".into(),
        CommandError::BadShardToken => "bad_shard_token".into(),
        CommandError::Unreadable(_) => "unreadable".into(),
    }
}

/// One character longer than a channel may be.
const LONG_CHANNEL: &str = concat!(
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "x"
);

/// The members of a command the tunnel reads (it skips every other unread).
const READ_MEMBERS: &[&str] = &[
    "request_id",
    "shard_token",
    "command_type",
    "channel",
    "response_timeout",
    "headers",
    "jsonrpc",
];

/// Whitespace a writer may put between tokens.
fn ws(inp: &mut Input) -> &'static str {
    inp.word(&["", "", "", " ", "\n  ", "\t"])
}

/// A JSON string of `s`, now and then with every character written as an escape.
fn string(inp: &mut Input, s: &str) -> String {
    if !inp.one_in(5) {
        return serde_json::to_string(s).expect("a string");
    }
    let mut out = String::from("\"");
    for unit in s.encode_utf16() {
        out.push_str(&format!("\\u{unit:04x}"));
    }
    out.push('"');
    out
}

/// A value of another type than the field expects.
fn other(inp: &mut Input) -> String {
    inp.word(&[
        "null",
        "7",
        "-1.5e3",
        "true",
        "[]",
        "[\"x\"]",
        "{}",
        "{\"a\": [1, {}]}",
        "123456789012345678901234567890",
    ])
    .to_owned()
}

/// A string from `words`, the free text, or a value of another type.
fn field(inp: &mut Input, words: &[&'static str]) -> String {
    match inp.below(8) {
        0 => other(inp),
        1 if inp.has_text() => {
            let t = inp.text();
            string(inp, &t)
        }
        _ => {
            let w = inp.word(words);
            string(inp, w)
        }
    }
}

/// `{ name: value, ... }` with the given members, and now and then one of them again.
fn object(inp: &mut Input, mut members: Vec<(String, String)>) -> String {
    if !members.is_empty() && inp.one_in(6) {
        let (name, _) = inp.pick(&members).clone();
        let value = other(inp);
        let at = inp.below(members.len() + 1);
        members.insert(at, (name, value));
    }
    let mut out = format!("{{{}", ws(inp));
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
            out.push_str(ws(inp));
        }
        let name = string(inp, name);
        out.push_str(&format!("{name}{}:{}{value}", ws(inp), ws(inp)));
    }
    out.push_str(ws(inp));
    out.push('}');
    out
}

fn headers(inp: &mut Input) -> String {
    if inp.one_in(6) {
        return other(inp);
    }
    let names = ["X-Request-Id", "Authorization", "mcp-session-id", "x"];
    let members = (0..inp.below(4))
        .map(|_| {
            let name = inp.word(&names).to_owned();
            let value = match inp.below(4) {
                0 => field(inp, &["trace-1", "", "Bearer t"]),
                1 => other(inp),
                _ => {
                    let items: Vec<String> = (0..inp.below(3))
                        .map(|_| field(inp, &["trace-1", "b", ""]))
                        .collect();
                    format!("[{}]", items.join(","))
                }
            };
            (name, value)
        })
        .collect();
    object(inp, members)
}

fn jsonrpc(inp: &mut Input) -> String {
    if inp.one_in(8) {
        return other(inp);
    }
    let mut members = Vec::new();
    if !inp.one_in(6) {
        members.push(("jsonrpc".to_owned(), "\"2.0\"".to_owned()));
    }
    if !inp.one_in(4) {
        let id = inp.word(&[
            "1",
            "\"a\"",
            "null",
            "12345678901234567890123",
            "1.5e3",
            "{\"x\": 1}",
        ]);
        members.push(("id".to_owned(), id.to_owned()));
    }
    if !inp.one_in(6) {
        let method = field(
            inp,
            &[
                "tools/call",
                "tools/list",
                "ping",
                "notifications/cancelled",
            ],
        );
        members.push(("method".to_owned(), method));
    }
    if inp.flip() {
        let params = r#"{"name": "t", "arguments": {"q": "\u00e9", "n": 1e300}, "requestId": 1}"#;
        members.push(("params".to_owned(), params.to_owned()));
    }
    for _ in 0..inp.below(members.len() + 1) {
        let (a, b) = (inp.below(members.len()), inp.below(members.len()));
        members.swap(a, b);
    }
    object(inp, members)
}

/// The words each string member of a command is written with: its name, whether a command may
/// leave it out (a coin decides) and its words.
#[rustfmt::skip] // A word list reads best as a paragraph.
const MEMBER_WORDS: &[(&str, bool, &[&str])] = &[
    ("request_id", false, &["req_1", "", "r"]),
    ("shard_token", false, &["shard", "", "s", "a\tb", "s\u{1}", "\u{7f}", "s\r\nx: 1", "ünï"]),
    ("command_type", false, &["jsonrpc", "session_termination", "oauth_discovery", "JSONRPC", "x", ""]),
    ("channel", true, &[" MAIN ", "main", "", "harpoon", "a b", "Ünï", "a_b-1", LONG_CHANNEL]),
    ("response_timeout", true, &["30s", "1500ms", "2m", "500us", "10ns", "1h", "30", "s", "1e3s",
        "+1s", "99999999999999999999s"]),
];

/// The text of one command: mostly well formed, each field now and then missing, of another
/// type, escaped or given twice; now and then not an object at all.
fn command_text(inp: &mut Input) -> String {
    if inp.one_in(12) {
        return inp
            .word(&["[]", "\"req\"", "1", "null", "[{\"request_id\": \"r\"}]"])
            .to_owned();
    }
    let mut members: Vec<(String, String)> = Vec::new();
    for (name, optional, words) in MEMBER_WORDS {
        if (*optional && inp.flip()) || inp.one_in(7) {
            continue;
        }
        let value = field(inp, words);
        members.push((name.to_string(), value));
    }
    if inp.flip() && !inp.one_in(7) {
        members.push(("headers".to_owned(), headers(inp)));
    }
    if !inp.one_in(7) {
        members.push(("jsonrpc".to_owned(), jsonrpc(inp)));
    }
    if inp.one_in(4) {
        members.push((
            "created_at".to_owned(),
            field(inp, &["2026-01-01T00:00:00Z"]),
        ));
    }
    if inp.one_in(4) {
        members.push(("Request_Id".to_owned(), field(inp, &["other"])));
    }
    object(inp, members)
}
