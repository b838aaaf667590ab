//! The tunnel's HTTP client for its service, for polls and reply posts: hyper-util's pooled
//! client over the egress route (straight to the service, or through the proxy with `CONNECT`),
//! then TLS with the egress roots and client certificate, every request carrying the fixed
//! headers. reqwest did this before; its layers run for every request whatever the settings (a
//! merge of the default headers, redirect and retry services with both off, the request's URI
//! parsed back into a URL for each response), and they were about 9% of the tunnel's CPU per
//! call (docs/performance.md, issue 14, fifth round).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A connection to the service, or to the proxy that carries it: plain TCP, or TLS to an https
/// proxy. The service's own TLS goes on top.
type Carrier = MaybeHttpsStream<TokioIo<TcpStream>>;

/// How the tunnel reaches its service: directly, or through a proxy with `CONNECT` (TLS to the
/// proxy when its URL is https).
#[derive(Clone)]
pub(super) enum Route {
    Direct(HttpConnector),
    /// Boxed: the tunnel connector is many times the size of the direct one.
    Proxy(Box<Tunnel<HttpsConnector<HttpConnector>>>),
}

impl tower::Service<Uri> for Route {
    type Response = Carrier;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Carrier, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Route::Direct(c) => c.poll_ready(cx).map_err(Into::into),
            Route::Proxy(c) => c.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        match self {
            Route::Direct(c) => {
                let connecting = c.call(dst);
                Box::pin(async move { Ok(MaybeHttpsStream::Http(connecting.await?)) })
            }
            Route::Proxy(c) => {
                // `CONNECT` takes 443 for a URI without a port; a plain-http service's is 80.
                let dst = match (dst.scheme_str(), dst.port()) {
                    (Some("http"), None) => with_port(dst, 80),
                    _ => dst,
                };
                let connecting = c.call(dst);
                Box::pin(async move { Ok(connecting.await?) })
            }
        }
    }
}

/// `uri` with `port` written out (a URI whose authority cannot take it is left as it is).
fn with_port(uri: Uri, port: u16) -> Uri {
    let Some(host) = uri.host() else {
        return uri;
    };
    let mut parts = uri.clone().into_parts();
    match format!("{host}:{port}").parse() {
        Ok(authority) => {
            parts.authority = Some(authority);
            Uri::from_parts(parts).unwrap_or(uri)
        }
        Err(_) => uri,
    }
}

/// The TCP connector under every route.
fn tcp(connect_timeout: Duration) -> HttpConnector {
    let mut tcp = HttpConnector::new();
    // The TLS layer above hands `https` URLs down for the TCP connection.
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(connect_timeout));
    tcp
}

/// Straight to the service.
pub(super) fn direct(connect_timeout: Duration) -> Route {
    Route::Direct(tcp(connect_timeout))
}

/// Through `proxy` (`http://` or `https://`, credentials from its user info) with `CONNECT`;
/// the error says why the URL is not usable.
pub(super) fn through(
    proxy: &url::Url,
    tls: &rustls::ClientConfig,
    connect_timeout: Duration,
) -> Result<Route, String> {
    if !matches!(proxy.scheme(), "http" | "https") || proxy.host_str().is_none() {
        return Err("not an http:// or https:// URL with a host".into());
    }
    let mut at = proxy.clone();
    let _ = at.set_username("");
    let _ = at.set_password(None);
    let uri: Uri = at.as_str().parse().map_err(|e| format!("{e}"))?;
    let to_proxy = HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp(connect_timeout));
    let mut tunnel = Tunnel::new(uri, to_proxy);
    if !proxy.username().is_empty() || proxy.password().is_some() {
        let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
        let mut credentials = decode(proxy.username());
        credentials.push(b':');
        credentials.extend(decode(proxy.password().unwrap_or("")));
        let value = HeaderValue::try_from(format!("Basic {}", STANDARD.encode(credentials)))
            .map_err(|e| format!("its credentials cannot be sent: {e}"))?;
        tunnel = tunnel.with_auth(value);
    }
    Ok(Route::Proxy(Box::new(tunnel)))
}

/// The client for polls and reply posts, with every request's fixed headers (the key among
/// them, marked sensitive).
#[derive(Clone)]
pub struct ServiceClient {
    client: Client<HttpsConnector<Route>, Full<Bytes>>,
    headers: HeaderMap,
}

/// Why an exchange with the service failed.
#[derive(Debug)]
pub enum ServiceError {
    /// No answer, or not all of it, before the deadline.
    Timeout,
    /// The connection or the exchange failed.
    Transport(String),
    /// The answer's body is larger than the reader's bound.
    TooLarge,
    /// The request cannot be written at all (a value no header can carry): sending it again
    /// cannot help.
    Unsendable(String),
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::Timeout => f.write_str("the service did not answer in time"),
            ServiceError::Transport(why) => f.write_str(why),
            ServiceError::TooLarge => f.write_str("the answer is larger than the cap"),
            ServiceError::Unsendable(why) => write!(f, "the request cannot be sent: {why}"),
        }
    }
}

impl std::error::Error for ServiceError {}

/// An error and its causes on one line: hyper-util's own text names only the stage.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// An answer whose body is still to be read, by the same deadline as the request.
pub struct ServiceResponse {
    response: http::Response<Incoming>,
    deadline: Instant,
}

impl ServiceResponse {
    pub fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// The body, refused past `cap` bytes (by its length when it gives one, before reading).
    pub async fn body(self, cap: usize) -> Result<Vec<u8>, ServiceError> {
        let declared = self
            .response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > cap as u64) {
            return Err(ServiceError::TooLarge);
        }
        let mut body = self.response.into_body();
        let mut out = Vec::new();
        loop {
            let frame = tokio::time::timeout_at(self.deadline, body.frame())
                .await
                .map_err(|_| ServiceError::Timeout)?;
            let Some(frame) = frame else {
                return Ok(out);
            };
            let frame = frame.map_err(|e| ServiceError::Transport(chain(&e)))?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > cap {
                    return Err(ServiceError::TooLarge);
                }
                out.extend_from_slice(&data);
            }
        }
    }
}

impl ServiceClient {
    /// A client over `route` and `tls`, sending `headers` on every request.
    pub(super) fn new(route: Route, tls: rustls::ClientConfig, headers: HeaderMap) -> Self {
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(route);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        ServiceClient { client, headers }
    }

    /// `GET uri`, its answer's head within `timeout` (and its body by the same deadline).
    pub async fn get(&self, uri: Uri, timeout: Duration) -> Result<ServiceResponse, ServiceError> {
        self.send(Method::GET, uri, &[], Bytes::new(), timeout)
            .await
    }

    /// `POST uri` with a JSON body and `extra` headers.
    pub async fn post_json(
        &self,
        uri: Uri,
        extra: &[(HeaderName, HeaderValue)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<ServiceResponse, ServiceError> {
        let mut headers = Vec::with_capacity(extra.len() + 1);
        headers.push((
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
        headers.extend_from_slice(extra);
        self.send(Method::POST, uri, &headers, Bytes::from(body), timeout)
            .await
    }

    async fn send(
        &self,
        method: Method,
        uri: Uri,
        extra: &[(HeaderName, HeaderValue)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<ServiceResponse, ServiceError> {
        let deadline = Instant::now() + timeout;
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        *headers = self.headers.clone();
        for (name, value) in extra {
            headers.insert(name.clone(), value.clone());
        }
        let response = tokio::time::timeout_at(deadline, self.client.request(request))
            .await
            .map_err(|_| ServiceError::Timeout)?
            .map_err(|e| ServiceError::Transport(chain(&e)))?;
        Ok(ServiceResponse { response, deadline })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_http_service_is_tunnelled_to_port_80() {
        let uri: Uri = "http://edge.test/v1/tunnels/t/poll?limit=1"
            .parse()
            .expect("URI");
        assert_eq!(
            with_port(uri, 80).to_string(),
            "http://edge.test:80/v1/tunnels/t/poll?limit=1"
        );
    }
}
