//! `harpoon doctor`: what `check` cannot know without the network. For each target: the host
//! resolves, every address is one the target may reach, TCP connects within the connect timeout,
//! TLS handshakes with a trusted chain (and how long the certificate has left), every secret
//! reference resolves; optionally a probe call of a read-only tool, and (`tunnel`) whether the
//! tunnel service accepts the tunnel. Each check says what it
//! found, why it matters and what to do next, so an operator can act on it without reading code.

mod cert_expiry;
mod network;
mod probe;
mod secrets;
mod tls;
pub mod tunnel;

pub use probe::{Probe, ProbeError};

use crate::callout::HostResolver;
use crate::policy::{Policy, Target};
use serde::Serialize;
use std::sync::Arc;

/// How a check came out. `Warn` does not fail the run; `Skip` means an earlier check failed,
/// so this one could not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One check's verdict, in the words an operator needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable: `<kind>.<target label>` (`dns.billing`), or `probe.<tool>`.
    pub id: String,
    pub status: Status,
    /// What was found, in one line.
    pub summary: String,
    /// Why the check matters.
    pub why: &'static str,
    /// What was observed (addresses, certificate subject and expiry, the error).
    pub evidence: Vec<String>,
    /// What to do when it is not a pass; empty when there is nothing to do.
    pub next: String,
}

impl Check {
    fn new(id: String, status: Status, summary: String, why: &'static str) -> Self {
        Check {
            id,
            status,
            summary,
            why,
            evidence: Vec::new(),
            next: String::new(),
        }
    }

    fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }

    fn next(mut self, step: impl Into<String>) -> Self {
        self.next = step.into();
        self
    }
}

/// How the secrets check reads a variable (`std::env::var` in the command, a table in tests).
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the checks need from the outside world, injectable so tests can make DNS say anything
/// and trust a test certificate authority.
pub struct Environment {
    pub resolver: Arc<dyn HostResolver>,
    pub tls: Arc<rustls::ClientConfig>,
    pub env: EnvLookup,
    /// Certificates with fewer days left than this are a warning.
    pub expiry_warning_days: i64,
}

/// Days of certificate validity under which `doctor` warns: enough for a renewal to go through
/// a change process.
pub const DEFAULT_EXPIRY_WARNING_DAYS: i64 = 21;

/// Every check for every target of `policy` (compiled without reading secrets), in target order,
/// then the probes (which need `serving`, the same files compiled with their secrets, when the
/// secrets resolve).
pub async fn run(
    policy: &Policy,
    serving: Option<Arc<Policy>>,
    probes: &[Probe],
    environment: &Environment,
) -> Vec<Check> {
    let mut checks = Vec::new();
    for target in policy.targets() {
        checks.extend(target_checks(target, environment).await);
    }
    for p in probes {
        checks.push(probe::run(p, serving.as_ref(), environment).await);
    }
    checks
}

async fn target_checks(target: &Target, environment: &Environment) -> Vec<Check> {
    let mut checks = Vec::new();
    let reached = network::checks(target, environment, &mut checks).await;
    checks.push(match reached {
        Some(addr) => tls::check(target, addr, environment).await,
        None => tls::skipped(target),
    });
    checks.extend(secrets::checks(target, &*environment.env));
    checks
}

/// Whether every check passed or only warned.
pub fn healthy(checks: &[Check]) -> bool {
    checks
        .iter()
        .all(|c| matches!(c.status, Status::Pass | Status::Warn | Status::Skip))
}
