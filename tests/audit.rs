//! Exactly one canonical audit event per call, with its decision and reason, and never a
//! secret, a body or a query value in any log line.

use crate::support::engine::{call, engine};
use crate::support::upstream::Upstream;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn one_audit_event_per_call_and_nothing_secret_in_any_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let up = Upstream::echo().await;
            let e = engine(&crate::enforcement::allowlist(&up.url()));
            call(&e, "api_create", json!({"body": {"name": "BODY-MARKER"}})).await;
            call(&e, "call_target", json!({"label": "api", "method": "GET", "path": "/reports/x", "query": {"date": "QUERY-MARKER"}})).await;
            call(&e, "call_target", json!({"label": "api", "method": "GET", "path": "/admin"})).await;
            call(&e, "api_get_item", json!({"id": "../x"})).await;
        });
    });
    let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    for marker in ["s3cret-token-value", "BODY-MARKER", "QUERY-MARKER"] {
        assert!(
            !text.contains(marker),
            "'{marker}' leaked into the logs:\n{text}"
        );
    }
    let audits: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "harpoon::audit")
        .collect();
    let got: Vec<(String, String, String)> = audits
        .iter()
        .map(|a| {
            let f = &a["fields"];
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s("tool"), s("decision"), s("reason"))
        })
        .collect();
    assert_eq!(
        got,
        [
            ("api_create".to_owned(), "allow".to_owned(), "ok".to_owned()),
            ("call_target".into(), "allow".into(), "ok".into()),
            (
                "call_target".into(),
                "deny".into(),
                "path_not_allowed".into()
            ),
            ("api_get_item".into(), "deny".into(), "bad_param".into()),
        ]
    );
    let first = &audits[0]["fields"];
    assert_eq!(first["target_label"], "api");
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], "/items");
    assert_eq!(first["status"], 200);
    assert!(first["bytes_out"].as_u64() > Some(0) && first["duration_us"].is_u64());
    assert_eq!(
        audits[1]["fields"]["path"], "/reports/x",
        "the query string is never logged"
    );
}

/// Every field an upstream controls, each carrying the injected secret in every spelling harpoon
/// might decode (as is, JSON `\u` escapes, percent-encoded, upper case where harpoon lowercases):
/// the body, a text body, a media type, an allowlisted header, a multipart part, a returned and a
/// refused redirect's `Location`. No secret reaches the result (decoded where harpoon encodes),
/// any log line (audit included, at TRACE), or the metrics.
#[test]
fn a_secret_an_upstream_sends_in_any_field_reaches_no_result_log_or_metric() {
    use crate::support::upstream::Reply;
    let secret = "s3cret-token-value";
    let spellings = [
        secret.to_owned(),
        secret
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect(),
        secret.bytes().map(|b| format!("%{b:02X}")).collect(),
        secret.to_ascii_uppercase(),
    ];
    let mut replies: Vec<Reply> = Vec::new();
    for s in &spellings {
        let respond = |status: u16, headers: &[(&str, String)], body: String| Reply::Respond {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            body: body.into_bytes(),
        };
        replies.extend([
            respond(
                200,
                &[("content-type", "application/json".into())],
                format!("{{\"k\": \"{s}\", \"{s}\": [\"{s}\"]}}"),
            ),
            respond(200, &[("content-type", "text/plain".into())], s.clone()),
            respond(200, &[("content-type", format!("image/{s}"))], s.clone()),
            respond(
                200,
                &[("content-type", format!("application/json; x={s}"))],
                "{}".into(),
            ),
            respond(
                404,
                &[("etag", format!("\"{s}\"")), ("x-other", s.clone())],
                String::new(),
            ),
            respond(
                200,
                &[("content-type", "multipart/mixed; boundary=b".into())],
                format!(
                    "--b\r\nContent-Type: image/{s}\r\nContent-Location: test://{s}\r\n\r\n{s}\r\n--b--"
                ),
            ),
            Reply::redirect(302, &format!("http://evil.example/?t={s}")),
            Reply::redirect(302, &format!("/elsewhere/{s}?t={s}")),
        ]);
    }
    let count = replies.len();
    let replies = Arc::new(Mutex::new(replies));
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let metrics = tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let next = Arc::clone(&replies);
            let up = Upstream::start(move |_| next.lock().expect("lock").remove(0)).await;
            let yaml = format!(
                "version: 1\ntargets:\n  - label: api\n    base_url: {}/api\n    network: {{ allow_cidrs: [127.0.0.1/32] }}\n    \
                 headers:\n      inject: {{ Authorization: \"Bearer ${{env:TEST_TOKEN}}\" }}\n    \
                 response_headers: [Content-Type, ETag, Location]\n    dangerous: {{ allow_plaintext_http: true }}\n    \
                 redirects: 1\n    paths: [{{ methods: [GET], glob: \"/**\" }}]\n",
                up.url()
            );
            let e = engine(&yaml);
            for i in 0..count {
                let outcome = call(
                    &e,
                    "call_target",
                    json!({"label": "api", "method": "GET", "path": format!("/r/{i}")}),
                )
                .await;
                let result = harpoon::mcp::result::to_result("call_target", outcome)
                    .expect("a call_target outcome is a result");
                let value = serde_json::to_value(&result).expect("serializes");
                assert_no_secret(secret, &value, i);
            }
            assert_eq!(up.requests().len(), count, "every reply was used, no refused hop sent");
            e.metrics().render(&[])
        })
    });
    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(
        logs.lines()
            .filter(|l| l.contains("harpoon::audit"))
            .count()
            >= count,
        "the calls were audited:\n{logs}"
    );
    for (place, text) in [("logs", &logs), ("metrics", &metrics)] {
        assert!(
            !text.contains(secret),
            "the secret is in the {place}:\n{text}"
        );
    }
}

/// The test's secret is nowhere in a result: not as it stands, not in the fields harpoon
/// base64-encodes once decoded, not in a percent-encoded resource `uri` once decoded.
fn assert_no_secret(secret: &str, result: &Value, call: usize) {
    use base64::Engine as _;
    let text = result.to_string();
    assert!(!text.contains(secret), "call {call}: {text}");
    let mut encoded = vec![&result["structuredContent"]["body_base64"]];
    for block in result["content"].as_array().into_iter().flatten() {
        encoded.extend([&block["data"], &block["resource"]["blob"]]);
    }
    for field in encoded.into_iter().filter_map(Value::as_str) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(field)
            .unwrap_or_default();
        let decoded = String::from_utf8_lossy(&bytes);
        assert!(!decoded.contains(secret), "call {call}: {decoded}");
    }
    for block in result["content"].as_array().into_iter().flatten() {
        if let Some(uri) = block["resource"]["uri"].as_str() {
            let decoded = percent_encoding::percent_decode_str(uri).decode_utf8_lossy();
            assert!(!decoded.contains(secret), "call {call}: {decoded}");
        }
    }
}

/// The audit event of a caller with a token records its `sub` and client id and never the token,
/// through the HTTP layer with a token from the loopback issuer (and in process for the other
/// kinds of caller). Everything runs on this thread's runtime, inside this thread's subscriber:
/// harpoon's server, its issuer fetch and the engine are tasks of a current-thread runtime, so
/// no event is emitted where the capture cannot see it.
#[test]
fn the_audit_event_names_the_tokens_subject_and_client_and_never_the_token() {
    use crate::authorization::{RESOURCE, post, setup};
    use crate::support::issuer::Key;
    use harpoon::telemetry::{CallRecord, audit};
    use std::time::Duration;

    // The audit callsite is registered before this test's subscriber exists, and the interest
    // cache rebuilt once it does: a callsite registered by another test's thread while this
    // subscriber was being installed could otherwise keep a cached "never" for it (tracing
    // computes a callsite's interest once, across the subscribers alive at that moment).
    audit(&CallRecord::default());
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let token = std::cell::RefCell::new(String::new());
    tracing::subscriber::with_default(subscriber, || {
        tracing::callsite::rebuild_interest_cache();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let key = Key::es256("k1");
            let s = setup(&[&key], Duration::ZERO).await;
            let minted = key.sign(&s.issuer.claims(RESOURCE, "api.read"));
            let params = json!({"name": "api_get_item", "arguments": {"id": "a1"}});
            let (status, _, reply) = post(&s, Some(&minted), "tools/call", params).await;
            assert_eq!(status, 200, "{reply}");
            assert_eq!(reply["result"]["isError"], json!(false), "{reply}");
            // The engine's own check, in process, with no caller: anonymous, refused.
            let outcome = s
                .harpoon
                .service
                .engine()
                .call_as(
                    &harpoon::policy::Caller::Anonymous,
                    "api_get_item",
                    json!({"id": "a2"}).as_object(),
                    &tokio_util::sync::CancellationToken::new(),
                    &harpoon::progress::NoProgress,
                )
                .await;
            assert_eq!(outcome.reason(), "insufficient_scope");
            *token.borrow_mut() = minted;
        });
    });
    let token = token.into_inner();
    assert!(token.len() > 100, "a token was minted");
    let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    // Nor any of its three parts: the signature alone would be a leak worth finding.
    for part in std::iter::once(token.as_str()).chain(token.split('.')) {
        assert!(
            !text.contains(part),
            "the token leaked into the logs:\n{text}"
        );
    }
    let audits: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "harpoon::audit")
        .collect();
    let got: Vec<[&str; 6]> = audits
        .iter()
        .map(|a| {
            let f = &a["fields"];
            let s = |k: &str| f[k].as_str().unwrap_or("<missing>");
            [
                s("tool"),
                s("decision"),
                s("reason"),
                s("caller"),
                s("subject"),
                s("client_id"),
            ]
        })
        .collect();
    assert_eq!(
        got,
        [
            ["api_get_item", "allow", "ok", "token", "user-7", "client-3"],
            [
                "api_get_item",
                "deny",
                "insufficient_scope",
                "anonymous",
                "",
                ""
            ],
        ],
        "{text}"
    );
}
