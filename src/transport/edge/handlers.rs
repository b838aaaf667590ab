//! The edge's HTTP handlers: the public MCP endpoint, and the poll and reply endpoints the
//! tunnel calls.

use crate::transport::bearer::{self, MAX_MCP_BODY_BYTES};
use crate::transport::poll_protocol::{
    Command, MAX_POLL_LIMIT, MAX_POLL_TIMEOUT, MAX_REPLY_BODY_BYTES, PollResponse, Reply,
};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

use super::queue::*;
use super::*;

pub(super) fn jsonrpc_error(status: StatusCode, id: &Value, code: i64, message: &str) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    json_response(status, &body)
}

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub(super) fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// The edge offers no standalone stream and no session to end.
pub(super) async fn not_allowed() -> Response {
    let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

/// Removes a call the caller gave up on, so it is not delivered later (or its reply kept).
pub(super) struct Abandon {
    tunnel: Arc<TunnelState>,
    request_id: String,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        let mut q = self.tunnel.lock();
        q.calls.remove(&self.request_id);
        q.waiting.retain(|r| *r != self.request_id);
    }
}

pub(super) async fn mcp(
    State(edge): State<Arc<Edge>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(tunnel) = edge.tunnels.get(&id).cloned() else {
        return jsonrpc_error(
            StatusCode::NOT_FOUND,
            &Value::Null,
            -32000,
            &format!("no tunnel '{id}' on this edge"),
        );
    };
    if let Some(token) = &edge.options.client_token
        && !bearer::matches(&headers, token)
    {
        return bearer::unauthorized(jsonrpc_error(
            StatusCode::UNAUTHORIZED,
            &Value::Null,
            -32000,
            "a bearer token is required",
        ));
    }
    let bytes = match axum::body::to_bytes(body, MAX_MCP_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return jsonrpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &Value::Null,
                -32600,
                "request body too large",
            );
        }
    };
    let message: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return jsonrpc_error(
                StatusCode::BAD_REQUEST,
                &Value::Null,
                -32600,
                "send one JSON-RPC message",
            );
        }
        Err(e) => {
            return jsonrpc_error(
                StatusCode::BAD_REQUEST,
                &Value::Null,
                -32700,
                &format!("parse error: {e}"),
            );
        }
    };
    let rpc_id = message.get("id").cloned().unwrap_or(Value::Null);
    let is_request = message.get("method").is_some() && !rpc_id.is_null();
    if !is_request {
        // Notifications and responses need no answer; each tunnel request is handled on its own.
        return StatusCode::ACCEPTED.into_response();
    }
    edge.counters.calls.fetch_add(1, Ordering::Relaxed);
    if !tunnel.connected() {
        edge.counters.no_tunnel.fetch_add(1, Ordering::Relaxed);
        return jsonrpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &rpc_id,
            -32000,
            &format!("no tunnel is connected to '{id}'; start `harpoon tunnel` and retry"),
        );
    }
    let safe = message.get("method").and_then(Value::as_str) != Some("tools/call");
    let request_id = format!(
        "{}-{}",
        edge.epoch,
        edge.next_id.fetch_add(1, Ordering::Relaxed)
    );
    let timeout = edge.options.call_timeout;
    let (tx, rx) = oneshot::channel();
    {
        let mut q = tunnel.lock();
        if q.calls.len() >= edge.options.max_queue {
            edge.counters.overloaded.fetch_add(1, Ordering::Relaxed);
            return jsonrpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                &rpc_id,
                -32000,
                &format!(
                    "tunnel '{id}' is overloaded ({} calls pending); retry shortly",
                    q.calls.len()
                ),
            );
        }
        let command = Command {
            request_id: request_id.clone(),
            jsonrpc: message,
            response_timeout: Some(format!("{}ms", timeout.as_millis())),
        };
        q.calls.insert(
            request_id.clone(),
            Pending {
                command,
                reply: Some(tx),
                leased_until: None,
                safe,
                deliveries: 0,
            },
        );
        q.waiting.push_back(request_id.clone());
    }
    let _abandon = Abandon {
        tunnel: Arc::clone(&tunnel),
        request_id,
    };
    tunnel.available.notify_one();
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(reply)) => {
            edge.counters.replies.fetch_add(1, Ordering::Relaxed);
            json_response(StatusCode::OK, &reply)
        }
        _ => {
            edge.counters.timeouts.fetch_add(1, Ordering::Relaxed);
            let message = format!(
                "the tunnel did not answer within {} ms; the call may or may not have run upstream",
                timeout.as_millis()
            );
            jsonrpc_error(StatusCode::GATEWAY_TIMEOUT, &rpc_id, -32000, &message)
        }
    }
}

#[derive(Deserialize)]
pub(super) struct PollQuery {
    limit: Option<usize>,
    timeout_ms: Option<u64>,
}

/// Counts an open poll for `connected()`, and stamps its end.
pub(super) struct OpenPoll(Arc<TunnelState>);

impl Drop for OpenPoll {
    fn drop(&mut self) {
        self.0.touch();
        self.0.open_polls.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(super) fn authorize_tunnel(
    edge: &Edge,
    id: &str,
    headers: &HeaderMap,
) -> Result<Arc<TunnelState>, Response> {
    let Some(tunnel) = edge.tunnels.get(id) else {
        return Err(api_error(
            StatusCode::NOT_FOUND,
            "unknown_tunnel",
            &format!("no tunnel '{id}' on this edge"),
        ));
    };
    if !bearer::matches(headers, &tunnel.token) {
        return Err(bearer::unauthorized(api_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the tunnel token is missing or wrong",
        )));
    }
    Ok(Arc::clone(tunnel))
}

pub(super) async fn poll(
    State(edge): State<Arc<Edge>>,
    Path(id): Path<String>,
    Query(q): Query<PollQuery>,
    headers: HeaderMap,
) -> Response {
    let tunnel = match authorize_tunnel(&edge, &id, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let limit = q.limit.unwrap_or(1).clamp(1, MAX_POLL_LIMIT);
    let wait = q
        .timeout_ms
        .map_or(DEFAULT_POLL_TIMEOUT, Duration::from_millis)
        .min(MAX_POLL_TIMEOUT);
    tunnel.open_polls.fetch_add(1, Ordering::SeqCst);
    let _open = OpenPoll(Arc::clone(&tunnel));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let notified = tunnel.available.notified();
        let commands = take(
            &tunnel,
            limit,
            edge.options.safe_lease,
            edge.options.call_timeout,
        );
        if !commands.is_empty() {
            return json_response(
                StatusCode::OK,
                &serde_json::to_value(PollResponse { commands }).unwrap_or(Value::Null),
            );
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return StatusCode::NO_CONTENT.into_response();
        }
    }
}

/// Leases up to `limit` waiting commands to the polling replica.
pub(super) fn take(
    tunnel: &TunnelState,
    limit: usize,
    safe_lease: Duration,
    call_timeout: Duration,
) -> Vec<Command> {
    let mut q = tunnel.lock();
    let mut out = Vec::new();
    let now = Instant::now();
    while out.len() < limit {
        let Some(rid) = q.waiting.pop_front() else {
            break;
        };
        if let Some(p) = q.calls.get_mut(&rid) {
            p.deliveries += 1;
            p.leased_until = Some(now + if p.safe { safe_lease } else { call_timeout });
            out.push(p.command.clone());
        }
    }
    out
}

pub(super) async fn response(
    State(edge): State<Arc<Edge>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let tunnel = match authorize_tunnel(&edge, &id, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if body.len() > MAX_REPLY_BODY_BYTES {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "reply_too_large",
            "the reply is larger than the edge accepts",
        );
    }
    if edge
        .failing_replies
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "injected failure (test hook)",
        );
    }
    let reply: Reply = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "bad_reply",
                &format!("not a reply: {e}"),
            );
        }
    };
    let sender = tunnel
        .lock()
        .calls
        .get_mut(&reply.request_id)
        .and_then(|p| p.reply.take());
    match sender {
        Some(tx) => {
            let _ = tx.send(reply.resp_json);
            json_response(StatusCode::OK, &json!({"status": "ok"}))
        }
        None => api_error(
            StatusCode::NOT_FOUND,
            "unknown_request",
            "no caller waits for this request_id (answered, expired or unknown)",
        ),
    }
}

pub(super) async fn metrics(State(edge): State<Arc<Edge>>) -> Response {
    use std::fmt::Write as _;
    let c = &edge.counters;
    let mut out = String::new();
    for (name, help, v) in [
        (
            "harpoon_edge_calls_total",
            "MCP requests queued for a tunnel.",
            c.calls.load(Ordering::Relaxed),
        ),
        (
            "harpoon_edge_replies_total",
            "Replies delivered to callers.",
            c.replies.load(Ordering::Relaxed),
        ),
        (
            "harpoon_edge_no_tunnel_total",
            "Requests refused because no tunnel was connected.",
            c.no_tunnel.load(Ordering::Relaxed),
        ),
        (
            "harpoon_edge_timeouts_total",
            "Requests whose reply did not come in time.",
            c.timeouts.load(Ordering::Relaxed),
        ),
        (
            "harpoon_edge_overloaded_total",
            "Requests refused because the queue was full.",
            c.overloaded.load(Ordering::Relaxed),
        ),
        (
            "harpoon_edge_requeued_total",
            "Safe requests offered again after their replica went quiet.",
            c.requeued.load(Ordering::Relaxed),
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP harpoon_edge_tunnel_connected 1 when a tunnel polls.\n# TYPE harpoon_edge_tunnel_connected gauge"
    );
    for (id, t) in &edge.tunnels {
        let _ = writeln!(
            out,
            "harpoon_edge_tunnel_connected{{tunnel=\"{id}\"}} {}",
            u8::from(t.connected())
        );
        let _ = writeln!(
            out,
            "harpoon_edge_tunnel_pending{{tunnel=\"{id}\"}} {}",
            t.lock().calls.len()
        );
    }
    let mut r = out.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}
