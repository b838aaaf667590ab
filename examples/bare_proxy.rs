//! The floor of harpoon's stack, for `benches/wrk_compare.sh`: a server on the same parts
//! (tokio's multi-thread runtime, hyper's HTTP/1 server, hyper-util's pooled client, mimalloc)
//! that reads each request's body and answers it with the body of a `GET` of one fixed
//! upstream URL. No JSON-RPC, no checks, no audit: what any proxy built on these parts pays per
//! call, so a comparison can tell the stack's cost from harpoon's own.
//!
//!     cargo run --release --example bare_proxy -- 127.0.0.1:PORT http://127.0.0.1:UP/path
//!
//! Not a server to deploy: it proxies to its one URL whatever it is sent.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), String> {
    let usage = "usage: bare_proxy LISTEN_ADDRESS UPSTREAM_URL";
    let mut args = std::env::args().skip(1);
    let listen = args.next().ok_or(usage)?;
    let upstream: Uri = args
        .next()
        .ok_or(usage)?
        .parse()
        .map_err(|e| format!("the upstream URL is not valid: {e}"))?;
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .build_http();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (client, upstream) = (client.clone(), upstream.clone());
        let service = service_fn(move |request: Request<Incoming>| {
            let (client, upstream) = (client.clone(), upstream.clone());
            async move {
                let _ = request.into_body().collect().await;
                let body = match client.get(upstream).await {
                    Ok(r) => r
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default(),
                    Err(_) => Bytes::new(),
                };
                Ok::<_, Infallible>(Response::new(Full::new(body)))
            }
        });
        tokio::spawn(
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service),
        );
    }
}
