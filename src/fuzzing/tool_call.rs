//! The MCP tools/call argument path.

use super::corpus::*;
use super::generators::*;
use super::input::Input;
use crate::callout::media_type::validated;
use crate::callout::{BoundedResponse, Callout, HostResolver, OwnListeners};
use crate::engine::{Engine, Outcome};
use crate::policy::redact::Redactor;
use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

pub(crate) type Resolving =
    std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>;

/// A resolver that knows no name: every permitted call fails before a socket is opened.
pub(crate) struct NoNames;

impl HostResolver for NoNames {
    fn resolve(&self, host: &str, _port: u16) -> Resolving {
        let host = host.to_owned();
        Box::pin(async move {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("the fuzzer resolves no name ({host})"),
            ))
        })
    }
}

pub(crate) struct Harness {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    tools: Vec<String>,
}

pub(crate) fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let mut targets = json!([{
            "label": "api",
            "base_url": "https://api.fuzz.invalid/api",
            "headers": {"allow": ["Accept", "X-Request-Id", "Content-Type"],
                        "inject": {"Authorization": "Bearer ${env:TOKEN}"}},
            "limits": {"request_bytes": "1KiB"},
            "routes": [
                {"name": "get_item", "method": "GET", "path": "/items/{id}",
                 "params": {"id": {"pattern": "^[a-z0-9_]{1,32}$"}},
                 "query": {"expand": {"enum": ["lines", "customer"]}}},
                {"name": "get_free", "method": "GET", "path": "/free/{any}"},
                {"name": "create", "method": "POST", "path": "/items",
                 "body": {"content_type": "application/json", "schema": body_schema()}},
            ],
            "paths": [{"methods": ["GET"], "glob": "/reports/*", "query": ["date"]},
                      {"methods": ["GET", "POST"], "glob": "/files/**"}],
        }]);
        // An IP literal that is never dialled: documentation space, and no allow_cidrs.
        targets.as_array_mut().expect("array").push(json!({
            "label": "lit", "base_url": "http://192.0.2.10:8080/",
            "dangerous": {"allow_plaintext_http": true},
            "paths": [{"methods": ["GET"], "glob": "/**"}],
        }));
        let policy = compile_json(&json!({"version": 1, "targets": targets}), &secrets)
            .expect("the tool policy compiles");
        let tools = crate::catalog::build(&policy)
            .into_iter()
            .map(|t| t.name)
            .collect();
        let callout =
            Callout::new(&policy, Arc::new(NoNames), OwnListeners::default()).expect("callout");
        Harness {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            engine: Engine::new(policy, callout),
            tools,
        }
    })
}

#[rustfmt::skip] // A word list reads best as a paragraph.
pub(crate) const TOOLS: &[&str] = &[
    "api_get_item", "api_get_free", "api_create", "call_target", "list_targets", "nope", "",
];

/// Any tool name and JSON arguments come back as a result or an `isError` result with a stable
/// code, never a panic; only an unknown tool is a protocol error; no secret is in any result.
/// Any upstream response maps to a result whose envelope tells the truth about it.
pub fn tool_call(data: &[u8]) {
    let mut inp = Input::new(data);
    let h = harness();
    let tool = match inp.text() {
        t if t.is_empty() => inp.pick(TOOLS).to_string(),
        t => t,
    };
    let args: Option<Map<String, Value>> = match serde_json::from_str::<Value>(&inp.text()) {
        Ok(Value::Object(m)) => Some(m),
        _ if inp.one_in(8) => None,
        _ => match gen_json(&mut inp, 0) {
            Value::Object(m) => Some(m),
            v => Some(Map::from_iter([(
                inp.pick(&["id", "label", "path", "body"]).to_string(),
                v,
            )])),
        },
    };
    let caller_sent = tool.contains(SECRET_TOKEN)
        || args
            .as_ref()
            .is_some_and(|a| Value::Object(a.clone()).to_string().contains(SECRET_TOKEN));
    let cancel = tokio_util::sync::CancellationToken::new();
    let outcome = h
        .runtime
        .block_on(h.engine.call(&tool, args.as_ref(), &cancel));
    let code = outcome.reason();
    let known = h.tools.contains(&tool);
    match crate::mcp::result::to_result(&tool, outcome) {
        Err(e) => {
            assert!(!known, "{tool} is a tool, yet: {e:?}");
            assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        }
        Ok(r) => {
            assert!(known, "unknown tool {tool:?} answered {r:?}");
            let text = serde_json::to_string(&r).expect("a result serializes");
            // A caller may type the secret's text itself; an error that echoes the caller's own
            // argument gives it nothing it did not have. Any other way in is a leak. (Found by
            // this target in CI: an argument named after the secret, echoed as unknown.)
            assert!(
                caller_sent || !text.contains(SECRET_TOKEN),
                "the secret is in {text}"
            );
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            if tool == "list_targets" && code == "ok" {
                assert_ne!(r.is_error, Some(true));
            } else {
                assert_eq!(r.is_error, Some(true), "{tool}: {text}");
                let first = r.content.first().and_then(|c| c.as_text()).expect("a text");
                assert!(
                    first.text.starts_with(&format!("{code}: ")),
                    "{}",
                    first.text
                );
            }
        }
    }
    response_result(&mut inp);
}

#[rustfmt::skip] // A word list reads best as a paragraph.
pub(crate) const CONTENT_TYPES: &[&str] = &[
    "application/json", "application/problem+json; charset=utf-8", "text/plain", "text/html",
    "image/png", "audio/wav", "multipart/mixed; boundary=b", "multipart/mixed; boundary=\"b\"",
    "multipart/related", "application/octet-stream", "", "application/xml", ";;;", "TEXT/PLAIN",
];

/// No string of a serialized result holds a secret as it stands, and none of the fields harpoon
/// encodes itself holds one once decoded: a block's `data`, a resource's `blob` (base64) and
/// `uri` (percent-encoded, from a part's `Content-Location`), and the envelope's `body_base64`.
/// Only those places are decoded: an upstream's own JSON body may use the same key names for
/// strings harpoon never decodes (found by this target in CI: a body `{"uri": ["%74..."]}`), and
/// harpoon promises redaction after its own decodings, not after every decoding a reader might
/// try.
pub fn assert_no_secret_in_result(result: &Value) {
    assert_no_plain_secret(result, "result");
    let blocks = result["content"].as_array().into_iter().flatten();
    for block in blocks {
        assert_no_decoded_secret(&block["data"], Decoding::Base64);
        assert_no_decoded_secret(&block["resource"]["blob"], Decoding::Base64);
        assert_no_decoded_secret(&block["resource"]["uri"], Decoding::Percent);
    }
    assert_no_decoded_secret(
        &result["structuredContent"]["body_base64"],
        Decoding::Base64,
    );
}

#[derive(Clone, Copy)]
enum Decoding {
    Base64,
    Percent,
}

fn assert_no_decoded_secret(field: &Value, decoding: Decoding) {
    use base64::Engine as _;
    let Some(s) = field.as_str() else {
        return;
    };
    let decoded: Option<Vec<u8>> = match decoding {
        Decoding::Base64 => base64::engine::general_purpose::STANDARD.decode(s).ok(),
        Decoding::Percent => Some(percent_encoding::percent_decode(s.as_bytes()).collect()),
    };
    if let Some(bytes) = decoded {
        assert_holds_no_secret(&bytes, s);
    }
}

/// Every string of `v`, keys included, as it stands.
fn assert_no_plain_secret(v: &Value, place: &str) {
    match v {
        Value::String(s) => assert_holds_no_secret(s.as_bytes(), place),
        Value::Array(items) => items.iter().for_each(|i| assert_no_plain_secret(i, place)),
        Value::Object(map) => {
            for (k, v) in map {
                assert_holds_no_secret(k.as_bytes(), place);
                assert_no_plain_secret(v, k);
            }
        }
        _ => {}
    }
}

fn assert_holds_no_secret(bytes: &[u8], place: &str) {
    for secret in [SECRET_TOKEN, SECRET_TENANT] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "secret {secret:?} in {place}: {}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// Ways an upstream might spell a secret back: as it is, with JSON `\u` escapes, percent-encoded,
/// partly escaped, and in upper case (which harpoon's lowercasing of a media type would undo).
fn spell_secret(secret: &str, how: usize) -> String {
    match how {
        0 => secret.to_owned(),
        1 => secret
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect(),
        2 => secret.bytes().map(|b| format!("%{b:02X}")).collect(),
        3 => secret.to_ascii_uppercase(),
        _ => format!(
            "{}\\u{:04x}{}",
            &secret[..1],
            secret.as_bytes()[1],
            &secret[2..]
        ),
    }
}

/// An upstream's response as a result: the envelope states status, size and truncation as they
/// are, error statuses are `isError`, and every block is well-formed. The response goes through
/// what the callout does to it (secrets blanked from the raw bytes, the media type validated),
/// and no secret of the target comes out in any field, however the upstream spelled it.
pub(crate) fn response_result(inp: &mut Input) {
    let mut body = if inp.has_text() {
        inp.text().into_bytes()
    } else {
        response_bytes(inp)
    };
    let status = *inp.pick(&[200u16, 201, 204, 301, 400, 404, 500, 599]);
    let mut content_type = inp.pick(CONTENT_TYPES).to_string();
    let secret = *inp.pick(&[SECRET_TOKEN, SECRET_TENANT]);
    let spelled = spell_secret(secret, inp.below(5));
    match inp.below(5) {
        0 => body = format!("{{\"k\": \"{spelled}\", \"{spelled}\": 1}}").into_bytes(),
        1 => content_type = format!("image/{spelled}"),
        2 => content_type = format!("application/json; x={spelled}"),
        3 => {
            body = format!(
                "--b\r\nContent-Type: image/{spelled}\r\nContent-Location: test://{spelled}\r\n\r\n{spelled}\r\n--b--"
            )
            .into_bytes();
            content_type = "multipart/mixed; boundary=b".into();
        }
        _ => {}
    }
    let truncated = inp.flip();
    let redactor = Redactor::new([SECRET_TOKEN, SECRET_TENANT].map(|s| s.as_bytes().into()));
    redactor.bytes(&mut body, truncated);
    // As `filter_response_headers` returns it.
    let mut header = content_type.clone().into_bytes();
    redactor.bytes(&mut header, false);
    let r = BoundedResponse {
        status,
        headers: vec![(
            "content-type".into(),
            String::from_utf8_lossy(&header).into_owned(),
        )],
        full_size: truncated.then_some(body.len() as u64 + 10),
        body: bytes::Bytes::from(body.clone()),
        truncated,
        content_type: Some(validated(&content_type, &redactor)),
        redirects: 0,
        redactor,
    };
    let result =
        crate::mcp::result::to_result("t_r", Outcome::Response(r)).expect("a response is a result");
    assert_eq!(result.is_error.unwrap_or(false), status >= 400);
    let envelope = result.structured_content.as_ref().expect("structured");
    assert_eq!(envelope["status"], json!(status));
    assert_eq!(envelope["body_bytes"], json!(body.len()));
    assert_eq!(envelope["truncated"], json!(truncated));
    assert!(envelope.get("body").is_some() != envelope.get("body_base64").is_some());
    assert!(result.content.len() <= 1 + 32, "one block per part at most");
    let value = serde_json::to_value(&result).expect("a result serializes");
    assert_no_secret_in_result(&value);
}
