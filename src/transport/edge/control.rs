//! The control side of the edge, where tunnels connect, as on the service: `GET
//! /v1/tunnels/{id}` (metadata), `GET .../poll` (long-poll for commands) and `POST .../response`
//! (one answer or notification for one command, with the command's shard token).

use super::answers::{api_error, json_response, json_text_response};
use super::queue::{ENVELOPE_BYTES, TunnelState};
use super::{DEFAULT_POLL_TIMEOUT, Edge};
use crate::transport::bearer;
use crate::transport::poll_protocol::{
    MAX_POLL_LIMIT, MAX_POLL_TIMEOUT, MAX_REPLY_BODY_BYTES, MIN_POLL_TIMEOUT_MS, PollResponse,
    Reply, SHARD_TOKEN_HEADER, valid_channel,
};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The tunnel a request names, if its key is the tunnel's.
fn authorize(edge: &Edge, id: &str, headers: &HeaderMap) -> Result<Arc<TunnelState>, Response> {
    let Some(tunnel) = edge.tunnels.get(id) else {
        return Err(api_error(
            StatusCode::NOT_FOUND,
            "tunnel_not_found",
            &format!("no tunnel '{id}' on this edge"),
        ));
    };
    if !bearer::matches(headers, &tunnel.token) {
        return Err(bearer::unauthorized(api_error(
            StatusCode::UNAUTHORIZED,
            "tunnel_use_forbidden",
            "the key is missing or wrong for this tunnel",
        )));
    }
    Ok(Arc::clone(tunnel))
}

/// `GET /v1/tunnels/{id}`: the tunnel's metadata, as tunnel-client fetches it at startup.
pub(super) async fn metadata(
    State(edge): State<Arc<Edge>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&edge, &id, &headers) {
        return r;
    }
    json_response(
        StatusCode::OK,
        &json!({"id": id, "name": id, "description": "a tunnel of harpoon edge"}),
    )
}

#[derive(Deserialize)]
pub(super) struct PollQuery {
    limit: Option<usize>,
    timeout_ms: Option<u64>,
}

/// Counts an open poll for `connected()`, and stamps its end.
struct OpenPoll(Arc<TunnelState>);

impl Drop for OpenPoll {
    fn drop(&mut self) {
        self.0.touch();
        self.0.open_polls.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(super) async fn poll(
    State(edge): State<Arc<Edge>>,
    Path(id): Path<String>,
    Query(q): Query<PollQuery>,
    headers: HeaderMap,
) -> Response {
    let tunnel = match authorize(&edge, &id, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    // The service's schema: limit 1 to 25, timeout_ms at least 1 (what it answers outside that
    // is inferred; a 400 makes a poller's mistake plain).
    let limit = q.limit.unwrap_or(MAX_POLL_LIMIT);
    if !(1..=MAX_POLL_LIMIT).contains(&limit) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            &format!("limit must be 1 to {MAX_POLL_LIMIT}"),
        );
    }
    if q.timeout_ms.is_some_and(|t| t < MIN_POLL_TIMEOUT_MS) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalid_timeout_ms",
            "timeout_ms must be at least 1",
        );
    }
    let wait = q
        .timeout_ms
        .map_or(DEFAULT_POLL_TIMEOUT, Duration::from_millis)
        .min(MAX_POLL_TIMEOUT);
    tunnel.open_polls.fetch_add(1, Ordering::SeqCst);
    let _open = OpenPoll(Arc::clone(&tunnel));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let notified = tunnel.available.notified();
        let commands = tunnel.take(
            limit,
            edge.options.max_poll_bytes,
            edge.options.safe_lease,
            edge.options.call_timeout,
        );
        if !commands.is_empty() {
            // Written straight to text: no `Value` of the batch on the way.
            let body = serde_json::to_string(&PollResponse { commands }).unwrap_or_default();
            debug_assert!(body.len() <= edge.options.max_poll_bytes + ENVELOPE_BYTES);
            return json_text_response(StatusCode::OK, body);
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return StatusCode::NO_CONTENT.into_response();
        }
    }
}

fn ok() -> Response {
    json_text_response(StatusCode::OK, r#"{"status":"ok"}"#.to_owned())
}

pub(super) async fn response(
    State(edge): State<Arc<Edge>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let tunnel = match authorize(&edge, &id, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if body.len() > MAX_REPLY_BODY_BYTES {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_body_too_large",
            &format!("a reply may be at most {MAX_REPLY_BODY_BYTES} bytes"),
        );
    }
    if edge
        .failing_replies
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "tunnel_transport_unavailable",
            "injected failure (test hook)",
        );
    }
    let reply: Reply = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("not a reply: {e}"),
            );
        }
    };
    if reply.channel.as_deref().is_some_and(|c| !valid_channel(c)) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalid_channel_format",
            "channel must be ^[a-z0-9_-]{1,64}$",
        );
    }
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
    if !bearer::constant_time_eq(shard.as_bytes(), pending.shard_token.as_bytes()) {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "tunnel_request_mismatch",
            "the X-Tunnel-Shard-Token header is not the one this command was given",
        );
    }
    if !reply.resp_type.is_terminal() {
        // Progress: relayed when the caller takes an event stream and there is room, else
        // dropped (the buffer is bounded); never an error for the tunnel.
        let relayed = pending
            .notes
            .as_ref()
            .is_some_and(|n| n.try_send(reply).is_ok());
        if !relayed {
            edge.counters
                .notifications_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
        return ok();
    }
    match pending.reply.take() {
        Some(tx) => {
            let _ = tx.send(reply);
            ok()
        }
        None => api_error(
            StatusCode::NOT_FOUND,
            "pending_request_not_found",
            "this request was answered already",
        ),
    }
}
