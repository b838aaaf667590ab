//! `harpoon explain PATH... --tool NAME --args JSON`: a dry run. It decides the call exactly as
//! `serve` would and prints the verdict, the reason and the URL it would call, without calling
//! it or reading any secret.

use super::check::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_INVALID};
use crate::catalog;
use crate::config;
use crate::policy::limits::format_bytes;
use crate::policy::request::check_list_targets;
use crate::policy::{
    CallRequest, Decision, DenyReason, Permit, Policy, SecretMode, ToolKind, decide,
};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit status: 0 when the call would be allowed, 1 when it would be denied, 2 when the allowlists
or the arguments are unusable.

Example:
  harpoon explain allowlists/billing.yaml --tool billing.get_invoice --args '{\"invoice_id\": \"inv_12345678\"}'")]
pub struct ExplainArgs {
    /// Allowlist files, or directories of them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The tool to call: a route tool (`label.route`), `call_target` or `list_targets`.
    #[arg(long)]
    pub tool: String,
    /// The tool's arguments, as a JSON object.
    #[arg(long, default_value = "{}")]
    pub args: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ExplainArgs) -> ExitCode {
    match explain(args) {
        Ok((text, code)) => {
            print!("{text}");
            ExitCode::from(code)
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// The report and exit status, without printing.
pub fn explain(args: &ExplainArgs) -> Result<(String, u8), String> {
    let files = config::load(&args.paths).map_err(|e| e.to_string())?;
    let policy = Policy::compile(&files, SecretMode::Validate).map_err(|e| e.to_string())?;
    let arguments: Value =
        serde_json::from_str(&args.args).map_err(|e| format!("--args is not JSON: {e}"))?;
    let Value::Object(map) = &arguments else {
        return Err("--args must be a JSON object".into());
    };
    let report = match policy.tool(&args.tool) {
        None => {
            return Err(format!(
                "there is no tool '{}'; `harpoon tools` lists them",
                args.tool
            ));
        }
        Some(ToolKind::ListTargets) => match check_list_targets(Some(map)) {
            Ok(()) => {
                let targets = catalog::list_targets(&policy);
                let n = targets["targets"].as_array().map_or(0, Vec::len);
                json!({"tool": args.tool, "decision": "allow", "message": format!("lists {n} targets from the allowlist; no upstream request")})
            }
            Err(e) => denied(&args.tool, &DenyReason::BadArgument(e)),
        },
        Some(ToolKind::Upstream(tool)) => match CallRequest::parse(tool, Some(map)) {
            Err(e) => denied(&args.tool, &DenyReason::BadArgument(e)),
            Ok(request) => match decide(&policy, &request) {
                Decision::Deny(reason) => denied(&args.tool, &reason),
                Decision::Allow(permit) => allowed(&args.tool, &permit),
            },
        },
    };
    let code = if report["decision"] == "allow" {
        EXIT_CLEAN
    } else {
        EXIT_FINDINGS
    };
    let text = if args.json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        )
    } else {
        text(&report)
    };
    Ok((text, code))
}

fn denied(tool: &str, reason: &DenyReason) -> Value {
    json!({"tool": tool, "decision": "deny", "reason": reason.code(), "message": reason.to_string()})
}

fn allowed(tool: &str, p: &Permit) -> Value {
    let target = p.target();
    let from_route = |n: &http::HeaderName| p.route().is_some() && *n == http::header::CONTENT_TYPE;
    let mut headers: Vec<String> = p
        .headers()
        .iter()
        .map(|(n, _)| format!("{n} ({})", if from_route(n) { "route" } else { "caller" }))
        .collect();
    headers.extend(target.injected.iter().map(|h| {
        format!(
            "{} (injected from {})",
            h.name,
            h.template.references().join(" + ")
        )
    }));
    let cidrs: Vec<String> = target
        .network
        .allow_cidrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    let network = if cidrs.is_empty() {
        "peer address must be public (checked at connect time)".to_owned()
    } else {
        format!(
            "peer address must be in {} (checked at connect time)",
            cidrs.join(", ")
        )
    };
    let l = p.limits();
    json!({
        "tool": tool,
        "decision": "allow",
        "target": target.label.as_str(),
        "method": p.method().as_str(),
        "url": p.url().as_str(),
        "headers": headers,
        "body_bytes": p.body().len(),
        "network": network,
        "limits": format!("response {} ({}), timeout {}ms, redirects {}",
            format_bytes(l.response_bytes),
            if l.oversize == crate::policy::limits::Oversize::Truncate { "truncate" } else { "error" },
            l.timeout.as_millis(), l.redirects),
    })
}

fn text(report: &Value) -> String {
    let mut out = String::new();
    let order = [
        "tool",
        "decision",
        "reason",
        "message",
        "target",
        "method",
        "url",
        "headers",
        "body_bytes",
        "network",
        "limits",
    ];
    for key in order {
        let Some(v) = report.get(key) else { continue };
        let shown = match v {
            Value::String(s) => s.clone(),
            Value::Array(a) if a.is_empty() => "none".into(),
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        out.push_str(&format!("{key:<11}{shown}\n"));
    }
    out
}
