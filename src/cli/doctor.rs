//! `harpoon doctor PATH...`: the checks that need the network (see `crate::doctor`), printed for
//! people or as JSON for scripts.

use super::check::EXIT_INVALID;
use super::startup::runtime;
use super::tunnel::{ServiceConnection, connection_options};
use crate::callout::{SystemResolver, client};
use crate::config;
use crate::doctor::{self, Check, Environment, Probe, Status};
use crate::policy::{Policy, SecretMode};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit status when every check passed (warnings allowed).
pub const EXIT_HEALTHY: u8 = 0;
/// Exit status when a check failed.
pub const EXIT_UNHEALTHY: u8 = 1;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Checks, per target: dns (the host resolves), addresses (every address is inside allow_cidrs, or
public when none are given), connect (TCP within the connect timeout), tls (handshake, trusted
chain, days to expiry; a warning under 21 days), secrets (every ${env:}/${file:} reference
resolves; values are never printed). --probe makes one real GET or HEAD call through harpoon.
--tunnel adds tunnel.service: one short poll of the tunnel service (--edge, --tunnel-id and the
key as `harpoon tunnel` takes them) says whether it accepts the key, tunnel id and organization.

Exit status: 0 healthy (warnings allowed), 1 a check failed, 2 invalid input.")]
pub struct DoctorArgs {
    /// Allowlist files, or directories of them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also say why each check matters and what to do next, for every check.
    #[arg(long)]
    pub explain: bool,
    /// Print {result, failed_checks, checks: [...]} as JSON.
    #[arg(long)]
    pub json: bool,
    /// Call a read-only tool once, e.g. --probe 'inventory_get_item={"id":"7"}'.
    #[arg(long, value_name = "TOOL=ARGS_JSON")]
    pub probe: Vec<Probe>,
    /// Also check that the tunnel service answers and accepts the key and tunnel id (one short
    /// poll, as `harpoon tunnel --check`), with the tunnel's own flags and variables.
    #[arg(long)]
    pub tunnel: bool,
    #[command(flatten)]
    pub connection: ServiceConnection,
}

pub fn run(args: &DoctorArgs) -> ExitCode {
    match diagnose(args) {
        Ok((text, code)) => {
            print!("{text}");
            ExitCode::from(code)
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// The report as text or JSON, and the exit status; `Err` is invalid input.
pub fn diagnose(args: &DoctorArgs) -> Result<(String, u8), String> {
    let files = config::load(&args.paths).map_err(|e| e.to_string())?;
    let policy = Policy::compile(&files, SecretMode::Validate).map_err(|e| e.to_string())?;
    // The probes need the secrets; when they do not resolve, the secrets checks say which.
    let serving = Policy::compile(&files, SecretMode::Resolve).ok();
    let tls = client::tls_config()
        .or_else(|_| client::tls_config_without_roots())
        .map_err(|e| e.to_string())?;
    let environment = Environment {
        resolver: Arc::new(SystemResolver),
        tls: Arc::new(tls),
        env: Box::new(|name| std::env::var(name).ok()),
        expiry_warning_days: doctor::DEFAULT_EXPIRY_WARNING_DAYS,
    };
    let tunnel = if args.tunnel {
        Some(connection_options(&args.connection)?)
    } else {
        None
    };
    let checks = runtime()?.block_on(async {
        let mut checks = doctor::run(&policy, serving, &args.probe, &environment).await;
        if let Some(options) = &tunnel {
            checks.push(doctor::tunnel::check(options).await);
        }
        checks
    });
    let code = if doctor::healthy(&checks) {
        EXIT_HEALTHY
    } else {
        EXIT_UNHEALTHY
    };
    let text = if args.json {
        json_report(&checks)
    } else {
        text_report(&checks, args.explain)
    };
    Ok((text, code))
}

pub fn json_report(checks: &[Check]) -> String {
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.id.as_str())
        .collect();
    let result = if failed.is_empty() {
        "healthy"
    } else {
        "unhealthy"
    };
    let report = json!({"result": result, "failed_checks": failed, "checks": checks});
    format!(
        "{}\n",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    )
}

pub fn text_report(checks: &[Check], explain: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for c in checks {
        let _ = writeln!(out, "{:<4}  {}  {}", c.status.as_str(), c.id, c.summary);
        let detailed = explain || matches!(c.status, Status::Fail | Status::Warn);
        if !detailed {
            continue;
        }
        if explain {
            let _ = writeln!(out, "      why: {}", c.why);
        }
        for e in &c.evidence {
            let _ = writeln!(out, "      evidence: {e}");
        }
        if !c.next.is_empty() {
            let _ = writeln!(out, "      next: {}", c.next);
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let _ = writeln!(
        out,
        "{}: {} checks, {failed} failed",
        if failed == 0 { "healthy" } else { "unhealthy" },
        checks.len()
    );
    out
}
