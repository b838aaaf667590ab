//! The `/mcp` endpoint: rmcp's Streamable HTTP service, with the stateless `tools/call` POST
//! answered without rmcp's per-request service (`mcp::direct_call` says why). It sits inside
//! the token, OAuth and session layers, so it only sees requests they let through. The rmcp
//! service is shared, not cloned per request (its clone copies its whole configuration, and
//! tower clones a service on every call). A request is answered directly only when every check
//! rmcp's Streamable HTTP server makes is plainly met:
//!
//! - `POST` with no `Mcp-Session-Id` and no `Origin` (browsers go to rmcp, which knows
//!   origins), one `Host` that an allowed host names exactly;
//! - `Accept` listing `application/json` and `text/event-stream` with no parameters,
//!   `Content-Type: application/json`, a `Content-Length` within the body cap;
//! - exactly one `MCP-Protocol-Version: 2026-07-28`, `Mcp-Method: tools/call` and `Mcp-Name`
//!   spelling the body's tool, and no `Mcp-Param-*` header;
//! - a body `DirectCall::read` accepts, or else `DirectCall::take` once rmcp's type has read it.
//!
//! Anything else goes on to rmcp with its body as read, and rmcp accepts or refuses it exactly
//! as before; so this endpoint can only answer a request rmcp would have answered, never one it
//! would have refused.

use super::bearer::MAX_MCP_BODY_BYTES;
use crate::mcp::McpHandler;
use crate::mcp::direct_call::{DirectCall, DirectReply};
use crate::policy::Caller;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio_util::sync::CancellationToken;

/// What the direct path needs: the handler, the hosts `/mcp` accepts, and the server's
/// shutdown.
pub struct DirectPost {
    handler: McpHandler,
    /// `(host, port)` of each allowed host this endpoint can match exactly.
    allowed_hosts: Vec<(String, Option<u16>)>,
    /// No allowed hosts were configured: rmcp then allows every host, and so does this.
    any_host: bool,
    shutdown: CancellationToken,
}

impl DirectPost {
    pub fn new(handler: McpHandler, allowed_hosts: &[String], shutdown: CancellationToken) -> Self {
        Self {
            handler,
            // An entry this simple parser cannot read (an IPv6 literal) matches nothing here:
            // requests naming it go to rmcp, which reads it.
            allowed_hosts: allowed_hosts.iter().filter_map(|h| split_host(h)).collect(),
            any_host: allowed_hosts.is_empty(),
            shutdown,
        }
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some((host, port)) = single(headers, header::HOST.as_str()).and_then(split_host) else {
            return false;
        };
        self.any_host
            || self
                .allowed_hosts
                .iter()
                .any(|(h, p)| *h == host && p.is_none_or(|p| Some(p) == port))
    }
}

/// `/mcp`, cheap to clone (tower clones it for every request).
#[derive(Clone)]
pub struct McpEndpoint {
    /// `None` when `HttpOptions::direct_calls` is off.
    direct: Option<Arc<DirectPost>>,
    rmcp: Arc<StreamableHttpService<McpHandler, LocalSessionManager>>,
}

impl McpEndpoint {
    pub fn new(
        rmcp: StreamableHttpService<McpHandler, LocalSessionManager>,
        direct: Option<DirectPost>,
    ) -> Self {
        Self {
            direct: direct.map(Arc::new),
            rmcp: Arc::new(rmcp),
        }
    }

    /// Answers a plain stateless `tools/call` itself and hands everything else to rmcp.
    pub async fn serve(self, request: Request<Body>) -> Response {
        let Some(direct) = self
            .direct
            .as_ref()
            .filter(|d| headers_allow(d, request.method(), request.headers()))
        else {
            return self.rmcp(request).await;
        };
        let (parts, body) = request.into_parts();
        let Ok(bytes) = to_bytes(body, MAX_MCP_BODY_BYTES).await else {
            // The declared length was within the cap, so the client broke off mid-body.
            return (StatusCode::BAD_REQUEST, "the request body was cut short\n").into_response();
        };
        let call = DirectCall::read(&bytes, &direct.handler).or_else(|| {
            let message = serde_json::from_slice::<ClientJsonRpcMessage>(&bytes).ok()?;
            DirectCall::take(message, &direct.handler).ok()
        });
        let call = match call {
            Some(call) if named_in_header(&parts.headers, call.tool()) => call,
            _ => {
                return self
                    .rmcp(Request::from_parts(parts, Body::from(bytes)))
                    .await;
            }
        };
        drop(bytes);
        let caller = parts.extensions.get::<Caller>().cloned();
        // The call runs in this request's own task: if the client goes away, hyper drops it,
        // which aborts the upstream request, and the engine audits the call as cancelled when
        // it is dropped. (A task of its own for the call cost a wake-up of the other worker
        // thread on every call: issue 14.)
        let cancel = direct.shutdown.child_token();
        let reply = call.answer(&direct.handler, caller, &cancel).await;
        let body = match reply {
            DirectReply::Streamed(s) => Body::from_stream(s),
            DirectReply::Message(m) => match serde_json::to_vec(&m) {
                Ok(b) => Body::from(b),
                Err(_) => {
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the reply could not be written\n",
                    )
                        .into_response();
                }
            },
        };
        let mut r = Response::new(body);
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    }

    async fn rmcp(&self, request: Request<Body>) -> Response {
        self.rmcp.handle(request).await.map(Body::new)
    }
}

impl tower::Service<Request<Body>> for McpEndpoint {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let endpoint = self.clone();
        Box::pin(async move { Ok(endpoint.serve(request).await) })
    }
}

/// Every header condition of the module comment but the tool's name, which needs the body.
fn headers_allow(direct: &DirectPost, method: &Method, headers: &HeaderMap) -> bool {
    *method == Method::POST
        && !headers.contains_key("mcp-session-id")
        && !headers.contains_key(header::ORIGIN)
        && !headers.keys().any(|k| k.as_str().starts_with("mcp-param-"))
        && direct.host_allowed(headers)
        && accepts_json_and_sse(headers)
        && single(headers, header::CONTENT_TYPE.as_str())
            .is_some_and(|v| essence(v).eq_ignore_ascii_case("application/json"))
        && single(headers, header::CONTENT_LENGTH.as_str())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n <= MAX_MCP_BODY_BYTES)
        && single(headers, "mcp-protocol-version") == Some("2026-07-28")
        && single(headers, "mcp-method") == Some("tools/call")
}

/// `Mcp-Name` is exactly `tool`. A value in rmcp's `=?base64?` form is left to rmcp.
fn named_in_header(headers: &HeaderMap, tool: &str) -> bool {
    single(headers, "mcp-name").is_some_and(|v| v == tool && !v.starts_with("=?"))
}

/// The value of a header sent exactly once, as text.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

fn essence(value: &str) -> &str {
    value.split_once(';').map_or(value, |(e, _)| e).trim()
}

/// Both media types listed, none with parameters (a `q` weight could exclude one: rmcp reads
/// those).
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let (mut json, mut sse) = (false, false);
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        for item in value.split(',') {
            if item.contains(';') {
                return false;
            }
            let item = item.trim();
            json |= item.eq_ignore_ascii_case("application/json");
            sse |= item.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

/// `host[:port]` with a DNS name or IPv4 address, lowercased; `None` for anything else
/// (IPv6 literals, user info, stray characters), which this endpoint leaves to rmcp.
fn split_host(value: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = match value.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
        None => (value, None),
    };
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    plain.then(|| (host.to_ascii_lowercase(), port))
}
