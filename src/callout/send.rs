//! Sending one permitted request: admission, the connect-time address check, injected headers,
//! timeouts, redirects decided hop by hop, and a bounded read of the response.

use super::body::{BoundedResponse, filter_response_headers, read_body};
use super::client::UpstreamClient;
use super::error::{CallError, Phase};
use super::failure::{FailureStage, NetworkFailure};
use super::resolver::AddressRefused;
use super::{Callout, TargetRuntime};
use crate::policy::hop::{HopError, decide_hop};
use crate::policy::secret::InjectedValue;
use crate::policy::types::{Host, Method};
use crate::policy::{Permit, Target};
use crate::progress::{NoProgress, Progress, Stage};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

impl Callout {
    /// Sends a permitted request and reads its response within the permit's bounds. `cancel`
    /// aborts the call (the MCP client cancelled it, or the server is shutting down).
    pub async fn send(
        &self,
        permit: Permit<'_>,
        cancel: &CancellationToken,
    ) -> Result<BoundedResponse, CallError> {
        self.send_observed(permit, cancel, &NoProgress).await
    }

    /// Like `send`, reporting when headers arrive and when the body is read.
    pub async fn send_observed(
        &self,
        permit: Permit<'_>,
        cancel: &CancellationToken,
        progress: &dyn Progress,
    ) -> Result<BoundedResponse, CallError> {
        let target = permit.target();
        let runtime = self.runtime(target)?;
        let _admission = runtime.limiter.admit(target.limits.concurrency)?;
        let client = runtime.client(target, self);
        let deadline = Instant::now() + permit.limits().timeout;
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(CallError::Cancelled),
            result = self.follow(client, permit, deadline, progress) => result,
        }
    }

    async fn follow(
        &self,
        client: &UpstreamClient,
        permit: Permit<'_>,
        deadline: Instant,
        progress: &dyn Progress,
    ) -> Result<BoundedResponse, CallError> {
        let limits = permit.limits();
        let target = permit.target();
        let mut current = permit;
        let mut hops: u8 = 0;
        loop {
            let response = self
                .send_once(client, &current, deadline, limits.timeout)
                .await?;
            let status = response.status().as_u16();
            let location = response.headers().get(http::header::LOCATION);
            if let Some(location) = location.filter(|_| limits.redirects > 0 && is_redirect(status))
            {
                if hops >= limits.redirects {
                    return Err(CallError::TooManyRedirects {
                        limit: limits.redirects,
                    });
                }
                let location = location
                    .to_str()
                    .map_err(|_| CallError::RedirectNotAllowed(HopError::LocationNotText))?
                    .to_owned();
                let (method, keep_body) = redirect_method(status, current.method());
                current = decide_hop(&current, &location, method, keep_body)
                    .map_err(CallError::RedirectNotAllowed)?;
                hops += 1;
                continue;
            }
            progress.report(Stage::Headers { status });
            let headers = filter_response_headers(target, response.headers());
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .map(|v| super::media_type::validated(v.to_str().unwrap_or(""), &target.redactor));
            let (body, full_size, truncated) = read_body(
                target,
                response,
                limits.response_bytes,
                limits.oversize,
                deadline,
                limits.timeout,
            )
            .await?;
            progress.report(Stage::Body {
                bytes: body.len() as u64,
            });
            return Ok(BoundedResponse {
                status,
                headers,
                body,
                full_size,
                truncated,
                content_type,
                redirects: hops,
                redactor: target.redactor.clone(),
            });
        }
    }

    async fn send_once(
        &self,
        client: &UpstreamClient,
        permit: &Permit<'_>,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<http::Response<Incoming>, CallError> {
        let target = permit.target();
        if let Host::Ip(ip) = target.origin.host {
            // IP literals are dialled without resolving: check them here, before any socket.
            let addr = SocketAddr::new(ip, target.origin.port);
            target
                .network
                .check(addr, &self.own.snapshot())
                .map_err(|denial| CallError::AddressNotAllowed {
                    addr: Some(addr),
                    denial,
                })?;
        }
        let request = build_request(target, permit)?;
        let response = tokio::time::timeout_at(deadline, client.request(request))
            .await
            .map_err(|_| CallError::Timeout {
                phase: Phase::FirstByte,
                after: timeout,
            })?;
        response.map_err(|e| classify(&e, target.limits.connect_timeout).redacted(target))
    }
}

/// The request as it leaves: the permit's method, URL, headers and body, `Accept-Encoding:
/// identity` (a body is bounded and redacted as sent, never decompressed), a `User-Agent`, an
/// `Accept` of `*/*` unless the caller chose one, and the injected headers last, so they win.
/// `Host` is set from the URL by the client.
fn build_request(
    target: &Target,
    permit: &Permit<'_>,
) -> Result<http::Request<Full<Bytes>>, CallError> {
    let uri =
        permit.url().as_str().parse::<http::Uri>().map_err(|e| {
            CallError::Upstream(NetworkFailure::new(FailureStage::BuildRequest, &e))
        })?;
    let mut request = http::Request::new(Full::new(permit.body().clone()));
    *request.method_mut() = permit.method().to_http();
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.reserve(permit.headers().len() + target.injected.len() + 3);
    headers.insert(http::header::USER_AGENT, USER_AGENT);
    for (name, value) in permit.headers() {
        headers.insert(name.clone(), value.clone());
    }
    headers
        .entry(http::header::ACCEPT)
        .or_insert(http::HeaderValue::from_static("*/*"));
    headers.insert(
        http::header::ACCEPT_ENCODING,
        http::HeaderValue::from_static("identity"),
    );
    for h in &target.injected {
        match &h.value {
            InjectedValue::Resolved(secret) => {
                headers.insert(h.name.clone(), secret.header_value().clone());
            }
            InjectedValue::Unresolved => return Err(CallError::SecretUnresolved),
        }
    }
    Ok(request)
}

const USER_AGENT: http::HeaderValue =
    http::HeaderValue::from_static(concat!("harpoon/", env!("CARGO_PKG_VERSION")));

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// RFC 9110 15.4: 303 turns any method but HEAD into GET; 301 and 302 turn POST into GET (as
/// every client does); 307 and 308 keep the method and body.
fn redirect_method(status: u16, method: Method) -> (Method, bool) {
    match (status, method) {
        (303, Method::Head) => (Method::Head, false),
        (303, _) | (301 | 302, Method::Post) => (Method::Get, false),
        _ => (method, true),
    }
}

fn classify(e: &hyper_util::client::legacy::Error, connect_timeout: Duration) -> CallError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(refused) = err.downcast_ref::<AddressRefused>() {
            return CallError::AddressNotAllowed {
                addr: Some(refused.addr),
                denial: refused.denial,
            };
        }
        cur = err.source();
    }
    if e.is_connect() && is_timeout(e) {
        return CallError::Timeout {
            phase: Phase::Connect,
            after: connect_timeout,
        };
    }
    if e.is_connect() {
        return CallError::Unreachable(NetworkFailure::new(FailureStage::Connect, e));
    }
    CallError::Upstream(NetworkFailure::new(FailureStage::Exchange, e))
}

/// A connect timeout: the connector's own (`set_connect_timeout`) ends with an I/O error of kind
/// `TimedOut`, as does the system's.
fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

impl TargetRuntime {
    fn client<'a>(&'a self, target: &Target, callout: &Callout) -> &'a UpstreamClient {
        self.client.get_or_init(|| {
            super::client::build(target, &callout.tls, &callout.resolver, &callout.own)
        })
    }
}
