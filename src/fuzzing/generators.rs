//! Random allowlists, and calls to make against them, for the `decide` and `tool_call`
//! properties: what was asked for is kept, so the reference can judge the same call.

use super::corpus::*;
use super::input::Input;
use super::reference;
use crate::policy::Method;
use serde_json::{Map, Value, json};
/// A generated allowlist: what was asked for, kept to check decisions against.
pub(crate) struct GenPolicy {
    pub(crate) targets: Vec<GenTarget>,
}

pub(crate) struct GenTarget {
    pub(crate) label: String,
    pub(crate) base: (&'static str, &'static str),
    pub(crate) allow: Vec<&'static str>,
    pub(crate) inject: Vec<&'static str>,
    pub(crate) request_bytes: u64,
    pub(crate) redirects: u8,
    pub(crate) routes: Vec<GenRoute>,
    pub(crate) rules: Vec<GenRule>,
}

pub(crate) struct GenRoute {
    pub(crate) name: String,
    pub(crate) method: Method,
    pub(crate) template: String,
    /// Template parameters, declared (`Some`) or not (any non-empty string).
    pub(crate) params: Vec<(String, Option<GenParam>)>,
    pub(crate) query: Vec<(String, GenParam)>,
    pub(crate) body: Option<GenBody>,
}

#[derive(Clone)]
pub(crate) struct GenParam {
    pub(crate) kind: &'static str,
    pub(crate) pattern: Option<usize>,
    pub(crate) one_of: Vec<Value>,
    pub(crate) required: bool,
}

pub(crate) struct GenBody {
    pub(crate) content_type: &'static str,
    pub(crate) json: bool,
    pub(crate) schema: bool,
    pub(crate) required: bool,
}

pub(crate) struct GenRule {
    pub(crate) methods: Vec<Method>,
    pub(crate) glob: String,
    pub(crate) spec: reference::Glob,
    /// `None`: no query; `Some([])`: any (`["*"]`); else these names.
    pub(crate) query: Option<Vec<&'static str>>,
}

/// Headers a target may let callers set; none is forbidden.
pub(crate) const SAFE_HEADERS: &[&str] = &[
    "Accept",
    "X-Request-Id",
    "If-None-Match",
    "Content-Type",
    "Cookie",
];
/// Headers a target may inject.
pub(crate) const INJECTABLE: &[&str] = &["Authorization", "X-Request-Id", "X-Api-Key"];
/// Header names callers try.
#[rustfmt::skip] // A word list reads best as a paragraph.
pub(crate) const HEADER_NAMES: &[&str] = &[
    "Accept", "accept", "ACCEPT", "X-Request-Id", "If-None-Match", "Content-Type", "Cookie",
    "Authorization", "X-Api-Key", "Host", "X-Forwarded-For", "x-forwarded-proto", "Forwarded",
    "Connection", "Transfer-Encoding", "Content-Length", "Accept-Encoding",
    "X-HTTP-Method-Override", "Proxy-Authorization", "Bad Name", "", "X:Y", "é", "X-Envoy-Path",
    "Te", "Via", "X-Real-IP", "Set-Cookie", "X-Custom",
];
pub(crate) type Predicate = fn(&str) -> bool;

/// Patterns the generator declares, each with a predicate written without regexes.
pub(crate) const PATTERNS: &[(&str, Predicate)] = &[
    ("^[a-z0-9_]{1,8}$", |s| {
        (1..=8).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }),
    ("[0-9]", |s| s.bytes().any(|b| b.is_ascii_digit())),
    ("^inv_", |s| s.starts_with("inv_")),
    ("^[^/]*$", |s| !s.contains('/')),
    ("^(a|b)$", |s| s == "a" || s == "b"),
];
pub(crate) const QUERY_NAMES: &[&str] = &["q", "page", "f[a]", "x.y", "a-b"];
pub(crate) const RULE_QUERY_NAMES: &[&str] = &["q", "page", "date"];
/// Glob segments for generated rules: all inside the reference matcher's language.
pub(crate) const RULE_SEGMENTS: &[&str] = &[
    "reports", "a", "*", "**", "?", "x*", "*.json", "[ab]", "{a,b}", "v[0-9]", "files", "!",
];
pub(crate) const TEXT_TYPES: &[&str] = &["text/plain", "application/xml"];
/// A small body schema, and its check written out by hand below.
pub(crate) fn body_schema() -> Value {
    json!({"type": "object", "required": ["name"], "additionalProperties": false,
           "properties": {"name": {"type": "string", "maxLength": 8}}})
}

pub(crate) fn gen_policy(inp: &mut Input) -> GenPolicy {
    let targets = (0..1 + inp.below(2)).map(|i| gen_target(inp, i)).collect();
    GenPolicy { targets }
}

pub(crate) fn gen_target(inp: &mut Input, i: usize) -> GenTarget {
    let subset = |inp: &mut Input, from: &[&'static str]| -> Vec<&'static str> {
        from.iter().copied().filter(|_| inp.flip()).collect()
    };
    let allow = subset(inp, SAFE_HEADERS);
    let inject = subset(inp, INJECTABLE);
    let routes: Vec<GenRoute> = (0..inp.below(4)).map(|r| gen_route(inp, r)).collect();
    let mut rules: Vec<GenRule> = (0..inp.below(3)).filter_map(|_| gen_rule(inp)).collect();
    // A target must grant something; an empty one would only test the compiler's refusal.
    if inp.one_in(3) || rules.is_empty() && (routes.is_empty() || inp.flip()) {
        rules.push(gen_rule(inp).unwrap_or_else(|| GenRule {
            methods: vec![Method::Get],
            glob: "/**".into(),
            spec: reference::Glob::parse("/**").expect("supported"),
            query: Some(vec![]),
        }));
    }
    GenTarget {
        label: format!("t{i}"),
        base: *inp.pick(BASES),
        allow,
        inject,
        request_bytes: *inp.pick(&[16, 64, 1024]),
        redirects: *inp.pick(&[0, 1, 5]),
        routes,
        rules,
    }
}

pub(crate) fn gen_route(inp: &mut Input, r: usize) -> GenRoute {
    let method = *inp.pick(&Method::ALL);
    let mut template = String::new();
    let mut params = Vec::new();
    for i in 0..inp.below(4) {
        template.push('/');
        if inp.flip() {
            let name = format!("p{i}");
            template.push_str(&format!("{{{name}}}"));
            let decl = (!inp.one_in(4)).then(|| gen_param(inp, false));
            params.push((name, decl));
        } else {
            template.push_str(inp.word(LITERALS));
        }
    }
    if template.is_empty() || inp.one_in(5) {
        template.push('/');
    }
    let mut query = Vec::new();
    for n in QUERY_NAMES {
        if inp.one_in(3) {
            query.push((n.to_string(), gen_param(inp, true)));
        }
    }
    query.sort_by(|a, b| a.0.cmp(&b.0));
    let body = (method.allows_body() && inp.flip()).then(|| {
        let json = inp.flip();
        GenBody {
            content_type: if json {
                "application/json"
            } else {
                inp.word(TEXT_TYPES)
            },
            json,
            schema: json && inp.flip(),
            required: !inp.one_in(3),
        }
    });
    GenRoute {
        name: format!("r{r}"),
        method,
        template,
        params,
        query,
        body,
    }
}

pub(crate) fn gen_param(inp: &mut Input, query: bool) -> GenParam {
    let kind = *inp.pick(&["string", "string", "integer", "number", "boolean"]);
    let (pattern, one_of) = match kind {
        "string" => (
            inp.flip().then(|| inp.below(PATTERNS.len())),
            if inp.one_in(3) {
                let all = [
                    json!("a"),
                    json!("b"),
                    json!(".."),
                    json!("x y"),
                    json!("é"),
                ];
                all.into_iter().filter(|_| inp.flip()).collect()
            } else {
                vec![]
            },
        ),
        "integer" if inp.one_in(3) => (None, vec![json!(1), json!(2), json!(-3)]),
        _ => (None, vec![]),
    };
    GenParam {
        kind,
        pattern,
        one_of,
        required: query && inp.one_in(3),
    }
}

pub(crate) fn gen_rule(inp: &mut Input) -> Option<GenRule> {
    let mut glob = String::new();
    for _ in 0..1 + inp.below(3) {
        glob.push('/');
        glob.push_str(inp.word(RULE_SEGMENTS));
    }
    let methods: Vec<Method> = Method::ALL.into_iter().filter(|_| inp.one_in(3)).collect();
    if methods.is_empty() || glob.contains("//") {
        return None;
    }
    let query = match inp.below(3) {
        0 => None,
        1 => Some(vec![]),
        _ => Some(
            RULE_QUERY_NAMES
                .iter()
                .copied()
                .filter(|_| inp.flip())
                .collect(),
        ),
    };
    Some(GenRule {
        spec: reference::Glob::parse(&glob)?,
        methods,
        glob,
        query,
    })
}

impl GenPolicy {
    pub(crate) fn to_json(&self) -> Value {
        let targets: Vec<Value> = self.targets.iter().map(GenTarget::to_json).collect();
        json!({"version": 1, "targets": targets})
    }
}

impl GenTarget {
    pub(crate) fn to_json(&self) -> Value {
        let inject: Map<String, Value> = self
            .inject
            .iter()
            .map(|h| (h.to_string(), json!("Bearer ${env:TOKEN}")))
            .collect();
        let mut t = json!({
            "label": self.label,
            "base_url": self.base.0,
            "headers": {"allow": self.allow, "inject": inject},
            "limits": {"request_bytes": format!("{}B", self.request_bytes)},
            "redirects": self.redirects,
            "dangerous": {"allow_plaintext_http": true},
        });
        if !self.routes.is_empty() {
            t["routes"] = self.routes.iter().map(GenRoute::to_json).collect();
        }
        if !self.rules.is_empty() {
            t["paths"] = self
                .rules
                .iter()
                .map(|r| {
                    let methods: Vec<&str> = r.methods.iter().map(|m| m.as_str()).collect();
                    let mut rule = json!({"methods": methods, "glob": r.glob});
                    match &r.query {
                        None => {}
                        Some(names) if names.is_empty() => rule["query"] = json!(["*"]),
                        Some(names) => rule["query"] = json!(names),
                    }
                    rule
                })
                .collect();
        }
        t
    }
}

impl GenRoute {
    pub(crate) fn to_json(&self) -> Value {
        let mut r =
            json!({"name": self.name, "method": self.method.as_str(), "path": self.template});
        let params: Map<String, Value> = self
            .params
            .iter()
            .filter_map(|(n, p)| Some((n.clone(), p.as_ref()?.to_json(false))))
            .collect();
        if !params.is_empty() {
            r["params"] = Value::Object(params);
        }
        if !self.query.is_empty() {
            r["query"] = self
                .query
                .iter()
                .map(|(n, p)| (n.clone(), p.to_json(true)))
                .collect::<Map<String, Value>>()
                .into();
        }
        if let Some(b) = &self.body {
            r["body"] = json!({"content_type": b.content_type, "required": b.required});
            if b.schema {
                r["body"]["schema"] = body_schema();
            }
        }
        r
    }
}

impl GenParam {
    pub(crate) fn to_json(&self, query: bool) -> Value {
        let mut p = json!({"type": self.kind});
        if let Some(i) = self.pattern {
            p["pattern"] = json!(PATTERNS[i].0);
        }
        if !self.one_of.is_empty() {
            p["enum"] = Value::Array(self.one_of.clone());
        }
        if query {
            p["required"] = json!(self.required);
        }
        p
    }
}

/// A value for a declared parameter: mostly of its type and often in its enum, sometimes not.
pub(crate) fn gen_param_value(inp: &mut Input, p: Option<&GenParam>) -> Value {
    if let Some(p) = p
        && !p.one_of.is_empty()
        && inp.flip()
    {
        return inp.pick(&p.one_of).clone();
    }
    match (p.map(|p| p.kind), inp.below(6)) {
        (_, 5) => gen_json(inp, 1),
        (Some("string"), 0 | 1) => json!(*inp.pick(&["abc_1", "inv_x9", "a", "b", "x1", "7"])),
        (Some("integer"), _) => json!(*inp.pick(&[0i64, 1, 2, -3, 42, i64::MAX])),
        (Some("number"), _) => json!(*inp.pick(&[1.5f64, -0.0, 1e300, 2.0])),
        (Some("boolean"), _) => Value::Bool(inp.flip()),
        _ => Value::String(hostile_text(inp)),
    }
}

/// Any JSON value, shallow.
pub(crate) fn gen_json(inp: &mut Input, depth: u8) -> Value {
    match inp.below(10) {
        0..=3 => Value::String(hostile_text(inp)),
        4 => json!(*inp.pick(&[0i64, 1, -3, 42, i64::MAX])),
        5 => json!(*inp.pick(&[1.5f64, 1.0, -0.0, 1e300])),
        6 => Value::Bool(inp.flip()),
        7 => Value::Null,
        8 if depth < 2 => (0..inp.below(3))
            .map(|_| gen_json(inp, depth + 1))
            .collect(),
        9 if depth < 2 => (0..inp.below(3))
            .map(|_| (hostile_text(inp), gen_json(inp, depth + 1)))
            .collect::<Map<String, Value>>()
            .into(),
        _ => Value::String(hostile_text(inp)),
    }
}

/// Caller headers: often ones the target allows, else any name at all.
pub(crate) fn gen_headers(inp: &mut Input, allow: &[&'static str]) -> Value {
    let mut m = Map::new();
    for _ in 0..inp.below(4) {
        let name = match inp.below(6) {
            0 => inp.text(),
            1 | 2 if !allow.is_empty() => inp.word(allow).to_string(),
            _ => inp.pick(HEADER_NAMES).to_string(),
        };
        let value = if inp.one_in(8) {
            gen_json(inp, 1)
        } else {
            Value::String(hostile_text(inp))
        };
        m.insert(name, value);
    }
    Value::Object(m)
}

pub(crate) fn gen_route_args(inp: &mut Input, t: &GenTarget, r: &GenRoute) -> Map<String, Value> {
    let mut args = Map::new();
    for (name, decl) in &r.params {
        if !inp.one_in(8) {
            args.insert(name.clone(), gen_param_value(inp, decl.as_ref()));
        }
    }
    for (name, decl) in &r.query {
        if inp.flip() {
            args.insert(name.clone(), gen_param_value(inp, Some(decl)));
        }
    }
    if inp.one_in(8) {
        let extra = inp.pick(&["url", "p9", "q", "page", "headers", "body"]);
        args.insert(extra.to_string(), gen_json(inp, 1));
    }
    if inp.one_in(3) {
        args.insert("headers".into(), gen_headers(inp, &t.allow));
    }
    match &r.body {
        Some(b) if !inp.one_in(4) => {
            let name = *inp.pick(&["ok", "toolongname", "é", ""]);
            let body = match (b.json, inp.below(4)) {
                (_, 3) => gen_json(inp, 0),
                (true, 2) => json!({"name": name, "extra": 1}),
                (true, _) => json!({ "name": name }),
                (false, _) => Value::String(hostile_text(inp)),
            };
            args.insert("body".into(), body);
        }
        None if inp.one_in(8) => {
            args.insert("body".into(), gen_json(inp, 1));
        }
        _ => {}
    }
    args
}

pub(crate) fn gen_target_args(inp: &mut Input, gp: &GenPolicy) -> Map<String, Value> {
    let mut args = Map::new();
    let t = inp.pick(&gp.targets);
    let label = match inp.below(8) {
        7 => gen_json(inp, 1),
        6 => json!("nope"),
        _ => json!(t.label),
    };
    args.insert("label".into(), label);
    let rule = (!t.rules.is_empty()).then(|| inp.below(t.rules.len()));
    let method = match (rule, inp.below(10)) {
        (_, 9) => json!(*inp.pick(&["get", "TRACE", "CONNECT", "", "GET "])),
        (_, 8) => gen_json(inp, 1),
        (Some(r), 0..=5) => json!(inp.pick(&t.rules[r].methods).as_str()),
        _ => json!(inp.pick(&Method::ALL).as_str()),
    };
    if !inp.one_in(12) {
        args.insert("method".into(), method);
    }
    let path = match (rule, inp.below(4)) {
        (Some(r), 0 | 1) => t.rules[r].spec.instance(inp),
        (_, 2) if inp.has_text() => inp.text(),
        _ => hostile_path(inp),
    };
    if !inp.one_in(10) {
        args.insert("path".into(), json!(path));
    }
    if inp.one_in(4) {
        let mut q = Map::new();
        for _ in 0..1 + inp.below(3) {
            let name = if inp.one_in(4) {
                hostile_text(inp)
            } else {
                inp.pick(RULE_QUERY_NAMES).to_string()
            };
            let value = match inp.below(3) {
                2 => gen_json(inp, 1),
                _ => Value::String(hostile_text(inp)),
            };
            q.insert(name, value);
        }
        args.insert("query".into(), Value::Object(q));
    }
    if inp.one_in(3) {
        args.insert("headers".into(), gen_headers(inp, &t.allow));
    }
    if inp.one_in(3) {
        let body = match inp.below(4) {
            3 => gen_json(inp, 1),
            2 => json!("x".repeat(100)),
            _ => Value::String(hostile_text(inp)),
        };
        args.insert("body".into(), body);
    }
    for knob in [
        "timeout_ms",
        "max_response_bytes",
        "max_redirects",
        "follow_redirects",
        "url",
    ] {
        if inp.one_in(12) {
            let v = match inp.below(4) {
                0 | 1 => json!(*inp.pick(&[100u64, 5000, 1 << 40, 0, 1, 9, 10])),
                2 => Value::Bool(inp.flip()),
                _ => gen_json(inp, 1),
            };
            args.insert(knob.into(), v);
        }
    }
    args
}
