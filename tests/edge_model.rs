//! `harpoon edge` as a faithful model of the service (change set B): progress relayed to the
//! caller as SSE events before the final answer, DELETE as `session_termination`, the tunnel
//! metadata endpoint, poll parameters held to the schema, and poll answers bounded in bytes
//! with an oversize request refused alone.

use crate::tunnel::{TOKEN, edge_options, edge_poll, edge_post, start_edge_at};
use harpoon::transport::edge::EdgeOptions;
use serde_json::{Value, json};
use std::time::Duration;

/// The commands of one poll answer.
async fn commands(r: reqwest::Response) -> Vec<Value> {
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    v["commands"].as_array().cloned().expect("commands")
}

fn caller(base: &str, accept: &str, body: Value) -> tokio::task::JoinHandle<reqwest::Response> {
    let (url, accept) = (format!("{base}/v1/mcp/t1"), accept.to_owned());
    tokio::spawn(async move {
        crate::support::http()
            .post(url)
            .header("content-type", "application/json")
            .header("accept", accept)
            .body(body.to_string())
            .send()
            .await
            .expect("the caller's request")
    })
}

/// Polls (bounded) until the edge hands over `n` commands.
async fn take(http: &reqwest::Client, base: &str, n: usize) -> Vec<Value> {
    let mut got = Vec::new();
    for _ in 0..50 {
        let r = edge_poll(http, base, 25, 200).await;
        if r.status() == 200 {
            got.extend(commands(r).await);
        }
        if got.len() >= n {
            return got;
        }
    }
    panic!("only {} of {n} commands came", got.len());
}

fn field(c: &Value, name: &str) -> String {
    c[name].as_str().expect(name).to_owned()
}

#[tokio::test]
async fn progress_reaches_a_streaming_caller_as_events_before_the_final_answer() {
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(10))).await;
    let http = crate::support::http();
    let base = format!("http://{}", e.addr);
    assert_eq!(edge_poll(&http, &base, 1, 1).await.status(), 204);
    let call = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "x", "_meta": {"progressToken": 3}}});
    let streaming = caller(&base, "application/json, text/event-stream", call.clone());
    let plain = caller(&base, "application/json", call);
    let cs = take(&http, &base, 2).await;
    for c in &cs {
        let (rid, shard) = (field(c, "request_id"), field(c, "shard_token"));
        for step in [1, 2] {
            let note = json!({"request_id": rid, "channel": "main", "resp_code": 200, "resp_type": "jsonrpc_notify",
                "resp_headers": {"Content-Type": ["text/event-stream"], "Mcp-Session-Id": ["s-1"]},
                "resp_json": {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 3, "progress": step}}});
            assert_eq!(
                edge_post(&http, &base, &shard, note.to_string())
                    .await
                    .status(),
                200
            );
        }
        let last = json!({"request_id": rid, "channel": "main", "resp_code": 200, "resp_type": "jsonrpc_response",
            "resp_json": {"jsonrpc": "2.0", "id": 9, "result": {"content": []}}});
        assert_eq!(
            edge_post(&http, &base, &shard, last.to_string())
                .await
                .status(),
            200
        );
    }
    let streamed = streaming.await.expect("joins");
    assert_eq!(streamed.status(), 200);
    assert_eq!(streamed.headers()["content-type"], "text/event-stream");
    assert_eq!(streamed.headers()["mcp-session-id"], "s-1");
    let text = streamed.text().await.expect("the stream ends");
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("event json"))
        .collect();
    assert_eq!(events.len(), 3, "{text}");
    assert_eq!(events[0]["params"]["progress"], 1);
    assert_eq!(events[1]["params"]["progress"], 2);
    assert_eq!(events[2]["id"], 9, "the final answer is the last event");
    let plain = plain.await.expect("joins");
    assert_eq!(plain.headers()["content-type"], "application/json");
    let body: Value = serde_json::from_str(&plain.text().await.expect("body")).expect("json");
    assert_eq!(
        body["id"], 9,
        "a caller without SSE gets the final answer alone"
    );
    let (_, metrics) = crate::support::get(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("harpoon_edge_notifications_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("harpoon_edge_notifications_dropped_total 2"),
        "{metrics}"
    );
    e.stop.cancel();
}

#[tokio::test]
async fn delete_ends_the_session_through_the_tunnel() {
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(10))).await;
    let http = crate::support::http();
    let base = format!("http://{}", e.addr);
    assert_eq!(edge_poll(&http, &base, 1, 1).await.status(), 204);
    let url = format!("{base}/v1/mcp/t1");
    let missing = http.delete(&url).send().await.expect("answered");
    assert_eq!(missing.status(), 400);
    let body: Value = serde_json::from_str(&missing.text().await.expect("body")).expect("json");
    assert_eq!(body["error"]["code"], "missing_mcp_session_id");
    let deleting = tokio::spawn({
        let (http, url) = (http.clone(), url.clone());
        async move {
            http.delete(url)
                .header("mcp-session-id", "s-7")
                .send()
                .await
                .expect("answered")
        }
    });
    let cs = take(&http, &base, 1).await;
    assert_eq!(cs[0]["command_type"], "session_termination");
    assert_eq!(cs[0]["headers"]["mcp-session-id"], json!(["s-7"]));
    assert!(cs[0].get("jsonrpc").is_none(), "{}", cs[0]);
    let done = json!({"request_id": field(&cs[0], "request_id"), "channel": "main", "resp_code": 204,
        "resp_type": "session_termination_response"});
    let shard = field(&cs[0], "shard_token");
    assert_eq!(
        edge_post(&http, &base, &shard, done.to_string())
            .await
            .status(),
        200
    );
    assert_eq!(deleting.await.expect("joins").status(), 204);
    assert_eq!(
        http.get(&url).send().await.expect("answered").status(),
        405,
        "GET opens no stream"
    );
    e.stop.cancel();
}

#[tokio::test]
async fn the_tunnel_metadata_and_poll_parameters_follow_the_schema() {
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(10))).await;
    let http = crate::support::http();
    let base = format!("http://{}", e.addr);
    let meta = http
        .get(format!("{base}/v1/tunnels/t1"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answered");
    assert_eq!(meta.status(), 200);
    let meta: Value = serde_json::from_str(&meta.text().await.expect("body")).expect("json");
    assert_eq!(meta["id"], "t1");
    assert!(meta.get("name").is_some() && meta.get("description").is_some());
    let anonymous = http
        .get(format!("{base}/v1/tunnels/t1"))
        .send()
        .await
        .expect("answered");
    assert_eq!(anonymous.status(), 401);
    assert_eq!(edge_poll(&http, &base, 26, 1).await.status(), 400);
    assert_eq!(edge_poll(&http, &base, 0, 1).await.status(), 400);
    assert_eq!(edge_poll(&http, &base, 25, 0).await.status(), 400);
    assert_eq!(edge_poll(&http, &base, 25, 1).await.status(), 204);
    e.stop.cancel();
}

#[tokio::test]
async fn poll_answers_stay_under_their_bound_and_an_oversize_request_fails_alone() {
    let options = EdgeOptions {
        max_poll_bytes: 8 * 1024,
        ..edge_options(Duration::from_secs(10))
    };
    let e = start_edge_at("127.0.0.1:0", options).await;
    let http = crate::support::http();
    let base = format!("http://{}", e.addr);
    assert_eq!(edge_poll(&http, &base, 1, 1).await.status(), 204);
    let sized = |n: usize, id: u64| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "x", "arguments": {"pad": "p".repeat(n)}}});
    let huge = caller(&base, "application/json", sized(10 * 1024, 1))
        .await
        .expect("joins");
    assert_eq!(huge.status(), 413);
    let body: Value = serde_json::from_str(&huge.text().await.expect("body")).expect("json");
    assert_eq!(body["id"], 1);
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("more than a poll answer carries (8192 bytes)"),
        "{message}"
    );
    let small: Vec<_> = (2..5)
        .map(|id| caller(&base, "application/json", sized(3 * 1024, id)))
        .collect();
    // All three queued before the first poll, so a batch could hold them all.
    for _ in 0..500 {
        let (_, metrics) = crate::support::get(&format!("{base}/metrics")).await;
        if metrics.contains("harpoon_edge_pending 3") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut batches = Vec::new();
    let mut got = 0;
    for _ in 0..50 {
        let r = edge_poll(&http, &base, 25, 200).await;
        if r.status() == 200 {
            let text = r.text().await.expect("body");
            assert!(
                text.len() <= 8 * 1024,
                "a poll answer of {} bytes",
                text.len()
            );
            let n = serde_json::from_str::<Value>(&text).expect("json")["commands"]
                .as_array()
                .map_or(0, Vec::len);
            batches.push(n);
            got += n;
        }
        if got == 3 {
            break;
        }
    }
    assert_eq!(got, 3, "every small request was delivered: {batches:?}");
    assert!(
        batches.len() >= 2 && batches.iter().all(|n| *n <= 2),
        "{batches:?}"
    );
    for c in small {
        c.abort();
    }
    e.stop.cancel();
}

/// `harpoon edge` takes only the service's forms: ids `tunnel_` + 32 `[a-z0-9]`, keys of
/// `[0-9A-Za-z_-]` (OpenAI's tunnel-client refuses anything else), with exit status 2.
#[test]
fn the_edge_takes_only_the_services_ids_and_keys() {
    for (id, key, says) in [
        ("ci", "key_1", "is not tunnel_ and 32"),
        (
            "tunnel_0123456789ABCDEF0123456789abcdef",
            "key_1",
            "is not tunnel_ and 32",
        ),
        (
            "tunnel_0123456789abcdef0123456789abcdef",
            "key with space",
            "may hold only letters",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_harpoon"))
            .args(["edge", "--listen", "127.0.0.1:0", "--tunnel", id])
            .env("HARPOON_TUNNEL_TOKEN", key)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{id} {key}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{id} {key}: {stderr}");
    }
}
