//! One tool call from arguments to outcome, whatever the transport: parse, decide, send, and
//! one audit event. Nothing here panics on any input, and every outcome carries a stable code.

use crate::callout::{BoundedResponse, CallError, Callout};
use crate::metrics::Metrics;
use crate::policy::request::{CALL_TARGET, LIST_TARGETS};
use crate::policy::{CallRequest, Decision, DenyReason, Policy, decide};
use crate::telemetry::{self, CallRecord};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// What became of a call.
#[derive(Debug)]
pub enum Outcome {
    /// `list_targets`: what `call_target` can reach.
    Targets(Value),
    /// The upstream answered (any status).
    Response(BoundedResponse),
    /// Refused before anything was sent.
    Denied(DenyReason),
    /// Permitted, then failed.
    Failed(CallError),
    /// No such tool: a protocol error, not a tool result.
    UnknownTool,
}

impl Outcome {
    /// The stable code audit events, metrics and results use.
    pub fn reason(&self) -> &'static str {
        match self {
            Outcome::Targets(_) => "ok",
            Outcome::Response(r) if r.status >= 400 => "upstream_status",
            Outcome::Response(_) => "ok",
            Outcome::Denied(d) => d.code(),
            Outcome::Failed(e) => e.code(),
            Outcome::UnknownTool => "unknown_tool",
        }
    }
}

/// A stage of a permitted call, reported as it happens (MCP progress notifications).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `decide` allowed the call; the request is about to go out.
    Permitted,
    /// The upstream's response headers arrived.
    Headers { status: u16 },
    /// The body was read (up to its cap).
    Body { bytes: u64 },
}

/// Receives the stages of a call.
pub trait Progress: Send + Sync {
    fn report(&self, stage: Stage);
}

/// No progress reporting.
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _: Stage) {}
}

/// The pipeline and what it needs: the policy, the callout that sends for it, and the
/// metrics every call is counted in.
pub struct Engine {
    callout: Callout,
    metrics: Arc<Metrics>,
}

impl Engine {
    pub fn new(callout: Callout) -> Self {
        Self {
            callout,
            metrics: Arc::default(),
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn policy(&self) -> &Arc<Policy> {
        self.callout.policy()
    }

    pub fn callout(&self) -> &Callout {
        &self.callout
    }

    /// Runs tool `name` with `arguments`. `cancel` aborts the upstream call.
    pub async fn call(
        &self,
        name: &str,
        arguments: Option<&Map<String, Value>>,
        cancel: &CancellationToken,
    ) -> Outcome {
        self.call_with_progress(name, arguments, cancel, &NoProgress)
            .await
    }

    /// Like `call`, reporting each stage to `progress`.
    pub async fn call_with_progress(
        &self,
        name: &str,
        arguments: Option<&Map<String, Value>>,
        cancel: &CancellationToken,
        progress: &dyn Progress,
    ) -> Outcome {
        let started = Instant::now();
        let policy = self.policy();
        let mut record = CallRecord {
            tool: name,
            decision: "deny",
            ..CallRecord::default()
        };
        let known = name == LIST_TARGETS
            || (name == CALL_TARGET && policy.has_free_paths())
            || policy.route_tool(name).is_some();
        if !known {
            return self.finish(Outcome::UnknownTool, &mut record, started);
        }
        let request = match CallRequest::parse(name, arguments) {
            Ok(r) => r,
            Err(e) => {
                return self.finish(
                    Outcome::Denied(DenyReason::BadArgument(e)),
                    &mut record,
                    started,
                );
            }
        };
        if request == CallRequest::ListTargets {
            record.decision = "allow";
            return self.finish(Outcome::Targets(list_targets(policy)), &mut record, started);
        }
        if let CallRequest::Target(t) = &request {
            record.target = policy.target(&t.label).map_or("", |t| t.label.as_str());
        }
        let permit = match decide(policy, &request) {
            Decision::Allow(p) => p,
            Decision::Deny(reason) => {
                if let Some((target, route)) = policy.route_tool(name) {
                    record.target = target.label.as_str();
                    record.method = route.method.as_str();
                }
                return self.finish(Outcome::Denied(reason), &mut record, started);
            }
        };
        let path = permit.path().to_owned();
        record.target = permit.target().label.as_str();
        record.method = permit.method().as_str();
        record.path = &path;
        record.decision = "allow";
        record.bytes_out = permit.body().len() as u64;
        progress.report(Stage::Permitted);
        let outcome = match self.callout.send_observed(permit, cancel, progress).await {
            Ok(r) => Outcome::Response(r),
            Err(e) => Outcome::Failed(e),
        };
        self.finish(outcome, &mut record, started)
    }

    /// Completes the record, emits the audit event and counts the call.
    fn finish(&self, outcome: Outcome, record: &mut CallRecord, started: Instant) -> Outcome {
        record.reason = outcome.reason();
        if let Outcome::Response(r) = &outcome {
            record.status = r.status;
            record.bytes_in = r.body.len() as u64;
            record.truncated = r.truncated;
            record.redirects = r.redirects;
        }
        record.duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        telemetry::audit(record);
        self.metrics.record(record);
        outcome
    }
}

/// `list_targets`: the targets `call_target` can reach, what each grants, never a URL.
pub fn list_targets(policy: &Policy) -> Value {
    let targets: Vec<Value> = policy
        .targets()
        .iter()
        .filter(|t| !t.paths.is_empty())
        .map(|t| {
            let methods: Vec<&str> = t.paths.methods().iter().map(|m| m.as_str()).collect();
            let paths: Vec<Value> = t
                .paths
                .rules
                .iter()
                .map(|r| {
                    let methods: Vec<&str> = r.methods.iter().map(|m| m.as_str()).collect();
                    let query = match &r.query {
                        crate::policy::QueryRule::Deny => json!([]),
                        crate::policy::QueryRule::Any => json!(["*"]),
                        crate::policy::QueryRule::Names(n) => json!(n),
                    };
                    json!({"methods": methods, "glob": r.glob.as_str(), "query": query})
                })
                .collect();
            let mut entry =
                json!({"label": t.label.as_str(), "allowed_methods": methods, "paths": paths});
            if let Some(d) = &t.description {
                entry["description"] = json!(d);
            }
            let headers: Vec<&str> = t.caller_headers.iter().map(|h| h.as_str()).collect();
            if !headers.is_empty() {
                entry["headers"] = json!(headers);
            }
            entry
        })
        .collect();
    json!({ "targets": targets })
}
