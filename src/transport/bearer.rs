//! What every listener shares about its callers: the bearer token a caller presents, compared
//! in constant time, the 401 that asks for one, and the bound on an MCP request body. `serve`
//! and the edge both use these, so a fix to one is a fix to both.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Largest MCP request body a listener reads: a tool call's arguments, a request body included,
/// fit well within it (the largest request body a target may allow is 4 MiB).
pub const MAX_MCP_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The token of `Authorization: Bearer <token>`, if the header has that form.
pub fn presented(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Whether `headers` carry exactly `token` as a bearer token.
pub fn matches(headers: &HeaderMap, token: &str) -> bool {
    presented(headers).is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes()))
}

/// Compares without an early exit, so the time taken says nothing about where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 401 with `WWW-Authenticate: Bearer` and `body`.
pub fn unauthorized(body: impl IntoResponse) -> Response {
    let mut r = (StatusCode::UNAUTHORIZED, body).into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn only_the_bearer_form_presents_a_token() {
        let mut h = HeaderMap::new();
        assert_eq!(presented(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(presented(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(presented(&h), Some("abc"));
        assert!(matches(&h, "abc"));
        assert!(!matches(&h, "abcd"));
    }
}
