//! The poll transport end to end on loopback: MCP client -> edge -> tunnel -> harpoon ->
//! upstream, and its faults: the edge restarting, a tunnel dying while it holds commands, a
//! stalled upstream, a reply post failing. Every call gets one answer or a clear error, and no
//! write reaches the upstream twice.

use crate::support::mcp_client::{LEGACY, MODERN, McpHttp};
use crate::support::upstream::{Reply, Upstream};
use harpoon::service::{HarpoonService, ServiceOptions};
use harpoon::transport::edge::{self, Edge, EdgeOptions};
use harpoon::transport::tunnel::{self, TunnelError, TunnelOptions, TunnelStatus};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) const TOKEN: &str = "tunnel-secret";

pub(crate) struct RunningEdge {
    pub(crate) addr: SocketAddr,
    pub(crate) stop: CancellationToken,
}

pub(crate) async fn start_edge_at(addr: &str, options: EdgeOptions) -> RunningEdge {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind edge");
    let addr = listener.local_addr().expect("addr");
    let edge = Edge::new(options);
    let stop = CancellationToken::new();
    tokio::spawn(Arc::clone(&edge).sweep_leases(stop.clone()));
    let s = stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(
            harpoon::transport::http::nodelay(listener),
            edge::router(edge),
        )
        .with_graceful_shutdown(s.cancelled_owned())
        .await;
    });
    RunningEdge { addr, stop }
}

pub(crate) fn edge_options(call_timeout: Duration) -> EdgeOptions {
    EdgeOptions {
        tunnels: vec![("t1".into(), TOKEN.into())],
        call_timeout,
        safe_lease: Duration::from_millis(600),
        ..EdgeOptions::default()
    }
}

pub(crate) struct Replica {
    status: Arc<TunnelStatus>,
    stop: CancellationToken,
    task: JoinHandle<Result<(), TunnelError>>,
}

/// A replica in a runtime of its own, so the test can kill it like a process: every task,
/// socket and call in flight goes at once.
struct KillableReplica {
    runtime: tokio::runtime::Runtime,
    status: Arc<TunnelStatus>,
}

impl KillableReplica {
    fn start(edge: SocketAddr, upstream: &Upstream) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (service, options) = tunnel_parts(edge, upstream, 4, TOKEN);
        let status = Arc::new(TunnelStatus::default());
        runtime.spawn(tunnel::run(
            service,
            options,
            Arc::clone(&status),
            CancellationToken::new(),
        ));
        Self { runtime, status }
    }

    fn kill(self) {
        self.runtime.shutdown_background();
    }
}

fn tunnel_parts(
    edge: SocketAddr,
    upstream: &Upstream,
    max_in_flight: usize,
    token: &str,
) -> (HarpoonService, TunnelOptions) {
    let yaml = crate::enforcement::allowlist(&upstream.url());
    let service = HarpoonService::from_policy(
        crate::support::engine::policy(&yaml),
        ServiceOptions::default(),
    )
    .expect("service");
    let options = TunnelOptions {
        edge: format!("http://{edge}").parse().expect("url"),
        tunnel_id: "t1".into(),
        token: token.into(),
        max_in_flight,
        poll_timeout: Duration::from_millis(500),
        drain_timeout: Duration::from_secs(5),
        organization: None,
        egress: tunnel::Egress::default(),
    };
    (service, options)
}

pub(crate) fn start_tunnel(
    edge: SocketAddr,
    upstream: &Upstream,
    max_in_flight: usize,
    token: &str,
) -> Replica {
    let (service, options) = tunnel_parts(edge, upstream, max_in_flight, token);
    let status = Arc::new(TunnelStatus::default());
    let stop = CancellationToken::new();
    let task = tokio::spawn(tunnel::run(
        service,
        options,
        Arc::clone(&status),
        stop.clone(),
    ));
    Replica { status, stop, task }
}

pub(crate) async fn wait_ready(r: &Replica) {
    for _ in 0..500 {
        if r.status.ready.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the tunnel never became ready");
}

fn client(edge: SocketAddr) -> McpHttp {
    McpHttp::new(&format!("http://{edge}/v1/mcp/t1"))
}

pub(crate) async fn upstream() -> Upstream {
    Upstream::start(|s| match s.target.as_str() {
        "/api/reports/big" => Reply::ok(&"q".repeat(10_000)),
        "/api/reports/stall" => Reply::StallBeforeHeaders,
        "/api/files/slow" => Reply::Slow(Duration::from_millis(1500), "slow write done".into()),
        "/api/reports/pause" => Reply::Slow(Duration::from_millis(150), "paused".into()),
        t if t.starts_with("/api/items/") => Reply::json(200, json!({"id": t.rsplit('/').next()})),
        "/api/items" => Reply::json(201, json!({"created": true})),
        _ => Reply::ok("ok"),
    })
    .await
}

fn writes(up: &Upstream, path: &str) -> usize {
    up.requests()
        .iter()
        .filter(|s| s.method == "POST" && s.target == path)
        .count()
}

#[tokio::test]
async fn an_mcp_client_reaches_the_upstream_through_edge_and_tunnel() {
    let up = upstream().await;
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(10))).await;
    let r = start_tunnel(e.addr, &up, 8, TOKEN);
    wait_ready(&r).await;
    for era in [LEGACY, MODERN] {
        let mut c = client(e.addr);
        if era == LEGACY {
            let init = c.initialize_legacy().await;
            assert_eq!(init["result"]["serverInfo"]["name"], "harpoon");
        }
        let (id, list) = if era == LEGACY {
            c.legacy("tools/list", json!({})).await
        } else {
            c.modern("tools/list", json!({})).await
        };
        assert_eq!(
            list.reply(id)["result"]["tools"].as_array().map(Vec::len),
            Some(5),
            "{era}"
        );
        let read = c.call(era, "api_get_item", json!({"id": "x9"})).await;
        assert_eq!(
            read["result"]["structuredContent"]["body"],
            json!({"id": "x9"}),
            "{era}: {read}"
        );
        let write = c
            .call(era, "api_create", json!({"body": {"name": "t"}}))
            .await;
        assert_eq!(write["result"]["structuredContent"]["status"], 201);
        let denied = c
            .call(
                era,
                "call_target",
                json!({"label": "api", "method": "DELETE", "path": "/reports/x"}),
            )
            .await;
        assert!(
            denied["result"]["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .starts_with("method_not_allowed:"),
            "{denied}"
        );
        let big = c
            .call(
                era,
                "call_target",
                json!({"label": "api", "method": "GET", "path": "/reports/big"}),
            )
            .await;
        assert_eq!(big["result"]["structuredContent"]["truncated"], true);
        assert_eq!(
            c.call(era, "nope", json!({})).await["error"]["code"],
            -32602
        );
    }
    assert_eq!(writes(&up, "/api/items"), 2, "one write per era, each once");
    r.stop.cancel();
    r.task
        .await
        .expect("joins")
        .expect("the tunnel stops cleanly");
}

#[tokio::test]
async fn with_no_tunnel_the_caller_gets_a_clear_error() {
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(10))).await;
    let mut c = client(e.addr);
    let (id, ex) = c.modern("tools/list", json!({})).await;
    assert_eq!(ex.status, 503);
    let error = &ex.reply(id)["error"];
    assert_eq!(error["code"], -32000);
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no tunnel is connected to 't1'"),
        "{error}"
    );
    let unknown = McpHttp::new(&format!("http://{}/v1/mcp/nope", e.addr));
    assert_eq!(
        unknown
            .post_raw(
                json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string(),
                &[]
            )
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_wrong_token_stops_the_tunnel_at_once() {
    let up = upstream().await;
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(10))).await;
    let r = start_tunnel(e.addr, &up, 4, "wrong-token");
    let result = tokio::time::timeout(Duration::from_secs(5), r.task)
        .await
        .expect("fails fast")
        .expect("joins");
    assert!(
        matches!(result, Err(TunnelError::Refused { status: 401, .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_tunnel_recovers_by_itself_when_the_edge_restarts() {
    let up = upstream().await;
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(10))).await;
    let addr = e.addr;
    let r = start_tunnel(addr, &up, 4, TOKEN);
    wait_ready(&r).await;
    assert_eq!(
        client(addr)
            .call(MODERN, "api_get_item", json!({"id": "before"}))
            .await["result"]["structuredContent"]["status"],
        200
    );
    e.stop.cancel();
    for _ in 0..500 {
        if !r.status.ready.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !r.status.ready.load(Ordering::SeqCst),
        "the tunnel noticed the edge was gone"
    );
    let _again = start_edge_at(&addr.to_string(), edge_options(Duration::from_secs(10))).await;
    wait_ready(&r).await;
    let after = client(addr)
        .call(MODERN, "api_get_item", json!({"id": "after"}))
        .await;
    assert_eq!(
        after["result"]["structuredContent"]["body"]["id"], "after",
        "{after}"
    );
    assert!(r.status.polls_failed.load(Ordering::Relaxed) > 0);
}

#[tokio::test]
async fn a_killed_replica_never_leads_to_a_second_write() {
    let up = upstream().await;
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(3))).await;
    let a = KillableReplica::start(e.addr, &up);
    for _ in 0..500 {
        if a.status.ready.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        a.status.ready.load(Ordering::SeqCst),
        "replica A became ready"
    );
    let mut c = client(e.addr);
    let write = tokio::spawn(async move {
        let params = json!({"name": "call_target", "arguments": {"label": "api", "method": "POST", "path": "/files/slow", "body": "once"}});
        let (id, ex) = c.modern("tools/call", params).await;
        (ex.status, ex.reply(id).clone())
    });
    for _ in 0..500 {
        if writes(&up, "/api/files/slow") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        writes(&up, "/api/files/slow"),
        1,
        "replica A sent the write"
    );
    a.kill();
    let b = start_tunnel(e.addr, &up, 4, TOKEN);
    wait_ready(&b).await;
    let (status, reply) = write.await.expect("joins");
    assert_eq!(status, 504, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("may or may not have run"),
        "{reply}"
    );
    // Well past the lease: replica B never received the write, so it ran exactly once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(writes(&up, "/api/files/slow"), 1);
    assert_eq!(b.status.commands.load(Ordering::Relaxed), 0);
    assert_eq!(
        client(e.addr)
            .call(MODERN, "api_get_item", json!({"id": "b"}))
            .await["result"]["structuredContent"]["status"],
        200
    );
}

#[tokio::test]
async fn a_request_that_changes_nothing_is_offered_again_if_its_replica_goes_quiet() {
    let up = upstream().await;
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(10))).await;
    let mut c = client(e.addr);
    // A replica that takes a command and dies without answering: a raw poller.
    let addr = e.addr;
    let thief = tokio::spawn(async move {
        let http = crate::support::http();
        let url = format!("http://{addr}/v1/tunnels/t1/poll?limit=1&timeout_ms=5000");
        http.get(url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("poll")
            .text()
            .await
            .expect("body")
    });
    let list = tokio::spawn(async move {
        let (id, ex) = c.modern("tools/list", json!({})).await;
        ex.reply(id).clone()
    });
    let stolen: Value = serde_json::from_str(&thief.await.expect("joins")).expect("json");
    assert_eq!(stolen["commands"][0]["jsonrpc"]["method"], "tools/list");
    let b = start_tunnel(e.addr, &up, 4, TOKEN);
    let reply = tokio::time::timeout(Duration::from_secs(8), list)
        .await
        .expect("answered")
        .expect("joins");
    assert_eq!(
        reply["result"]["tools"].as_array().map(Vec::len),
        Some(5),
        "{reply}"
    );
    b.stop.cancel();
}

#[tokio::test]
async fn a_stalled_upstream_is_a_timeout_result_through_the_tunnel() {
    let up = upstream().await;
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(20))).await;
    let r = start_tunnel(e.addr, &up, 4, TOKEN);
    wait_ready(&r).await;
    let reply = client(e.addr)
        .call(
            MODERN,
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/stall"}),
        )
        .await;
    let text = reply["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.starts_with("upstream_timeout:"), "{reply}");
    assert_eq!(reply["result"]["isError"], true);
}

#[tokio::test]
async fn a_failed_reply_post_is_retried_without_running_the_call_again() {
    let up = upstream().await;
    let options = EdgeOptions {
        fail_first_replies: 1,
        ..edge_options(Duration::from_secs(10))
    };
    let e = start_edge_at("127.0.0.1:0", options).await;
    let r = start_tunnel(e.addr, &up, 4, TOKEN);
    wait_ready(&r).await;
    let reply = client(e.addr)
        .call(MODERN, "api_create", json!({"body": {"name": "retry"}}))
        .await;
    assert_eq!(
        reply["result"]["structuredContent"]["status"], 201,
        "{reply}"
    );
    assert_eq!(writes(&up, "/api/items"), 1, "the write ran once");
    assert!(r.status.reply_retries.load(Ordering::Relaxed) >= 1);
}

#[tokio::test]
async fn two_replicas_share_the_work_and_one_can_stop() {
    let up = upstream().await;
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(20))).await;
    let a = start_tunnel(e.addr, &up, 2, TOKEN);
    let b = start_tunnel(e.addr, &up, 2, TOKEN);
    wait_ready(&a).await;
    wait_ready(&b).await;
    let calls: Vec<_> = (0..12)
        .map(|_| {
            let mut c = client(e.addr);
            tokio::spawn(async move {
                c.call(
                    MODERN,
                    "call_target",
                    json!({"label": "api", "method": "GET", "path": "/reports/pause"}),
                )
                .await
            })
        })
        .collect();
    for call in calls {
        assert_eq!(
            call.await.expect("joins")["result"]["structuredContent"]["body"],
            "paused"
        );
    }
    let (na, nb) = (
        a.status.commands.load(Ordering::Relaxed),
        b.status.commands.load(Ordering::Relaxed),
    );
    assert_eq!(na + nb, 12);
    assert!(na > 0 && nb > 0, "both replicas took work: {na} and {nb}");
    a.stop.cancel();
    a.task
        .await
        .expect("joins")
        .expect("the tunnel stops cleanly");
    let after = client(e.addr)
        .call(MODERN, "api_get_item", json!({"id": "solo"}))
        .await;
    assert_eq!(
        after["result"]["structuredContent"]["status"], 200,
        "replica B carries on alone"
    );
}

/// The tunnel runs each command through `HarpoonService::handle_message`: a secret an upstream
/// echoes in a refused redirect's `Location` or in a media type is redacted there as under
/// `serve`.
#[tokio::test]
async fn the_tunnel_path_redacts_upstream_secrets_like_serve() {
    let secret = "s3cret-token-value";
    let up = Upstream::start(move |s| match s.target.as_str() {
        "/api/reports/image" => Reply::Respond {
            status: 200,
            headers: vec![("content-type".into(), format!("image/{secret}"))],
            body: b"\x89PNG".to_vec(),
        },
        _ => Reply::redirect(302, &format!("http://evil.example/?t={secret}")),
    })
    .await;
    let yaml = crate::enforcement::allowlist(&up.url()).replace(
        "    dangerous: { allow_plaintext_http: true }\n",
        "    dangerous: { allow_plaintext_http: true }\n    redirects: 3\n",
    );
    assert!(yaml.contains("redirects: 3"));
    let service = HarpoonService::from_policy(
        crate::support::engine::policy(&yaml),
        ServiceOptions::default(),
    )
    .expect("service");
    let meta = json!({"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}});
    for (path, code) in [
        ("/reports/x", Some("redirect_not_allowed")),
        ("/reports/image", None),
    ] {
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "call_target", "_meta": meta,
            "arguments": {"label": "api", "method": "GET", "path": path}}});
        let reply = service
            .handle_message(&call.to_string(), CancellationToken::new())
            .await
            .expect("a reply");
        assert!(!reply.contains(secret), "{path}: {reply}");
        if let Some(code) = code {
            assert!(reply.contains(code), "{path}: {reply}");
        }
    }
}

/// With a client token, the edge's public side refuses callers without it (401 and
/// `WWW-Authenticate: Bearer`) and serves those with it; the token is compared whole.
#[tokio::test]
async fn the_edge_client_token_guards_its_mcp_endpoint() {
    let up = upstream().await;
    let options = EdgeOptions {
        client_token: Some("edge-client-token".into()),
        ..edge_options(Duration::from_secs(10))
    };
    let e = start_edge_at("127.0.0.1:0", options).await;
    let r = start_tunnel(e.addr, &up, 4, TOKEN);
    wait_ready(&r).await;
    let mut c = client(e.addr);
    let (_, ex) = c.modern("tools/list", json!({})).await;
    assert_eq!(ex.status, 401, "no token");
    c.headers
        .push(("authorization".into(), "Bearer edge-client-token-x".into()));
    let (_, ex) = c.modern("tools/list", json!({})).await;
    assert_eq!(ex.status, 401, "a longer token");
    c.headers.clear();
    c.headers
        .push(("authorization".into(), "Bearer edge-client-token".into()));
    let (id, ex) = c.modern("tools/list", json!({})).await;
    assert_eq!(ex.status, 200);
    assert!(ex.reply(id)["result"]["tools"].is_array());
    assert_eq!(up.hits(), 0, "tools/list reaches no upstream");
}

/// A 403 from the edge stops the tunnel at once, like a 401: the token is known but may not
/// use this tunnel, and retrying cannot help.
#[tokio::test]
async fn a_forbidden_tunnel_stops_at_once() {
    let forbidding = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::FORBIDDEN,
            r#"{"error":{"code":"tunnel_use_forbidden"}}"#,
        )
    });
    let (addr, stop) = crate::support::serve_on_loopback(forbidding).await;
    let up = upstream().await;
    let r = start_tunnel(addr, &up, 4, TOKEN);
    let result = tokio::time::timeout(Duration::from_secs(5), r.task)
        .await
        .expect("fails fast")
        .expect("joins");
    assert!(
        matches!(result, Err(TunnelError::Refused { status: 403, .. })),
        "{result:?}"
    );
    stop.cancel();
}

/// Reply posts as the model received them: the shard-token header, and the body.
type Posts = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A scripted model of OpenAI's tunnel service, written from its contract
/// (`../shared/openai-tunnel-protocol.md` §2): one poll answer holding a command of every type,
/// then empty polls; every reply post recorded with its shard-token header.
struct ModelService {
    addr: SocketAddr,
    polls: Arc<Mutex<Vec<(String, HeaderMap)>>>,
    posts: Posts,
    stop: CancellationToken,
}

impl ModelService {
    async fn start(batch: Value) -> Self {
        Self::start_batches(vec![(Duration::ZERO, batch)]).await
    }

    /// Polls answer these batches in order, each after its delay; then empty polls.
    async fn start_batches(batches: Vec<(Duration, Value)>) -> Self {
        use axum::extract::{RawQuery, State};
        #[derive(Clone)]
        struct S {
            batch: Arc<Mutex<std::collections::VecDeque<(Duration, Value)>>>,
            polls: Arc<Mutex<Vec<(String, HeaderMap)>>>,
            posts: Posts,
        }
        let state = S {
            batch: Arc::new(Mutex::new(batches.into())),
            polls: Arc::default(),
            posts: Arc::default(),
        };
        let app = axum::Router::new()
            .route(
                "/v1/tunnels/{id}/poll",
                axum::routing::get(
                    |State(s): State<S>, RawQuery(q): RawQuery, headers: HeaderMap| async move {
                        s.polls
                            .lock()
                            .unwrap()
                            .push((q.unwrap_or_default(), headers));
                        let batch = s.batch.lock().unwrap().pop_front();
                        match batch {
                            Some((delay, b)) => {
                                tokio::time::sleep(delay).await;
                                (axum::http::StatusCode::OK, b.to_string()).into_response()
                            }
                            None => {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                axum::http::StatusCode::NO_CONTENT.into_response()
                            }
                        }
                    },
                ),
            )
            .route(
                "/v1/tunnels/{id}/response",
                axum::routing::post(
                    |State(s): State<S>, headers: HeaderMap, body: String| async move {
                        let reply = crate::support::posted_reply(&headers, &body);
                        s.posts.lock().unwrap().push(reply);
                        (axum::http::StatusCode::OK, r#"{"status":"ok"}"#)
                    },
                ),
            )
            .with_state(state.clone());
        let (addr, stop) = crate::support::serve_on_loopback(app).await;
        Self {
            addr,
            polls: state.polls,
            posts: state.posts,
            stop,
        }
    }

    /// The posts for `request_id`, in order.
    fn posts_for(&self, request_id: &str) -> Vec<(Option<String>, Value)> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, v)| v["request_id"] == request_id)
            .cloned()
            .collect()
    }

    /// Waits (bounded) until `n` final posts have arrived.
    async fn wait_finals(&self, n: usize) {
        for _ in 0..1000 {
            let finals = self
                .posts
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, v)| v["resp_type"] != "jsonrpc_notify")
                .count();
            if finals >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "only some final posts arrived: {:?}",
            self.posts.lock().unwrap()
        );
    }
}

use axum::http::HeaderMap;
use axum::response::IntoResponse;
use std::sync::Mutex;

/// Every command type of the service's protocol gets the answer its contract gives, each with
/// its shard token in the header; a malformed command is skipped alone; progress is relayed as
/// `jsonrpc_notify` before the final answer; polls ask for at most 25 commands and never for a
/// zero wait, and carry the identity headers.
#[tokio::test]
async fn the_tunnel_answers_every_command_type_of_the_service_protocol() {
    let up = upstream().await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}});
    let mut progress_meta = meta.clone();
    progress_meta["progressToken"] = json!(7);
    let cmd = |rid: &str, extra: Value| {
        let mut c = json!({"request_id": rid, "shard_token": format!("shard-{rid}"), "command_type": "jsonrpc",
            "channel": "main", "created_at": "2026-01-01T00:00:00Z", "response_timeout": "20s", "headers": {"X-Request-Id": [format!("trace-{rid}")]}});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let batch = json!({"commands": [
        cmd("read", json!({"jsonrpc": {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "api_get_item", "arguments": {"id": "x1"}, "_meta": meta}}})),
        cmd("note", json!({"jsonrpc": {"jsonrpc": "2.0", "method": "notifications/initialized"}})),
        cmd("end", json!({"command_type": "session_termination", "headers": {"Mcp-Session-Id": ["s1"]}})),
        cmd("oauth", json!({"command_type": "oauth_discovery"})),
        cmd("other", json!({"channel": "harpoon", "jsonrpc": {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}})),
        {"request_id": "broken", "command_type": "jsonrpc", "jsonrpc": {"jsonrpc": "2.0", "id": 4, "method": "ping"}},
        {"request_id": "alien", "shard_token": "s", "command_type": "teleport"},
        cmd("numeric", json!({"response_timeout": 30000, "jsonrpc": {"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"_meta": meta}}})),
        cmd("slow", json!({"jsonrpc": {"jsonrpc": "2.0", "id": 6, "method": "tools/call",
            "params": {"name": "call_target", "arguments": {"label": "api", "method": "GET", "path": "/reports/pause"}, "_meta": progress_meta}}})),
    ]});
    let service = ModelService::start(batch).await;
    let r = start_tunnel(service.addr, &up, 40, TOKEN);
    service.wait_finals(7).await;
    let only = |rid: &str| {
        let p = service.posts_for(rid);
        assert_eq!(p.len(), 1, "{rid}: {p:?}");
        let (shard, body) = p.into_iter().next().unwrap();
        assert_eq!(
            shard.as_deref(),
            Some(format!("shard-{rid}").as_str()),
            "{rid}"
        );
        body
    };
    let read = only("read");
    assert_eq!(
        (read["resp_type"].as_str(), read["resp_code"].as_u64()),
        (Some("jsonrpc_response"), Some(200))
    );
    assert_eq!(read["channel"], "main");
    assert_eq!(
        read["resp_json"]["result"]["structuredContent"]["body"],
        json!({"id": "x1"})
    );
    assert_eq!(
        read["resp_headers"]["Content-Type"],
        json!(["application/json"])
    );
    let note = only("note");
    assert_eq!(
        note,
        json!({"request_id": "note", "channel": "main", "resp_code": 202, "resp_type": "notify_ack"})
    );
    let end = only("end");
    assert_eq!(
        end,
        json!({"request_id": "end", "channel": "main", "resp_code": 405, "resp_type": "session_termination_response"})
    );
    let oauth = only("oauth");
    assert_eq!(
        (oauth["resp_type"].as_str(), oauth["resp_code"].as_u64()),
        (Some("oauth_discovery_response"), Some(404))
    );
    let other = only("other");
    assert_eq!(other["resp_code"], 400);
    assert_eq!(other["channel"], "harpoon");
    assert_eq!(
        other["resp_json"]["error"]["message"],
        "Bad Request: unsupported channel \"harpoon\""
    );
    assert!(
        service.posts_for("broken").is_empty(),
        "a command without a shard token gets no post"
    );
    assert!(
        service.posts_for("alien").is_empty(),
        "an unknown command type gets no post"
    );
    let numeric = only("numeric");
    assert_eq!(
        numeric["resp_code"], 200,
        "a numeric response_timeout fails open"
    );
    let slow = service.posts_for("slow");
    let (notes, finals): (Vec<_>, Vec<_>) = slow
        .iter()
        .partition(|(_, v)| v["resp_type"] == "jsonrpc_notify");
    assert_eq!(finals.len(), 1, "{slow:?}");
    assert!(notes.len() >= 2, "progress was relayed: {slow:?}");
    assert!(
        notes
            .iter()
            .all(|(_, v)| v["resp_json"]["method"] == "notifications/progress")
    );
    let last = slow.last().unwrap();
    assert_eq!(
        last.1["resp_type"], "jsonrpc_response",
        "the final answer comes last"
    );
    assert_eq!(r.status.skipped.load(Ordering::SeqCst), 2);
    let polls = service.polls.lock().unwrap().clone();
    for (query, headers) in &polls {
        let pairs: std::collections::HashMap<_, _> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let limit: u64 = pairs["limit"].parse().unwrap();
        let wait: u64 = pairs["timeout_ms"].parse().unwrap();
        assert!((1..=25).contains(&limit), "{query}");
        assert!(wait >= 1, "{query}");
        assert_eq!(headers["accept"], "application/json");
        assert_eq!(headers["x-tunnel-client-name"], "harpoon-tunnel");
        assert_eq!(
            headers["x-tunnel-mcp-server-info"],
            r#"{"version":1,"channels":[{"name":"main"}]}"#
        );
        assert_eq!(headers["x-tunnel-client-instance-id"].len(), 32);
        assert_eq!(headers["authorization"], format!("Bearer {TOKEN}").as_str());
    }
    r.stop.cancel();
    service.stop.cancel();
}

/// `notifications/cancelled` through the tunnel cancels the call in flight: its final answer is
/// the `cancelled` result, long before the stalled upstream would have answered.
#[tokio::test]
async fn a_cancel_notification_through_the_tunnel_cancels_the_call() {
    let up = upstream().await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}});
    let call = json!({"commands": [{"request_id": "call", "shard_token": "s-call", "command_type": "jsonrpc",
        "jsonrpc": {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
            "params": {"name": "call_target", "arguments": {"label": "api", "method": "GET", "path": "/reports/stall"}, "_meta": meta}}}]});
    let cancel = json!({"commands": [{"request_id": "cancel", "shard_token": "s-cancel", "command_type": "jsonrpc",
        "jsonrpc": {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9, "reason": "user"}}}]});
    // The delay lets the call start before its cancellation arrives, as on the real service.
    let service = ModelService::start_batches(vec![
        (Duration::ZERO, call),
        (Duration::from_millis(300), cancel),
    ])
    .await;
    let started = std::time::Instant::now();
    let r = start_tunnel(service.addr, &up, 4, TOKEN);
    service.wait_finals(2).await;
    assert_one_cancelled_answer(&service, "call");
    assert_eq!(service.posts_for("cancel")[0].1["resp_type"], "notify_ack");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "cancelled, not waited out"
    );
    r.stop.cancel();
    service.stop.cancel();
}

/// The tunnel posted one answer for `request_id`, and it is the handler's "cancelled" result.
fn assert_one_cancelled_answer(service: &ModelService, request_id: &str) {
    let posts = service.posts_for(request_id);
    assert_eq!(posts.len(), 1, "{request_id}: {posts:?}");
    let text = posts[0].1["resp_json"]["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.starts_with("cancelled:"), "{}", posts[0].1);
}

/// JSON-RPC ids are unique per client only, and 2026-07-28 calls come without a session: a
/// cancellation reaches the call of the caller who sent it, never another caller's call that
/// happens to have the same id, whichever registered last.
#[tokio::test]
async fn a_cancel_notification_reaches_only_its_own_callers_call() {
    let up = upstream().await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}});
    let call = |caller: &str| {
        json!({"commands": [{"request_id": caller, "shard_token": format!("s-{caller}"), "command_type": "jsonrpc",
            "headers": {"Authorization": [format!("Bearer {caller}")]},
            "jsonrpc": {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                "params": {"name": "call_target", "arguments": {"label": "api", "method": "GET", "path": "/reports/stall"}, "_meta": meta}}}]})
    };
    let cancel = json!({"commands": [{"request_id": "cancel", "shard_token": "s-cancel", "command_type": "jsonrpc",
        "headers": {"Authorization": ["Bearer first"]},
        "jsonrpc": {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9, "reason": "user"}}}]});
    // Both calls are running (the upstream stalls) when the first caller cancels its own.
    let service = ModelService::start_batches(vec![
        (Duration::ZERO, call("first")),
        (Duration::from_millis(200), call("second")),
        (Duration::from_millis(300), cancel),
    ])
    .await;
    let r = start_tunnel(service.addr, &up, 4, TOKEN);
    service.wait_finals(2).await;
    // The first caller's call is cancelled.
    assert_one_cancelled_answer(&service, "first");
    assert_eq!(service.posts_for("cancel")[0].1["resp_type"], "notify_ack");
    assert!(
        service.posts_for("second").is_empty(),
        "the second caller's call runs on"
    );
    r.stop.cancel();
    service.stop.cancel();
}

/// One poll of the edge as a tunnel makes it: `limit` commands, waiting up to `wait_ms`.
pub(crate) async fn edge_poll(
    http: &reqwest::Client,
    base: &str,
    limit: u32,
    wait_ms: u64,
) -> reqwest::Response {
    http.get(format!(
        "{base}/v1/tunnels/t1/poll?limit={limit}&timeout_ms={wait_ms}"
    ))
    .bearer_auth(TOKEN)
    .send()
    .await
    .expect("poll")
}

/// The commands of the edge's next poll answer (waiting up to 5 s for one), as JSON.
async fn next_commands(http: &reqwest::Client, base: &str) -> Value {
    let answer = edge_poll(http, base, 25, 5000).await;
    serde_json::from_str(&answer.text().await.expect("body")).expect("commands")
}

/// One reply post to the edge, with a shard token.
pub(crate) async fn edge_post(
    http: &reqwest::Client,
    base: &str,
    shard: &str,
    body: String,
) -> reqwest::Response {
    http.post(format!("{base}/v1/tunnels/t1/response"))
        .bearer_auth(TOKEN)
        .header("x-tunnel-shard-token", shard)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post")
}

/// `harpoon edge` as the service's model: its commands carry every field of the contract (type,
/// a shard token, created_at, channel, the caller's headers minus the blocklist); a
/// `jsonrpc_notify` does not complete a call; a reply with another shard token is refused; the
/// final reply's `resp_code` is the caller's status and its allowlisted headers are relayed.
#[tokio::test]
async fn the_edge_speaks_the_service_protocol() {
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(10))).await;
    let http = crate::support::http();
    let base = format!("http://{}", e.addr);
    // A poll first, so the edge counts a tunnel as connected.
    assert_eq!(edge_poll(&http, &base, 25, 1).await.status(), 204);
    let caller = tokio::spawn({
        let http = http.clone();
        let base = base.clone();
        async move {
            http.post(format!("{base}/v1/mcp/t1"))
                .header("content-type", "application/json")
                // JSON only: the progress below is then dropped, and resp_code is the status
                // (edge_model.rs has the streaming caller).
                .header("accept", "application/json")
                .header("x-request-id", "trace-1")
                .header("cookie", "session=secret")
                .header("x-forwarded-for", "10.0.0.1")
                .body(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string())
                .send()
                .await
                .expect("the caller's request")
        }
    });
    let answer = next_commands(&http, &base).await;
    let c = &answer["commands"][0];
    assert_eq!(c["command_type"], "jsonrpc");
    assert_eq!(c["channel"], "main");
    assert!(
        c["shard_token"].as_str().is_some_and(|s| !s.is_empty()),
        "{c}"
    );
    assert!(
        c["created_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z') && s.len() == 20),
        "{c}"
    );
    assert_eq!(c["headers"]["x-request-id"], json!(["trace-1"]));
    assert!(
        c["headers"].get("cookie").is_none() && c["headers"].get("x-forwarded-for").is_none(),
        "{c}"
    );
    assert!(c["headers"].get("host").is_none(), "{c}");
    let rid = c["request_id"].as_str().expect("id").to_owned();
    let shard = c["shard_token"].as_str().expect("shard").to_owned();
    let note = json!({"request_id": rid, "channel": "main", "resp_json": {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}}, "resp_code": 200, "resp_type": "jsonrpc_notify"});
    assert_eq!(
        edge_post(&http, &base, &shard, note.to_string())
            .await
            .status(),
        200
    );
    let last = json!({"request_id": rid, "channel": "main",
        "resp_json": {"jsonrpc": "2.0", "id": 1, "error": {"code": -32001, "message": "auth required"}},
        "resp_headers": {"Content-Type": ["application/json"], "Www-Authenticate": ["Bearer resource_metadata=\"x\""], "X-Internal": ["no"]},
        "resp_code": 401, "resp_type": "jsonrpc_response"});
    let wrong = edge_post(&http, &base, "another-shard", last.to_string()).await;
    assert_eq!(wrong.status(), 401);
    let wrong: Value =
        serde_json::from_str(&wrong.text().await.expect("body")).expect("error body");
    assert_eq!(wrong["error"]["code"], "tunnel_request_mismatch");
    assert_eq!(
        edge_post(&http, &base, &shard, last.to_string())
            .await
            .status(),
        200
    );
    let answered = caller.await.expect("joins");
    assert_eq!(answered.status(), 401, "resp_code is the caller's status");
    assert_eq!(
        answered
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer resource_metadata=\"x\"")
    );
    assert!(answered.headers().get("x-internal").is_none());
    let body: Value = serde_json::from_str(&answered.text().await.expect("body")).expect("json");
    assert_eq!(body["error"]["code"], -32001);
    // The call is answered: a second final gets 404, as the service gives it.
    assert_eq!(
        edge_post(&http, &base, &shard, last.to_string())
            .await
            .status(),
        404
    );
    e.stop.cancel();
}

/// A reply up to the protocol's 32 MiB bound reaches its caller (axum's default body limit of
/// 2 MiB used to refuse it with 413); one past the bound is refused with 413.
#[tokio::test]
async fn the_edge_takes_replies_up_to_the_protocol_bound() {
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(10))).await;
    let http = crate::support::http();
    let base = format!("http://{}", e.addr);
    assert_eq!(edge_poll(&http, &base, 1, 1).await.status(), 204);
    let caller = tokio::spawn({
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.post(format!("{base}/v1/mcp/t1"))
                .header("content-type", "application/json")
                .body(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string())
                .send()
                .await
                .expect("the caller's request")
        }
    });
    let answer = next_commands(&http, &base).await;
    let (rid, shard) = (
        answer["commands"][0]["request_id"]
            .as_str()
            .expect("id")
            .to_owned(),
        answer["commands"][0]["shard_token"]
            .as_str()
            .expect("shard")
            .to_owned(),
    );
    let post = |body: String| edge_post(&http, &base, &shard, body);
    let too_big = "x".repeat(harpoon::transport::poll_protocol::MAX_REPLY_BODY_BYTES + 10);
    assert_eq!(post(too_big).await.status(), 413);
    let big = "y".repeat(3 * 1024 * 1024);
    let reply = json!({"request_id": rid, "resp_json": {"jsonrpc": "2.0", "id": 1, "result": {"big": big}}, "resp_code": 200});
    assert_eq!(post(reply.to_string()).await.status(), 200);
    let answered = caller.await.expect("joins");
    assert_eq!(answered.status(), 200);
    let body = answered.text().await.expect("body");
    assert!(
        body.len() > 3 * 1024 * 1024,
        "the caller got the whole reply"
    );
    e.stop.cancel();
}

/// The edge's public side refuses what a web page could send it: another `Host` (DNS
/// rebinding), a non-loopback or `null` `Origin`, a body that is not JSON. Nothing is queued.
#[tokio::test]
async fn the_edge_refuses_web_pages_as_serve_does() {
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(2))).await;
    let http = crate::support::http();
    let url = format!("http://{}/v1/mcp/t1", e.addr);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    for (name, value, content_type, want) in [
        ("host", "evil.example", "application/json", 403),
        ("origin", "null", "application/json", 403),
        ("origin", "https://evil.example", "application/json", 403),
        ("x-none", "x", "text/plain", 415),
    ] {
        let r = http
            .post(&url)
            .header(name, value)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .expect("answered");
        assert_eq!(r.status(), want, "{name}: {value} ({content_type})");
    }
    // A loopback caller gets past the guard (and is told no tunnel is connected).
    let r = http
        .post(&url)
        .header("origin", format!("http://{}", e.addr))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("answered");
    assert_eq!(r.status(), 503);
    e.stop.cancel();
}

/// The edge's `/metrics` needs no token, so it gives totals and never a tunnel id.
#[tokio::test]
async fn edge_metrics_name_no_tunnel() {
    let e = start_edge_at("127.0.0.1:0", edge_options(Duration::from_secs(2))).await;
    let (status, text) = crate::support::get(&format!("http://{}/metrics", e.addr)).await;
    assert_eq!(status, 200);
    assert!(text.contains("harpoon_edge_tunnels_connected 0"), "{text}");
    assert!(!text.contains("t1"), "{text}");
    e.stop.cancel();
}
