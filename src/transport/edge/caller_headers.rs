//! Headers between the caller and the tunnel: which of the caller's go into a command, and
//! which of a reply's come back to the caller.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::BTreeMap;

/// Headers of the caller's request that never go into a command: hop-by-hop and framing,
/// cookies, client identity, and anything that could spoof an address or an internal caller
/// (the service's own blocklist, as its local model in tunnel-client shows it). Names listed in
/// the caller's `Connection` header are dropped too.
fn never_forwarded(name: &str) -> bool {
    matches!(
        name,
        "host"
            | "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-authorization"
            | "proxy-authenticate"
            | "proxy-connection"
            | "content-length"
            | "content-type"
            | "accept-encoding"
            | "cookie"
            | "user-agent"
            | "openai-organization"
            | "forwarded"
            | "via"
            | "x-real-ip"
            | "x-client-ip"
            | "true-client-ip"
            | "cf-connecting-ip"
    ) || name.starts_with("x-forwarded-")
        || name.starts_with("x-openai-")
        || name.starts_with("x-tunnel-")
}

/// The caller's headers a command carries, multi-valued, minus `never_forwarded` and the names
/// its `Connection` header nominates.
pub(super) fn forwarded(headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let nominated: Vec<String> = headers
        .get_all(axum::http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let name = name.as_str();
        if never_forwarded(name) || nominated.iter().any(|n| n == name) {
            continue;
        }
        if let Ok(v) = value.to_str() {
            out.entry(name.to_owned()).or_default().push(v.to_owned());
        }
    }
    out
}

/// Reply headers relayed to the caller, names matched case-insensitively (tunnel-client writes
/// `Www-Authenticate`).
const RELAYED: &[&str] = &["mcp-session-id", "mcp-protocol-version", "www-authenticate"];

/// Adds a reply's allowlisted headers to the caller's answer.
pub(super) fn relay(reply: Option<&BTreeMap<String, Vec<String>>>, to: &mut HeaderMap) {
    for (name, values) in reply.into_iter().flatten() {
        let lower = name.to_ascii_lowercase();
        if !RELAYED.contains(&lower.as_str()) {
            continue;
        }
        for v in values {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(lower.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                to.append(n, v);
            }
        }
    }
}
