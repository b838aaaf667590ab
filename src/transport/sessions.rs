//! Bounds on the MCP sessions `serve` keeps for 2025-11-25 clients (each `initialize` opens
//! one; 2026-07-28 requests are stateless and open none). An idle session costs ~100 KiB, and
//! without a cap 5,000 `initialize` POSTs added ~519 MiB: past the cap an `initialize` is
//! answered 503 with a message that says why, and the sessions open keep being served.

use super::bearer::MAX_MCP_BODY_BYTES;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Most sessions open at once: a harpoon serves a handful of clients, and 256 idle sessions
/// add ~33 MiB of RSS (`benches/session_flood.py`; uncapped, 5,000 added ~519 MiB).
pub const DEFAULT_MAX_SESSIONS: usize = 256;

/// How long a session may sit idle before it is closed (rmcp's default; its client then starts
/// a new one, as the MCP specification requires on a 404).
pub const DEFAULT_SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a refused client is told to wait before it tries again.
const RETRY_AFTER_SECONDS: &str = "5";

/// The bounds of `serve`'s sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub max_sessions: usize,
    pub idle_timeout: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            max_sessions: DEFAULT_MAX_SESSIONS,
            idle_timeout: DEFAULT_SESSION_IDLE_TIMEOUT,
        }
    }
}

/// The session manager and its cap, for the checks in front of `/mcp`.
#[derive(Clone)]
pub struct SessionGate {
    pub manager: Arc<LocalSessionManager>,
    pub max_sessions: usize,
}

impl SessionGate {
    pub fn new(limits: SessionLimits) -> Self {
        let mut config = SessionConfig::default();
        config.keep_alive = Some(limits.idle_timeout);
        let mut manager = LocalSessionManager::default();
        manager.session_config = config;
        Self {
            manager: Arc::new(manager),
            max_sessions: limits.max_sessions,
        }
    }

    /// Sessions open now.
    pub async fn open(&self) -> usize {
        self.manager.sessions.read().await.len()
    }

    /// The request to pass on, or the refusal of an `initialize` that would open a session
    /// past the cap. Below the cap it costs one read of the session count; only at the cap is
    /// a sessionless POST's body read to see whether it is an `initialize`. Simultaneous
    /// `initialize`s at the cap can overshoot it by the number in flight, which the connection
    /// cap bounds.
    pub async fn admit(&self, request: Request) -> Result<Request, Response> {
        if request.method() != Method::POST || request.headers().contains_key("mcp-session-id") {
            return Ok(request);
        }
        let open = self.open().await;
        if open < self.max_sessions {
            return Ok(request);
        }
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_MCP_BODY_BYTES).await else {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large\n",
            )
                .into_response());
        };
        let message: Option<Value> = serde_json::from_slice(&bytes).ok();
        if let Some(m) = message.as_ref().filter(|m| m["method"] == "initialize") {
            return Err(refused(&m["id"], open, self.max_sessions));
        }
        Ok(Request::from_parts(parts, Body::from(bytes)))
    }
}

fn refused(id: &Value, open: usize, max: usize) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message": format!(
        "this harpoon has {open} open MCP sessions, its limit (--max-sessions {max}); retry shortly, \
         or use the 2026-07-28 protocol, which needs no session"
    )}});
    let mut r = (StatusCode::SERVICE_UNAVAILABLE, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
    r
}
