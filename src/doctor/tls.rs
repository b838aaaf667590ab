//! The TLS handshake with the target's host name, through the same trust store harpoon's calls
//! use, and the days the certificate has left.

use super::{Check, Environment, Status, cert_expiry};
use crate::policy::Target;
use crate::policy::types::{Host, Scheme};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WHY: &str = "harpoon verifies every upstream certificate against the system's trust \
store and never skips it; an untrusted chain or a wrong name fails every call, and an expiring \
certificate will.";

pub(super) fn skipped(target: &Target) -> Check {
    let status = if target.origin.scheme == Scheme::Https {
        Status::Skip
    } else {
        Status::Warn
    };
    let label = target.label.as_str();
    let check = Check::new(
        format!("tls.{label}"),
        status,
        match status {
            Status::Skip => "not run: the target could not be reached".to_owned(),
            _ => "plain http: calls and injected credentials travel unencrypted".to_owned(),
        },
        WHY,
    );
    match status {
        Status::Warn => check.next("use an https base_url unless the network path is trusted"),
        _ => check,
    }
}

pub(super) async fn check(target: &Target, addr: SocketAddr, environment: &Environment) -> Check {
    if target.origin.scheme != Scheme::Https {
        return skipped(target);
    }
    let label = target.label.as_str().to_owned();
    let name = match &target.origin.host {
        Host::Domain(d) => ServerName::try_from(d.clone()),
        Host::Ip(ip) => Ok(ServerName::from(*ip)),
    };
    let Ok(name) = name else {
        return Check::new(
            format!("tls.{label}"),
            Status::Fail,
            "the host is not a name TLS can verify".to_owned(),
            WHY,
        );
    };
    let config = Arc::clone(&environment.tls);
    let timeout = target.limits.connect_timeout.max(Duration::from_secs(1));
    let host = target.origin.host.to_string();
    let outcome = tokio::task::spawn_blocking(move || handshake(config, name, addr, timeout))
        .await
        .unwrap_or_else(|e| Err(format!("the handshake task failed: {e}")));
    match outcome {
        Err(why) => Check::new(
            format!("tls.{label}"),
            Status::Fail,
            format!("the TLS handshake with {host} ({addr}) failed"),
            WHY,
        )
        .evidence(why)
        .next(
            "check that the certificate covers the host name in base_url, is issued by an \
             authority this machine trusts (install the internal CA into the system trust \
             store), and has not expired",
        ),
        Ok(None) => Check::new(
            format!("tls.{label}"),
            Status::Warn,
            "the chain is trusted, but its expiry date could not be read".to_owned(),
            WHY,
        ),
        Ok(Some(not_after)) => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let days = (not_after - now).div_euclid(86_400);
            let (status, next) = if days < environment.expiry_warning_days {
                (Status::Warn, "renew the certificate before it expires")
            } else {
                (Status::Pass, "")
            };
            Check::new(
                format!("tls.{label}"),
                status,
                format!("TLS handshakes with {host}; the chain is trusted and the certificate expires in {days} days"),
                WHY,
            )
            .evidence(format!("days to expiry: {days}"))
            .next(next)
        }
    }
}

/// A blocking handshake on its own socket (no HTTP is sent); the leaf certificate's expiry.
fn handshake(
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<Option<i64>, String> {
    let mut tcp =
        std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(timeout))
        .and_then(|()| tcp.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let mut conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
    }
    Ok(conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| cert_expiry::not_after(leaf.as_ref())))
}
