//! harpoon's HTTP face as an OAuth 2.1 resource server: the protected resource metadata at
//! `/.well-known/oauth-protected-resource` (and its form with the resource's path appended,
//! RFC 9728 §3.1), and the layer in front of `/mcp` that turns the caller's bearer token into a
//! `Caller` (401 with `resource_metadata` when it proves nothing) and answers a `tools/call` of
//! a tool the caller's scopes do not allow with 403 `insufficient_scope` and the scopes needed.
//! The token stays here: the request that reaches the MCP handler carries the `Caller`, and
//! nothing of the `Authorization` header goes further (upstream requests are built from the
//! allowlist alone).

use super::bearer;
use crate::auth::metadata::{
    insufficient_scope_challenge, resource_metadata, unauthorized_challenge,
};
use crate::auth::{Authorizer, TokenError};
use crate::policy::{Caller, Policy, ToolKind, UpstreamTool};
use crate::service::HarpoonService;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The well-known path of the protected resource metadata (RFC 9728 §3).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The paths the metadata is served at: the bare form and the form with the resource's path
/// appended (`/.well-known/oauth-protected-resource/mcp`), which clients try first.
pub fn metadata_paths(service: &HarpoonService) -> Vec<String> {
    let mut paths = vec![METADATA_PATH.to_owned()];
    if let Some(auth) = service.policy().authorization() {
        let suffix = auth.resource.path().trim_end_matches('/');
        if !suffix.is_empty() {
            paths.push(format!("{METADATA_PATH}{suffix}"));
        }
    }
    paths
}

/// `GET /.well-known/oauth-protected-resource[/...]`: the metadata, or 404 without an
/// `authorization` section.
pub async fn metadata(State(service): State<HarpoonService>) -> Response {
    match resource_metadata(&service.policy()) {
        Some(doc) => {
            let mut r = json_response(StatusCode::OK, &doc);
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=300"),
            );
            r
        }
        None => (StatusCode::NOT_FOUND, "no authorization is configured\n").into_response(),
    }
}

/// The first check in front of `/mcp` (`transport::mcp_gate`): the request to pass on, with
/// its `Caller` and without its `Authorization` header, or the refusal to send. Without an
/// authorizer every request passes untouched (today's behaviour, or the static token of
/// `serve --allow-remote`).
pub async fn authorize(
    service: &HarpoonService,
    mut request: Request<Body>,
) -> Result<Request<Body>, Response> {
    // One generation for the whole check, so a reload in between cannot pair one policy's
    // keys with another's scopes (the engine checks scopes again on the generation it runs).
    let generation = service.handler().current();
    let Some(authorizer) = generation.authorizer() else {
        return Ok(request);
    };
    let caller = authorizer
        .authorize(bearer::presented(request.headers()))
        .await
        .map_err(|e| unauthorized(authorizer, &e))?;
    request.headers_mut().remove(header::AUTHORIZATION);
    if request.method() == Method::POST {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = to_bytes(body, bearer::MAX_MCP_BODY_BYTES).await else {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                "the MCP request is too large\n",
            )
                .into_response());
        };
        if let Some(denied) = scope_check(generation.engine().policy(), authorizer, &caller, &bytes)
        {
            return Err(denied);
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    request.extensions_mut().insert(caller);
    Ok(request)
}

fn unauthorized(authorizer: &Authorizer, error: &TokenError) -> Response {
    match error {
        TokenError::KeysUnavailable(e) => {
            tracing::warn!(error = %e, "an issuer's keys could not be fetched");
        }
        TokenError::IntrospectionUnavailable(e) => {
            tracing::warn!(error = %e, "an issuer's introspection endpoint could not be asked");
        }
        _ => {}
    }
    let challenge = unauthorized_challenge(&authorizer.config().metadata_url(), error);
    let body = json!({"error": if *error == TokenError::Missing { "unauthorized" } else { "invalid_token" },
        "reason": error.code(), "error_description": error.to_string()});
    let mut r = json_response(StatusCode::UNAUTHORIZED, &body);
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// For a `tools/call` (a single JSON-RPC request) of a tool `caller` may not use: the 403.
/// Anything else (another method, a batch, an unknown tool, bad JSON) goes on to the handler,
/// which checks the caller again on every call.
fn scope_check(
    policy: &Policy,
    authorizer: &Authorizer,
    caller: &Caller,
    body: &[u8],
) -> Option<Response> {
    let message: Value = serde_json::from_slice(body).ok()?;
    let refusal = scope_refusal(policy, authorizer, caller, &message)?;
    let mut r = json_response(StatusCode::FORBIDDEN, &refusal.body);
    if let Ok(v) = HeaderValue::from_str(&refusal.challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    Some(r)
}

/// The 403 `insufficient_scope` refusal of a JSON-RPC `message` that calls a tool `caller`'s
/// scopes do not cover, with the challenge naming every scope the tool needs; `None` for any
/// other message (the engine checks again, whatever this says). HTTP and the tunnel both ask it.
pub fn scope_refusal(
    policy: &Policy,
    authorizer: &Authorizer,
    caller: &Caller,
    message: &Value,
) -> Option<Refusal> {
    if message.get("method")?.as_str()? != "tools/call" {
        return None;
    }
    let params = message.get("params")?;
    let name = params.get("name")?.as_str()?;
    let denial = match policy.tool(name)? {
        ToolKind::ListTargets => return None,
        ToolKind::Upstream(UpstreamTool::Route { target, route }) => {
            policy.may_use(caller, target, Some(route)).err()?
        }
        ToolKind::Upstream(UpstreamTool::CallTarget) => {
            let label = params.pointer("/arguments/label")?.as_str()?;
            policy.may_use(caller, policy.target(label)?, None).err()?
        }
    };
    Some(Refusal {
        challenge: insufficient_scope_challenge(&authorizer.config().metadata_url(), &denial),
        body: json!({"error": "insufficient_scope", "scope": denial.needed.join(" "),
            "error_description": format!("tool '{name}' needs the scopes: {}", denial.needed.join(" "))}),
    })
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Why a caller was refused on a transport without an HTTP request of its own (the tunnel): the
/// `WWW-Authenticate` challenge and the JSON body of its 401 (the token) or 403 (the scopes).
#[derive(Debug, Clone)]
pub struct Refusal {
    pub challenge: String,
    pub body: Value,
}

/// The caller an `Authorization` header value proves, for transports that carry headers in
/// their own messages (the tunnel's commands). `Ok(None)` when no authorization is configured.
pub async fn authorize_header(
    service: &HarpoonService,
    authorization: Option<&str>,
) -> Result<Option<Caller>, Refusal> {
    let Some(authorizer) = service.authorizer() else {
        return Ok(None);
    };
    let token = authorization.and_then(|v| v.strip_prefix("Bearer "));
    match authorizer.authorize(token).await {
        Ok(c) => Ok(Some(c)),
        Err(e) => Err(Refusal {
            challenge: unauthorized_challenge(&authorizer.config().metadata_url(), &e),
            body: json!({"error": if e == TokenError::Missing { "unauthorized" } else { "invalid_token" },
                "reason": e.code(), "error_description": e.to_string()}),
        }),
    }
}
