//! Embedding harpoon in another Rust program: the host keeps its own routes and mounts
//! harpoon's MCP service at a path of its choosing, here `/agent/mcp`.
//!
//! Run: `BILLING_TOKEN=... cargo run --example embed -- allowlists/billing.yaml`
//! then point an MCP client at http://127.0.0.1:8791/agent/mcp.

use harpoon::service::{HarpoonService, StreamableHttpServerConfig};
use std::future::Future;
use std::path::PathBuf;

/// The host application: its own `/` route, and harpoon at `/agent/mcp`.
pub async fn run(
    listener: tokio::net::TcpListener,
    allowlists: Vec<PathBuf>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let service = HarpoonService::from_paths(&allowlists).map_err(|e| e.to_string())?;
    // harpoon never lets a target reach the server it runs in.
    service
        .own_listeners()
        .add(listener.local_addr().map_err(|e| e.to_string())?);
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async { "the host application\n" }),
        )
        // The endpoint is exactly this path, as in `harpoon serve` (`nest_service` would also
        // serve every path under it).
        .route_service(
            "/agent/mcp",
            service.streamable_http(StreamableHttpServerConfig::default()),
        );
    axum::serve(harpoon::transport::http::nodelay(listener), app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| e.to_string())
}

#[cfg_attr(test, allow(dead_code))] // the integration tests call `run`, not `main`
#[tokio::main]
async fn main() -> Result<(), String> {
    let allowlists: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if allowlists.is_empty() {
        return Err("usage: embed ALLOWLIST...".into());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8791")
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("MCP at http://127.0.0.1:8791/agent/mcp; ctrl-c to stop");
    run(listener, allowlists, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
