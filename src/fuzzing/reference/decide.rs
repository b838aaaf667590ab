//! The reference decision on one tool call against a generated policy.

use super::*;
use crate::fuzzing::generators::PATTERNS;
use crate::fuzzing::generators::{GenParam, GenPolicy, GenRoute, GenRule, GenTarget};
use crate::policy::Method;
use serde_json::{Map, Value};

/// What a permitted call sends, as `decide` and the reference each see it.
#[derive(Debug, PartialEq, Eq)]
pub struct Allowed {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub response_bytes: u64,
    pub timeout_ms: u64,
    pub redirects: u8,
}

/// docs/allowlist.md defaults: 1 MiB responses, 10 s.
pub(crate) const DEFAULT_RESPONSE_BYTES: u64 = 1024 * 1024;
pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// The reference decision on one tool call against a generated policy.
pub(crate) fn decide(gp: &GenPolicy, tool: &str, args: &Map<String, Value>) -> Option<Allowed> {
    if args.len() > 256 {
        return None;
    }
    if tool == "call_target" {
        return decide_target(gp, args);
    }
    for t in &gp.targets {
        for r in &t.routes {
            if format!("{}_{}", t.label, r.name) == tool {
                return decide_route(t, r, args);
            }
        }
    }
    None
}

pub(crate) fn headers_arg(v: &Value) -> Option<Vec<(String, String)>> {
    let Value::Object(m) = v else { return None };
    if m.len() > 64 {
        return None;
    }
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) if s.len() <= 8 * 1024 => Some((k.clone(), s.clone())),
            _ => None,
        })
        .collect()
}

pub(crate) fn check_param(p: Option<&GenParam>, v: &Value) -> Option<String> {
    let Some(p) = p else {
        return v.as_str().filter(|s| s.len() <= 1024).map(str::to_owned);
    };
    let text = match (p.kind, v) {
        ("string", Value::String(s)) => s.clone(),
        ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        ("number", Value::Number(n)) => n.to_string(),
        ("boolean", Value::Bool(b)) => b.to_string(),
        _ => return None,
    };
    let in_enum = p.one_of.is_empty() || p.one_of.contains(v);
    let matches = p.pattern.is_none_or(|i| (PATTERNS[i].1)(&text));
    (text.len() <= 1024 && in_enum && matches).then_some(text)
}

/// The generated body schema: an object with exactly a `name` of at most 8 characters.
pub(crate) fn schema_ok(v: &Value) -> bool {
    let Value::Object(m) = v else { return false };
    m.keys().all(|k| k == "name")
        && m.get("name")
            .and_then(Value::as_str)
            .is_some_and(|s| s.chars().count() <= 8)
}

pub(crate) fn decide_route(
    t: &GenTarget,
    r: &GenRoute,
    args: &Map<String, Value>,
) -> Option<Allowed> {
    let headers = match args.get("headers") {
        None => vec![],
        Some(h) => headers_arg(h)?,
    };
    let known = |k: &str| {
        ["headers", "body"].contains(&k)
            || r.params.iter().any(|(n, _)| n == k)
            || r.query.iter().any(|(n, _)| n == k)
    };
    if !args.keys().all(|k| known(k)) {
        return None;
    }
    let mut values = Vec::new();
    for (name, decl) in &r.params {
        let text = check_param(decl.as_ref(), args.get(name)?)?;
        if text.is_empty() || dot_segment(&text) || decodes_to_danger(&text) {
            return None;
        }
        values.push((name.clone(), text));
    }
    let mut pairs = Vec::new();
    for (name, decl) in &r.query {
        match args.get(name) {
            None | Some(Value::Null) if decl.required => return None,
            None | Some(Value::Null) => {}
            Some(v) => pairs.push(format!(
                "{}={}",
                encode(name),
                encode(&check_param(Some(decl), v)?)
            )),
        }
    }
    let mut out = caller_headers(&t.allow, &t.inject, &headers)?;
    let body = match (&r.body, args.get("body")) {
        (None, None | Some(Value::Null)) => vec![],
        (None, Some(_)) => return None,
        (Some(b), None | Some(Value::Null)) if b.required => return None,
        (Some(_), None | Some(Value::Null)) => vec![],
        (Some(b), Some(v)) => {
            if b.schema && !schema_ok(v) {
                return None;
            }
            let bytes = if b.json {
                serde_json::to_vec(v).ok()?
            } else {
                v.as_str()?.as_bytes().to_vec()
            };
            out.retain(|(n, _)| n != "content-type");
            out.push(("content-type".into(), b.content_type.as_bytes().to_vec()));
            bytes
        }
    };
    if body.len() as u64 > t.request_bytes {
        return None;
    }
    let mut path = String::new();
    let segments: Vec<&str> = r.template[1..].split('/').collect();
    for s in &segments {
        if s.is_empty() {
            continue;
        }
        path.push('/');
        match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(p) => path.push_str(&encode(&values.iter().find(|(n, _)| n == p)?.1)),
            None => path.push_str(s),
        }
    }
    if r.template.ends_with('/') {
        path.push('/');
    }
    Some(Allowed {
        method: r.method,
        url: url(t, &path, &pairs),
        headers: out,
        body,
        response_bytes: DEFAULT_RESPONSE_BYTES,
        timeout_ms: DEFAULT_TIMEOUT_MS,
        redirects: t.redirects,
    })
}

pub(crate) fn url(t: &GenTarget, path: &str, pairs: &[String]) -> String {
    let mut u = format!("{}{path}", t.base.1);
    if !pairs.is_empty() {
        u.push('?');
        u.push_str(&pairs.join("&"));
    }
    u
}

pub(crate) fn decide_target(gp: &GenPolicy, args: &Map<String, Value>) -> Option<Allowed> {
    // Written out again from DESIGN.md on purpose, not taken from `policy::request`: a
    // reference that shared the list could not notice an argument added or dropped there.
    const KNOWN: &[&str] = &[
        "label",
        "method",
        "path",
        "query",
        "headers",
        "body",
        "timeout_ms",
        "max_response_bytes",
        "follow_redirects",
        "max_redirects",
    ];
    if !args.keys().all(|k| KNOWN.contains(&k.as_str())) {
        return None;
    }
    let string = |name: &str, max: usize| -> Result<Option<String>, ()> {
        match args.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() <= max => Ok(Some(s.clone())),
            Some(_) => Err(()),
        }
    };
    let label = string("label", 64).ok()??;
    let method = string("method", 16).ok()??;
    let path = string("path", 2048).ok()?.unwrap_or_else(|| "/".into());
    let mut query = Vec::new();
    match args.get("query") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let items = match v {
                    Value::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                for item in items {
                    let text = match item {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return None,
                    };
                    if text.len() > 2048 {
                        return None;
                    }
                    query.push((k.clone(), text));
                }
            }
            if query.len() > 128 {
                return None;
            }
        }
        Some(_) => return None,
    }
    let headers = match args.get("headers") {
        None | Some(Value::Null) => vec![],
        Some(h) => headers_arg(h)?,
    };
    let body = string("body", usize::MAX).ok()?;
    let uint = |name: &str| -> Result<Option<u64>, ()> {
        match args.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or(()),
        }
    };
    let timeout_ms = uint("timeout_ms").ok()?;
    let max_response_bytes = uint("max_response_bytes").ok()?;
    let max_redirects = uint("max_redirects").ok()?;
    let follow = match args.get("follow_redirects") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return None,
    };
    // The decision.
    let t = gp.targets.iter().find(|t| t.label == label)?;
    let method = Method::ALL.into_iter().find(|m| m.as_str() == method)?;
    let canonical = canonical_path(&path)?;
    let granting: Vec<&GenRule> = t
        .rules
        .iter()
        .filter(|r| r.spec.matches(&canonical) && r.methods.contains(&method))
        .collect();
    if granting.is_empty() {
        return None;
    }
    let allows = |r: &GenRule, name: &str| match &r.query {
        None => false,
        Some(names) => names.is_empty() || names.contains(&name),
    };
    if !query
        .iter()
        .all(|(n, _)| granting.iter().any(|r| allows(r, n)))
    {
        return None;
    }
    let out = caller_headers(&t.allow, &t.inject, &headers)?;
    let takes_body = matches!(
        method,
        Method::Post | Method::Put | Method::Patch | Method::Delete
    );
    let body = match body {
        Some(_) if !takes_body => return None,
        Some(b) => b.into_bytes(),
        None => vec![],
    };
    if body.len() as u64 > t.request_bytes
        || timeout_ms.is_some_and(|ms| ms < 10)
        || max_response_bytes == Some(0)
    {
        return None;
    }
    let pairs: Vec<String> = query
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect();
    let mut redirects = t
        .redirects
        .min(max_redirects.map_or(u8::MAX, |r| r.min(255) as u8));
    if follow == Some(false) {
        redirects = 0;
    }
    Some(Allowed {
        method,
        url: url(t, &canonical, &pairs),
        headers: out,
        body,
        response_bytes: max_response_bytes
            .map_or(DEFAULT_RESPONSE_BYTES, |b| b.min(DEFAULT_RESPONSE_BYTES)),
        timeout_ms: timeout_ms.map_or(DEFAULT_TIMEOUT_MS, |ms| ms.min(DEFAULT_TIMEOUT_MS)),
        redirects,
    })
}

/// Whether a value that holds a percent escape, decoded once more (as an upstream that decodes
/// twice would), gives a dot segment, a `/`, a `\` or a control character (docs/allowlist.md).
fn decodes_to_danger(text: &str) -> bool {
    if !text.contains('%') {
        return false;
    }
    let once = percent_decode(text);
    once.iter()
        .any(|&b| b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f)
        || dot_segment(&String::from_utf8_lossy(&once))
}
