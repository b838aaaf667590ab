//! The edge's public side refuses what a web page could send it, as `serve` does: the body must
//! be JSON (a `text/plain` form post needs no CORS preflight), and without a client token the
//! `Host` must be a loopback name (DNS rebinding) and an `Origin`, when sent, a loopback one
//! (`Origin: null` is refused). With a client token, the caller must present it.

use super::answers::jsonrpc_error;
use crate::transport::bearer;
use crate::transport::loopback::{host_is_loopback, origin_is_loopback};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

/// The refusal for a caller's request, if any. A `DELETE` has no body, so no content type.
pub(super) fn refuse(
    method: &Method,
    headers: &HeaderMap,
    client_token: Option<&str>,
) -> Option<Response> {
    if method == Method::POST {
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
    }
    if let Some(token) = client_token {
        if bearer::matches(headers, token) {
            return None;
        }
        return Some(bearer::unauthorized(jsonrpc_error(
            StatusCode::UNAUTHORIZED,
            &Value::Null,
            -32000,
            "a bearer token is required",
        )));
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !host.is_some_and(host_is_loopback) {
        return Some(jsonrpc_error(
            StatusCode::FORBIDDEN,
            &Value::Null,
            -32600,
            "this edge answers loopback host names only; set HARPOON_EDGE_CLIENT_TOKEN to serve others",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !origin_is_loopback(origin) {
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
