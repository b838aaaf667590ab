//! Every listener is bounded: a client that sends half a request line is cut off after the
//! header read timeout, connections past the cap are closed at once while the open ones are
//! served, and legacy MCP sessions stop at their cap with a clear 503 while the open sessions
//! and stateless requests go on.

use crate::support::mcp_client::McpHttp;
use crate::support::server::{self, start_with};
use crate::support::upstream::Upstream;
use harpoon::transport::http::HttpOptions;
use harpoon::transport::listen::ListenLimits;
use harpoon::transport::sessions::SessionLimits;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection; the bound only keeps a broken server from
/// hanging the test (the assertion is that EOF came).
async fn closed_within(stream: &mut TcpStream, bound: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + bound;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn half_a_request_line_is_cut_off_at_the_header_read_timeout() {
    let up = Upstream::canary().await;
    let limits = ListenLimits {
        header_read_timeout: Duration::from_millis(300),
        ..ListenLimits::default()
    };
    let srv = start_with(
        &crate::enforcement::allowlist(&up.url()),
        HttpOptions::loopback(),
        limits,
    )
    .await;
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut s = TcpStream::connect(srv.addr).await.expect("connect");
        s.write_all(b"POST /mcp HT").await.expect("write");
        slow.push(s);
    }
    let started = Instant::now();
    for s in &mut slow {
        assert!(
            closed_within(s, Duration::from_secs(10)).await,
            "a slow client kept its connection"
        );
    }
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "closed by the timeout, not at once"
    );
    // The server still serves others.
    let (status, _) = crate::support::get(&srv.url("/healthz")).await;
    assert_eq!(status, 200);
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_and_the_open_ones_served() {
    let up = Upstream::canary().await;
    let limits = ListenLimits {
        max_connections: 2,
        ..ListenLimits::default()
    };
    let srv = start_with(
        &crate::enforcement::allowlist(&up.url()),
        HttpOptions::loopback(),
        limits,
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(srv.addr).await.expect("connect"));
    }
    // Let the server accept both (it answers a request on one of them).
    held[0]
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 256];
    let n = held[0].read(&mut buf).await.expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let mut third = TcpStream::connect(srv.addr)
        .await
        .expect("the kernel accepts it");
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    assert!(
        closed_within(&mut third, Duration::from_secs(5)).await,
        "the third connection was closed"
    );
    // The held ones are still served.
    held[1]
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let n = held[1].read(&mut buf).await.expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn sessions_stop_at_their_cap_with_a_clear_503() {
    let up = Upstream::canary().await;
    let options = HttpOptions {
        sessions: SessionLimits {
            max_sessions: 3,
            ..SessionLimits::default()
        },
        ..HttpOptions::loopback()
    };
    let srv = server::start(&crate::enforcement::allowlist(&up.url()), options).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut c = McpHttp::new(&srv.mcp_url());
        c.initialize_legacy().await;
        clients.push(c);
    }
    let c = McpHttp::new(&srv.mcp_url());
    let init = json!({"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let ex = c.post_raw(init.to_string(), &[]).await;
    assert_eq!(ex.status, 503, "{ex:?}");
    let message = ex.messages[0]["error"]["message"]
        .as_str()
        .expect("message");
    assert!(
        message.starts_with("this harpoon has 3 open MCP sessions, its limit (--max-sessions 3)"),
        "{message}"
    );
    assert_eq!(ex.messages[0]["id"], 9);
    // The open sessions, and stateless requests, are still served.
    let (_, ex) = clients[0].legacy("tools/list", json!({})).await;
    assert_eq!(ex.status, 200);
    let mut modern = McpHttp::new(&srv.mcp_url());
    let (_, ex) = modern.modern("tools/list", json!({})).await;
    assert_eq!(ex.status, 200);
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn an_idle_session_is_closed_and_frees_its_place() {
    let up = Upstream::canary().await;
    let options = HttpOptions {
        sessions: SessionLimits {
            max_sessions: 1,
            idle_timeout: Duration::from_millis(300),
        },
        ..HttpOptions::loopback()
    };
    let srv = server::start(&crate::enforcement::allowlist(&up.url()), options).await;
    let mut first = McpHttp::new(&srv.mcp_url());
    first.initialize_legacy().await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let fresh = McpHttp::new(&srv.mcp_url());
    assert_eq!(fresh.post_raw(init.to_string(), &[]).await.status, 503);
    // Once the first session has sat idle past its timeout, its place is free again.
    let mut admitted = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ex = fresh.post_raw(init.to_string(), &[]).await;
        if ex.status == 200 {
            admitted = Some(ex);
            break;
        }
        assert_eq!(ex.status, 503, "{ex:?}");
    }
    let admitted = admitted.expect("the idle session was never closed within 10 s");
    assert!(admitted.session.is_some(), "{admitted:?}");
    // The closed session is gone: its client is told to start a new one.
    let (_, ex) = first.legacy("tools/list", json!({})).await;
    assert_eq!(ex.status, 404, "{ex:?}");
    assert_eq!(up.hits(), 0);
}
