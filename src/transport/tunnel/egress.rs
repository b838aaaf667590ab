//! How the tunnel reaches its service, and only its service: the HTTP client for polls and
//! reply posts, with the enterprise egress options (extra CA roots, a client certificate for
//! mTLS, an HTTP proxy). Upstream calls never use this client: they have their own, which never
//! takes a proxy (callout::client).

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Egress settings for the connection to the service.
#[derive(Debug, Clone, Default)]
pub struct Egress {
    /// PEM certificates trusted as roots in addition to the platform's.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain and its key: mTLS to the service (in addition to the key).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// An HTTP proxy (`http://host:port`); https goes through it with CONNECT.
    pub proxy: Option<url::Url>,
}

/// Why the client to the service could not be set up; each names the file or setting to fix.
#[derive(Debug)]
pub enum EgressError {
    /// A PEM file could not be read or holds nothing usable.
    Pem {
        what: &'static str,
        path: PathBuf,
        cause: String,
    },
    /// The trust store or the TLS configuration could not be built.
    Tls(rustls::Error),
    /// The proxy URL is not usable.
    Proxy(url::Url, reqwest::Error),
    /// The HTTP client could not be built.
    Client(reqwest::Error),
}

impl std::fmt::Display for EgressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EgressError::Pem { what, path, cause } => write!(
                f,
                "{what} {}: {cause}; give a PEM file ({what})",
                path.display()
            ),
            EgressError::Tls(e) => write!(f, "TLS to the service cannot be set up: {e}"),
            EgressError::Proxy(u, e) => write!(
                f,
                "the proxy {} is not usable: {e}; give http://host:port",
                redact_userinfo(u)
            ),
            EgressError::Client(e) => write!(f, "the HTTP client cannot be set up: {e}"),
        }
    }
}

impl std::error::Error for EgressError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EgressError::Tls(e) => Some(e),
            EgressError::Proxy(_, e) | EgressError::Client(e) => Some(e),
            EgressError::Pem { .. } => None,
        }
    }
}

/// A proxy URL as it may be shown: any user and password replaced.
pub fn redact_userinfo(u: &url::Url) -> String {
    let mut shown = u.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        let _ = shown.set_username("redacted");
        let _ = shown.set_password(None);
    }
    shown.to_string()
}

fn certificates(
    what: &'static str,
    path: &Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, EgressError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let pem = |cause: String| EgressError::Pem {
        what,
        path: path.to_owned(),
        cause,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

/// The TLS configuration for the service: the platform's roots plus `ca_file`'s, and the client
/// certificate when one is given.
fn tls(egress: &Egress) -> Result<rustls::ClientConfig, EgressError> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let extra = match &egress.ca_file {
        Some(path) => certificates("--ca-file", path)?,
        None => Vec::new(),
    };
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(EgressError::Tls)?;
    // Without a platform trust store only the extra roots are trusted.
    let builder = match rustls_platform_verifier::Verifier::new_with_extra_roots(
        extra.clone(),
        Arc::clone(&provider),
    ) {
        Ok(verifier) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier)),
        Err(_) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(extra);
            builder.with_root_certificates(roots)
        }
    };
    match &egress.client_cert {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain = certificates("--client-cert", cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| EgressError::Pem {
                what: "--client-key",
                path: key.clone(),
                cause: e.to_string(),
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(EgressError::Tls)
        }
    }
}

/// The client for polls and reply posts.
pub fn client(
    egress: &Egress,
    headers: reqwest::header::HeaderMap,
    connect_timeout: std::time::Duration,
) -> Result<reqwest::Client, EgressError> {
    let builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls(egress)?)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        // The tunnel decides what is retried (`answer::post_reply`, the poll loop's backoff).
        // reqwest's own layer retries nothing over HTTP/1 anyway, but it copied every request
        // in case it would; with no retries allowed it copies none.
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .user_agent(concat!("harpoon-tunnel/", env!("CARGO_PKG_VERSION")))
        .default_headers(headers);
    // Only the proxy given explicitly: never one picked up from HTTP(S)_PROXY by accident.
    let builder = match &egress.proxy {
        Some(u) => builder
            .proxy(reqwest::Proxy::all(u.as_str()).map_err(|e| EgressError::Proxy(u.clone(), e))?),
        None => builder.no_proxy(),
    };
    builder.build().map_err(EgressError::Client)
}
