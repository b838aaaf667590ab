//! `harpoon tunnel` facing a service that refuses it, and `harpoon tunnel --check`: each refusal
//! stops the tunnel at once with its fix and exit status 1 (invalid input is 2), and a check
//! runs nothing it is handed.

use crate::support::upstream::Upstream;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Reply posts as received: the shard-token header and the body.
pub type Posts = Arc<Mutex<Vec<(Option<String>, Value)>>>;

pub const TUNNEL_ID: &str = "tunnel_0123456789abcdef0123456789abcdef";
const KEY: &str = "sk-test_key-123";

/// A service whose polls all answer `status` with `body`, recording polls and reply posts.
pub struct Refusing {
    pub addr: SocketAddr,
    pub polls: Arc<Mutex<Vec<HeaderMap>>>,
    pub posts: Posts,
    stop: CancellationToken,
}

impl Drop for Refusing {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Refusing {
    pub async fn start(status: u16, body: &'static str) -> Self {
        let polls: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
        let posts: Posts = Arc::default();
        let (p, q) = (Arc::clone(&polls), Arc::clone(&posts));
        let app = axum::Router::new()
            .route(
                "/v1/tunnels/{id}/poll",
                axum::routing::get(move |headers: HeaderMap| {
                    p.lock().unwrap().push(headers);
                    async move {
                        let status = StatusCode::from_u16(status).expect("status");
                        (status, body).into_response()
                    }
                }),
            )
            .route(
                "/v1/tunnels/{id}/response",
                axum::routing::post(move |headers: HeaderMap, body: String| {
                    q.lock()
                        .unwrap()
                        .push(crate::support::posted_reply(&headers, &body));
                    async { (StatusCode::OK, r#"{"status":"ok"}"#) }
                }),
            );
        let (addr, stop) = crate::support::serve_on_loopback(app).await;
        Self {
            addr,
            polls,
            posts,
            stop,
        }
    }
}

/// `harpoon tunnel` with the key in CONTROL_PLANE_API_KEY: (exit status, stdout, stderr).
pub async fn harpoon_tunnel(
    allowlist: &std::path::Path,
    key: &str,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_harpoon"))
            .arg("tunnel")
            .arg("--allowlist")
            .arg(allowlist)
            .args(["--tunnel-id", TUNNEL_ID, "--health-listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("OPENAI_API_KEY")
            .env_remove("HARPOON_TUNNEL_TOKEN")
            .env_remove("HARPOON_EDGE")
            .env_remove("HARPOON_TUNNEL_PROXY")
            .env("CONTROL_PLANE_API_KEY", key)
            .env("TEST_TOKEN", "upstream-secret")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("harpoon tunnel ends by itself")
    .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An allowlist for `up`, in a file.
pub fn allowlist_file(up: &Upstream) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("temp");
    std::fs::write(file.path(), crate::enforcement::allowlist(&up.url())).expect("write");
    file
}

#[tokio::test]
async fn each_refusal_stops_the_tunnel_with_its_fix_and_exit_status_1() {
    let up = Upstream::canary().await;
    let allowlist = allowlist_file(&up);
    for (status, body, says) in [
        (
            401,
            r#"{"error":{"code":"tunnel_use_forbidden","message":"no"}}"#,
            "lacks Tunnels Use",
        ),
        (
            403,
            r#"{"error":{"code":"tunnel_use_forbidden"}}"#,
            "Tunnels Read and Use",
        ),
        (
            401,
            r#"{"error":{"code":"tunnel_active_organization_required"}}"#,
            "--organization",
        ),
        (404, r#"{"error":{"code":"not_found"}}"#, "--tunnel-id"),
        (
            400,
            r#"{"error":{"code":"invalid_tunnel_id_format"}}"#,
            "tunnel_ and 32",
        ),
    ] {
        let service = Refusing::start(status, body).await;
        let edge = format!("http://{}", service.addr);
        for check in [false, true] {
            let mut args = vec!["--edge", edge.as_str()];
            if check {
                args.push("--check");
            }
            let (code, _, err) = harpoon_tunnel(allowlist.path(), KEY, &args).await;
            assert_eq!(code, Some(1), "{status} check={check}: {err}");
            assert!(err.contains(says), "{status} check={check}: {err}");
            assert!(
                err.contains(&format!("HTTP {status}")),
                "{status} check={check}: {err}"
            );
            assert!(!err.contains(KEY), "the key is never shown: {err}");
        }
        assert_eq!(
            service.polls.lock().unwrap().len(),
            2,
            "{status}: one poll each, no retry"
        );
    }
    assert_eq!(up.requests().len(), 0);
}

#[tokio::test]
async fn invalid_input_is_exit_status_2_and_polls_nothing() {
    let up = Upstream::canary().await;
    let allowlist = allowlist_file(&up);
    let service = Refusing::start(204, "").await;
    let edge = format!("http://{}", service.addr);
    let (code, _, err) = harpoon_tunnel(
        allowlist.path(),
        "key with spaces",
        &["--edge", &edge, "--check"],
    )
    .await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("letters, digits"), "{err}");
    let missing = std::path::Path::new("/nonexistent/ca.pem");
    let (code, _, err) = harpoon_tunnel(
        allowlist.path(),
        KEY,
        &[
            "--edge",
            &edge,
            "--check",
            "--ca-file",
            &missing.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--ca-file /nonexistent/ca.pem"), "{err}");
    assert_eq!(service.polls.lock().unwrap().len(), 0);
}

#[tokio::test]
async fn a_check_says_ok_and_runs_nothing_it_is_handed() {
    let up = Upstream::canary().await;
    let allowlist = allowlist_file(&up);
    let accepting = Refusing::start(204, "").await;
    let edge = format!("http://{}", accepting.addr);
    let (code, out, err) = harpoon_tunnel(
        allowlist.path(),
        KEY,
        &["--edge", &edge, "--check", "--organization", "org-abc"],
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("accepts the key"), "{out}");
    let polls = accepting.polls.lock().unwrap().clone();
    assert_eq!(polls.len(), 1);
    assert_eq!(polls[0]["openai-organization"], "org-abc");
    assert_eq!(polls[0]["authorization"], format!("Bearer {KEY}").as_str());

    // A poll that hands the check a call and a notification: neither runs, both are answered.
    let batch = r#"{"commands":[
        {"request_id":"r1","shard_token":"s1","command_type":"jsonrpc",
         "jsonrpc":{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"api_create","arguments":{"body":{"name":"x"}}}}},
        {"request_id":"r2","shard_token":"s2","command_type":"jsonrpc",
         "jsonrpc":{"jsonrpc":"2.0","method":"notifications/initialized"}}]}"#;
    let handing = Refusing::start(200, batch).await;
    let edge = format!("http://{}", handing.addr);
    let (code, out, err) =
        harpoon_tunnel(allowlist.path(), KEY, &["--edge", &edge, "--check"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("answered 503 without running"), "{out}");
    let posts = handing.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[0].0.as_deref(), Some("s1"));
    assert_eq!(posts[0].1["resp_code"], 503);
    assert_eq!(posts[0].1["resp_json"]["id"], 5);
    assert_eq!(posts[1].1["resp_type"], "notify_ack");
    assert_eq!(posts[1].1["resp_code"], 503);
    assert_eq!(up.requests().len(), 0, "the check ran nothing upstream");
    assert_eq!(json!(posts[0].1["resp_type"]), json!("jsonrpc_response"));
}

#[tokio::test]
async fn a_check_without_a_verdict_says_why_with_exit_status_1() {
    let up = Upstream::canary().await;
    let allowlist = allowlist_file(&up);
    let busy = Refusing::start(503, "").await;
    let edge = format!("http://{}", busy.addr);
    let (code, _, err) = harpoon_tunnel(allowlist.path(), KEY, &["--edge", &edge, "--check"]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("HTTP 503"), "{err}");
}
