//! `decide`: the one place a request is judged, and the only place a `Permit` is made. Every
//! rule of the allowlist is applied here, before anything touches the network; `callout::send`
//! takes a `Permit`, so the compiler rules out a request that skipped enforcement.

use super::deny::{
    BodyDenial, BodyError, DenyReason, EncodedPlace, HeaderDenial, PathDenial, QueryAllowed,
    TargetDenial,
};
use super::headers::is_forbidden_request_header;
use super::limits::{MIN_TIMEOUT, Oversize};
use super::model::{PathRule, Policy, QueryRule, Route, Target};
use super::param::ParamError;
use super::path::{decodes_to_traversal, normalize};
use super::request::{ArgumentError, CallRequest, Narrowing, RouteCall, TargetCall};
use super::target_url::{self, TargetUrl, push_query_pair};
use super::template::check_value;
use super::types::{Method, MethodSet};
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use percent_encoding::percent_decode_str;
use serde_json::Value;
use std::time::Duration;

/// The verdict on one call.
#[derive(Debug)]
pub enum Decision<'p> {
    Allow(Permit<'p>),
    Deny(DenyReason),
}

/// Leave to send one request. Its fields are private and `decide` is its only maker.
#[derive(Debug)]
pub struct Permit<'p> {
    target: &'p Target,
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
pub fn decide<'p>(policy: &'p Policy, request: &CallRequest<'p, '_>) -> Decision<'p> {
    let result = match request {
        CallRequest::Route(call) => decide_route(call),
        CallRequest::Target(call) => decide_target(policy, call),
    };
    match result {
        Ok(p) => Decision::Allow(p),
        Err(r) => Decision::Deny(r),
    }
}

fn decide_route<'p>(call: &RouteCall<'p, '_>) -> Result<Permit<'p>, DenyReason> {
    let (target, route) = (call.target, call.route);
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
            return Err(DenyReason::BadArgument(ArgumentError::new(name, why)));
        }
    }
    let bad_param = |name: &str, why: ParamError| DenyReason::BadParam {
        name: name.to_owned(),
        why,
    };
    let mut texts = Vec::with_capacity(route.params.len());
    for (name, spec) in &route.params {
        let value = call
            .value(name)
            .ok_or_else(|| bad_param(name, ParamError::Required))?;
        let text = spec.check(value).map_err(|why| bad_param(name, why))?;
        check_value(&text).map_err(|why| bad_param(name, ParamError::Segment(why)))?;
        if decodes_to_traversal(&text) {
            return Err(DenyReason::DoubleEncoded {
                place: EncodedPlace::Param(name.clone()),
            });
        }
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
                return Err(bad_param(name, ParamError::Required));
            }
            None | Some(Value::Null) => {}
            Some(v) => {
                let text = spec.check(v).map_err(|why| bad_param(name, why))?;
                push_query_pair(&mut query, name, &text);
            }
        }
    }
    let mut headers = caller_headers(target, &call.headers)?;
    let body = route_body(route, call.body, &mut headers)?;
    check_size(target, &body)?;
    let url = build_url(target, &path, &path, &query)?;
    Ok(Permit {
        target,
        route: Some(route),
        method: route.method,
        url,
        path,
        headers,
        body,
        limits: target_limits(target),
    })
}

/// The checked URL, or a refusal naming the caller's `shown` path.
fn build_url(
    target: &Target,
    shown: &str,
    path: &str,
    query: &str,
) -> Result<TargetUrl, DenyReason> {
    target_url::build(target, path, query).map_err(|why| DenyReason::PathNotAllowed {
        path: shown.to_owned(),
        why: PathDenial::Url(why),
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
                why: BodyDenial::RouteTakesNone,
            }),
        };
    };
    let value = match body {
        None | Some(Value::Null) if spec.required => {
            return Err(DenyReason::BadBody(BodyError::Required));
        }
        None | Some(Value::Null) => return Ok(Bytes::new()),
        Some(v) => v,
    };
    if let Some(schema) = &spec.schema {
        schema
            .validate(value)
            .map_err(|why| DenyReason::BadBody(BodyError::Schema(why)))?;
    }
    let bytes = if spec.json {
        serde_json::to_vec(value)
            .map_err(|e| DenyReason::BadBody(BodyError::Encode(e.to_string())))?
    } else {
        match value {
            Value::String(s) => s.clone().into_bytes(),
            _ => {
                return Err(DenyReason::BadBody(BodyError::NotText));
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
            why: TargetDenial::DoesNotExist,
        })?;
    if target.paths.is_empty() {
        return Err(DenyReason::UnknownTarget {
            label: call.label.clone(),
            why: TargetDenial::NoPaths,
        });
    }
    let method = Method::parse(&call.method).ok_or_else(|| DenyReason::MethodNotAllowed {
        method: call.method.clone(),
        allowed: target.paths.methods().iter().collect(),
    })?;
    if let Some(seg) = call
        .path
        .split('/')
        .find(|seg| decodes_to_traversal(&percent_decode_str(seg).decode_utf8_lossy()))
    {
        return Err(DenyReason::DoubleEncoded {
            place: EncodedPlace::PathSegment(seg.to_owned()),
        });
    }
    let path = normalize(&call.path).map_err(|e| DenyReason::PathNotAllowed {
        path: call.path.clone(),
        why: PathDenial::Malformed(e),
    })?;
    let query = grant_paths(target, method, &call.method, &call.path, &path, &call.query)?;
    let headers = caller_headers(target, &call.headers)?;
    let body = match &call.body {
        Some(_) if !method.allows_body() => {
            return Err(DenyReason::BodyNotAllowed {
                why: BodyDenial::MethodTakesNone,
            });
        }
        Some(b) => Bytes::from(b.clone().into_bytes()),
        None => Bytes::new(),
    };
    check_size(target, &body)?;
    let url = build_url(target, &call.path, path.as_str(), &query)?;
    Ok(Permit {
        target,
        route: None,
        method,
        url,
        path: path.as_str().to_owned(),
        headers,
        body,
        limits: narrowed(target, &call.narrow)?,
    })
}

/// Whether the target's `paths` rules grant `method` on `path` with these query pairs: the one
/// rule for `call_target` and for each redirect hop of it. Gives the encoded query.
/// `method_text` and `shown` are the method and path as the caller (or the Location) wrote them.
pub(super) fn grant_paths(
    target: &Target,
    method: Method,
    method_text: &str,
    shown: &str,
    path: &super::path::NormalizedPath,
    pairs: &[(String, String)],
) -> Result<String, DenyReason> {
    let rules: Vec<_> = target.paths.matching(path).collect();
    if rules.is_empty() {
        let globs = target
            .paths
            .rules
            .iter()
            .map(|r| r.glob.as_str().to_owned());
        return Err(DenyReason::PathNotAllowed {
            path: shown.to_owned(),
            why: PathDenial::NoRuleMatches {
                globs: globs.collect(),
            },
        });
    }
    let granting: Vec<_> = rules
        .iter()
        .filter(|r| r.methods.contains(method))
        .collect();
    if granting.is_empty() {
        let allowed = rules
            .iter()
            .fold(MethodSet::default(), |a, r| a.union(r.methods));
        return Err(DenyReason::MethodNotAllowed {
            method: method_text.to_owned(),
            allowed: allowed.iter().collect(),
        });
    }
    let mut query = String::new();
    for (name, value) in pairs {
        if !granting.iter().any(|r| r.query.allows(name)) {
            return Err(DenyReason::QueryNotAllowed {
                name: name.clone(),
                allowed: query_allowed(&granting),
            });
        }
        push_query_pair(&mut query, name, value);
    }
    Ok(query)
}

fn query_allowed(rules: &[&&PathRule]) -> QueryAllowed {
    let mut names: Vec<String> = Vec::new();
    for r in rules {
        match &r.query {
            QueryRule::Any => return QueryAllowed::Any,
            QueryRule::Deny => {}
            QueryRule::Names(n) => names.extend(n.iter().cloned()),
        }
    }
    QueryAllowed::Names(names)
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
        let deny = |why: HeaderDenial| DenyReason::HeaderNotAllowed {
            name: name.clone(),
            why,
        };
        let header =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| deny(HeaderDenial::InvalidName))?;
        if is_forbidden_request_header(&header) {
            return Err(deny(HeaderDenial::NeverForwarded));
        }
        if target.injects(&header) {
            continue;
        }
        if !target.may_set_header(&header) {
            let allowed = target.caller_headers.iter().map(|h| h.as_str().to_owned());
            return Err(deny(HeaderDenial::NotAllowed {
                allowed: allowed.collect(),
            }));
        }
        if out.iter().any(|(n, _)| *n == header) {
            return Err(deny(HeaderDenial::GivenTwice));
        }
        let value = HeaderValue::from_str(value).map_err(|_| deny(HeaderDenial::BadValue))?;
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
        DenyReason::BadArgument(ArgumentError::new(argument, message))
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
