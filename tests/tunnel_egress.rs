//! Egress to the service as an enterprise needs it: `--ca-file` (a private CA), mTLS
//! (`--client-cert`/`--client-key`), and an HTTP proxy (`--proxy`, `HARPOON_TUNNEL_PROXY`) that
//! carries the service connection and never an upstream call. Loopback TLS servers with
//! certificates made at test time; a loopback CONNECT proxy.

use crate::support::upstream::Upstream;
use crate::tunnel_refusals::{TUNNEL_ID, allowlist_file, harpoon_tunnel};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const KEY: &str = "egress-key_1";

/// A private CA, a server certificate for `localhost` and a client certificate, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
    ca: rcgen::Certificate,
    server: (rcgen::Certificate, rcgen::KeyPair),
}

impl Pki {
    fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().expect("key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let leaf = |names: Vec<String>| {
            let key = KeyPair::generate().expect("key");
            let cert = CertificateParams::new(names)
                .expect("params")
                .signed_by(&key, &issuer)
                .expect("signed");
            (cert, key)
        };
        let server = leaf(vec!["localhost".into()]);
        let client = leaf(vec!["harpoon-tunnel.test".into()]);
        let dir = tempfile::tempdir().expect("dir");
        for (name, text) in [
            ("ca.pem", ca.pem()),
            ("client.pem", client.0.pem()),
            ("client.key", client.1.serialize_pem()),
        ] {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        Self { dir, ca, server }
    }

    fn path(&self, name: &str) -> String {
        let p: PathBuf = self.dir.path().join(name);
        p.display().to_string()
    }

    /// The service's TLS: its certificate, and, for mTLS, client certificates of the CA required.
    fn server_config(&self, mtls: bool) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("versions");
        let builder = if mtls {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca.der().clone()).expect("root");
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .expect("verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let chain =
            vec![CertificateDer::from_pem_slice(self.server.0.pem().as_bytes()).expect("der")];
        let key =
            PrivateKeyDer::from_pem_slice(self.server.1.serialize_pem().as_bytes()).expect("key");
        builder.with_single_cert(chain, key).expect("cert")
    }
}

/// A TLS tunnel service on loopback: the first poll gets `batch` (if any), later ones 204;
/// reply posts are recorded. It counts handshakes that carried a client certificate.
struct TlsService {
    port: u16,
    polls: Arc<AtomicUsize>,
    replies: Arc<Mutex<Vec<Value>>>,
    client_certs: Arc<AtomicUsize>,
    stop: CancellationToken,
}

impl Drop for TlsService {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// One HTTP/1.1 request off a stream: (request line, body); `None` at the end of the stream.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<(String, Vec<u8>)> {
    let (head, body) = read_whole_request(s).await?;
    Some((head.lines().next().unwrap_or("").to_owned(), body))
}

/// One HTTP/1.1 request off a stream: (its head, body); `None` at the end of the stream.
async fn read_whole_request<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
) -> Option<(String, Vec<u8>)> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        if s.read(&mut byte).await.ok()? == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let length = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|n| n.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).await.ok()?;
    Some((text, body))
}

impl TlsService {
    async fn start(pki: &Pki, mtls: bool, batch: Option<String>) -> Self {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(pki.server_config(mtls)));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let polls = Arc::new(AtomicUsize::new(0));
        let replies: Arc<Mutex<Vec<Value>>> = Arc::default();
        let client_certs = Arc::new(AtomicUsize::new(0));
        let batch = Arc::new(Mutex::new(batch));
        let stop = CancellationToken::new();
        let (p, r, c, s) = (
            Arc::clone(&polls),
            Arc::clone(&replies),
            Arc::clone(&client_certs),
            stop.clone(),
        );
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    _ = s.cancelled() => return,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => return },
                };
                let (acceptor, p, r, c, batch, s) = (
                    acceptor.clone(),
                    Arc::clone(&p),
                    Arc::clone(&r),
                    Arc::clone(&c),
                    Arc::clone(&batch),
                    s.clone(),
                );
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    if tls.get_ref().1.peer_certificates().is_some() {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                    loop {
                        let request = tokio::select! {
                            _ = s.cancelled() => return,
                            r = read_request(&mut tls) => r,
                        };
                        let Some((line, body)) = request else { return };
                        let answer = if line.starts_with("GET ") && line.contains("/poll?") {
                            p.fetch_add(1, Ordering::SeqCst);
                            match batch.lock().unwrap().take() {
                                Some(b) => format!(
                                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                                    b.len()
                                ),
                                None => "HTTP/1.1 204 No Content\r\n\r\n".to_owned(),
                            }
                        } else if line.starts_with("POST ") && line.contains("/response ") {
                            r.lock()
                                .unwrap()
                                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                            let ok = r#"{"status":"ok"}"#;
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{ok}",
                                ok.len()
                            )
                        } else {
                            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned()
                        };
                        if tls.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            port,
            polls,
            replies,
            client_certs,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }
}

/// A CONNECT proxy on loopback that records each request it is asked for, its line in
/// `targets` and its whole head in `heads` (and refuses any other kind of request, which it
/// records too). With TLS, it is an https proxy with the service's certificate (`localhost`).
struct Proxy {
    port: u16,
    targets: Arc<Mutex<Vec<String>>>,
    heads: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serves one proxy client: a `CONNECT` to loopback is tunnelled, anything else refused.
async fn proxy_one<S>(
    mut client: S,
    targets: Arc<Mutex<Vec<String>>>,
    heads: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Some((head, _)) = read_whole_request(&mut client).await else {
        return;
    };
    let line = head.lines().next().unwrap_or("").to_owned();
    targets.lock().unwrap().push(line.clone());
    heads.lock().unwrap().push(head);
    let target = line
        .strip_prefix("CONNECT ")
        .and_then(|r| r.split(' ').next())
        .filter(|t| t.starts_with("localhost:") || t.starts_with("127.0.0.1:"));
    let Some(target) = target else {
        let _ = client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    let port = target.rsplit(':').next().unwrap_or("0");
    let Ok(mut server) = TcpStream::connect(format!("127.0.0.1:{port}")).await else {
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
    }
}

impl Proxy {
    /// An http proxy, or an https one with `tls`.
    async fn start(tls: Option<rustls::ServerConfig>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let targets: Arc<Mutex<Vec<String>>> = Arc::default();
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = CancellationToken::new();
        let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
        let (t, h, s) = (Arc::clone(&targets), Arc::clone(&heads), stop.clone());
        tokio::spawn(async move {
            loop {
                let (client, _) = tokio::select! {
                    _ = s.cancelled() => return,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => return },
                };
                let (t, h, s, acceptor) =
                    (Arc::clone(&t), Arc::clone(&h), s.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor {
                        None => proxy_one(client, t, h, s).await,
                        Some(a) => {
                            if let Ok(tls) = a.accept(client).await {
                                proxy_one(tls, t, h, s).await;
                            }
                        }
                    }
                });
            }
        });
        Self {
            port,
            targets,
            heads,
            stop,
        }
    }
}

#[tokio::test]
async fn a_ca_file_makes_a_private_ca_trusted_for_the_service() {
    let pki = Pki::new();
    let service = TlsService::start(&pki, false, None).await;
    let up = Upstream::canary().await;
    let allowlist = allowlist_file(&up);
    let url = service.url();
    let (code, _, err) = harpoon_tunnel(allowlist.path(), KEY, &["--edge", &url, "--check"]).await;
    assert_eq!(code, Some(1), "an unknown CA is not trusted: {err}");
    assert!(err.contains("could not be reached"), "{err}");
    let ca = pki.path("ca.pem");
    let (code, out, err) = harpoon_tunnel(
        allowlist.path(),
        KEY,
        &["--edge", &url, "--check", "--ca-file", &ca],
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("accepts the key"), "{out}");
    assert_eq!(service.polls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn mtls_presents_the_client_certificate() {
    let pki = Pki::new();
    let service = TlsService::start(&pki, true, None).await;
    let up = Upstream::canary().await;
    let allowlist = allowlist_file(&up);
    let (url, ca) = (service.url(), pki.path("ca.pem"));
    let (code, _, err) = harpoon_tunnel(
        allowlist.path(),
        KEY,
        &["--edge", &url, "--check", "--ca-file", &ca],
    )
    .await;
    assert_eq!(code, Some(1), "no client certificate, no service: {err}");
    assert_eq!(service.polls.load(Ordering::SeqCst), 0);
    let (cert, key) = (pki.path("client.pem"), pki.path("client.key"));
    let (code, _, err) = harpoon_tunnel(
        allowlist.path(),
        KEY,
        &[
            "--edge",
            &url,
            "--check",
            "--ca-file",
            &ca,
            "--client-cert",
            &cert,
            "--client-key",
            &key,
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(service.polls.load(Ordering::SeqCst), 1);
    assert!(service.client_certs.load(Ordering::SeqCst) >= 1);
    let (code, _, err) = harpoon_tunnel(
        allowlist.path(),
        KEY,
        &["--edge", &url, "--check", "--client-cert", &cert],
    )
    .await;
    assert_eq!(code, Some(2), "a certificate needs its key: {err}");
}

/// The proxy carries polls and reply posts; the call the command makes goes to the upstream
/// directly, never through the proxy.
#[tokio::test]
async fn the_proxy_carries_the_service_connection_and_never_an_upstream_call() {
    let pki = Pki::new();
    let batch = r#"{"commands":[{"request_id":"r1","shard_token":"s1","command_type":"jsonrpc",
        "jsonrpc":{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"api_get_item","arguments":{"id":"a1"}}}}]}"#;
    let service = TlsService::start(&pki, false, Some(batch.to_owned())).await;
    let proxy = Proxy::start(None).await;
    let up = Upstream::canary().await;
    let allowlist = allowlist_file(&up);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_harpoon"))
        .arg("tunnel")
        .arg("--allowlist")
        .arg(allowlist.path())
        .args(["--tunnel-id", TUNNEL_ID, "--health-listen", "127.0.0.1:0"])
        .args(["--edge", &service.url(), "--ca-file", &pki.path("ca.pem")])
        .env_remove("OPENAI_API_KEY")
        .env_remove("HARPOON_EDGE")
        .env(
            "HARPOON_TUNNEL_PROXY",
            format!("http://127.0.0.1:{}", proxy.port),
        )
        .env("CONTROL_PLANE_API_KEY", KEY)
        .env("TEST_TOKEN", "upstream-secret")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starts");
    let answered = Arc::new(AtomicBool::new(false));
    for _ in 0..1000 {
        if !service.replies.lock().unwrap().is_empty() {
            answered.store(true, Ordering::SeqCst);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill().await;
    assert!(answered.load(Ordering::SeqCst), "the call was answered");
    let reply = service.replies.lock().unwrap()[0].clone();
    assert_eq!(reply["request_id"], "r1");
    assert_eq!(reply["resp_code"], 200);
    assert_eq!(up.requests().len(), 1, "the upstream was called directly");
    let targets = proxy.targets.lock().unwrap().clone();
    assert!(!targets.is_empty());
    let service_target = format!("CONNECT localhost:{} HTTP/1.1", service.port);
    assert!(
        targets.iter().all(|t| *t == service_target),
        "only the service went through the proxy: {targets:?}"
    );
}

/// An https proxy (TLS to the proxy, the service's TLS inside it) with credentials in its URL:
/// the check goes through it, and the proxy is given the credentials, decoded, as Basic.
#[tokio::test]
async fn an_https_proxy_with_credentials_carries_the_service_connection() {
    let pki = Pki::new();
    let service = TlsService::start(&pki, false, None).await;
    let proxy = Proxy::start(Some(pki.server_config(false))).await;
    let up = Upstream::canary().await;
    let allowlist = allowlist_file(&up);
    let proxy_url = format!("https://user:p%40ss@localhost:{}", proxy.port);
    let (code, out, err) = harpoon_tunnel(
        allowlist.path(),
        KEY,
        &[
            "--edge",
            &service.url(),
            "--check",
            "--ca-file",
            &pki.path("ca.pem"),
            "--proxy",
            &proxy_url,
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(service.polls.load(Ordering::SeqCst), 1);
    let heads = proxy.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].starts_with(&format!("CONNECT localhost:{} HTTP/1.1\r\n", service.port)),
        "{heads:?}"
    );
    // base64("user:p@ss")
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains("\r\nproxy-authorization: basic dxnlcjpwqhnz\r\n"),
        "{heads:?}"
    );
    assert!(!err.contains("p@ss") && !out.contains("p@ss") && !err.contains("p%40ss"));
}
