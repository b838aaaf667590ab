//! The HTTP server of `harpoon serve`: MCP at `/mcp` (Streamable HTTP, both protocol eras),
//! `/healthz`, `/readyz`, `/metrics` and the loopback admin page at `/ui` (`transport::ui`). `/mcp` checks Host and Origin (DNS rebinding), caps
//! request bodies, and requires a bearer token when one is configured: the static one of
//! `--allow-remote`, or an OAuth access token when the allowlists have an `authorization`
//! section (`transport::oauth`, which also serves the protected resource metadata).

use super::mcp_endpoint::{DirectPost, McpEndpoint};
use super::mcp_gate::GatedMcp;
use super::oauth;
use super::sessions::{SessionGate, SessionLimits};
use crate::service::HarpoonService;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

pub use super::bearer::MAX_MCP_BODY_BYTES;

/// A listener whose connections send each write at once (`TCP_NODELAY`). Without it, a reply
/// streamed as several small SSE writes waits out Nagle's algorithm and the peer's delayed ACK:
/// about 40 ms per call.
pub fn nodelay(
    listener: tokio::net::TcpListener,
) -> impl axum::serve::Listener<Addr = std::net::SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    })
}

/// Who may talk to `/mcp`.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Host header values accepted (without port): DNS-rebinding protection.
    pub allowed_hosts: Vec<String>,
    /// Origin header values accepted (`scheme://host[:port|:*]`); requests without an Origin
    /// (non-browser clients) pass.
    pub allowed_origins: Vec<String>,
    /// When set, `/mcp` requires `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// How many legacy sessions may be open, and for how long idle.
    pub sessions: SessionLimits,
    /// `--allow-remote-ui`: serve `/ui` to any peer and Host that presents `token`, instead of
    /// to loopback requests only.
    pub allow_remote_ui: bool,
    /// Answer a plain stateless `tools/call` without rmcp's per-request service
    /// (`transport::mcp_endpoint`; on by default). Off, every request goes through rmcp: the
    /// tests that compare the two paths turn it off.
    pub direct_calls: bool,
}

impl HttpOptions {
    /// The defaults of a loopback server: loopback names only, browser pages only from
    /// loopback origins, no token.
    pub fn loopback() -> Self {
        Self {
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: vec![
                "http://localhost:*".into(),
                "http://127.0.0.1:*".into(),
                "http://[::1]:*".into(),
            ],
            token: None,
            sessions: SessionLimits::default(),
            allow_remote_ui: false,
            direct_calls: true,
        }
    }
}

/// Readiness and uptime, shared by the server's endpoints.
pub struct ServerStatus {
    ready: AtomicBool,
    started: Instant,
}

impl Default for ServerStatus {
    fn default() -> Self {
        Self {
            ready: AtomicBool::new(false),
            started: Instant::now(),
        }
    }
}

impl ServerStatus {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct AppState {
    service: HarpoonService,
    status: Arc<ServerStatus>,
    token: Option<Arc<str>>,
}

/// The whole router. `shutdown` ends open MCP streams when cancelled.
pub fn router(
    service: &HarpoonService,
    options: &HttpOptions,
    status: Arc<ServerStatus>,
    shutdown: CancellationToken,
) -> Router {
    // Plain JSON replies: one write per reply. rmcp still streams SSE when a call sends
    // progress notifications before its result (the conformance progress scenario passes).
    let config = StreamableHttpServerConfig::default()
        .with_json_response(true)
        .with_allowed_hosts(options.allowed_hosts.clone())
        .with_allowed_origins(options.allowed_origins.clone())
        .with_max_request_body_bytes(MAX_MCP_BODY_BYTES)
        .with_cancellation_token(shutdown.clone());
    let state = AppState {
        service: service.clone(),
        status,
        token: options.token.as_deref().map(Arc::from),
    };
    let gate = SessionGate::new(options.sessions);
    let rmcp = service.streamable_http_with(config, Arc::clone(&gate.manager));
    let direct = options
        .direct_calls
        .then(|| DirectPost::new(service.handler(), &options.allowed_hosts, shutdown));
    let endpoint = McpEndpoint::new(rmcp, direct);
    let gated = GatedMcp::new(service.clone(), state.token.clone(), gate, endpoint);
    // Exactly `/mcp`: a nested service would also answer `/mcp/anything` as the endpoint.
    let mcp = Router::new().route_service("/mcp", gated);
    let mut discovery = Router::new();
    for path in oauth::metadata_paths(service) {
        discovery = discovery.route(&path, get(oauth::metadata));
    }
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(discovery.with_state(service.clone()))
        .merge(super::ui::router(
            service,
            options.allow_remote_ui,
            options.token.as_deref().map(Arc::from),
        ))
        .merge(mcp)
}

async fn readyz(State(s): State<AppState>) -> Response {
    if s.status.is_ready() && !s.service.tracker().is_draining() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    let policy = s.service.policy();
    let gauges = [
        (
            "harpoon_ready",
            "1 when the policy is loaded and the listener is up.",
            f64::from(u8::from(s.status.is_ready())),
        ),
        (
            "harpoon_calls_in_flight",
            "Tool calls being served now.",
            s.service.tracker().in_flight() as f64,
        ),
        (
            "harpoon_targets",
            "Targets in the loaded policy.",
            policy.targets().len() as f64,
        ),
        (
            "harpoon_route_tools",
            "Route tools in the loaded policy.",
            policy.route_count() as f64,
        ),
        (
            "harpoon_uptime_seconds",
            "Seconds since the server started.",
            s.status.started.elapsed().as_secs_f64(),
        ),
    ];
    let text = s.service.engine().metrics().render(&gauges);
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}
