//! The checks in front of `/mcp`, in order: the OAuth access token when the allowlists have an
//! `authorization` section (`transport::oauth`), the static token of `serve --allow-remote`,
//! and the session cap (`transport::sessions`); then the endpoint (`transport::mcp_endpoint`).
//! Each check passes the request on or answers it with its refusal. They were three axum
//! `from_fn` layers, each of which cloned and boxed the service stack under it on every
//! request: about 12 µs of CPU a call together (issue 14, docs/performance.md). Only `/mcp` has
//! them: any other path answers as it would without them.

use super::bearer;
use super::mcp_endpoint::McpEndpoint;
use super::oauth;
use super::sessions::SessionGate;
use crate::service::HarpoonService;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// What the checks need, shared by every request.
struct Checks {
    service: HarpoonService,
    /// The static bearer token of `--allow-remote`.
    token: Option<Arc<str>>,
    sessions: SessionGate,
}

/// `/mcp` behind its checks, cheap to clone (tower clones it for every request).
#[derive(Clone)]
pub struct GatedMcp {
    checks: Arc<Checks>,
    endpoint: McpEndpoint,
}

impl GatedMcp {
    pub fn new(
        service: HarpoonService,
        token: Option<Arc<str>>,
        sessions: SessionGate,
        endpoint: McpEndpoint,
    ) -> Self {
        Self {
            checks: Arc::new(Checks {
                service,
                token,
                sessions,
            }),
            endpoint,
        }
    }

    async fn serve(self, request: Request<Body>) -> Response {
        let checks = &self.checks;
        let request = match oauth::authorize(&checks.service, request).await {
            Ok(r) => r,
            Err(refusal) => return refusal,
        };
        if let Some(token) = &checks.token
            && !bearer::matches(request.headers(), token)
        {
            return bearer::unauthorized("a bearer token is required\n");
        }
        let request = match checks.sessions.admit(request).await {
            Ok(r) => r,
            Err(refusal) => return refusal,
        };
        self.endpoint.serve(request).await
    }
}

impl tower::Service<Request<Body>> for GatedMcp {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let gated = self.clone();
        Box::pin(async move { Ok(gated.serve(request).await) })
    }
}
