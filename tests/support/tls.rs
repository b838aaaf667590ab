//! Test certificates made at test time (a CA and leaves it signs, with rcgen), and a TLS server
//! on 127.0.0.1 that answers a fixed number of connections in its own thread and then stops,
//! or stops at its deadline, whichever comes first.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a server waits for its connections before it stops on its own: past any check a
/// test runs, short enough that a failing test does not leave it behind for long.
const LIFETIME: Duration = Duration::from_secs(20);

/// How long one connection may take to send its part of the handshake.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the accept loop looks for a connection (the listener is non-blocking so the
/// deadline can stop it).
const ACCEPT_POLL: Duration = Duration::from_millis(5);

/// A certificate authority made for one test.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate and its key, with the chain a server sends.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params
            .distinguished_name
            .push(DnType::CommonName, "harpoon doctor test CA");
        let key = KeyPair::generate().expect("CA key");
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A client configuration that trusts this CA and nothing else.
    pub fn client_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der()).expect("CA into the root store");
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
    }

    /// A server certificate for `name`, valid from a day ago until `days` days from now.
    pub fn leaf(&self, name: &str, days: u64) -> Leaf {
        let mut params = CertificateParams::new(vec![name.to_owned()]).expect("leaf params");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = rcgen::date_time_ymd(1970, 1, 1)
            + SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock after 1970");
        params.not_before = now - Duration::from_secs(86_400);
        params.not_after = now + Duration::from_secs(days * 86_400);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            chain: vec![cert.der().clone(), self.der()],
            key: key.serialize_der(),
        }
    }
}

/// A running one-thread TLS server.
pub struct TlsServer {
    pub addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl TlsServer {
    /// Serves `leaf` on 127.0.0.1 for `connections` connections (each: one handshake, then
    /// close), then stops.
    pub fn start(leaf: &Leaf, connections: usize) -> Self {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.clone()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(leaf.chain.clone(), key)
        .expect("server certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("local addr");
        let handshakes = Arc::new(AtomicUsize::new(0));
        let done = Arc::clone(&handshakes);
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + LIFETIME;
            let mut accepted = 0;
            while accepted < connections && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted += 1;
                        if handshake(stream, &config) {
                            done.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(ACCEPT_POLL);
                    }
                    Err(_) => return,
                }
            }
        });
        TlsServer {
            addr,
            handshakes,
            thread: Some(thread),
        }
    }

    /// Waits for the server to stop (its connections served, or its deadline), then says how
    /// many handshakes completed.
    pub fn finish(mut self) -> usize {
        if let Some(t) = self.thread.take() {
            t.join().expect("TLS server thread");
        }
        self.handshakes.load(Ordering::SeqCst)
    }
}

/// One handshake on `stream`; whether it completed.
fn handshake(mut stream: std::net::TcpStream, config: &Arc<rustls::ServerConfig>) -> bool {
    let ready = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(IO_TIMEOUT)))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)));
    let Ok(mut conn) = rustls::ServerConnection::new(Arc::clone(config)) else {
        return false;
    };
    if ready.is_err() {
        return false;
    }
    while conn.is_handshaking() {
        if conn.complete_io(&mut stream).is_err() {
            return false;
        }
    }
    conn.send_close_notify();
    let _ = conn.complete_io(&mut stream);
    true
}
