//! The direct `tools/call` path (`mcp::direct_call`, `transport::mcp_endpoint`): a plain
//! stateless call is answered without rmcp's per-request service, with the same reply rmcp
//! gives; everything else still goes to rmcp; a client that goes away still cancels the
//! upstream request.

use crate::support::mcp_client::{MODERN, McpHttp};
use crate::support::upstream::{Reply, Upstream};
use crate::support::{get, server};
use harpoon::mcp::direct_call::DirectCall;
use harpoon::transport::http::HttpOptions;
use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};
use std::time::Duration;

async fn upstream() -> Upstream {
    Upstream::start(|s| match s.target.as_str() {
        "/api/reports/big" => Reply::ok(&"r".repeat(10_000)),
        "/api/reports/slow" => Reply::StallUntilClosed,
        t if t.starts_with("/api/items/") => {
            Reply::json(200, json!({"id": t.rsplit('/').next(), "name": "widget"}))
        }
        "/api/items" => Reply::json(201, json!({"created": String::from_utf8_lossy(&s.body)})),
        "/api/files/gone" => Reply::json(404, json!({"error": "no such file"})),
        _ => Reply::json(500, json!({"error": "boom"})),
    })
    .await
}

async fn start(up: &Upstream, direct_calls: bool) -> server::TestServer {
    let options = HttpOptions {
        direct_calls,
        ..HttpOptions::loopback()
    };
    server::start(&crate::enforcement::allowlist(&up.url()), options).await
}

/// The `harpoon_direct_calls_total` counter of a server.
async fn direct_calls(srv: &server::TestServer) -> u64 {
    let (status, text) = get(&srv.url("/metrics")).await;
    assert_eq!(status, 200);
    text.lines()
        .find_map(|l| l.strip_prefix("harpoon_direct_calls_total "))
        .and_then(|v| v.parse().ok())
        .expect("the counter is exported")
}

/// Calls that cover every kind of answer: a JSON response, a created resource, an upstream
/// error status, a cut response, each kind of denial, `list_targets`, an unknown tool, and
/// malformed arguments.
fn cases() -> Vec<Value> {
    vec![
        json!({"name": "api_get_item", "arguments": {"id": "a1", "expand": "lines"}}),
        json!({"name": "api_get_item", "arguments": {"id": "../etc"}}),
        json!({"name": "api_get_item", "arguments": {"id": "a1", "expand": "everything"}}),
        json!({"name": "api_get_item", "arguments": {}}),
        json!({"name": "api_get_item"}),
        json!({"name": "api_get_item", "arguments": {"id": 7}}),
        json!({"name": "api_create", "arguments": {"body": {"name": "bolt"}}}),
        json!({"name": "api_create", "arguments": {"body": {"name": "bolt", "extra": 1}}}),
        json!({"name": "call_target", "arguments": {"label": "api", "method": "GET", "path": "/reports/big"}}),
        json!({"name": "call_target", "arguments": {"label": "api", "method": "GET", "path": "/files/gone"}}),
        json!({"name": "call_target", "arguments": {"label": "api", "method": "DELETE", "path": "/files/x"}}),
        json!({"name": "call_target", "arguments": {"label": "api", "method": "GET", "path": "/admin"}}),
        json!({"name": "call_target", "arguments": {"label": "nope", "method": "GET", "path": "/reports/x"}}),
        json!({"name": "list_targets", "arguments": {}}),
        json!({"name": "no_such_tool", "arguments": {}}),
    ]
}

#[tokio::test]
async fn direct_and_rmcp_paths_give_the_same_replies() {
    let up = upstream().await;
    let direct = start(&up, true).await;
    let rmcp_only = start(&up, false).await;
    let (mut a, mut b) = (
        McpHttp::new(&direct.mcp_url()),
        McpHttp::new(&rmcp_only.mcp_url()),
    );
    let cases = cases();
    for params in &cases {
        let (ida, ra) = a.modern("tools/call", params.clone()).await;
        let (idb, rb) = b.modern("tools/call", params.clone()).await;
        assert_eq!(ida, idb);
        assert_eq!(ra.status, rb.status, "{params}");
        assert_eq!(ra.messages, rb.messages, "{params}");
        assert_eq!(ra.messages.len(), 1, "{params}: {ra:?}");
    }
    // Every case but the unknown tool (left to rmcp) went the direct way on the first server,
    // none on the second.
    assert_eq!(direct_calls(&direct).await, cases.len() as u64 - 1);
    assert_eq!(direct_calls(&rmcp_only).await, 0);
}

#[tokio::test]
async fn anything_but_a_plain_stateless_call_goes_to_rmcp() {
    let up = upstream().await;
    let srv = start(&up, true).await;
    let call = json!({"name": "api_get_item", "arguments": {"id": "a1"}});
    let mut c = McpHttp::new(&srv.mcp_url());
    let port = srv.addr.port().to_string();
    let origin = format!("http://localhost:{port}");
    // Each of these is answered (by rmcp) and none is counted as direct.
    let (_, ex) = c
        .modern(
            "tools/call",
            json!({"name": "api_get_item", "arguments": {"id": "a1"},
            "_meta": {"progressToken": "p1"}}),
        )
        .await;
    assert_eq!(ex.status, 200, "{ex:?}");
    assert!(
        !ex.notifications("notifications/progress").is_empty(),
        "{ex:?}"
    );
    c.headers = vec![("origin".into(), origin)];
    let (id, ex) = c.modern("tools/call", call.clone()).await;
    assert_eq!(ex.reply(id)["result"]["structuredContent"]["status"], 200);
    c.headers = vec![("host".into(), format!("LOCALHOST.:{port}"))];
    let (_, ex) = c.modern("tools/call", call.clone()).await;
    assert_eq!(
        ex.status, 403,
        "rmcp refuses a host it does not allow: {ex:?}"
    );
    c.headers.clear();
    let mut legacy = McpHttp::new(&srv.mcp_url());
    legacy.initialize_legacy().await;
    let reply = legacy
        .call(
            crate::support::mcp_client::LEGACY,
            "api_get_item",
            json!({"id": "a1"}),
        )
        .await;
    assert_eq!(reply["result"]["structuredContent"]["status"], 200);
    // A header that contradicts the body is refused by rmcp, not answered.
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
        "name": "api_get_item", "arguments": {"id": "a1"}, "_meta": {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {}}}});
    let ex = c
        .post_raw(
            body.to_string(),
            &[
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "tools/call"),
                ("mcp-name", "api_create"),
            ],
        )
        .await;
    assert_eq!(ex.status, 400, "{ex:?}");
    assert_eq!(direct_calls(&srv).await, 0);
    // The same call, plain, is direct.
    let (id, ex) = c.modern("tools/call", call).await;
    assert_eq!(ex.reply(id)["result"]["structuredContent"]["status"], 200);
    assert_eq!(direct_calls(&srv).await, 1);
}

#[tokio::test]
async fn take_accepts_only_complete_2026_07_28_calls_without_progress() {
    let up = upstream().await;
    let srv = start(&up, true).await;
    let handler = srv.service.handler();
    let meta = json!({"io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {}});
    let message = |params: Value, method: &str| -> ClientJsonRpcMessage {
        serde_json::from_value(
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        )
        .expect("a valid message")
    };
    let plain = json!({"name": "api_get_item", "arguments": {"id": "a1"}, "_meta": meta});
    assert!(DirectCall::take(message(plain.clone(), "tools/call"), &handler).is_ok());
    let mut refused = vec![
        ("tools/list", json!({"_meta": meta})),
        (
            "tools/call",
            json!({"name": "api_get_item", "arguments": {"id": "a1"}}),
        ),
        ("tools/call", json!({"name": "nope", "_meta": meta})),
        (
            "tools/call",
            json!({"name": "api_get_item", "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN}}),
        ),
        (
            "tools/call",
            json!({"name": "api_get_item", "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2025-11-25",
            "io.modelcontextprotocol/clientCapabilities": {}}}),
        ),
        (
            "tools/call",
            json!({"name": "api_get_item", "requestState": "s", "_meta": meta}),
        ),
    ];
    let mut with_progress = plain.clone();
    with_progress["_meta"]["progressToken"] = json!(3);
    refused.push(("tools/call", with_progress));
    for (method, params) in refused {
        let m = message(params.clone(), method);
        let before = serde_json::to_value(&m).expect("serializes");
        let back = DirectCall::take(m, &handler).expect_err(&params.to_string());
        let after = serde_json::to_value(&*back).expect("serializes");
        assert_eq!(after, before, "the message comes back untouched");
    }
}

/// Request bodies near the plain shape `DirectCall::read` accepts: each part of the message
/// written several ways (escapes, repeated members, wrong types, missing and extra members),
/// every combination of the parts of `params`, and every combination of the envelope's.
fn near_misses() -> Vec<String> {
    let ids = [
        "1",
        "\"a\"",
        "-5",
        "9223372036854775807",
        "1.5",
        "null",
        "true",
        "1e2",
    ];
    let versions = [r#""jsonrpc":"2.0","#, r#""jsonrpc":"1.0","#, ""];
    let methods = [r#""tools/call""#, r#""tools\/call""#, r#""tools/list""#];
    let envelope_extras = ["", r#","x":1"#, r#","id":2"#];
    let names = [
        r#""api_get_item""#,
        r#""api\u005fget_item""#,
        r#""no_such_tool""#,
        r#""list_targets""#,
        r#""call_target""#,
    ];
    let arguments = [
        "",
        r#","arguments":{"id":"a1"}"#,
        r#","arguments":null"#,
        r#","arguments":[]"#,
        r#","arguments":{"id":"a1","id":"b2"}"#,
        r#","arguments":"x""#,
    ];
    let modern = r#""io.modelcontextprotocol/protocolVersion":"2026-07-28""#;
    let caps = r#""io.modelcontextprotocol/clientCapabilities":{}"#;
    let metas = [
        format!(r#","_meta":{{{modern},{caps}}}"#),
        format!(r#","_meta":{{{modern}}}"#),
        format!(r#","_meta":{{"io.modelcontextprotocol/protocolVersion":"2025-11-25",{caps}}}"#),
        format!(r#","_meta":{{{modern},{caps},"progressToken":3}}"#),
        format!(
            r#","_meta":{{{modern},{caps},"io.modelcontextprotocol/clientInfo":{{"name":"c","version":"1"}}}}"#
        ),
        format!(r#","_meta":{{{modern},"io.modelcontextprotocol/clientCapabilities":7}}"#),
        String::new(),
        r#","_meta":null"#.to_string(),
    ];
    let param_extras = [
        "",
        r#","requestState":"s""#,
        r#","task":{}"#,
        r#","inputResponses":{}"#,
        r#","name":"list_targets""#,
    ];
    let body = |id: &str, version: &str, method: &str, extra: &str, params: &str| {
        format!(r#"{{{version}"id":{id},"method":{method},"params":{{{params}}}{extra}}}"#)
    };
    let mut bodies = Vec::new();
    for name in names {
        for args in arguments {
            for meta in &metas {
                for extra in param_extras {
                    let params = format!(r#""name":{name}{args}{meta}{extra}"#);
                    bodies.push(body("1", versions[0], methods[0], "", &params));
                }
            }
        }
    }
    let plain = format!(
        r#""name":"api_get_item","arguments":{{"id":"a1"}}{}"#,
        metas[0]
    );
    for id in ids {
        for version in versions {
            for method in methods {
                for extra in envelope_extras {
                    bodies.push(body(id, version, method, extra, &plain));
                }
            }
        }
    }
    let spaced = serde_json::to_string_pretty(
        &serde_json::from_str::<Value>(&body("1", versions[0], methods[0], "", &plain))
            .expect("the plain body is JSON"),
    )
    .expect("serializes");
    bodies.push(spaced);
    bodies
}

#[tokio::test]
async fn read_accepts_only_calls_take_accepts_and_reads_them_alike() {
    let up = upstream().await;
    let srv = start(&up, true).await;
    let handler = srv.service.handler();
    let bodies = near_misses();
    let (mut read, mut only_take) = (0, 0);
    for body in &bodies {
        let fast = DirectCall::read(body.as_bytes(), &handler);
        let slow = serde_json::from_str::<ClientJsonRpcMessage>(body)
            .ok()
            .and_then(|m| DirectCall::take(m, &handler).ok());
        match (fast, slow) {
            (Some(fast), Some(slow)) => {
                assert_eq!(fast, slow, "{body}");
                read += 1;
            }
            (Some(fast), None) => panic!("read accepted what take refuses: {body} as {fast:?}"),
            (None, Some(_)) => only_take += 1,
            (None, None) => {}
        }
    }
    // Not vacuous: the plain shape in each way of writing it that serde reads without a copy
    // (every id, tool, arguments and clientInfo variant `take` accepts), and some calls only the
    // long way finds (an escaped method name).
    assert!(read >= 30, "read accepted {read} of {}", bodies.len());
    assert!(only_take >= 1, "no body needed the long way");
    assert!(
        read + only_take < bodies.len(),
        "most near misses are refused both ways"
    );
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_direct_call_upstream() {
    let up = upstream().await;
    let srv = start(&up, true).await;
    let c = McpHttp::new(&srv.mcp_url());
    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "call_target", "arguments": {"label": "api", "method": "GET", "path": "/reports/slow"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {}}}});
    let bound = Duration::from_secs(10);
    let call = c.post_raw(
        body.to_string(),
        &[
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", "call_target"),
        ],
    );
    // The client's request is dropped once the upstream has it: the bounds only keep a broken
    // build from hanging the test.
    tokio::select! {
        _ = call => panic!("the stalled call answered"),
        arrived = tokio::time::timeout(bound, up.request_arrived()) => {
            arrived.expect("the upstream saw the request");
        }
    }
    tokio::time::timeout(bound, up.connection_closed())
        .await
        .expect("the upstream saw its connection close");
    assert_eq!(direct_calls(&srv).await, 1);
    // The call ended through the engine, counted as cancelled.
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        let (_, metrics) = get(&srv.url("/metrics")).await;
        if metrics.contains("reason=\"cancelled\"} 1") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no cancelled call counted:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
