//! The edge's own answers: JSON bodies, JSON-RPC errors for callers, and the service's error
//! envelope (`{"error": {"code", "message"}}`) for tunnels.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use serde_json::{Value, json};

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    json_text_response(status, body.to_string())
}

/// A JSON answer whose body is `body`'s text as it came.
pub(super) fn raw_json_response(status: StatusCode, body: Box<RawValue>) -> Response {
    json_text_response(status, String::from(Box::<str>::from(body)))
}

/// A JSON answer whose body is `text`, already written.
pub(super) fn json_text_response(status: StatusCode, text: String) -> Response {
    let mut r = (status, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A JSON-RPC error for a caller.
pub(super) fn jsonrpc_error(status: StatusCode, id: &Value, code: i64, message: &str) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    json_response(status, &body)
}

/// The service's error envelope, with one of its stable codes.
pub(super) fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message, "type": "invalid_request_error"}}),
    )
}
