//! The edge's HTTP handlers: the public MCP endpoint, and the poll and reply endpoints the
//! tunnel calls.

use crate::transport::bearer::{self, MAX_MCP_BODY_BYTES};
use crate::transport::poll_protocol::{
    Command, CommandType, MAIN_CHANNEL, MAX_POLL_TIMEOUT, MAX_REPLY_BODY_BYTES, PollResponse,
    Reply, SHARD_TOKEN_HEADER,
};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
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
    if let Some(refusal) = browser_guard(&headers, edge.options.client_token.is_some()) {
        return refusal;
    }
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
    if message.get("method").is_none() {
        // A JSON-RPC response from the caller: harpoon sends no requests, so none is awaited.
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
            shard_token: format!("shard-{request_id}-{}", edge.epoch ^ 0x5eed),
            request_id: request_id.clone(),
            command_type: CommandType::Jsonrpc,
            channel: Some(MAIN_CHANNEL.to_owned()),
            created_at: Some(rfc3339_now()),
            response_timeout: Some(format!("{}ms", timeout.as_millis())),
            headers: forwarded_headers(&headers),
            jsonrpc: Some(message),
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
            caller_response(reply)
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

/// What `serve` checks too, so a web page cannot drive a loopback edge: the body must be JSON
/// (a `text/plain` form post needs no CORS preflight), and without a client token the `Host`
/// must be a loopback name (DNS rebinding) and an `Origin`, when sent, a loopback one
/// (`Origin: null` included is refused).
fn browser_guard(headers: &HeaderMap, has_token: bool) -> Option<Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Some(jsonrpc_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &Value::Null,
            -32600,
            "send the JSON-RPC message as application/json",
        ));
    }
    if has_token {
        return None;
    }
    let loopback_host = |h: &str| {
        let name = match h.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => h.rsplit_once(':').map_or(h, |(n, _)| n),
        };
        matches!(name, "localhost" | "127.0.0.1" | "::1")
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !host.is_some_and(loopback_host) {
        return Some(jsonrpc_error(
            StatusCode::FORBIDDEN,
            &Value::Null,
            -32600,
            "this edge answers loopback host names only; set HARPOON_EDGE_CLIENT_TOKEN to serve others",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let ok = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(loopback_host);
        if !ok {
            return Some(jsonrpc_error(
                StatusCode::FORBIDDEN,
                &Value::Null,
                -32600,
                "requests from web pages are refused unless they come from a loopback origin",
            ));
        }
    }
    None
}

/// Headers of the caller's request that never go into a command: hop-by-hop and framing,
/// cookies, client identity, and anything that could spoof an address or an internal caller
/// (the service's own blocklist, as its local model in tunnel-client shows it).
fn never_forwarded(name: &str) -> bool {
    matches!(
        name,
        "host"
            | "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-authorization"
            | "proxy-connection"
            | "content-length"
            | "content-type"
            | "accept-encoding"
            | "cookie"
            | "user-agent"
            | "openai-organization"
            | "forwarded"
            | "x-real-ip"
            | "x-client-ip"
            | "true-client-ip"
            | "cf-connecting-ip"
    ) || name.starts_with("x-forwarded-")
        || name.starts_with("x-openai-")
        || name.starts_with("x-tunnel-")
}

/// The caller's headers a command carries, multi-valued, minus `never_forwarded`.
fn forwarded_headers(headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if never_forwarded(name.as_str()) {
            continue;
        }
        if let Ok(v) = value.to_str() {
            out.entry(name.as_str().to_owned())
                .or_default()
                .push(v.to_owned());
        }
    }
    out
}

/// Reply headers relayed to the caller, names matched case-insensitively.
const RELAYED_REPLY_HEADERS: &[&str] =
    &["mcp-session-id", "mcp-protocol-version", "www-authenticate"];

/// The caller's answer from a final reply: `resp_code` as the status (as the service maps it:
/// a 1xx or an unknown code is 502), the relayed headers, and `resp_json` as the body.
fn caller_response(reply: Reply) -> Response {
    let status = match StatusCode::from_u16(reply.resp_code) {
        Ok(s) if s.is_informational() => StatusCode::BAD_GATEWAY,
        Ok(s) => s,
        Err(_) => StatusCode::BAD_GATEWAY,
    };
    let mut r = match &reply.resp_json {
        Some(body) => json_response(status, body),
        None => status.into_response(),
    };
    for (name, values) in reply.resp_headers.iter().flatten() {
        let lower = name.to_ascii_lowercase();
        if !RELAYED_REPLY_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        for v in values {
            if let (Ok(n), Ok(v)) = (
                axum::http::HeaderName::from_bytes(lower.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                r.headers_mut().append(n, v);
            }
        }
    }
    r
}

/// Now as RFC 3339 UTC (`2026-12-01T20:02:05Z`), for `created_at`.
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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
    let limit = q.limit.unwrap_or(1).clamp(1, EDGE_MAX_POLL_LIMIT);
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
    let shard = headers
        .get(SHARD_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut q = tunnel.lock();
    let Some(pending) = q.calls.get_mut(&reply.request_id) else {
        return api_error(
            StatusCode::NOT_FOUND,
            "pending_request_not_found",
            "no caller waits for this request_id (answered, expired or unknown)",
        );
    };
    if !bearer::constant_time_eq(shard.as_bytes(), pending.command.shard_token.as_bytes()) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "tunnel_request_mismatch",
            "the X-Tunnel-Shard-Token header is not the one this command was given",
        );
    }
    if !reply.resp_type.is_terminal() {
        // Progress: the edge delivers final answers only (an SSE relay is not built yet).
        edge.counters.notifications.fetch_add(1, Ordering::Relaxed);
        return json_response(StatusCode::OK, &json!({"status": "ok"}));
    }
    match pending.reply.take() {
        Some(tx) => {
            let _ = tx.send(reply);
            json_response(StatusCode::OK, &json!({"status": "ok"}))
        }
        None => api_error(
            StatusCode::NOT_FOUND,
            "pending_request_not_found",
            "this request was answered already",
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
            "harpoon_edge_notifications_total",
            "Progress notifications posted by tunnels (not relayed to callers).",
            c.notifications.load(Ordering::Relaxed),
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
    // Totals only: `/metrics` needs no token, and tunnel ids are not for anyone who asks.
    let connected = edge.tunnels.values().filter(|t| t.connected()).count();
    let pending: usize = edge.tunnels.values().map(|t| t.lock().calls.len()).sum();
    let _ = writeln!(
        out,
        "# HELP harpoon_edge_tunnels_connected Tunnels with a poll open or recent.\n# TYPE harpoon_edge_tunnels_connected gauge\nharpoon_edge_tunnels_connected {connected}"
    );
    let _ = writeln!(
        out,
        "# HELP harpoon_edge_pending Calls queued or in flight across tunnels.\n# TYPE harpoon_edge_pending gauge\nharpoon_edge_pending {pending}"
    );
    let mut r = out.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}
