//! MCP over Streamable HTTP, both eras, against a real upstream on loopback: the tool list,
//! reads, writes, denials, oversize responses, unknown tools, progress, and the HTTP guards
//! (Host, Origin, token, body size).

use crate::support::mcp_client::{LEGACY, MODERN, McpHttp};
use crate::support::upstream::{Reply, Upstream};
use crate::support::{get, server};
use harpoon::transport::http::HttpOptions;
use serde_json::{Value, json};

async fn upstream() -> Upstream {
    Upstream::start(|s| match s.target.as_str() {
        "/api/reports/big" => Reply::ok(&"r".repeat(10_000)),
        "/api/reports/slow" => Reply::StallBeforeHeaders,
        t if t.starts_with("/api/items/") => {
            Reply::json(200, json!({"id": t.rsplit('/').next(), "name": "widget"}))
        }
        "/api/items" => Reply::json(201, json!({"created": String::from_utf8_lossy(&s.body)})),
        _ => Reply::json(404, json!({"error": "no"})),
    })
    .await
}

async fn server_for(up: &Upstream) -> server::TestServer {
    server::start(
        &crate::enforcement::allowlist(&up.url()),
        HttpOptions::loopback(),
    )
    .await
}

fn text(reply: &Value) -> String {
    reply["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn initialize_reports_harpoon_and_tools_only() {
    let up = upstream().await;
    let srv = server_for(&up).await;
    let mut c = McpHttp::new(&srv.mcp_url());
    let init = c.initialize_legacy().await;
    let result = &init["result"];
    assert_eq!(result["protocolVersion"], LEGACY);
    assert_eq!(result["serverInfo"]["name"], "harpoon");
    assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        result["capabilities"],
        json!({"tools": {"listChanged": true}})
    );
    for method in ["prompts/list", "resources/list", "resources/templates/list"] {
        let (id, ex) = c.legacy(method, json!({})).await;
        assert_eq!(ex.reply(id)["error"]["code"], -32601, "{method}");
    }
    let (id, ex) = c.modern("server/discover", json!({})).await;
    let discover = &ex.reply(id)["result"];
    assert!(
        discover["supportedVersions"]
            .as_array()
            .is_some_and(|v| v.contains(&json!(MODERN))),
        "{discover}"
    );
    assert_eq!(
        discover["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "harpoon"
    );
    // Stateless requests get no list-change notifications (no subscriptions): not claimed.
    assert_eq!(discover["capabilities"], json!({"tools": {}}), "{discover}");
}

#[tokio::test]
async fn both_eras_list_the_same_typed_tools() {
    let up = upstream().await;
    let srv = server_for(&up).await;
    let mut c = McpHttp::new(&srv.mcp_url());
    c.initialize_legacy().await;
    let (id, legacy) = c.legacy("tools/list", json!({})).await;
    let (mid, modern) = McpHttp::new(&srv.mcp_url())
        .modern("tools/list", json!({}))
        .await;
    let names = |v: &Value| -> Vec<String> {
        v["result"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    };
    let want = [
        "list_targets",
        "call_target",
        "api_create",
        "api_get_free",
        "api_get_item",
    ];
    assert_eq!(names(legacy.reply(id)), want);
    assert_eq!(names(modern.reply(mid)), want);
    let tools = legacy.reply(id)["result"]["tools"]
        .as_array()
        .expect("tools")
        .clone();
    let get_item = tools
        .iter()
        .find(|t| t["name"] == "api_get_item")
        .expect("api_get_item");
    assert_eq!(get_item["inputSchema"]["additionalProperties"], false);
    assert_eq!(get_item["inputSchema"]["required"], json!(["id"]));
    assert_eq!(
        get_item["inputSchema"]["properties"]["id"]["pattern"],
        "^[a-z0-9_]{1,32}$"
    );
    assert_eq!(get_item["annotations"]["readOnlyHint"], true);
    let create = tools
        .iter()
        .find(|t| t["name"] == "api_create")
        .expect("api_create");
    assert_eq!(create["annotations"]["readOnlyHint"], false);
    assert_eq!(create["annotations"]["idempotentHint"], false);
    assert_eq!(
        create["inputSchema"]["properties"]["body"]["required"],
        json!(["name"])
    );
    let listing = serde_json::to_string(&tools).expect("json");
    assert!(
        !listing.contains("127.0.0.1") && !listing.contains("TEST_TOKEN"),
        "no URL or secret in tool definitions"
    );
}

#[tokio::test]
async fn reads_writes_denials_and_oversize_in_both_eras() {
    let up = upstream().await;
    let srv = server_for(&up).await;
    for era in [LEGACY, MODERN] {
        let mut c = McpHttp::new(&srv.mcp_url());
        if era == LEGACY {
            c.initialize_legacy().await;
        }
        let read = c.call(era, "api_get_item", json!({"id": "inv_7"})).await;
        assert_eq!(read["result"]["isError"], false, "{era}: {read}");
        assert_eq!(read["result"]["structuredContent"]["status"], 200);
        assert_eq!(
            read["result"]["structuredContent"]["body"],
            json!({"id": "inv_7", "name": "widget"})
        );
        let text_form: Value =
            serde_json::from_str(&text(&read)).expect("the text is the same JSON");
        assert_eq!(text_form, read["result"]["structuredContent"]);

        let write = c
            .call(era, "api_create", json!({"body": {"name": "n1"}}))
            .await;
        assert_eq!(
            write["result"]["structuredContent"]["status"], 201,
            "{era}: {write}"
        );

        let denied = c
            .call(
                era,
                "call_target",
                json!({"label": "api", "method": "GET", "path": "/reports/../admin"}),
            )
            .await;
        assert_eq!(denied["result"]["isError"], true);
        assert!(text(&denied).starts_with("path_not_allowed: "), "{denied}");

        let big = c
            .call(
                era,
                "call_target",
                json!({"label": "api", "method": "GET", "path": "/reports/big"}),
            )
            .await;
        let s = &big["result"]["structuredContent"];
        assert_eq!(
            (
                s["truncated"].as_bool(),
                s["body_bytes"].as_u64(),
                s["full_bytes"].as_u64()
            ),
            (Some(true), Some(4096), Some(10_000))
        );

        let unknown = c.call(era, "no.such_tool", json!({})).await;
        assert_eq!(unknown["error"]["code"], -32602, "{era}: {unknown}");
    }
    let seen: Vec<String> = up.requests().iter().map(|s| s.target.clone()).collect();
    assert!(
        !seen.iter().any(|t| t.contains("admin")),
        "a denied path reached the upstream: {seen:?}"
    );
}

#[tokio::test]
async fn progress_is_reported_before_the_result() {
    let up = upstream().await;
    let srv = server_for(&up).await;
    let mut c = McpHttp::new(&srv.mcp_url());
    let params = json!({"name": "api_get_item", "arguments": {"id": "p1"}, "_meta": {"progressToken": "tok-1"}});
    let (id, ex) = c.modern("tools/call", params).await;
    let progress: Vec<f64> = ex
        .notifications("notifications/progress")
        .iter()
        .filter_map(|n| n["params"]["progress"].as_f64())
        .collect();
    assert_eq!(progress, [0.0, 1.0, 2.0, 3.0]);
    assert!(
        ex.notifications("notifications/progress")
            .iter()
            .all(|n| n["params"]["progressToken"] == "tok-1")
    );
    assert_eq!(ex.reply(id)["result"]["structuredContent"]["status"], 200);
}

#[tokio::test]
async fn host_origin_and_body_size_are_guarded() {
    let up = upstream().await;
    let srv = server_for(&up).await;
    let c = McpHttp::new(&srv.mcp_url());
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}).to_string();
    let evil_host = c.post_raw(list.clone(), &[("host", "evil.example")]).await;
    assert_eq!(
        evil_host.status, 403,
        "DNS rebinding: a foreign Host is refused"
    );
    let evil_origin = c
        .post_raw(list.clone(), &[("origin", "https://evil.example")])
        .await;
    assert_eq!(
        evil_origin.status, 403,
        "a foreign browser Origin is refused"
    );
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{{\"pad\":\"{}\"}}}}",
        "x".repeat(9 * 1024 * 1024)
    );
    assert_eq!(c.post_raw(big, &[]).await.status, 413);
}

#[tokio::test]
async fn a_token_guards_mcp_and_nothing_else() {
    let up = upstream().await;
    let options = HttpOptions {
        token: Some("t0ken".into()),
        ..HttpOptions::loopback()
    };
    let srv = server::start(&crate::enforcement::allowlist(&up.url()), options).await;
    let mut c = McpHttp::new(&srv.mcp_url());
    let (_, ex) = c.modern("tools/list", json!({})).await;
    assert_eq!(ex.status, 401);
    c.headers
        .push(("authorization".into(), "Bearer wrong".into()));
    assert_eq!(c.modern("tools/list", json!({})).await.1.status, 401);
    c.headers = vec![("authorization".into(), "Bearer t0ken".into())];
    assert_eq!(c.modern("tools/list", json!({})).await.1.status, 200);
    assert_eq!(get(&srv.url("/healthz")).await.0, 200);
    // Only `/mcp` asks for it: an unknown path answers 404, as it does without a token and
    // with OAuth tokens, not a challenge; paths under `/mcp` are unknown paths too.
    assert_eq!(get(&srv.url("/mcp")).await.0, 401);
    for unknown in ["/mcp/x", "/mcp/", "/nope"] {
        assert_eq!(get(&srv.url(unknown)).await.0, 404, "{unknown}");
    }
}

#[tokio::test]
async fn only_mcp_itself_is_the_endpoint() {
    let up = upstream().await;
    let srv = server_for(&up).await;
    for path in ["/mcp/", "/mcp/x", "/mcp/mcp"] {
        let mut c = McpHttp::new(&srv.url(path));
        let (_, ex) = c
            .modern(
                "tools/call",
                json!({"name": "api_get_item", "arguments": {"id": "m1"}}),
            )
            .await;
        assert_eq!(ex.status, 404, "{path}");
    }
    assert_eq!(
        up.hits(),
        0,
        "a call posted under /mcp/ reached the upstream"
    );
    let mut c = McpHttp::new(&srv.mcp_url());
    let reply = c.call(MODERN, "api_get_item", json!({"id": "m1"})).await;
    assert!(text(&reply).contains("widget"), "{reply}");
    assert_eq!(up.requests().len(), 1);
}

#[tokio::test]
async fn readyz_and_metrics_tell_the_truth() {
    let up = upstream().await;
    let srv = server_for(&up).await;
    assert_eq!(get(&srv.url("/readyz")).await.0, 200);
    let mut c = McpHttp::new(&srv.mcp_url());
    c.call(MODERN, "api_get_item", json!({"id": "m1"})).await;
    c.call(MODERN, "api_get_item", json!({"id": "../x"})).await;
    let metrics = get(&srv.url("/metrics")).await.1;
    assert!(metrics.contains(r#"harpoon_calls_total{tool="api_get_item",target="api",decision="allow",reason="ok"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"harpoon_calls_total{tool="api_get_item",target="api",decision="deny",reason="bad_param"} 1"#), "{metrics}");
    assert!(
        metrics.contains("harpoon_ready 1")
            && metrics.contains("harpoon_call_duration_seconds_count{target=\"api\"} 1"),
        "{metrics}"
    );
    srv.status.set_ready(false);
    assert_eq!(get(&srv.url("/readyz")).await.0, 503);
}

async fn wait_for(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if check() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

async fn cancelled_calls(srv: &server::TestServer) -> bool {
    get(&srv.url("/metrics"))
        .await
        .1
        .contains("reason=\"cancelled\"")
}

#[tokio::test]
async fn a_stateless_call_is_cancelled_when_its_client_goes_away() {
    let up = upstream().await;
    let srv = server_for(&up).await;
    let mut c = McpHttp::new(&srv.mcp_url());
    let slow = tokio::spawn(async move {
        c.call(
            MODERN,
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/slow"}),
        )
        .await
    });
    assert!(
        wait_for(|| srv.service.tracker().in_flight() == 1).await,
        "the slow call is in flight"
    );
    slow.abort();
    let _ = slow.await;
    assert!(
        wait_for(|| srv.service.tracker().in_flight() == 0).await,
        "the call ended"
    );
    assert!(cancelled_calls(&srv).await, "the call ended as cancelled");
}

#[tokio::test]
async fn a_session_call_is_cancelled_by_notifications_cancelled() {
    let up = upstream().await;
    let srv = server_for(&up).await;
    let mut c = McpHttp::new(&srv.mcp_url());
    c.initialize_legacy().await;
    let canceller = McpHttp::join(&srv.mcp_url(), c.session());
    let slow = tokio::spawn(async move {
        let body = json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": {"name": "call_target", "arguments": {"label": "api", "method": "GET", "path": "/reports/slow"}}});
        c.post_raw(body.to_string(), &[("mcp-protocol-version", LEGACY)])
            .await
    });
    assert!(
        wait_for(|| srv.service.tracker().in_flight() == 1).await,
        "the slow call is in flight"
    );
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 77, "reason": "user"}});
    assert_eq!(
        canceller
            .post_raw(cancel.to_string(), &[("mcp-protocol-version", LEGACY)])
            .await
            .status,
        202
    );
    assert!(
        wait_for(|| srv.service.tracker().in_flight() == 0).await,
        "the call ended"
    );
    assert!(cancelled_calls(&srv).await, "the call ended as cancelled");
    slow.abort();
}
