//! The connect-time check: a connector layer that looks at the peer address of every new
//! connection, after the TCP handshake and before a byte of the request is written, and drops
//! the connection unless the target's network rule allows that address. It backs the resolver
//! filter up, and covers IP-literal hosts, which reqwest connects to without resolving.

use super::OwnListeners;
use super::resolver::AddressRefused;
use crate::policy::net::NetworkPolicy;
use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
pub(super) struct PeerCheckLayer {
    pub network: NetworkPolicy,
    pub own: OwnListeners,
}

impl<S> Layer<S> for PeerCheckLayer {
    type Service = PeerCheck<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PeerCheck {
            inner,
            network: self.network.clone(),
            own: self.own.clone(),
        }
    }
}

#[derive(Clone)]
pub(super) struct PeerCheck<S> {
    inner: S,
    network: NetworkPolicy,
    own: OwnListeners,
}

impl<S, R> Service<R> for PeerCheck<S>
where
    S: Service<R, Error = BoxError> + Send,
    S::Response: Connection + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let connecting = self.inner.call(req);
        let network = self.network.clone();
        let own = self.own.clone();
        Box::pin(async move {
            let conn = connecting.await?;
            let mut extensions = http::Extensions::new();
            conn.connected().get_extras(&mut extensions);
            // No peer address means a connector we do not know: refuse rather than guess.
            let Some(info) = extensions.get::<HttpInfo>() else {
                return Err("the connection reports no peer address".into());
            };
            let peer = info.remote_addr();
            match network.check(peer, &own.snapshot()) {
                Ok(()) => Ok(conn),
                Err(denial) => Err(Box::new(AddressRefused { addr: peer, denial }) as BoxError),
            }
        })
    }
}
