//! `decide`: the one place a request is judged, and the only place a `Permit` is made. Every
//! rule of the allowlist is applied here, before anything touches the network; `callout::send`
//! takes a `Permit`, so the compiler rules out a request that skipped enforcement.

use super::headers::is_forbidden_request_header;
use super::limits::{MIN_TIMEOUT, Oversize};
use super::model::{Policy, Route, Target};
use super::path::normalize;
use super::request::{ArgumentError, CallRequest, Narrowing, RouteCall, TargetCall};
use super::target_url::{self, TargetUrl, push_query_pair};
use super::template::check_value;
use super::types::Method;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::Value;
use std::time::Duration;

/// The verdict on one call.
#[derive(Debug)]
pub enum Decision<'p> {
    Allow(Permit<'p>),
    Deny(DenyReason),
}

/// Why a call was refused before any connection. `code()` is stable: logs, metrics, results
/// and tests all use it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenyReason {
    UnknownTool(String),
    UnknownTarget { label: String, why: &'static str },
    BadArgument(ArgumentError),
    BadParam { name: String, why: String },
    MethodNotAllowed { method: String, allowed: String },
    PathNotAllowed { path: String, why: String },
    QueryNotAllowed { name: String, allowed: String },
    HeaderNotAllowed { name: String, why: String },
    BodyNotAllowed { why: &'static str },
    BadBody(String),
    RequestTooLarge { size: u64, limit: u64 },
}

impl DenyReason {
    pub fn code(&self) -> &'static str {
        match self {
            DenyReason::UnknownTool(_) => "unknown_tool",
            DenyReason::UnknownTarget { .. } => "unknown_target",
            DenyReason::BadArgument(_) => "bad_argument",
            DenyReason::BadParam { .. } => "bad_param",
            DenyReason::MethodNotAllowed { .. } => "method_not_allowed",
            DenyReason::PathNotAllowed { .. } => "path_not_allowed",
            DenyReason::QueryNotAllowed { .. } => "query_not_allowed",
            DenyReason::HeaderNotAllowed { .. } => "header_not_allowed",
            DenyReason::BodyNotAllowed { .. } => "body_not_allowed",
            DenyReason::BadBody(_) => "bad_body",
            DenyReason::RequestTooLarge { .. } => "request_too_large",
        }
    }

    /// What went wrong and what the caller can do, in words a model can act on.
    pub fn message(&self) -> String {
        match self {
            DenyReason::UnknownTool(t) => format!("there is no tool '{t}'"),
            DenyReason::UnknownTarget { label, why } => {
                format!("target '{label}' {why}; call list_targets to see the targets")
            }
            DenyReason::BadArgument(e) => e.to_string(),
            DenyReason::BadParam { name, why } => format!("parameter '{name}' {why}"),
            DenyReason::MethodNotAllowed { method, allowed } => {
                format!("method {method} is not allowed here; allowed: {allowed}")
            }
            DenyReason::PathNotAllowed { path, why } => {
                format!("path '{path}' is not allowed: {why}")
            }
            DenyReason::QueryNotAllowed { name, allowed } => {
                format!("query parameter '{name}' is not allowed; allowed: {allowed}")
            }
            DenyReason::HeaderNotAllowed { name, why } => format!("header '{name}' {why}"),
            DenyReason::BodyNotAllowed { why } => format!("a body is not allowed: {why}"),
            DenyReason::BadBody(why) => format!("the body is not valid: {why}"),
            DenyReason::RequestTooLarge { size, limit } => {
                format!("the request body is {size} bytes, above this target's limit of {limit}")
            }
        }
    }
}

/// Leave to send one request. Its fields are private and `decide` is its only maker.
#[derive(Debug)]
pub struct Permit<'p> {
    target: &'p Target,
    tool: String,
    route: Option<&'p Route>,
    method: Method,
    url: TargetUrl,
    /// The path relative to the base URL, without the query: what audit logs show.
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    limits: CallLimits,
}

/// The limits of one call: the target's, narrowed by the caller where it asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub response_bytes: u64,
    pub timeout: Duration,
    pub redirects: u8,
    pub oversize: Oversize,
}

impl<'p> Permit<'p> {
    pub fn target(&self) -> &'p Target {
        self.target
    }
    pub fn tool(&self) -> &str {
        &self.tool
    }
    /// The route, for route tools (redirect hops are matched against it).
    pub fn route(&self) -> Option<&'p Route> {
        self.route
    }
    pub fn method(&self) -> Method {
        self.method
    }
    pub fn url(&self) -> &TargetUrl {
        &self.url
    }
    pub fn path(&self) -> &str {
        &self.path
    }
    /// Caller headers that passed (and the route's content type); injected headers are added
    /// by the callout, last, so they win.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }
    pub fn body(&self) -> &Bytes {
        &self.body
    }
    pub fn limits(&self) -> CallLimits {
        self.limits
    }

    /// A permit for a redirect hop: `decide_hop` made sure it is granted like a first request.
    pub(crate) fn for_hop(
        &self,
        method: Method,
        url: TargetUrl,
        path: String,
        keep_body: bool,
    ) -> Permit<'p> {
        Permit {
            target: self.target,
            tool: self.tool.clone(),
            route: self.route,
            method,
            url,
            path,
            headers: self
                .headers
                .iter()
                .filter(|(n, _)| keep_body || *n != http::header::CONTENT_TYPE)
                .cloned()
                .collect(),
            body: if keep_body {
                self.body.clone()
            } else {
                Bytes::new()
            },
            limits: self.limits,
        }
    }
}

/// Judges one call against the policy. Never touches the network.
pub fn decide<'p>(policy: &'p Policy, request: &CallRequest) -> Decision<'p> {
    let result = match request {
        CallRequest::Route(call) => decide_route(policy, call),
        CallRequest::Target(call) => decide_target(policy, call),
        CallRequest::ListTargets => Err(DenyReason::UnknownTool(
            "list_targets makes no upstream request".into(),
        )),
    };
    match result {
        Ok(p) => Decision::Allow(p),
        Err(r) => Decision::Deny(r),
    }
}

fn decide_route<'p>(policy: &'p Policy, call: &RouteCall) -> Result<Permit<'p>, DenyReason> {
    let (target, route) = policy
        .route_tool(call.tool)
        .ok_or_else(|| DenyReason::UnknownTool(call.tool.to_owned()))?;
    for name in call.value_names() {
        if !route.params.contains_key(name) && !route.query.contains_key(name) {
            let known: Vec<&str> = route
                .params
                .keys()
                .chain(route.query.keys())
                .map(String::as_str)
                .collect();
            let why = if known.is_empty() {
                "is not an argument of this tool, which takes none".to_owned()
            } else {
                format!(
                    "is not an argument of this tool; it takes {}",
                    known.join(", ")
                )
            };
            return Err(DenyReason::BadArgument(ArgumentError {
                argument: name.clone(),
                message: why,
            }));
        }
    }
    let mut texts = Vec::with_capacity(route.params.len());
    for (name, spec) in &route.params {
        let value = call.value(name).ok_or_else(|| DenyReason::BadParam {
            name: name.clone(),
            why: "is required".into(),
        })?;
        let text = spec.check(value).map_err(|why| DenyReason::BadParam {
            name: name.clone(),
            why,
        })?;
        check_value(&text).map_err(|why| DenyReason::BadParam {
            name: name.clone(),
            why: why.into(),
        })?;
        texts.push((name.as_str(), text));
    }
    let path = route.template.render(|p| {
        texts
            .iter()
            .find(|(n, _)| *n == p)
            .map_or("", |(_, t)| t.as_str())
    });
    let mut query = String::new();
    for (name, spec) in &route.query {
        match call.value(name) {
            None | Some(Value::Null) if spec.required => {
                return Err(DenyReason::BadParam {
                    name: name.clone(),
                    why: "is required".into(),
                });
            }
            None | Some(Value::Null) => {}
            Some(v) => {
                let text = spec.check(v).map_err(|why| DenyReason::BadParam {
                    name: name.clone(),
                    why,
                })?;
                push_query_pair(&mut query, name, &text);
            }
        }
    }
    let mut headers = caller_headers(target, &call.headers)?;
    let body = route_body(route, call.body, &mut headers)?;
    check_size(target, &body)?;
    let url =
        target_url::build(target, &path, &query).map_err(|why| DenyReason::PathNotAllowed {
            path: path.clone(),
            why: why.into(),
        })?;
    Ok(Permit {
        target,
        tool: call.tool.to_owned(),
        route: Some(route),
        method: route.method,
        url,
        path,
        headers,
        body,
        limits: target_limits(target),
    })
}

fn route_body(
    route: &Route,
    body: Option<&Value>,
    headers: &mut Vec<(HeaderName, HeaderValue)>,
) -> Result<Bytes, DenyReason> {
    let Some(spec) = &route.body else {
        return match body {
            None | Some(Value::Null) => Ok(Bytes::new()),
            Some(_) => Err(DenyReason::BodyNotAllowed {
                why: "this tool takes no body",
            }),
        };
    };
    let value = match body {
        None | Some(Value::Null) if spec.required => {
            return Err(DenyReason::BadBody("'body' is required".into()));
        }
        None | Some(Value::Null) => return Ok(Bytes::new()),
        Some(v) => v,
    };
    if let Some(schema) = &spec.schema {
        schema.validate(value).map_err(DenyReason::BadBody)?;
    }
    let bytes = if spec.json {
        serde_json::to_vec(value).map_err(|e| DenyReason::BadBody(e.to_string()))?
    } else {
        match value {
            Value::String(s) => s.clone().into_bytes(),
            _ => {
                return Err(DenyReason::BadBody(
                    "this body is text: pass a string".into(),
                ));
            }
        }
    };
    headers.retain(|(n, _)| *n != http::header::CONTENT_TYPE);
    headers.push((http::header::CONTENT_TYPE, spec.content_type.clone()));
    Ok(Bytes::from(bytes))
}

fn decide_target<'p>(policy: &'p Policy, call: &TargetCall) -> Result<Permit<'p>, DenyReason> {
    let target = policy
        .target(&call.label)
        .ok_or_else(|| DenyReason::UnknownTarget {
            label: call.label.clone(),
            why: "does not exist",
        })?;
    if target.paths.is_empty() {
        return Err(DenyReason::UnknownTarget {
            label: call.label.clone(),
            why: "has no paths for call_target (use its route tools)",
        });
    }
    let method = Method::parse(&call.method).ok_or_else(|| DenyReason::MethodNotAllowed {
        method: call.method.clone(),
        allowed: methods_text(target.paths.methods().iter()),
    })?;
    let path = normalize(&call.path).map_err(|e| DenyReason::PathNotAllowed {
        path: call.path.clone(),
        why: e.message().into(),
    })?;
    let rules: Vec<_> = target.paths.matching(&path).collect();
    if rules.is_empty() {
        let globs: Vec<&str> = target.paths.rules.iter().map(|r| r.glob.as_str()).collect();
        return Err(DenyReason::PathNotAllowed {
            path: call.path.clone(),
            why: format!("no paths rule matches; allowed: {}", globs.join(", ")),
        });
    }
    let granting: Vec<_> = rules
        .iter()
        .filter(|r| r.methods.contains(method))
        .collect();
    if granting.is_empty() {
        let allowed = rules
            .iter()
            .fold(super::types::MethodSet::default(), |a, r| {
                a.union(r.methods)
            });
        return Err(DenyReason::MethodNotAllowed {
            method: call.method.clone(),
            allowed: methods_text(allowed.iter()),
        });
    }
    let mut query = String::new();
    for (name, value) in &call.query {
        if !granting.iter().any(|r| r.query.allows(name)) {
            return Err(DenyReason::QueryNotAllowed {
                name: name.clone(),
                allowed: query_text(&granting),
            });
        }
        push_query_pair(&mut query, name, value);
    }
    let headers = caller_headers(target, &call.headers)?;
    let body = match &call.body {
        Some(_) if !method.allows_body() => {
            return Err(DenyReason::BodyNotAllowed {
                why: "this method takes no body",
            });
        }
        Some(b) => Bytes::from(b.clone().into_bytes()),
        None => Bytes::new(),
    };
    check_size(target, &body)?;
    let url = target_url::build(target, path.as_str(), &query).map_err(|why| {
        DenyReason::PathNotAllowed {
            path: call.path.clone(),
            why: why.into(),
        }
    })?;
    Ok(Permit {
        target,
        tool: super::request::CALL_TARGET.to_owned(),
        route: None,
        method,
        url,
        path: path.as_str().to_owned(),
        headers,
        body,
        limits: narrowed(target, &call.narrow)?,
    })
}

fn query_text(rules: &[&&super::model::PathRule]) -> String {
    use super::model::QueryRule;
    let mut names: Vec<&str> = Vec::new();
    for r in rules {
        match &r.query {
            QueryRule::Any => return "any".into(),
            QueryRule::Deny => {}
            QueryRule::Names(n) => names.extend(n.iter().map(String::as_str)),
        }
    }
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn methods_text(methods: impl Iterator<Item = Method>) -> String {
    let v: Vec<&str> = methods.map(Method::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Caller headers that may pass. A header that is never forwarded (hop-by-hop, framing,
/// routing, forwarding, spoofing) or that is not on the target's allowlist denies the call, so
/// the caller learns it rather than having it vanish; a header the target injects is dropped
/// (the server's value wins).
pub(crate) fn caller_headers(
    target: &Target,
    given: &[(String, String)],
) -> Result<Vec<(HeaderName, HeaderValue)>, DenyReason> {
    let mut out: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(given.len());
    for (name, value) in given {
        let deny = |why: String| DenyReason::HeaderNotAllowed {
            name: name.clone(),
            why,
        };
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| deny("is not a valid header name".into()))?;
        if is_forbidden_request_header(&header) {
            return Err(deny(
                "is never forwarded (a hop-by-hop, routing or forwarding header)".into(),
            ));
        }
        if target.injects(&header) {
            continue;
        }
        if !target.may_set_header(&header) {
            let allowed: Vec<&str> = target
                .caller_headers
                .iter()
                .map(HeaderName::as_str)
                .collect();
            let allowed = if allowed.is_empty() {
                "none".to_owned()
            } else {
                allowed.join(", ")
            };
            return Err(deny(format!("may not be set; allowed: {allowed}")));
        }
        if out.iter().any(|(n, _)| *n == header) {
            return Err(deny("is given twice".into()));
        }
        let value = HeaderValue::from_str(value).map_err(|_| {
            deny("has a value with a line break or another control character".into())
        })?;
        out.push((header, value));
    }
    Ok(out)
}

fn check_size(target: &Target, body: &Bytes) -> Result<(), DenyReason> {
    let size = body.len() as u64;
    if size > target.limits.request_bytes {
        return Err(DenyReason::RequestTooLarge {
            size,
            limit: target.limits.request_bytes,
        });
    }
    Ok(())
}

fn target_limits(target: &Target) -> CallLimits {
    CallLimits {
        response_bytes: target.limits.response_bytes,
        timeout: target.limits.timeout,
        redirects: target.redirects,
        oversize: target.limits.oversize,
    }
}

/// Applies tunnel-client's per-call knobs; each can only lower a limit.
fn narrowed(target: &Target, n: &Narrowing) -> Result<CallLimits, DenyReason> {
    let mut l = target_limits(target);
    let bad = |argument: &str, message: &str| {
        DenyReason::BadArgument(ArgumentError {
            argument: argument.into(),
            message: message.into(),
        })
    };
    if let Some(ms) = n.timeout_ms {
        let t = Duration::from_millis(ms);
        if t < MIN_TIMEOUT {
            return Err(bad("timeout_ms", "must be at least 10"));
        }
        l.timeout = l.timeout.min(t);
    }
    if let Some(b) = n.max_response_bytes {
        if b == 0 {
            return Err(bad("max_response_bytes", "must be at least 1"));
        }
        l.response_bytes = l.response_bytes.min(b);
    }
    if let Some(r) = n.max_redirects {
        l.redirects = l.redirects.min(u8::try_from(r).unwrap_or(u8::MAX));
    }
    if n.follow_redirects == Some(false) {
        l.redirects = 0;
    }
    Ok(l)
}

/// Decides a redirect hop like a first request: same origin, under the base path, and granted
/// to `method` by the route's template (route tools) or a `paths` rule (call_target).
pub fn decide_hop<'p>(
    permit: &Permit<'p>,
    location: &str,
    method: Method,
    keep_body: bool,
) -> Result<Permit<'p>, String> {
    let target = permit.target;
    let base = url::Url::parse(permit.url.as_str())
        .map_err(|_| "the current URL does not parse".to_owned())?;
    let next = base
        .join(location)
        .map_err(|_| format!("Location '{location}' is not a URL"))?;
    let url = target_url::from_checked_hop(target, &next)
        .map_err(|why| format!("{why} (Location '{location}')"))?;
    let rel = &next.path()[target.base_path.as_str().len()..];
    let path = normalize(rel).map_err(|e| e.message().to_owned())?;
    let granted = match permit.route {
        Some(route) => {
            route.method == method && route.template.matches(path.as_str(), &route.params)
        }
        None => target
            .paths
            .matching(&path)
            .any(|r| r.methods.contains(method)),
    };
    if !granted {
        return Err(format!(
            "{method} {} is not granted on this target",
            path.as_str()
        ));
    }
    Ok(permit.for_hop(method, url, path.as_str().to_owned(), keep_body))
}
