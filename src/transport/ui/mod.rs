//! The admin page at `/ui` (on `harpoon serve`, and on `harpoon tunnel`'s health listener): what
//! each target grants and its findings, the last calls (live, from `/ui/calls.json`), denials by
//! reason, the last reload, and under `tunnel` the tunnel's state. It answers
//! only requests whose peer, `Host` and `Origin` are loopback, unless `--allow-remote-ui`, which
//! trades those checks for the bearer token of `/mcp` (`HARPOON_TOKEN`). Its script and style
//! are compiled into the binary and served from `/ui`, so the Content-Security-Policy allows
//! nothing else: no inline script, no other origin, no framing.

mod page;

pub use page::escape;

use super::bearer;
use super::loopback::{self, NotLoopback};
use super::tunnel::TunnelStatus;
use crate::service::HarpoonService;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

/// The page's script: it fetches `/ui/calls.json` every two seconds and fills the tables.
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");

/// Only this server's own script, style and JSON; nothing inline, nothing framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Who may see the admin page.
#[derive(Clone)]
struct UiState {
    service: HarpoonService,
    /// `--allow-remote-ui`: any peer and host, with the token.
    allow_remote: bool,
    /// The token of `/mcp`; with `allow_remote` and none, every request is refused.
    token: Option<Arc<str>>,
    /// The tunnel's counters, when the page is served by `harpoon tunnel`.
    tunnel: Option<Arc<TunnelStatus>>,
}

/// The routes under `/ui`. With `allow_remote`, a request needs `token` instead of being
/// loopback (and with no token, nothing is served).
pub fn router(service: &HarpoonService, allow_remote: bool, token: Option<Arc<str>>) -> Router {
    router_with(service, allow_remote, token, None)
}

/// The same routes for `harpoon tunnel`, loopback only, showing `tunnel`'s state too.
pub fn tunnel_router(service: &HarpoonService, tunnel: Arc<TunnelStatus>) -> Router {
    router_with(service, false, None, Some(tunnel))
}

fn router_with(
    service: &HarpoonService,
    allow_remote: bool,
    token: Option<Arc<str>>,
    tunnel: Option<Arc<TunnelStatus>>,
) -> Router {
    let state = UiState {
        service: service.clone(),
        allow_remote,
        token,
        tunnel,
    };
    Router::new()
        .route("/ui", get(page))
        .route("/ui/", get(page))
        .route("/ui/app.js", get(script))
        .route("/ui/app.css", get(style))
        .route("/ui/calls.json", get(calls))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn guard(State(s): State<UiState>, request: Request, next: Next) -> Response {
    let mut response = match admit(&s, &request) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal,
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn admit(s: &UiState, request: &Request) -> Result<(), Response> {
    if s.allow_remote {
        return match &s.token {
            Some(t) if bearer::matches(request.headers(), t) => Ok(()),
            _ => Err(bearer::unauthorized(
                "harpoon serves /ui off loopback (--allow-remote-ui) only to callers that send the HARPOON_TOKEN bearer token, as /mcp does\n",
            )),
        };
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    loopback::check(peer, request.headers()).map_err(forbidden)
}

fn forbidden(part: NotLoopback) -> Response {
    (
        StatusCode::FORBIDDEN,
        format!(
            "harpoon's admin page /ui answers loopback requests only, and this request's {} is not loopback.\nOpen it on the machine harpoon runs on, as http://127.0.0.1:PORT/ui (from elsewhere: ssh -L PORT:127.0.0.1:PORT), or start `harpoon serve --allow-remote-ui` with HARPOON_TOKEN set and send that bearer token.\n",
            part.part()
        ),
    )
        .into_response()
}

fn typed(content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn page(State(s): State<UiState>) -> Response {
    typed(
        "text/html; charset=utf-8",
        page::render(&s.service, s.tunnel.as_deref()),
    )
}

async fn script() -> Response {
    typed("text/javascript; charset=utf-8", APP_JS)
}

async fn style() -> Response {
    typed("text/css; charset=utf-8", APP_CSS)
}

/// The live part: the recent calls (newest first), denials by reason, calls in flight.
async fn calls(State(s): State<UiState>) -> Response {
    let metrics = Arc::clone(s.service.engine().metrics());
    let denials: Vec<_> = metrics
        .denials_by_reason()
        .into_iter()
        .map(|(reason, calls)| json!({"reason": reason, "calls": calls}))
        .collect();
    let body = json!({
        "calls": metrics.recent().newest_first(),
        "denials": denials,
        "in_flight": s.service.tracker().in_flight(),
        "tunnel": s.tunnel.as_deref().map(page::tunnel_state),
    });
    typed("application/json", body.to_string())
}
