//! MCP over stdio: `harpoon stdio` as a subprocess, newline-delimited JSON-RPC, both eras,
//! against a real upstream. stdout carries MCP messages only.

use crate::support::upstream::{Reply, Upstream};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

struct StdioServer {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    _dir: tempfile::TempDir,
}

impl StdioServer {
    async fn start(yaml: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("allowlist.yaml");
        std::fs::write(&path, yaml).expect("write allowlist");
        let mut child = Command::new(env!("CARGO_BIN_EXE_harpoon"))
            .args(["stdio", "--allowlist"])
            .arg(&path)
            .env("TEST_TOKEN", "s3cret-token-value")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("harpoon stdio starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self {
            child,
            stdin,
            stdout,
            _dir: dir,
        }
    }

    async fn send(&mut self, message: Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.expect("write");
    }

    /// Reads lines until the reply to `id` (skipping notifications and other replies).
    async fn reply(&mut self, id: u64) -> Value {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(20), self.stdout.next_line())
                .await
                .expect("a reply in time")
                .expect("read")
                .expect("stdout open");
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|_| panic!("stdout holds a non-JSON line: {line}"));
            if v["id"] == id {
                return v;
            }
        }
    }
}

fn call(id: u64, tool: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": args}})
}

#[tokio::test]
async fn the_2025_lifecycle_over_stdio() {
    let up = Upstream::echo().await;
    let mut s = StdioServer::start(&crate::enforcement::allowlist(&up.url())).await;
    s.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})).await;
    let init = s.reply(1).await;
    assert_eq!(init["result"]["serverInfo"]["name"], "harpoon");
    s.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    s.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    assert_eq!(
        s.reply(2).await["result"]["tools"].as_array().map(Vec::len),
        Some(5)
    );
    s.send(call(3, "api_get_item", json!({"id": "a1"}))).await;
    let read = s.reply(3).await;
    assert_eq!(read["result"]["structuredContent"]["status"], 200);
    assert_eq!(
        read["result"]["structuredContent"]["body"]["target"],
        "/api/items/a1"
    );
    s.send(call(4, "api_create", json!({"body": {"name": "w"}})))
        .await;
    assert_eq!(
        s.reply(4).await["result"]["structuredContent"]["body"]["method"],
        "POST"
    );
    s.send(call(
        5,
        "call_target",
        json!({"label": "api", "method": "GET", "path": "/admin"}),
    ))
    .await;
    let denied = s.reply(5).await;
    assert_eq!(denied["result"]["isError"], true);
    assert!(
        denied["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("path_not_allowed:")
    );
    s.send(call(6, "nope", json!({}))).await;
    assert_eq!(s.reply(6).await["error"]["code"], -32602);
    drop(s.stdin);
    let status = tokio::time::timeout(Duration::from_secs(20), s.child.wait())
        .await
        .expect("exits")
        .expect("status");
    assert!(
        status.success(),
        "harpoon stdio exits cleanly when stdin closes"
    );
}

#[tokio::test]
async fn the_2026_stateless_requests_over_stdio() {
    let up = Upstream::start(|_| Reply::ok(&"b".repeat(5000))).await;
    let mut s = StdioServer::start(&crate::enforcement::allowlist(&up.url())).await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    s.send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}}),
    )
    .await;
    assert!(
        s.reply(1).await["result"]["supportedVersions"]
            .as_array()
            .is_some_and(|v| v.contains(&json!("2026-07-28")))
    );
    s.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "call_target", "_meta": meta,
        "arguments": {"label": "api", "method": "GET", "path": "/reports/big"}}})).await;
    let big = s.reply(2).await;
    assert_eq!(big["result"]["resultType"], "complete");
    assert_eq!(big["result"]["structuredContent"]["truncated"], true);
    assert_eq!(big["result"]["structuredContent"]["body_bytes"], 4096);
}
