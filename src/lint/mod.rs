//! The security review `harpoon check` runs on a valid policy: findings with a stable code, a
//! severity, a location and a hint, plus a plain-words summary of what each target grants.
//! Findings never make a policy invalid: risk is the reviewer's call, validity is not.

mod grants;
mod report;
mod rules;

pub use grants::{Grant, PathGrant, RouteGrant, grants};
pub use report::{Format, Outcome, render};
pub use rules::{MAX_SERVED_TOOLS, review};

use crate::config::Location;
use serde::Serialize;

/// How much a finding matters. Ordered: `Note < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The kinds of finding. `id()` is stable: CI configurations and SARIF baselines key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    PlaintextHttp,
    DangerousOptOut,
    WriteNonIdempotent,
    WriteDestructive,
    WriteIdempotent,
    RecursiveGlob,
    WildcardSegment,
    UnconstrainedParam,
    UnanchoredPattern,
    AnyQuery,
    InternalHostWithoutCidrs,
    UnreachableHost,
    PrivateCidr,
    BroadCidr,
    LoopbackCidr,
    MetadataCidr,
    InlineSecret,
    CallerAuthHeader,
    AllowAndInject,
    LimitOverBudget,
    RedirectsFollowed,
    ShadowedRule,
    TooManyTools,
    NoAuthorization,
}

impl Code {
    pub const ALL: &'static [Code] = &[
        Code::PlaintextHttp,
        Code::DangerousOptOut,
        Code::WriteNonIdempotent,
        Code::WriteDestructive,
        Code::WriteIdempotent,
        Code::RecursiveGlob,
        Code::WildcardSegment,
        Code::UnconstrainedParam,
        Code::UnanchoredPattern,
        Code::AnyQuery,
        Code::InternalHostWithoutCidrs,
        Code::UnreachableHost,
        Code::PrivateCidr,
        Code::BroadCidr,
        Code::LoopbackCidr,
        Code::MetadataCidr,
        Code::InlineSecret,
        Code::CallerAuthHeader,
        Code::AllowAndInject,
        Code::LimitOverBudget,
        Code::RedirectsFollowed,
        Code::ShadowedRule,
        Code::TooManyTools,
        Code::NoAuthorization,
    ];

    pub fn id(self) -> &'static str {
        self.meta().0
    }

    pub fn severity(self) -> Severity {
        self.meta().1
    }

    /// One line on what the rule looks for, for SARIF rule metadata and `--help`.
    pub fn title(self) -> &'static str {
        self.meta().2
    }

    fn meta(self) -> (&'static str, Severity, &'static str) {
        use Severity::*;
        match self {
            Code::PlaintextHttp => (
                "plaintext_http",
                Warning,
                "a target is reached over plaintext http",
            ),
            Code::DangerousOptOut => (
                "dangerous_opt_out",
                Warning,
                "a safe default is switched off under 'dangerous'",
            ),
            Code::WriteNonIdempotent => (
                "write_non_idempotent",
                Warning,
                "a non-idempotent write (POST, PATCH) is granted",
            ),
            Code::WriteDestructive => ("write_destructive", Warning, "a DELETE is granted"),
            Code::WriteIdempotent => (
                "write_idempotent",
                Note,
                "an idempotent write (PUT) is granted",
            ),
            Code::RecursiveGlob => (
                "recursive_glob",
                Warning,
                "a glob with '**' grants every path below it",
            ),
            Code::WildcardSegment => (
                "wildcard_segment",
                Note,
                "a glob ends a segment with '*' and matches names added later",
            ),
            Code::UnconstrainedParam => (
                "unconstrained_param",
                Warning,
                "a path parameter has no pattern or enum",
            ),
            Code::UnanchoredPattern => (
                "unanchored_pattern",
                Warning,
                "a pattern is not anchored with ^...$",
            ),
            Code::AnyQuery => (
                "any_query",
                Warning,
                "a paths rule lets callers send any query parameter",
            ),
            Code::InternalHostWithoutCidrs => (
                "internal_host_without_cidrs",
                Warning,
                "an internal-looking host has no allow_cidrs",
            ),
            Code::UnreachableHost => (
                "unreachable_host",
                Error,
                "an IP-literal host is always denied by the network rule",
            ),
            Code::PrivateCidr => ("private_cidr", Note, "allow_cidrs opens a private range"),
            Code::BroadCidr => ("broad_cidr", Warning, "allow_cidrs opens a very wide range"),
            Code::LoopbackCidr => (
                "loopback_cidr",
                Warning,
                "allow_cidrs opens loopback: services on harpoon's own host",
            ),
            Code::MetadataCidr => (
                "metadata_cidr",
                Warning,
                "allow_cidrs covers link-local or metadata addresses",
            ),
            Code::InlineSecret => (
                "inline_secret",
                Error,
                "an injected credential is written inline instead of referenced",
            ),
            Code::CallerAuthHeader => (
                "caller_auth_header",
                Warning,
                "callers may set a credential header",
            ),
            Code::AllowAndInject => (
                "allow_and_inject",
                Warning,
                "a header is both caller-settable and injected",
            ),
            Code::LimitOverBudget => (
                "limit_over_budget",
                Warning,
                "a limit is above the review budget",
            ),
            Code::RedirectsFollowed => (
                "redirects_followed",
                Note,
                "redirects are followed (same origin only)",
            ),
            Code::ShadowedRule => (
                "shadowed_rule",
                Warning,
                "a rule is covered by another rule",
            ),
            Code::TooManyTools => (
                "too_many_tools",
                Warning,
                "the allowlists served together publish more tools than many clients accept",
            ),
            Code::NoAuthorization => (
                "no_authorization",
                Note,
                "no authorization section: every caller of the endpoint may use every tool",
            ),
        }
    }
}

/// One review finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub location: Location,
    /// The target it is about.
    pub target: String,
    pub message: String,
    pub hint: String,
}
