//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

pub const INVALID_DIR: &str = "tests/fixtures/allowlists/invalid";
pub const VALID_DIR: &str = "tests/fixtures/allowlists/valid";
pub const SHIPPED_DIR: &str = "allowlists";

/// The `*.yaml` files of a directory, sorted, as paths relative to the crate root (so error
/// messages name them the way a person running `cargo test` would).
pub fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{dir} holds no fixture");
    files
}

/// The text after `prefix` on a fixture's line `n` (0-based).
pub fn comment_line(path: &Path, n: usize, prefix: &str) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().nth(n).unwrap_or("");
    line.strip_prefix(prefix)
        .unwrap_or_else(|| {
            panic!(
                "{}: line {} must start with {prefix:?}",
                path.display(),
                n + 1
            )
        })
        .trim()
        .to_owned()
}

/// The environment invalid fixtures are compiled with: no secret is set, so a fixture that
/// references one fails exactly where it says.
pub fn no_secrets(_: &str) -> Option<String> {
    None
}

/// The environment valid fixtures and shipped allowlists are compiled with: every secret is set.
pub fn all_secrets(_: &str) -> Option<String> {
    Some("test-secret-value".to_owned())
}

pub mod engine;
pub mod issuer;
pub mod mcp_client;
pub mod rsa_key;
pub mod serve_process;
pub mod server;
pub mod tls;
pub mod upstream;

/// An HTTP client for tests (reqwest built without a default crypto provider needs one given).
pub fn http() -> reqwest::Client {
    let tls = harpoon::callout::client::tls_config_without_roots().expect("tls");
    reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(tls)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// GET a URL and return (status, body).
pub async fn get(url: &str) -> (u16, String) {
    let r = http().get(url).send().await.expect("GET");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// Serves `app` on a free loopback port until the returned token is cancelled (or the test's
/// runtime ends): the stand-ins for the tunnel service and for refusing edges.
pub async fn serve_on_loopback(
    app: axum::Router,
) -> (std::net::SocketAddr, tokio_util::sync::CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = tokio_util::sync::CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(s.cancelled_owned())
            .await;
    });
    (addr, stop)
}

/// A reply a tunnel posted to a stand-in service: its shard token header and its JSON body.
pub fn posted_reply(
    headers: &axum::http::HeaderMap,
    body: &str,
) -> (Option<String>, serde_json::Value) {
    let shard = headers
        .get("x-tunnel-shard-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (shard, serde_json::from_str(body).expect("a JSON reply"))
}
