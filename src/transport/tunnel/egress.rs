//! How the tunnel reaches its service, and only its service: the HTTP client for polls and
//! reply posts, with the enterprise egress options (extra CA roots, a client certificate for
//! mTLS, an HTTP proxy). Upstream calls never use this client: they have their own, which never
//! takes a proxy (callout::client).

use super::service_client::{self, ServiceClient};
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
    /// The proxy URL is not usable (why).
    Proxy(url::Url, String),
    /// A service URL the HTTP client cannot take (why).
    Service(url::Url, String),
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
            EgressError::Service(u, e) => {
                let u = redact_userinfo(u);
                write!(f, "the service URL {u} cannot be used: {e}; check --edge")
            }
        }
    }
}

impl std::error::Error for EgressError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EgressError::Tls(e) => Some(e),
            EgressError::Proxy(..) | EgressError::Service(..) | EgressError::Pem { .. } => None,
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
    headers: http::HeaderMap,
    connect_timeout: std::time::Duration,
) -> Result<ServiceClient, EgressError> {
    let tls = tls(egress)?;
    // Only the proxy given explicitly: never one picked up from HTTP(S)_PROXY by accident.
    let route = match &egress.proxy {
        None => service_client::direct(connect_timeout),
        Some(p) => service_client::through(p, &tls, connect_timeout)
            .map_err(|why| EgressError::Proxy(p.clone(), why))?,
    };
    Ok(ServiceClient::new(route, tls, headers))
}
