//! harpoon's HTTP server in process, on 127.0.0.1:0, for tests. It stops when the test's
//! runtime ends, or when `shutdown` is cancelled.

use harpoon::service::{HarpoonService, ServiceOptions};
use harpoon::transport::http::{self, HttpOptions, ServerStatus};
use harpoon::transport::listen::ListenLimits;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub struct TestServer {
    pub addr: SocketAddr,
    pub service: HarpoonService,
    pub status: Arc<ServerStatus>,
    /// Cancel to stop the server (tests that check shutdown).
    #[allow(dead_code)] // not every test binary module uses it
    pub shutdown: CancellationToken,
}

impl TestServer {
    pub fn mcp_url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub async fn start(yaml: &str, options: HttpOptions) -> TestServer {
    start_with(yaml, options, ListenLimits::default()).await
}

/// `start`, with the listener's bounds set by the test.
pub async fn start_with(yaml: &str, options: HttpOptions, limits: ListenLimits) -> TestServer {
    let policy = super::engine::policy(yaml);
    let service = HarpoonService::from_policy(policy, ServiceOptions::default()).expect("service");
    serve(service, options, limits).await
}

/// Serves an already made service (tests that set its options).
pub async fn serve(
    service: HarpoonService,
    options: HttpOptions,
    limits: ListenLimits,
) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    service.own_listeners().add(addr);
    let status = Arc::new(ServerStatus::default());
    let shutdown = CancellationToken::new();
    let app = http::router(&service, &options, Arc::clone(&status), shutdown.clone());
    status.set_ready(true);
    let stop = shutdown.clone();
    tokio::spawn(async move {
        harpoon::transport::listen::serve(listener, app, limits, stop.cancelled_owned()).await;
    });
    TestServer {
        addr,
        service,
        status,
        shutdown,
    }
}
