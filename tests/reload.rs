//! Reloading the allowlists while harpoon serves: in process (`HarpoonService::reload` under
//! steady load, a session told the tool list changed), and the real binary reloading on SIGHUP
//! and `--watch` (`serve` and `stdio`), where a broken file leaves the old tools serving.

use crate::support::mcp_client::{LEGACY, MODERN, McpHttp};
use crate::support::serve_process::spawn_ready;
use crate::support::server;
use crate::support::upstream::{Reply, Upstream};
use harpoon::transport::http::HttpOptions;
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const MCP_METHOD_LIST_CHANGED: &str = "notifications/tools/list_changed";

/// One target on `upstream` with a GET route per name; route `NAME` is tool `api_NAME`.
fn allowlist(upstream: &str, routes: &[&str]) -> String {
    let mut yaml = format!(
        "version: 1\ntargets:\n  - label: api\n    base_url: {upstream}/api\n    network: {{ allow_cidrs: [127.0.0.1/32] }}\n    dangerous: {{ allow_plaintext_http: true }}\n    routes:\n"
    );
    for r in routes {
        yaml.push_str(&format!(
            "      - {{ name: {r}, method: GET, path: /{r} }}\n"
        ));
    }
    yaml
}

async fn tool_names(url: &str) -> Vec<String> {
    let mut c = McpHttp::new(url);
    let (id, ex) = c.modern("tools/list", json!({})).await;
    let reply = ex.reply(id);
    let mut names: Vec<String> = reply["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("tools/list answered {reply}"))
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Whether a `tools/call` reply is the upstream's 200 answer.
fn succeeded(reply: &Value) -> bool {
    reply["result"]["isError"] != true && reply["result"]["structuredContent"]["status"] == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_under_steady_load_fails_no_call_and_a_removed_route_is_refused_at_once() {
    let up = Upstream::start(|_| Reply::ok("fine")).await;
    let s = server::start(
        &allowlist(&up.url(), &["stay", "go"]),
        HttpOptions::loopback(),
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (url, stop, calls) = (s.mcp_url(), Arc::clone(&stop), Arc::clone(&calls));
        workers.push(tokio::spawn(async move {
            let mut failed = Vec::new();
            let mut c = McpHttp::new(&url);
            for _ in 0..10_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let reply = c.call(MODERN, "api_stay", json!({})).await;
                calls.fetch_add(1, Ordering::SeqCst);
                if !succeeded(&reply) {
                    failed.push(reply);
                }
            }
            failed
        }));
    }
    // Reload only once calls are flowing, and let them go on after the last reload.
    for _ in 0..500 {
        if calls.load(Ordering::SeqCst) >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before_reloads = calls.load(Ordering::SeqCst);
    for i in 0..10 {
        let extra = format!("extra{i}");
        let routes: &[&str] = if i % 2 == 0 {
            &["stay", "go", &extra]
        } else {
            &["stay", "go"]
        };
        let policy = crate::support::engine::policy(&allowlist(&up.url(), routes));
        s.service
            .reload(policy)
            .await
            .expect("a valid policy reloads");
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let after_reloads = calls.load(Ordering::SeqCst);
    for _ in 0..500 {
        if calls.load(Ordering::SeqCst) >= after_reloads + 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut failed = Vec::new();
    for w in workers {
        failed.extend(w.await.expect("worker joins"));
    }
    let total = calls.load(Ordering::SeqCst);
    assert!(
        after_reloads > before_reloads && total > after_reloads,
        "calls ran during and after the reloads ({before_reloads}, {after_reloads}, {total})"
    );
    assert!(
        failed.is_empty(),
        "{} of {total} calls failed: {failed:?}",
        failed.len()
    );
    assert_eq!(
        up.requests().len(),
        total,
        "every call reached the upstream once"
    );

    let narrowed = crate::support::engine::policy(&allowlist(&up.url(), &["stay"]));
    let reloaded = s.service.reload(narrowed).await.expect("reloads");
    assert_eq!((reloaded.tools_before, reloaded.tools_after), (2, 1));
    let mut c = McpHttp::new(&s.mcp_url());
    let refused = c.call(MODERN, "api_go", json!({})).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert_eq!(
        refused["error"]["message"], "unknown tool: api_go",
        "{refused}"
    );
    assert_eq!(up.requests().len(), total, "the removed route sent nothing");
    assert_eq!(tool_names(&s.mcp_url()).await, ["api_stay"]);
    let (_, metrics) = crate::support::get(&s.url("/metrics")).await;
    assert!(
        metrics.contains("\nharpoon_reloads_total 11\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nharpoon_reload_failures_total 0\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_open_session_is_told_the_tool_list_changed() {
    let up = Upstream::start(|_| Reply::ok("fine")).await;
    let s = server::start(&allowlist(&up.url(), &["one"]), HttpOptions::loopback()).await;
    let mut c = McpHttp::new(&s.mcp_url());
    let init = c.initialize_legacy().await;
    assert_eq!(
        init["result"]["capabilities"]["tools"]["listChanged"], true,
        "{init}"
    );
    let session = c.session().expect("a legacy session");
    let mut stream = crate::support::http()
        .get(s.mcp_url())
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", LEGACY)
        .send()
        .await
        .expect("the session's stream opens");
    assert_eq!(stream.status(), 200);

    let policy = crate::support::engine::policy(&allowlist(&up.url(), &["one", "two"]));
    let reloaded = s.service.reload(policy).await.expect("reloads");
    assert_eq!(reloaded.sessions_told, 1);
    let mut seen = String::new();
    let told = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(MCP_METHOD_LIST_CHANGED) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(told, Ok(true), "the stream said: {seen}");
    let (id, ex) = c.legacy("tools/list", json!({})).await;
    let names: Vec<&str> = ex.reply(id)["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"api_two"), "{names:?}");
}

fn harpoon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harpoon"));
    c.env_remove("HARPOON_TOKEN")
        .env_remove("HARPOON_LISTEN")
        .env_remove("HARPOON_ALLOWLIST")
        .kill_on_drop(true);
    c
}

/// Starts `harpoon serve` with `args` and returns it with its base URL (`http://ADDR`).
async fn start_serve(args: &[&str]) -> (Child, String) {
    let mut serve = harpoon();
    serve
        .arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0"]);
    let (child, mcp) = spawn_ready(serve).await;
    let base = mcp.trim_end_matches("/mcp").to_owned();
    (child, base)
}

fn hangup(child: &Child) {
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Polls `/metrics` until it holds `line` (bounded), and returns the last text seen.
async fn metrics_until(base: &str, line: &str) -> String {
    let mut text = String::new();
    for _ in 0..200 {
        text = crate::support::get(&format!("{base}/metrics")).await.1;
        if text.contains(line) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("/metrics never showed {line:?}:\n{text}");
}

#[tokio::test]
async fn sighup_reloads_and_a_broken_file_leaves_the_old_tools_serving() {
    let up = Upstream::start(|_| Reply::ok("fine")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, allowlist(&up.url(), &["stay", "go"])).expect("write");
    let (child, base) = start_serve(&["--allowlist", dir.path().to_str().expect("utf-8")]).await;
    let mcp = format!("{base}/mcp");
    let tools = tool_names(&mcp).await;
    assert_eq!(tools, ["api_go", "api_stay"]);

    std::fs::write(&file, "version: 1\ntargets:\n  - label: [broken\n").expect("break");
    hangup(&child);
    metrics_until(&base, "\nharpoon_reload_failures_total 1\n").await;
    assert_eq!(tool_names(&mcp).await, tools, "the old tools still serve");
    let mut c = McpHttp::new(&mcp);
    let reply = c.call(MODERN, "api_go", json!({})).await;
    assert!(succeeded(&reply), "{reply}");
    let (ready, _) = crate::support::get(&format!("{base}/readyz")).await;
    assert_eq!(ready, 200, "a refused reload keeps the server ready");

    std::fs::write(&file, allowlist(&up.url(), &["stay"])).expect("narrow");
    hangup(&child);
    metrics_until(&base, "\nharpoon_reloads_total 1\n").await;
    let hits = up.hits();
    let refused = c.call(MODERN, "api_go", json!({})).await;
    assert_eq!(
        refused["error"]["message"], "unknown tool: api_go",
        "{refused}"
    );
    assert_eq!(up.hits(), hits, "the removed route sent nothing");
    let reply = c.call(MODERN, "api_stay", json!({})).await;
    assert!(succeeded(&reply), "{reply}");
}

#[tokio::test]
async fn watch_reloads_a_changed_file_without_a_signal() {
    let up = Upstream::start(|_| Reply::ok("fine")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, allowlist(&up.url(), &["one"])).expect("write");
    let (_child, base) = start_serve(&[
        "--allowlist",
        file.to_str().expect("utf-8"),
        "--watch",
        "--watch-interval",
        "100ms",
    ])
    .await;
    let mcp = format!("{base}/mcp");
    std::fs::write(&file, allowlist(&up.url(), &["one", "added_later"])).expect("rewrite");
    let mut names = Vec::new();
    for _ in 0..200 {
        names = tool_names(&mcp).await;
        if names.iter().any(|n| n == "api_added_later") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(names.iter().any(|n| n == "api_added_later"), "{names:?}");
    metrics_until(&base, "\nharpoon_reloads_total 1\n").await;
}

#[tokio::test]
async fn stdio_reloads_on_sighup_and_tells_its_client() {
    let up = Upstream::start(|_| Reply::ok("fine")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, allowlist(&up.url(), &["one"])).expect("write");
    let mut child = harpoon()
        .args(["stdio", "--allowlist"])
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("harpoon stdio starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut send = async |message: Value| {
        let mut line = message.to_string();
        line.push('\n');
        stdin.write_all(line.as_bytes()).await.expect("write");
    };
    send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})).await;
    let mut next = async || -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), stdout.next_line())
            .await
            .expect("a line in time")
            .expect("read")
            .expect("stdout open");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
    };
    let init = next().await;
    assert_eq!(init["result"]["capabilities"]["tools"]["listChanged"], true);
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})).await;
    let listed = next().await;
    assert_eq!(listed["id"], 2, "{listed}");

    std::fs::write(&file, allowlist(&up.url(), &["one", "two"])).expect("rewrite");
    hangup(&child);
    let told = next().await;
    assert_eq!(told["method"], MCP_METHOD_LIST_CHANGED, "{told}");
    send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"})).await;
    let listed = next().await;
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"api_two"), "{listed}");
}
