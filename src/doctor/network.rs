//! DNS, the address rules, and a TCP connect: the three ways a target that `check` accepts can
//! still be unreachable once deployed.

use super::{Check, Environment, Status};
use crate::policy::Target;
use crate::policy::net::classify;
use crate::policy::types::Host;
use std::net::SocketAddr;
use std::time::Duration;

const WHY_DNS: &str = "harpoon resolves the target's host on every new connection; a name that \
does not resolve here makes every call fail with upstream_unreachable.";
const WHY_ADDRESSES: &str = "harpoon dials only addresses the target's network rule allows \
(allow_cidrs, or public addresses when none are given); metadata and unspecified addresses \
never. An address outside the rule makes calls fail with address_not_allowed.";
const WHY_CONNECT: &str = "a firewall, a wrong port or a stopped service shows up here, before \
an agent's call times out on it.";

/// Adds the dns, addresses and connect checks of `target`; returns the address that accepted
/// a connection, for the TLS check.
pub(super) async fn checks(
    target: &Target,
    environment: &Environment,
    out: &mut Vec<Check>,
) -> Option<SocketAddr> {
    let label = target.label.as_str();
    let port = target.origin.port;
    let addrs = match &target.origin.host {
        Host::Ip(ip) => {
            out.push(Check::new(
                format!("dns.{label}"),
                Status::Pass,
                format!("{ip} is an address: nothing to resolve"),
                WHY_DNS,
            ));
            vec![SocketAddr::new(*ip, port)]
        }
        Host::Domain(name) => {
            let failure = match environment.resolver.resolve(name, port).await {
                // A resolver's port is not the target's (an injected one may answer with any):
                // harpoon's calls dial the target's port, so the checks do too.
                Ok(addrs) if !addrs.is_empty() => {
                    let addrs: Vec<SocketAddr> = addrs
                        .into_iter()
                        .map(|a| SocketAddr::new(a.ip(), port))
                        .collect();
                    let listed = addrs.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>();
                    out.push(Check::new(
                        format!("dns.{label}"),
                        Status::Pass,
                        format!("{name} resolves to {}", listed.join(", ")),
                        WHY_DNS,
                    ));
                    Ok(addrs)
                }
                Ok(_) => Err("the resolver answered with no address".to_owned()),
                Err(e) => Err(e.to_string()),
            };
            match failure {
                Ok(addrs) => addrs,
                Err(why) => {
                    out.push(
                        Check::new(
                            format!("dns.{label}"),
                            Status::Fail,
                            format!("{name} does not resolve from this machine"),
                            WHY_DNS,
                        )
                        .evidence(why)
                        .next(format!(
                            "check the spelling of base_url at {}, and that this machine uses \
                             the DNS (or /etc/hosts) that knows {name}",
                            target.location
                        )),
                    );
                    out.push(skipped(label, "addresses", WHY_ADDRESSES));
                    out.push(skipped(label, "connect", WHY_CONNECT));
                    return None;
                }
            }
        }
    };
    let mut allowed = Vec::new();
    let mut evidence = Vec::new();
    for addr in &addrs {
        let class = classify(addr.ip()).as_str();
        match target.network.check(*addr, &[]) {
            Ok(()) => {
                evidence.push(format!("{} ({class}): allowed", addr.ip()));
                allowed.push(*addr);
            }
            Err(denial) => evidence.push(format!(
                "{} ({class}): refused: {}",
                addr.ip(),
                denial.message()
            )),
        }
    }
    let rule = match target.network.allow_cidrs() {
        [] => "public addresses only (no allow_cidrs)".to_owned(),
        cidrs => format!(
            "allow_cidrs {}",
            cidrs
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let refused = addrs.len() - allowed.len();
    let mut check = if refused == 0 {
        Check::new(
            format!("addresses.{label}"),
            Status::Pass,
            format!("every address is inside the network rule ({rule})"),
            WHY_ADDRESSES,
        )
    } else {
        let status = if allowed.is_empty() {
            Status::Fail
        } else {
            Status::Warn
        };
        Check::new(
            format!("addresses.{label}"),
            status,
            format!(
                "{refused} of {} address(es) are outside the network rule ({rule})",
                addrs.len()
            ),
            WHY_ADDRESSES,
        )
        .next(format!(
            "if these addresses are the service, add their network to network.allow_cidrs of \
             target '{label}' ({}); if not, fix DNS",
            target.location
        ))
    };
    check.evidence = evidence;
    out.push(check);
    let Some(first) = allowed.first().copied() else {
        out.push(skipped(label, "connect", WHY_CONNECT));
        return None;
    };
    let timeout = target.limits.connect_timeout;
    match connect(first, timeout).await {
        Ok(()) => {
            out.push(Check::new(
                format!("connect.{label}"),
                Status::Pass,
                format!("TCP connects to {first}"),
                WHY_CONNECT,
            ));
            Some(first)
        }
        Err(failure) => {
            out.push(
                Check::new(
                    format!("connect.{label}"),
                    Status::Fail,
                    failure.summary(first),
                    WHY_CONNECT,
                )
                .evidence(failure.evidence())
                .next(failure.next()),
            );
            None
        }
    }
}

/// How a TCP connect failed. Refused and timed out point at different fixes (nothing listens
/// on the port, against a firewall that drops packets), so the summary must not blur them.
#[derive(Debug)]
enum ConnectFailure {
    /// The host answered with a reset: it is up, but nothing listens on the port.
    Refused(std::io::Error),
    /// No answer within the target's connect timeout: packets are dropped or the host is down.
    TimedOut(Duration),
    /// Any other error (unreachable network, no route), with its cause.
    Other(std::io::Error),
}

impl ConnectFailure {
    fn summary(&self, addr: SocketAddr) -> String {
        match self {
            ConnectFailure::Refused(_) => format!("TCP connection to {addr} refused"),
            ConnectFailure::TimedOut(t) => format!(
                "TCP connect to {addr} timed out: no answer within {} ms",
                t.as_millis()
            ),
            ConnectFailure::Other(e) => format!("TCP connect to {addr} failed: {e}"),
        }
    }

    fn evidence(&self) -> String {
        match self {
            ConnectFailure::Refused(e) | ConnectFailure::Other(e) => e.to_string(),
            ConnectFailure::TimedOut(t) => format!(
                "no answer within the connect timeout ({} ms)",
                t.as_millis()
            ),
        }
    }

    fn next(&self) -> &'static str {
        match self {
            ConnectFailure::Refused(_) => {
                "the host is reachable but nothing listens on that port: check the port in \
                 base_url and that the service is running"
            }
            ConnectFailure::TimedOut(_) | ConnectFailure::Other(_) => {
                "check that the service is up and that no firewall or security group drops \
                 this machine's connections"
            }
        }
    }
}

async fn connect(addr: SocketAddr, timeout: Duration) -> Result<(), ConnectFailure> {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(ConnectFailure::Refused(e))
        }
        Ok(Err(e)) => Err(ConnectFailure::Other(e)),
        Err(_) => Err(ConnectFailure::TimedOut(timeout)),
    }
}

pub(super) fn skipped(label: &str, kind: &str, why: &'static str) -> Check {
    Check::new(
        format!("{kind}.{label}"),
        Status::Skip,
        "not run: an earlier check of this target failed".to_owned(),
        why,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused connection and a timeout point at different fixes, so their summaries must not
    /// blur them (a loopback test can refuse, but cannot make the network drop packets).
    #[test]
    fn each_connect_failure_says_what_happened() {
        let addr: SocketAddr = "192.0.2.7:443".parse().expect("addr");
        let refused = ConnectFailure::Refused(std::io::ErrorKind::ConnectionRefused.into());
        let timed_out = ConnectFailure::TimedOut(Duration::from_millis(2500));
        let other = ConnectFailure::Other(std::io::ErrorKind::NetworkUnreachable.into());
        assert_eq!(
            refused.summary(addr),
            "TCP connection to 192.0.2.7:443 refused"
        );
        assert_eq!(
            timed_out.summary(addr),
            "TCP connect to 192.0.2.7:443 timed out: no answer within 2500 ms"
        );
        assert_eq!(
            timed_out.evidence(),
            "no answer within the connect timeout (2500 ms)"
        );
        assert_eq!(
            other.summary(addr),
            "TCP connect to 192.0.2.7:443 failed: network unreachable"
        );
        assert!(refused.next().contains("nothing listens on that port"));
        assert!(timed_out.next().contains("firewall"));
    }
}
