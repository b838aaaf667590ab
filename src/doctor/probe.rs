//! `--probe TOOL=ARGS_JSON`: one real call of a read-only tool, through the same engine `serve`
//! uses (the same decision, limits and redaction), to prove the whole path works end to end.
//! Only GET and HEAD: a health check must never write.

use super::{Check, Environment, Status};
use crate::callout::{Callout, OwnListeners};
use crate::engine::{Engine, Outcome};
use crate::policy::tool::{ToolKind, UpstreamTool};
use crate::policy::{Method, Policy};
use serde_json::{Map, Value};
use std::sync::Arc;

const WHY: &str = "a real call through harpoon's engine proves the decision, the credentials \
and the upstream together, which the other checks only prove one by one.";

/// A probe as given on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub tool: String,
    pub arguments: Map<String, Value>,
}

/// Why a `--probe` argument was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    /// No `=` between the tool name and the arguments.
    NoArguments,
    /// The arguments are not a JSON object; the parser's message.
    NotAnObject(String),
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeError::NoArguments => f.write_str(
                "give the tool and its arguments as TOOL=ARGS_JSON, e.g. inventory_get_item='{\"id\":\"7\"}'",
            ),
            ProbeError::NotAnObject(why) => {
                write!(f, "the arguments must be a JSON object ({why})")
            }
        }
    }
}

impl std::error::Error for ProbeError {}

impl std::str::FromStr for Probe {
    type Err = ProbeError;

    fn from_str(s: &str) -> Result<Self, ProbeError> {
        let (tool, json) = s.split_once('=').ok_or(ProbeError::NoArguments)?;
        match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(arguments)) => Ok(Probe {
                tool: tool.to_owned(),
                arguments,
            }),
            Ok(other) => Err(ProbeError::NotAnObject(format!("got {other}"))),
            Err(e) => Err(ProbeError::NotAnObject(e.to_string())),
        }
    }
}

pub(super) async fn run(
    probe: &Probe,
    serving: Option<&Arc<Policy>>,
    environment: &Environment,
) -> Check {
    let id = format!("probe.{}", probe.tool);
    let check = |status, summary: String| Check::new(id.clone(), status, summary, WHY);
    let Some(policy) = serving else {
        return check(
            Status::Skip,
            "not run: the secrets do not resolve, so no call can be made".to_owned(),
        );
    };
    let method = match policy.tool(&probe.tool) {
        None => {
            return check(Status::Fail, format!("there is no tool {}", probe.tool))
                .next("`harpoon tools PATH...` lists the tools these allowlists publish");
        }
        Some(ToolKind::ListTargets) => None,
        Some(ToolKind::Upstream(UpstreamTool::Route { route, .. })) => Some(route.method),
        Some(ToolKind::Upstream(UpstreamTool::CallTarget)) => probe
            .arguments
            .get("method")
            .and_then(Value::as_str)
            .map(|m| Method::parse(m).unwrap_or(Method::Post)),
    };
    if method.is_some_and(|m| !matches!(m, Method::Get | Method::Head)) {
        return check(
            Status::Fail,
            format!(
                "{} is not read-only: doctor probes only GET and HEAD",
                probe.tool
            ),
        )
        .next("probe a GET or HEAD tool");
    }
    let callout = match Callout::new(
        policy,
        Arc::clone(&environment.resolver),
        OwnListeners::default(),
    ) {
        Ok(c) => c,
        Err(e) => {
            return check(Status::Fail, format!("no HTTP client: {e}"));
        }
    };
    let engine = Engine::new(Arc::clone(policy), callout);
    let outcome = engine
        .call(
            &probe.tool,
            Some(&probe.arguments),
            &tokio_util::sync::CancellationToken::new(),
        )
        .await;
    let reason = outcome.reason();
    match outcome {
        Outcome::Response(r) if r.status < 400 => check(
            Status::Pass,
            format!(
                "{} answered {} ({} bytes)",
                probe.tool,
                r.status,
                r.body.len()
            ),
        ),
        Outcome::Targets(_) => check(Status::Pass, "list_targets answered".to_owned()),
        Outcome::Response(r) => check(Status::Fail, format!("the upstream answered {}", r.status))
            .next(if matches!(r.status, 401 | 403) {
                "the injected credential is refused: check its value and its rights"
            } else {
                "check the arguments and the upstream's logs"
            }),
        Outcome::Denied(d) => check(Status::Fail, format!("{reason}: {d}"))
            .next("the probe's arguments are outside the allowlist: fix them"),
        Outcome::Failed(e) => check(Status::Fail, format!("{reason}: {e}")),
        Outcome::UnknownTool => check(Status::Fail, format!("there is no tool {}", probe.tool)),
    }
}
