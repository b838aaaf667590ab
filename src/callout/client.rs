//! The HTTP client of one target: hyper's pooled HTTP/1 client with rustls, no environment
//! proxies, no automatic redirects, no decompression, a resolver that filters every answer
//! through the target's network rule, and a check of the peer address once TCP connects,
//! before the TLS handshake or a byte of the request. (Authorization servers are reached
//! through reqwest held to the same rules: `restricted_builder`.)

use super::OwnListeners;
use super::peer_check::{PeerCheck, PeerCheckLayer};
use super::resolver::{FilteringResolver, HostResolver};
use crate::policy::Target;
use crate::policy::net::NetworkPolicy;
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tower::Layer;

/// Most response headers accepted from an upstream; more is a protocol error. Real APIs send
/// a few dozen.
pub const MAX_RESPONSE_HEADERS: usize = 128;

/// How long an idle pooled connection is kept: long enough to reuse across an agent's bursts.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why TLS could not be set up for upstream calls.
#[derive(Debug)]
pub enum TlsError {
    /// rustls refused the protocol versions or the crypto provider.
    Setup(rustls::Error),
    /// The platform's trust store could not be loaded.
    TrustStore(rustls::Error),
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::Setup(e) => write!(f, "TLS setup failed: {e}"),
            TlsError::TrustStore(e) => write!(f, "TLS trust store could not be loaded: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Setup(e) | TlsError::TrustStore(e) => Some(e),
        }
    }
}

/// The TLS configuration every target shares: rustls with the ring provider and the
/// platform's trust store.
pub fn tls_config() -> Result<rustls::ClientConfig, TlsError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .with_platform_verifier()
        .map_err(TlsError::TrustStore)
        .map(|b| b.with_no_client_auth())
}

/// A TLS configuration that trusts nothing, for machines without a trust store.
pub fn tls_config_without_roots() -> Result<rustls::ClientConfig, TlsError> {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)
        .map(|b| {
            b.with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        })
}

/// Most bytes hyper buffers from one upstream connection ahead of the body reader. Its default
/// grows to about 400 KiB on a fast upstream, which a call holds on top of the body it keeps
/// (at most the response cap): 100 calls cut at a 1 MiB cap held 1.0 to 1.7 MiB each. With this
/// bound (and hyper's client in place of reqwest) throughput was no lower than before; the bound
/// alone was not measured apart (docs/performance.md, issue 14).
pub const MAX_READ_BUFFER: usize = 64 * 1024;

/// The client a target's calls go through.
pub(super) type UpstreamClient =
    Client<HttpsConnector<PeerCheck<HttpConnector<FilteringResolver>>>, Full<Bytes>>;

pub(super) fn build(
    target: &Target,
    tls: &rustls::ClientConfig,
    resolver: &Arc<dyn HostResolver>,
    own: &OwnListeners,
) -> UpstreamClient {
    let mut tcp = HttpConnector::new_with_resolver(FilteringResolver {
        inner: Arc::clone(resolver),
        network: target.network.clone(),
        own: own.clone(),
        port: target.origin.port,
    });
    // The TLS layer above hands `https` URLs down for the TCP connection.
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(target.limits.connect_timeout));
    let checked = PeerCheckLayer {
        network: target.network.clone(),
        own: own.clone(),
    }
    .layer(tcp);
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(checked);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(target.limits.concurrency as usize)
        .http1_max_headers(MAX_RESPONSE_HEADERS)
        .http1_max_buf_size(MAX_READ_BUFFER)
        .build(connector)
}

/// A client builder held to `network` (resolver filter and connect-time peer check) for a
/// server on `port`, with the settings every harpoon client shares: no proxy, no redirects, no
/// retries, HTTP/1. Upstream targets and authorization servers are both reached through it.
pub fn restricted_builder(
    network: &NetworkPolicy,
    port: u16,
    tls: Option<&rustls::ClientConfig>,
    resolver: &Arc<dyn HostResolver>,
    own: &OwnListeners,
) -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .referer(false)
        .http1_only()
        .http1_max_headers(MAX_RESPONSE_HEADERS)
        .tcp_nodelay(true)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .user_agent(concat!("harpoon/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(FilteringResolver {
            inner: Arc::clone(resolver),
            network: network.clone(),
            own: own.clone(),
            port,
        }))
        .connector_layer(PeerCheckLayer {
            network: network.clone(),
            own: own.clone(),
        });
    if let Some(tls) = tls {
        builder = builder.tls_backend_preconfigured(tls.clone());
    }
    builder
}
