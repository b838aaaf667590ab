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
