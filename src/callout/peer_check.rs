//! The connect-time check: a connector layer that looks at the peer address of every new
//! connection, after the TCP handshake and before a byte of TLS or of the request is written,
//! and drops the connection unless the target's network rule allows that address. It backs the
//! resolver filter up, and covers IP-literal hosts, which are connected to without resolving.

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
    S: Service<R> + Send,
    S::Error: Into<BoxError>,
    S::Response: Connection + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let connecting = self.inner.call(req);
        let network = self.network.clone();
        let own = self.own.clone();
        Box::pin(async move {
            let conn = connecting.await.map_err(Into::into)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use hyper_util::client::legacy::connect::HttpConnector;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    /// A connection to a peer the rule refuses ends before a byte is written; one to a peer it
    /// allows is handed on. The URL is an IP literal, so nothing is resolved: this layer is the
    /// only check between the URL and the socket.
    #[tokio::test]
    async fn a_refused_peer_is_dropped_before_a_byte_is_written() {
        let canary = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = canary.local_addr().unwrap();
        let uri: http::Uri = format!("http://{addr}/").parse().unwrap();
        let checked = |network| {
            PeerCheckLayer {
                network,
                own: OwnListeners::default(),
            }
            .layer(HttpConnector::new())
        };
        let public_only = NetworkPolicy::default();
        let refused = checked(public_only.clone())
            .call(uri.clone())
            .await
            .expect_err("a loopback peer is refused");
        let refused = refused.downcast_ref::<AddressRefused>();
        let want = AddressRefused {
            addr,
            denial: public_only.check(addr, &[]).unwrap_err(),
        };
        assert_eq!(refused, Some(&want));
        // The TCP handshake happened; then the connection closed with nothing sent.
        let (mut conn, _) = tokio::time::timeout(Duration::from_secs(5), canary.accept())
            .await
            .expect("the connection was made")
            .unwrap();
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut byte))
            .await
            .expect("the connection was closed");
        assert_eq!(read.unwrap(), 0);
        let loopback = NetworkPolicy::new(vec!["127.0.0.1/32".parse().unwrap()]);
        assert!(checked(loopback).call(uri).await.is_ok());
    }
}
