//! Name resolution, injectable so tests can make DNS answer with any address (rebinding,
//! metadata, loopback) deterministically. Every answer is filtered through the target's
//! network rule before the connector sees it, so a denied address is never dialled.

use super::OwnListeners;
use crate::policy::net::{AddressDenial, NetworkPolicy};
use hyper_util::client::legacy::connect::dns::Name;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Resolves a host name to socket addresses.
pub trait HostResolver: Send + Sync + 'static {
    fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;
}

/// The operating system's resolver (getaddrinfo through tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>> {
        let target = format!("{host}:{port}");
        Box::pin(async move { Ok(tokio::net::lookup_host(target).await?.collect()) })
    }
}

/// The error a filtered resolution returns when every address was refused; `send` finds it in
/// the client's error chain to report `address_not_allowed` rather than a DNS failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRefused {
    pub addr: SocketAddr,
    pub denial: AddressDenial,
}

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.denial.message())
    }
}

impl std::error::Error for AddressRefused {}

/// The resolver of one target's client: resolve, then keep only the addresses the target's
/// network rule allows.
#[derive(Clone)]
pub(super) struct FilteringResolver {
    pub inner: Arc<dyn HostResolver>,
    pub network: NetworkPolicy,
    pub own: OwnListeners,
    /// The target's port: every resolved address is connected on it, so the own-listener check
    /// can run here, before dialling.
    pub port: u16,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Filtering = Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, BoxError>> + Send>>;

impl FilteringResolver {
    fn filtered(&self, host: String) -> Filtering {
        let inner = Arc::clone(&self.inner);
        let network = self.network.clone();
        let own = self.own.clone();
        let port = self.port;
        Box::pin(async move {
            let addrs = inner.resolve(&host, port).await?;
            let listeners = own.snapshot();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .map(|a| SocketAddr::new(a.ip(), port))
                .filter(|a| match network.check(*a, &listeners) {
                    Ok(()) => true,
                    Err(denial) => {
                        refused.get_or_insert(AddressRefused { addr: *a, denial });
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(r)) => Err(Box::new(r) as BoxError),
                (true, None) => Err(Box::new(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("'{host}' has no address"),
                )) as _),
                (false, _) => Ok(allowed),
            }
        })
    }
}

/// For upstream calls (hyper's connector).
impl tower::Service<Name> for FilteringResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let filtering = self.filtered(name.as_str().to_owned());
        Box::pin(async move { Ok(filtering.await?.into_iter()) })
    }
}

/// For authorization servers (reqwest).
impl reqwest::dns::Resolve for FilteringResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let filtering = self.filtered(name.as_str().to_owned());
        Box::pin(async move { Ok(Box::new(filtering.await?.into_iter()) as reqwest::dns::Addrs) })
    }
}
