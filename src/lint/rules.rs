//! The review rules. Each looks at one aspect of a target and says what it grants that a
//! reviewer should see; `review` runs them all in file order.

use super::{Code, Finding};
use crate::config::Location;
use crate::policy::headers;
use crate::policy::limits::Limits;
use crate::policy::net::{AddressClass, classify};
use crate::policy::types::{Host, Method, MethodSet, Scheme};
use crate::policy::{Policy, QueryRule, Target};
use ipnet::IpNet;

/// Request bodies above this deserve a second look: tool calls rarely need more.
pub const REVIEW_REQUEST_BYTES: u64 = 1024 * 1024;
/// Responses above this flood a model's context and hold memory per call.
pub const REVIEW_RESPONSE_BYTES: u64 = 8 * 1024 * 1024;
/// Calls longer than this hold a worker and an agent's turn.
pub const REVIEW_TIMEOUT_SECS: u64 = 60;
/// More parallel calls than this to one upstream is a load test, not an agent.
pub const REVIEW_CONCURRENCY: u32 = 128;
/// Calls per second above this to one upstream.
pub const REVIEW_RATE_PER_SECOND: f64 = 1000.0;

/// Most tools the allowlists served together should publish. OpenAI's API takes at most 128
/// tools in one request and VS Code's agent mode uses at most 128; other clients refuse longer
/// lists or silently drop the tail, and every tool's schema costs the model context each turn.
pub const MAX_SERVED_TOOLS: usize = 128;

/// DNS suffixes and names that mean "internal network".
const INTERNAL_SUFFIXES: &[&str] = &[
    ".internal",
    ".local",
    ".localdomain",
    ".lan",
    ".corp",
    ".intranet",
    ".intra",
    ".home.arpa",
    ".localhost",
    ".private",
    ".svc",
    ".cluster.local",
    ".consul",
];

/// All findings for a policy, in file order.
pub fn review(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    for t in policy.targets() {
        let mut f = Findings {
            target: t,
            out: &mut out,
        };
        transport(&mut f);
        network(&mut f);
        header_rules(&mut f);
        limits(&mut f, &t.limits);
        routes(&mut f);
        path_rules(&mut f);
    }
    too_many_tools(policy, &mut out);
    endpoint(policy, &mut out);
    out
}

/// One finding, at the route whose tool goes past `MAX_SERVED_TOOLS` (counting harpoon's own
/// tools first, then routes in file order).
fn too_many_tools(policy: &Policy, out: &mut Vec<Finding>) {
    let total = policy.tool_names().count();
    if total <= MAX_SERVED_TOOLS {
        return;
    }
    let mut count = total
        - policy
            .targets()
            .iter()
            .map(|t| t.routes.len())
            .sum::<usize>();
    for t in policy.targets() {
        for r in &t.routes {
            count += 1;
            if count > MAX_SERVED_TOOLS {
                let mut f = Findings { target: t, out };
                f.add(
                    Code::TooManyTools,
                    &r.location,
                    format!(
                        "the allowlists publish {total} tools, more than the {MAX_SERVED_TOOLS} many MCP clients accept or show (route '{}' is tool {count})",
                        r.name.as_str()
                    ),
                    "serve fewer tools together: split the API into several allowlists (`harpoon import openapi --tag` or `--operation`) and serve each on its own",
                );
                return;
            }
        }
    }
}

/// Findings about the endpoint as a whole: who may call it.
fn endpoint(policy: &Policy, out: &mut Vec<Finding>) {
    let Some(auth) = policy.authorization() else {
        if let Some(file) = policy.files().first() {
            out.push(Finding {
                code: Code::NoAuthorization,
                severity: Code::NoAuthorization.severity(),
                location: Location::file_start(&std::sync::Arc::from(file.as_str())),
                target: String::new(),
                message: "the endpoint has no per-caller authorization: every caller may use \
                          every tool, and every upstream request carries the same injected \
                          credentials"
                    .into(),
                hint: "add an 'authorization' section (docs/authorization.md), or keep the \
                       endpoint on loopback or stdio for one trusted caller"
                    .into(),
            });
        }
        return;
    };
    for issuer in &auth.issuers {
        if issuer.dangerous.allow_plaintext_http {
            out.push(Finding {
                code: Code::DangerousOptOut,
                severity: Code::DangerousOptOut.severity(),
                location: issuer.location.clone(),
                target: String::new(),
                message: format!(
                    "authorization issuer '{}': dangerous.allow_plaintext_http lets its keys \
                     be read (and, with introspection, callers' tokens be sent) over plaintext \
                     http",
                    issuer.id()
                ),
                hint: "reach the issuer over https".into(),
            });
        }
    }
}

struct Findings<'a> {
    target: &'a Target,
    out: &'a mut Vec<Finding>,
}

impl Findings<'_> {
    fn add(&mut self, code: Code, at: &Location, message: String, hint: &str) {
        self.out.push(Finding {
            code,
            severity: code.severity(),
            location: at.clone(),
            target: self.target.label.to_string(),
            message: format!("target '{}': {message}", self.target.label),
            hint: hint.to_owned(),
        });
    }
}

fn transport(f: &mut Findings) {
    let t = f.target;
    if t.origin.scheme == Scheme::Http {
        f.add(
            Code::PlaintextHttp,
            &t.spans.base_url,
            format!(
                "requests to {} travel unencrypted, injected credentials included",
                t.origin
            ),
            "use https unless the network path is trusted end to end",
        );
    }
    if t.dangerous.allow_plaintext_http {
        let at = t
            .spans
            .dangerous
            .clone()
            .unwrap_or_else(|| t.location.clone());
        let effect = if t.origin.scheme == Scheme::Http {
            "is on"
        } else {
            "is on but has no effect (base_url is https)"
        };
        f.add(
            Code::DangerousOptOut,
            &at,
            format!("dangerous.allow_plaintext_http {effect}"),
            "remove it once the upstream speaks https",
        );
    }
    if t.redirects > 0 {
        let at = t
            .spans
            .redirects
            .clone()
            .unwrap_or_else(|| t.location.clone());
        f.add(
            Code::RedirectsFollowed,
            &at,
            format!(
                "up to {} redirects are followed; each hop is re-checked and stays on {}",
                t.redirects, t.origin
            ),
            "set redirects: 0 to return 3xx responses as they are",
        );
    }
}

fn network(f: &mut Findings) {
    let t = f.target;
    let cidrs = t.network.allow_cidrs();
    match &t.origin.host {
        Host::Ip(ip) => {
            if let Err(denial) = t.network.check(std::net::SocketAddr::new(*ip, t.origin.port), &[]) {
                f.add(
                    Code::UnreachableHost,
                    &t.spans.base_url,
                    format!("{} can never be reached: {}", t.origin, denial.message()),
                    "add the address to network.allow_cidrs, or fix base_url",
                );
            }
        }
        Host::Domain(d) if cidrs.is_empty() && looks_internal(d) => f.add(
            Code::InternalHostWithoutCidrs,
            &t.spans.base_url,
            format!("host '{d}' looks internal, but with no allow_cidrs only public addresses may be reached"),
            "add network.allow_cidrs with the upstream's range",
        ),
        Host::Domain(_) => {}
    }
    for (net, at) in cidrs.iter().zip(&t.spans.allow_cidrs) {
        cidr_findings(f, net, at);
    }
}

fn looks_internal(host: &str) -> bool {
    !host.contains('.')
        || host == "localhost"
        || INTERNAL_SUFFIXES.iter().any(|s| host.ends_with(s))
}

fn cidr_findings(f: &mut Findings, net: &IpNet, at: &Location) {
    let first = net.network();
    let class = classify(first);
    let broad = match net {
        IpNet::V4(n) => n.prefix_len() < 8,
        IpNet::V6(n) => n.prefix_len() < 32,
    };
    if broad {
        f.add(
            Code::BroadCidr,
            at,
            format!("allow_cidrs entry {net} opens a very wide range"),
            "narrow it to the upstream's subnet",
        );
    }
    if overlaps(net, "127.0.0.0/8") || overlaps(net, "::1/128") {
        f.add(
            Code::LoopbackCidr,
            at,
            format!("allow_cidrs entry {net} opens loopback: callers can reach services on harpoon's own host"),
            "run the upstream elsewhere, or keep this only for local development",
        );
    }
    if overlaps(net, "169.254.0.0/16")
        || overlaps(net, "fe80::/10")
        || overlaps(net, "fd00:ec2::/32")
    {
        f.add(
            Code::MetadataCidr,
            at,
            format!("allow_cidrs entry {net} covers link-local addresses; metadata services among them stay denied regardless"),
            "remove link-local ranges unless the upstream really lives there",
        );
    }
    if class == AddressClass::Private && !broad {
        f.add(
            Code::PrivateCidr,
            at,
            format!("allow_cidrs entry {net} opens a private range"),
            "make sure only the upstream lives in it",
        );
    }
}

fn overlaps(net: &IpNet, other: &str) -> bool {
    let other: IpNet = match other.parse() {
        Ok(n) => n,
        Err(_) => return false,
    };
    net.contains(&other.network()) || other.contains(&net.network())
}

fn header_rules(f: &mut Findings) {
    let t = f.target;
    for (name, at) in t.caller_headers.iter().zip(&t.spans.caller_headers) {
        if headers::is_credential_header(name) {
            f.add(
                Code::CallerAuthHeader,
                at,
                format!(
                    "callers may set '{name}', so a prompt can choose whose credentials are used"
                ),
                "inject the credential with headers.inject instead",
            );
        }
        if t.injects(name) {
            f.add(Code::AllowAndInject, at, format!("'{name}' is allowed for callers but always injected, so caller values are dropped"), "remove it from headers.allow");
        }
    }
    for h in &t.injected {
        if !h.template.has_reference() {
            f.add(
                Code::InlineSecret,
                &h.location,
                format!("injected header '{}' is written inline; anyone who reads the file has the value", h.name),
                "reference it: '${env:NAME}' or '${file:/path}'",
            );
        }
    }
}

fn limits(f: &mut Findings, l: &Limits) {
    let t = f.target;
    let at = t.spans.limits.clone().unwrap_or_else(|| t.location.clone());
    let mut over = Vec::new();
    if l.request_bytes > REVIEW_REQUEST_BYTES {
        over.push(format!(
            "request_bytes {} > {REVIEW_REQUEST_BYTES}",
            l.request_bytes
        ));
    }
    if l.response_bytes > REVIEW_RESPONSE_BYTES {
        over.push(format!(
            "response_bytes {} > {REVIEW_RESPONSE_BYTES}",
            l.response_bytes
        ));
    }
    if l.timeout.as_secs() > REVIEW_TIMEOUT_SECS {
        over.push(format!(
            "timeout {}s > {REVIEW_TIMEOUT_SECS}s",
            l.timeout.as_secs()
        ));
    }
    if l.concurrency > REVIEW_CONCURRENCY {
        over.push(format!(
            "concurrency {} > {REVIEW_CONCURRENCY}",
            l.concurrency
        ));
    }
    if let Some(r) = l.rate
        && r.per_second() > REVIEW_RATE_PER_SECOND
    {
        over.push(format!(
            "rate {:.0}/s > {REVIEW_RATE_PER_SECOND}/s",
            r.per_second()
        ));
    }
    if !over.is_empty() {
        f.add(
            Code::LimitOverBudget,
            &at,
            format!("limits above the review budget: {}", over.join(", ")),
            "lower them unless the upstream needs it",
        );
    }
}

fn write_method(f: &mut Findings, method: Method, at: &Location, what: &str) {
    let (code, note) = match method {
        Method::Post | Method::Patch => (
            Code::WriteNonIdempotent,
            "is not idempotent: a retry may apply it twice",
        ),
        Method::Delete => (Code::WriteDestructive, "deletes, and is idempotent"),
        Method::Put => (Code::WriteIdempotent, "writes, and is idempotent"),
        _ => return,
    };
    f.add(
        code,
        at,
        format!("{what} grants {method}, which {note}"),
        "make sure the agent should change this upstream's state",
    );
}

fn routes(f: &mut Findings) {
    let t = f.target;
    for (i, r) in t.routes.iter().enumerate() {
        let what = format!(
            "route '{}' ({} {})",
            r.name.as_str(),
            r.method,
            r.template.as_str()
        );
        write_method(f, r.method, &r.location, &what);
        for (name, spec) in r.params.iter().chain(&r.query) {
            let at = r.param_locations.get(name).unwrap_or(&r.location);
            let in_path = r.params.contains_key(name);
            if in_path && spec.is_unconstrained() {
                f.add(
                    Code::UnconstrainedParam,
                    at,
                    format!("{what}: path parameter '{name}' takes any value"),
                    "add a pattern (e.g. '^[a-z0-9_]{1,64}$') or an enum",
                );
            }
            if let Some(p) = &spec.pattern
                && !p.is_anchored()
            {
                f.add(
                    Code::UnanchoredPattern,
                    at,
                    format!("{what}: parameter '{name}' pattern '{}' is not anchored, so it matches any value containing a match", p.as_str()),
                    "anchor it: '^...$'",
                );
            }
        }
        if let Some(earlier) = t.routes[..i]
            .iter()
            .find(|e| e.method == r.method && e.template.same_shape(&r.template))
        {
            f.add(
                Code::ShadowedRule,
                &r.location,
                format!(
                    "{what} matches the same requests as route '{}'",
                    earlier.name.as_str()
                ),
                "merge the two routes",
            );
        }
    }
}

fn path_rules(f: &mut Findings) {
    let t = f.target;
    let rules = &t.paths.rules;
    for (i, rule) in rules.iter().enumerate() {
        let glob = rule.glob.as_str();
        let what = format!("paths glob '{glob}'");
        for m in rule.methods.iter() {
            write_method(f, m, &rule.location, &what);
        }
        if glob.contains("**") {
            f.add(
                Code::RecursiveGlob,
                &rule.location,
                format!("{what} grants every path below it, at any depth"),
                "list the segments, or use '*' for one segment",
            );
        } else if glob.split('/').any(|s| s.ends_with('*')) {
            f.add(
                Code::WildcardSegment,
                &rule.location,
                format!(
                    "{what} matches any name in a segment, including ones the upstream adds later"
                ),
                "list the names if the set is known",
            );
        }
        if rule.query == QueryRule::Any {
            f.add(
                Code::AnyQuery,
                &rule.location,
                format!("{what} lets callers send any query parameter"),
                "list the names: query: [page, limit]",
            );
        }
        let shadow = rules[..i]
            .iter()
            .find(|e| e.methods.is_superset(rule.methods) && e.glob.matches_text_of(&rule.glob));
        if let Some(e) = shadow {
            f.add(
                Code::ShadowedRule,
                &rule.location,
                format!(
                    "{what} is already granted by glob '{}' ({})",
                    e.glob.as_str(),
                    methods_text(e.methods)
                ),
                "remove the narrower rule, or narrow the broader one",
            );
        }
    }
}

pub(super) fn methods_text(m: MethodSet) -> String {
    m.iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
}
