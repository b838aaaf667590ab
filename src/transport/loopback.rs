//! Whether a request's `Host`, `Origin` and peer are loopback: what the edge's public side and
//! serve's admin page (`/ui`) accept without a token. A page on another site cannot send a
//! loopback `Host` except through DNS rebinding, which is what the `Host` check stops; a
//! loopback `Origin` (or none, from a non-browser client) says no foreign page sent it.

use axum::http::{HeaderMap, header};
use std::net::SocketAddr;

/// Whether a `Host` header value (`name[:port]`, `[v6][:port]`) names this machine's loopback.
pub fn host_is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    matches!(name, "localhost" | "127.0.0.1" | "::1")
}

/// Whether an `Origin` header value is an `http`/`https` loopback origin. `null` is not.
pub fn origin_is_loopback(origin: &str) -> bool {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(host_is_loopback)
}

/// What makes a request not loopback, if anything: the first of its peer, its `Host` and its
/// `Origin` that is not. An unknown peer (a router mounted without connection info) is not
/// loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotLoopback {
    Peer,
    Host,
    Origin,
}

impl NotLoopback {
    /// Which part of the request it was, in words.
    pub fn part(self) -> &'static str {
        match self {
            NotLoopback::Peer => "peer address",
            NotLoopback::Host => "Host header",
            NotLoopback::Origin => "Origin header (a page on another site sent it)",
        }
    }
}

/// Checks a request's peer (when known), `Host` (required) and `Origin` (when sent).
pub fn check(peer: Option<SocketAddr>, headers: &HeaderMap) -> Result<(), NotLoopback> {
    if !peer.is_some_and(|p| p.ip().to_canonical().is_loopback()) {
        return Err(NotLoopback::Peer);
    }
    check_headers(headers)
}

/// Checks `Host` (required) and `Origin` (when sent).
fn check_headers(headers: &HeaderMap) -> Result<(), NotLoopback> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !host.is_some_and(host_is_loopback) {
        return Err(NotLoopback::Host);
    }
    if let Some(origin) = headers.get(header::ORIGIN)
        && !origin.to_str().is_ok_and(origin_is_loopback)
    {
        return Err(NotLoopback::Origin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn loopback_names_and_origins() {
        for h in [
            "localhost",
            "localhost:8787",
            "127.0.0.1:1",
            "[::1]",
            "[::1]:8787",
        ] {
            assert!(host_is_loopback(h), "{h}");
        }
        for h in [
            "evil.example",
            "127.0.0.1.evil.example",
            "10.0.0.1:80",
            "",
            "[::2]:1",
        ] {
            assert!(!host_is_loopback(h), "{h}");
        }
        assert!(origin_is_loopback("http://127.0.0.1:8787"));
        assert!(!origin_is_loopback("null"));
        assert!(!origin_is_loopback("http://evil.example"));
        assert!(!origin_is_loopback("file://localhost"));
    }

    #[test]
    fn the_first_part_that_is_not_loopback_is_named() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let remote: SocketAddr = "192.0.2.1:5000".parse().expect("addr");
        let mut h = HeaderMap::new();
        assert_eq!(check(Some(peer), &h), Err(NotLoopback::Host));
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8787"));
        assert_eq!(check(Some(peer), &h), Ok(()));
        assert_eq!(check(None, &h), Err(NotLoopback::Peer));
        assert_eq!(check(Some(remote), &h), Err(NotLoopback::Peer));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert_eq!(check(Some(peer), &h), Err(NotLoopback::Origin));
    }
}
