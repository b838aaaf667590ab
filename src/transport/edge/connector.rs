//! The connector side of the edge: `/v1/mcp/{tunnel_id}`, where MCP clients call, as on the
//! service. A `POST` queues its JSON-RPC message as a `jsonrpc` command; a `DELETE` with
//! `Mcp-Session-Id` queues a `session_termination`. The caller gets the final answer with
//! `resp_code` as its status and the allowlisted reply headers; a caller that accepts
//! `text/event-stream` gets the tunnel's `jsonrpc_notify` posts (progress) as SSE events first,
//! then the final answer as the last event.

use super::answers::{api_error, jsonrpc_error, raw_json_response};
use super::queue::{Abandon, ENVELOPE_BYTES, NOTIFY_BUFFER, Pending, TunnelState};
use super::{Edge, caller_headers, guard};
use crate::transport::bearer::MAX_MCP_BODY_BYTES;
use crate::transport::poll_protocol::{
    Command, CommandType, JsonrpcHead, MAIN_CHANNEL, Reply, raw_json,
};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// `GET` opens no stream here (as on the service), and other methods mean nothing.
pub(super) async fn not_allowed() -> Response {
    let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST, DELETE"));
    r
}

/// The tunnel a caller names, past the web-page guard; else the refusal.
fn admit(
    edge: &Edge,
    id: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Arc<TunnelState>, Response> {
    let Some(tunnel) = edge.tunnels.get(id).cloned() else {
        return Err(jsonrpc_error(
            StatusCode::NOT_FOUND,
            &Value::Null,
            -32000,
            &format!("no tunnel '{id}' on this edge"),
        ));
    };
    if let Some(refusal) = guard::refuse(method, headers, edge.options.client_token.as_deref()) {
        return Err(refusal);
    }
    Ok(tunnel)
}

pub(super) async fn post(
    State(edge): State<Arc<Edge>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let tunnel = match admit(&edge, &id, &Method::POST, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Ok(bytes) = axum::body::to_bytes(body, MAX_MCP_BODY_BYTES).await else {
        return jsonrpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &Value::Null,
            -32600,
            &format!("the request body is larger than {MAX_MCP_BODY_BYTES} bytes"),
        );
    };
    // Kept as the text it came as (checked to be JSON): the edge only passes it on.
    let message: Box<RawValue> = match serde_json::from_slice::<&RawValue>(&bytes) {
        Ok(v) if v.get().starts_with('{') => v.to_owned(),
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
    let head = JsonrpcHead::read(&message);
    let Some(method) = head.method else {
        // A JSON-RPC response from the caller: harpoon sends no requests, so none is awaited.
        return StatusCode::ACCEPTED.into_response();
    };
    let rpc_id = head.id.unwrap_or(Value::Null);
    let safe = method != "tools/call";
    let streams = !rpc_id.is_null()
        && headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/event-stream"));
    let queued = match enqueue(
        &edge,
        &id,
        &tunnel,
        CommandType::Jsonrpc,
        &headers,
        Some(message),
        safe,
        streams,
    ) {
        Ok(q) => q,
        Err(refusal) => return with_id(refusal, &rpc_id),
    };
    answer(edge, queued, rpc_id).await
}

/// `DELETE` with `Mcp-Session-Id` ends the caller's session upstream: a `session_termination`.
pub(super) async fn delete(
    State(edge): State<Arc<Edge>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let tunnel = match admit(&edge, &id, &Method::DELETE, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !headers.contains_key("mcp-session-id") {
        return api_error(
            StatusCode::BAD_REQUEST,
            "missing_mcp_session_id",
            "DELETE ends a session: send its Mcp-Session-Id",
        );
    }
    match enqueue(
        &edge,
        &id,
        &tunnel,
        CommandType::SessionTermination,
        &headers,
        None,
        false,
        false,
    ) {
        Ok(queued) => answer(edge, queued, Value::Null).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// Why a command was not queued: the caller's answer, made once its JSON-RPC id is known.
enum Refusal {
    NoTunnel(String),
    Overloaded(String, usize),
    TooLarge(usize, usize),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        with_id(self, &Value::Null)
    }
}

fn with_id(refusal: Refusal, rpc_id: &Value) -> Response {
    let (status, message) = match refusal {
        Refusal::NoTunnel(id) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no tunnel is connected to '{id}'; start `harpoon tunnel` and retry"),
        ),
        Refusal::Overloaded(id, n) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("tunnel '{id}' is overloaded ({n} calls pending); retry shortly"),
        ),
        Refusal::TooLarge(bytes, bound) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request is {bytes} bytes as a tunnel command, more than a poll answer carries ({bound} bytes); send a smaller one"
            ),
        ),
    };
    jsonrpc_error(status, rpc_id, -32000, &message)
}

/// A queued command: where its answers arrive, and the guard that unqueues it.
struct Queued {
    reply: oneshot::Receiver<Reply>,
    notes: Option<mpsc::Receiver<Reply>>,
    _abandon: Abandon,
}

#[allow(clippy::too_many_arguments)]
fn enqueue(
    edge: &Edge,
    id: &str,
    tunnel: &Arc<TunnelState>,
    kind: CommandType,
    headers: &HeaderMap,
    jsonrpc: Option<Box<RawValue>>,
    safe: bool,
    streams: bool,
) -> Result<Queued, Refusal> {
    edge.counters.calls.fetch_add(1, Ordering::Relaxed);
    if !tunnel.connected() {
        edge.counters.no_tunnel.fetch_add(1, Ordering::Relaxed);
        return Err(Refusal::NoTunnel(id.to_owned()));
    }
    let request_id = edge.next_request_id();
    let command = Command {
        shard_token: edge.shard_token(&request_id),
        request_id: request_id.clone(),
        command_type: kind,
        channel: Some(MAIN_CHANNEL.to_owned()),
        created_at: Some(rfc3339_now()),
        response_timeout: Some(format!("{}ms", edge.options.call_timeout.as_millis())),
        headers: caller_headers::forwarded(headers),
        jsonrpc,
    };
    let Ok(wire) = serde_json::value::to_raw_value(&command) else {
        // Writing a command cannot fail (its fields are strings, maps and JSON text).
        edge.counters.too_large.fetch_add(1, Ordering::Relaxed);
        return Err(Refusal::TooLarge(usize::MAX, edge.options.max_poll_bytes));
    };
    let bytes = wire.get().len();
    if bytes + ENVELOPE_BYTES + 1 > edge.options.max_poll_bytes {
        edge.counters.too_large.fetch_add(1, Ordering::Relaxed);
        return Err(Refusal::TooLarge(bytes, edge.options.max_poll_bytes));
    }
    let (tx, reply) = oneshot::channel();
    let (notes_tx, notes) = if streams {
        let (t, r) = mpsc::channel(NOTIFY_BUFFER);
        (Some(t), Some(r))
    } else {
        (None, None)
    };
    {
        let mut q = tunnel.lock();
        if q.calls.len() >= edge.options.max_queue {
            edge.counters.overloaded.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Overloaded(id.to_owned(), q.calls.len()));
        }
        q.calls.insert(
            request_id.clone(),
            Pending {
                wire,
                shard_token: command.shard_token,
                reply: Some(tx),
                notes: notes_tx,
                leased_until: None,
                safe,
                deliveries: 0,
            },
        );
        q.waiting.push_back(request_id.clone());
    }
    tunnel.available.notify_one();
    Ok(Queued {
        reply,
        notes,
        _abandon: Abandon {
            tunnel: Arc::clone(tunnel),
            request_id,
        },
    })
}

/// Waits for the command's answers and renders them for the caller.
async fn answer(edge: Arc<Edge>, mut queued: Queued, rpc_id: Value) -> Response {
    let timeout = edge.options.call_timeout;
    let deadline = Instant::now() + timeout;
    let first_note = match queued.notes.as_mut() {
        Some(notes) => tokio::select! {
            biased;
            Some(note) = notes.recv() => Some(note),
            reply = &mut queued.reply => return final_answer(&edge, reply.ok(), &rpc_id),
            _ = tokio::time::sleep_until(deadline) => return final_answer(&edge, None, &rpc_id),
        },
        None => None,
    };
    let Some(note) = first_note else {
        let reply = tokio::time::timeout_at(deadline, &mut queued.reply)
            .await
            .ok()
            .and_then(Result::ok);
        return final_answer(&edge, reply, &rpc_id);
    };
    stream(edge, queued, note, rpc_id, deadline)
}

/// The caller's answer from a final reply: `resp_code` as the status (a 1xx or an unknown code
/// is 502), the relayed headers, `resp_json` as the body; no reply in time is 504.
fn final_answer(edge: &Edge, reply: Option<Reply>, rpc_id: &Value) -> Response {
    let Some(reply) = reply else {
        edge.counters.timeouts.fetch_add(1, Ordering::Relaxed);
        return jsonrpc_error(
            StatusCode::GATEWAY_TIMEOUT,
            rpc_id,
            -32000,
            &timeout_message(edge.options.call_timeout),
        );
    };
    edge.counters.replies.fetch_add(1, Ordering::Relaxed);
    let status = match StatusCode::from_u16(reply.resp_code) {
        Ok(s) if !s.is_informational() => s,
        _ => StatusCode::BAD_GATEWAY,
    };
    let mut r = match reply.resp_json {
        Some(body) => raw_json_response(status, body),
        None => status.into_response(),
    };
    caller_headers::relay(reply.resp_headers.as_ref(), r.headers_mut());
    r
}

fn timeout_message(timeout: Duration) -> String {
    format!(
        "the tunnel did not answer within {} ms; the call may or may not have run upstream",
        timeout.as_millis()
    )
}

/// One SSE event carrying one JSON-RPC message on one `data:` line. A message posted with line
/// breaks between its tokens is written again without them: a line break would end the event
/// early, and what follows it would be read as fields of the stream.
fn event(message: &RawValue) -> Bytes {
    let text = message.get();
    let line = if text.contains(['\n', '\r']) {
        serde_json::from_str::<Value>(text)
            .map(|v| v.to_string())
            .unwrap_or_default()
    } else {
        text.to_owned()
    };
    Bytes::from(format!("event: message\ndata: {line}\n\n"))
}

/// The answer as an event stream: the first notification's status and headers, its events in
/// order, then the final answer's message (or a timeout error) as the last event.
fn stream(
    edge: Arc<Edge>,
    queued: Queued,
    first: Reply,
    rpc_id: Value,
    deadline: Instant,
) -> Response {
    let status = StatusCode::from_u16(first.resp_code)
        .ok()
        .filter(StatusCode::is_success)
        .unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    caller_headers::relay(first.resp_headers.as_ref(), &mut headers);
    let (tx, rx) = mpsc::channel::<Bytes>(NOTIFY_BUFFER + 2);
    tokio::spawn(async move {
        let Queued {
            mut reply,
            notes,
            _abandon,
        } = queued;
        let Some(mut notes) = notes else { return };
        let mut send = Some(first);
        loop {
            if let Some(note) = send.take() {
                edge.counters.notifications.fetch_add(1, Ordering::Relaxed);
                if let Some(m) = &note.resp_json
                    && tx.send(event(m)).await.is_err()
                {
                    return;
                }
            }
            tokio::select! {
                biased;
                _ = tx.closed() => return,
                Some(note) = notes.recv() => send = Some(note),
                done = &mut reply => {
                    if let Ok(done) = done {
                        edge.counters.replies.fetch_add(1, Ordering::Relaxed);
                        if let Some(m) = &done.resp_json {
                            let _ = tx.send(event(m)).await;
                        }
                    }
                    return;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    edge.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                    let error = json!({"jsonrpc": "2.0", "id": rpc_id, "error": {"code": -32000,
                        "message": timeout_message(edge.options.call_timeout)}});
                    let _ = tx.send(event(&raw_json(&error))).await;
                    return;
                }
            }
        }
    });
    let mut r = (status, Body::from_stream(Events(rx))).into_response();
    r.headers_mut().extend(headers);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// An event stream's body: the events the relaying task sends, ending when it ends.
struct Events(mpsc::Receiver<Bytes>);

impl futures_core::Stream for Events {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|e| e.map(Ok))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_data_line_whatever_line_breaks_the_message_came_with() {
        let posted = "{\r\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"notifications/progress\",\n\
                      \"params\": {\"message\": \"a\\nb\"}\n}";
        let raw = RawValue::from_string(posted.to_owned()).expect("JSON");
        let written = event(&raw);
        assert_eq!(
            std::str::from_utf8(&written).expect("text"),
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"message\":\"a\\nb\"}}\n\n"
        );
        let compact = RawValue::from_string("{\"a\":1}".to_owned()).expect("JSON");
        assert_eq!(&event(&compact)[..], b"event: message\ndata: {\"a\":1}\n\n");
    }
}
