//! The edge's `/metrics`: counters and totals. It needs no token, so it names no tunnel.

use super::Edge;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub(super) async fn metrics(State(edge): State<Arc<Edge>>) -> Response {
    use std::fmt::Write as _;
    let c = &edge.counters;
    let mut out = String::new();
    crate::metrics::write_counters(
        &mut out,
        &[
            (
                "harpoon_edge_calls_total",
                "Caller requests offered to a tunnel.",
                &c.calls,
            ),
            (
                "harpoon_edge_replies_total",
                "Final answers delivered to callers.",
                &c.replies,
            ),
            (
                "harpoon_edge_no_tunnel_total",
                "Requests refused because no tunnel was connected.",
                &c.no_tunnel,
            ),
            (
                "harpoon_edge_timeouts_total",
                "Requests whose final answer did not come in time.",
                &c.timeouts,
            ),
            (
                "harpoon_edge_overloaded_total",
                "Requests refused because the queue was full.",
                &c.overloaded,
            ),
            (
                "harpoon_edge_too_large_total",
                "Requests refused as larger than a poll answer carries.",
                &c.too_large,
            ),
            (
                "harpoon_edge_notifications_total",
                "Notifications relayed to callers as SSE events.",
                &c.notifications,
            ),
            (
                "harpoon_edge_notifications_dropped_total",
                "Notifications dropped: the caller took no event stream, or its buffer was full.",
                &c.notifications_dropped,
            ),
            (
                "harpoon_edge_requeued_total",
                "Safe requests offered again after their replica went quiet.",
                &c.requeued,
            ),
        ],
    );
    let connected = edge.tunnels.values().filter(|t| t.connected()).count();
    let pending: usize = edge.tunnels.values().map(|t| t.lock().calls.len()).sum();
    let _ = writeln!(
        out,
        "# HELP harpoon_edge_tunnels_connected Tunnels with a poll open or recent.\n# TYPE harpoon_edge_tunnels_connected gauge\nharpoon_edge_tunnels_connected {connected}"
    );
    let _ = writeln!(
        out,
        "# HELP harpoon_edge_pending Calls queued or in flight across tunnels.\n# TYPE harpoon_edge_pending gauge\nharpoon_edge_pending {pending}"
    );
    let mut r = out.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}
