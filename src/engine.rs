//! One tool call from arguments to outcome, whatever the transport: resolve the tool, parse,
//! decide, send, and one audit event. Nothing here panics on any input, and every outcome
//! carries a stable code. Should a bug panic anyway, the call ends as `internal_error` rather
//! than unwinding into the transport, which could leave its client waiting for an answer.

use crate::callout::{BoundedResponse, CallError, Callout};
use crate::catalog;
use crate::metrics::Metrics;
use crate::policy::request::check_list_targets;
use crate::policy::{
    CallRequest, Caller, Decision, DenyReason, Permit, Policy, ToolKind, UpstreamTool, decide,
};
use crate::progress::{NoProgress, Progress, Stage};
use crate::telemetry::{self, CallRecord};
use serde_json::{Map, Value};
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
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

/// `future`'s output, or `None` if polling it panicked. The panic is not resumed: the future
/// is dropped unfinished (its guards release what it held), and nothing it touched is read
/// again except the plain fields of the call's audit subject, which is why asserting unwind
/// safety is sound here.
async fn without_unwinding<T>(future: impl Future<Output = T>) -> Option<T> {
    let mut future = pin!(future);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Some(value)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(None),
        }
    })
    .await
}

/// What an audit record says a call was about, known once the tool and arguments are read.
#[derive(Default)]
struct Subject<'p> {
    target: &'p str,
    method: &'p str,
    /// The path relative to the base URL, without the query (only once permitted).
    path: String,
    bytes_out: u64,
    /// Whether a request went out (or `list_targets` answered).
    allowed: bool,
}

/// The pipeline and what it needs: the policy, the callout that sends for it, and the metrics
/// every call is counted in.
pub struct Engine {
    policy: Arc<Policy>,
    callout: Callout,
    metrics: Arc<Metrics>,
}

impl Engine {
    /// An engine for `policy`; `callout` must have been made for the same policy (its
    /// per-target state is indexed like the policy's targets).
    pub fn new(policy: Arc<Policy>, callout: Callout) -> Self {
        Self::with_metrics(policy, callout, Arc::default())
    }

    /// An engine counting into `metrics`, which a reloaded engine shares with the one it
    /// replaces so the counters run on.
    pub fn with_metrics(policy: Arc<Policy>, callout: Callout, metrics: Arc<Metrics>) -> Self {
        Self {
            policy,
            callout,
            metrics,
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    pub fn callout(&self) -> &Callout {
        &self.callout
    }

    /// Runs tool `name` with `arguments` for the local caller (the embedding program, which
    /// the allowlists' `access` rules do not narrow). `cancel` aborts the upstream call.
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
        self.call_as(&Caller::Local, name, arguments, cancel, progress)
            .await
    }

    /// Runs tool `name` for `caller`: a tool its token's scopes do not allow is refused with
    /// `insufficient_scope` before anything else is looked at.
    pub async fn call_as(
        &self,
        caller: &Caller,
        name: &str,
        arguments: Option<&Map<String, Value>>,
        cancel: &CancellationToken,
        progress: &dyn Progress,
    ) -> Outcome {
        let mut record = Unaudited {
            engine: self,
            tool: name,
            caller,
            subject: Subject::default(),
            started: Instant::now(),
            audited: false,
        };
        let run = self.run(
            caller,
            name,
            arguments,
            cancel,
            progress,
            &mut record.subject,
        );
        let outcome = match without_unwinding(run).await {
            Some(outcome) => outcome,
            None => {
                tracing::error!(tool = name, "a call panicked; it ends as internal_error");
                Outcome::Failed(CallError::Internal)
            }
        };
        record.audit(&outcome);
        outcome
    }

    async fn run<'p>(
        &'p self,
        caller: &Caller,
        name: &str,
        arguments: Option<&Map<String, Value>>,
        cancel: &CancellationToken,
        progress: &dyn Progress,
        subject: &mut Subject<'p>,
    ) -> Outcome {
        let policy = &*self.policy;
        let tool = match policy.tool(name) {
            None => return Outcome::UnknownTool,
            Some(ToolKind::ListTargets) => {
                return match check_list_targets(arguments) {
                    Ok(()) => {
                        subject.allowed = true;
                        Outcome::Targets(catalog::list_targets_for(policy, caller))
                    }
                    Err(e) => Outcome::Denied(DenyReason::BadArgument(e)),
                };
            }
            Some(ToolKind::Upstream(tool)) => tool,
        };
        if let UpstreamTool::Route { target, route } = tool {
            subject.target = target.label.as_str();
            subject.method = route.method.as_str();
            if let Err(d) = policy.may_use(caller, target, Some(route)) {
                return Outcome::Denied(DenyReason::InsufficientScope(d));
            }
        }
        let request = match CallRequest::parse(tool, arguments) {
            Ok(r) => r,
            Err(e) => return Outcome::Denied(DenyReason::BadArgument(e)),
        };
        if let CallRequest::Target(t) = &request
            && let Some(target) = policy.target(&t.label)
        {
            subject.target = target.label.as_str();
            // A target the caller may not use answers like one that does not exist would
            // not: the caller learns it needs scopes, and which, but nothing more.
            if let Err(d) = policy.may_use(caller, target, None) {
                return Outcome::Denied(DenyReason::InsufficientScope(d));
            }
        }
        let permit = match decide(policy, &request) {
            Decision::Allow(p) => p,
            Decision::Deny(reason) => return Outcome::Denied(reason),
        };
        subject.permitted(&permit);
        progress.report(Stage::Permitted);
        match self.callout.send_observed(permit, cancel, progress).await {
            Ok(r) => Outcome::Response(r),
            Err(e) => Outcome::Failed(e),
        }
    }

    /// Builds the call's one record, emits the audit event and counts the call.
    fn audit(
        &self,
        tool: &str,
        caller: &Caller,
        subject: &Subject,
        outcome: &Outcome,
        started: Instant,
    ) {
        let (kind, sub, client) = match caller {
            Caller::Local => ("local", "", ""),
            Caller::Anonymous => ("anonymous", "", ""),
            Caller::Token(t) => (
                "token",
                t.subject.as_deref().unwrap_or(""),
                t.client_id.as_deref().unwrap_or(""),
            ),
        };
        let response = match outcome {
            Outcome::Response(r) => Some(r),
            _ => None,
        };
        let record = CallRecord {
            tool,
            target: subject.target,
            method: subject.method,
            path: &subject.path,
            decision: if subject.allowed { "allow" } else { "deny" },
            reason: outcome.reason(),
            status: response.map_or(0, |r| r.status),
            bytes_out: subject.bytes_out,
            bytes_in: response.map_or(0, |r| r.body.len() as u64),
            truncated: response.is_some_and(|r| r.truncated),
            redirects: response.map_or(0, |r| r.redirects),
            duration_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            caller: kind,
            subject: bounded(sub),
            client_id: bounded(client),
        };
        telemetry::audit(&record);
        self.metrics.record(&record);
        self.metrics.recent().push(&record);
    }
}

/// A call's audit record until the call ends. A call's future may be dropped before it ends
/// (its HTTP client went away, a transport shut down): the record is then written as
/// `cancelled` when the future is dropped, so every call that started is audited once, however
/// it ends, and the caller need not keep a task alive just for that.
struct Unaudited<'p> {
    engine: &'p Engine,
    tool: &'p str,
    caller: &'p Caller,
    subject: Subject<'p>,
    started: Instant,
    audited: bool,
}

impl Unaudited<'_> {
    fn audit(mut self, outcome: &Outcome) {
        self.engine
            .audit(self.tool, self.caller, &self.subject, outcome, self.started);
        self.audited = true;
    }
}

impl Drop for Unaudited<'_> {
    fn drop(&mut self) {
        if !self.audited {
            let cancelled = Outcome::Failed(CallError::Cancelled);
            self.engine.audit(
                self.tool,
                self.caller,
                &self.subject,
                &cancelled,
                self.started,
            );
        }
    }
}

impl<'p> Subject<'p> {
    fn permitted(&mut self, permit: &Permit<'p>) {
        self.target = permit.target().label.as_str();
        self.method = permit.method().as_str();
        self.path = permit.path().to_owned();
        self.bytes_out = permit.body().len() as u64;
        self.allowed = true;
    }
}

/// Most characters of a token's `sub` or client id written to the audit log: identifiers are
/// short, and a log line stays bounded whatever a token carries.
const MAX_LOGGED_ID_CHARS: usize = 256;

fn bounded(s: &str) -> &str {
    match s.char_indices().nth(MAX_LOGGED_ID_CHARS) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
