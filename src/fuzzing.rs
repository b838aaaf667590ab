//! Entry points for the fuzz targets in `fuzz/` and the property tests in
//! `tests/properties.rs`. Each takes raw bytes, decodes them into a case, runs the code under
//! test and asserts properties, most of them against a reference written separately in this
//! file: slow, obvious, and sharing no code with what it checks. A violated property panics,
//! which libFuzzer and proptest both report with the input that caused it.
//!
//! Input format: the bytes before the first `0xFF` drive the choices (which target, which
//! template, which spelling); what follows, split at each `0xFF`, is free text a choice may take
//! verbatim (a path, a glob, a value, JSON arguments). So a seed can be a readable path after a
//! single `0xFF`, and any byte string at all is a valid case. Choices read past the end are 0.
//!
//! Known bugs that are reported but not fixed yet are skipped by name (see [`known_bugs`]), so
//! the fuzzers keep hunting for new ones; each has an `#[ignore]`d regression test.

use crate::callout::{BodyCap, BoundedResponse, Callout, HostResolver, OwnListeners};
use crate::config::{self, ConfigError, LoadedFile};
use crate::engine::{Engine, Outcome};
use crate::policy::decide::caller_headers;
use crate::policy::model::{PathRule, PathRules, QueryRule};
use crate::policy::net::{NetworkPolicy, classify, unwrap};
use crate::policy::path::{PathGlob, normalize};
use crate::policy::target_url::{self, push_query_pair};
use crate::policy::template::{PathTemplate, Segment, check_value};
use crate::policy::types::Host;
use crate::policy::{CallRequest, Decision, Method, Policy, SecretMode, Target};
use ipnet::IpNet;
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

/// A fuzz target's entry point: any bytes, and a panic when a property fails.
pub type EntryPoint = fn(&[u8]);

/// Every target: its name (of the file `fuzz/fuzz_targets/<name>.rs`, its corpus directory, and
/// its entry point here) and its entry point.
pub const TARGETS: &[(&str, EntryPoint)] = &[
    ("allowlist", allowlist),
    ("url_template", url_template),
    ("path_glob", path_glob),
    ("decide", decide),
    ("address", address),
    ("headers_body", headers_body),
    ("tool_call", tool_call),
];

/// Separates the choice bytes from the free texts.
pub const TEXT_MARK: u8 = 0xFF;

/// Fuzz bytes as a source of choices and of free texts.
pub struct Input<'a> {
    choices: &'a [u8],
    texts: VecDeque<String>,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        let Some(i) = data.iter().position(|&b| b == TEXT_MARK) else {
            return Self {
                choices: data,
                texts: VecDeque::new(),
            };
        };
        let texts = data[i + 1..]
            .split(|&b| b == TEXT_MARK)
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect();
        Self {
            choices: &data[..i],
            texts,
        }
    }

    pub fn byte(&mut self) -> u8 {
        match self.choices.split_first() {
            Some((&b, rest)) => {
                self.choices = rest;
                b
            }
            None => 0,
        }
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        match n {
            0 => 0,
            1..=256 => self.byte() as usize % n,
            _ => u16::from_le_bytes([self.byte(), self.byte()]) as usize % n,
        }
    }

    /// True one time in `n`; false once the choices run out, so a short input is a plain case.
    pub fn one_in(&mut self, n: usize) -> bool {
        !self.choices.is_empty() && self.below(n) == n - 1
    }

    pub fn flip(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    pub fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }

    /// One of `words`.
    pub fn word(&mut self, words: &[&'static str]) -> &'static str {
        words[self.below(words.len())]
    }

    pub fn has_text(&self) -> bool {
        !self.texts.is_empty()
    }

    /// The next free text, or "" when there is none.
    pub fn text(&mut self) -> String {
        self.texts.pop_front().unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// Allowlist parsing: any bytes -> a Policy or errors that each carry a location.

/// Any bytes as an allowlist file: a policy whose every part holds together, or errors that
/// each name a place in the file. Never a panic; a hang is caught by the fuzzer's timeout.
pub fn allowlist(data: &[u8]) {
    let name: Arc<str> = Arc::from("<fuzz>");
    let raw = match config::parse(&name, data) {
        Ok(raw) => raw,
        Err(e) => return assert_located(&e),
    };
    let file = LoadedFile { name, raw };
    // Validate, not Resolve: a fuzzed `${file:/dev/stdin}` must not be read.
    match Policy::compile_with_env(&[file], SecretMode::Validate, &|_| None) {
        Ok(policy) => check_policy(&policy),
        Err(errors) => {
            assert!(errors.iter().next().is_some(), "an empty error list");
            errors.iter().for_each(assert_located);
        }
    }
}

fn assert_located(e: &ConfigError) {
    let Some(at) = &e.location else {
        panic!("an allowlist error without a location: {e}");
    };
    assert!(
        at.line >= 1 && at.column >= 1,
        "an allowlist error at {at}: {e}"
    );
    assert!(!e.message.is_empty(), "an error without a message: {e:?}");
}

/// What a compiled policy promises: each base URL parses back to its origin and base path, and
/// every route is reachable as its tool. The catalog and the review run on it without panicking.
fn check_policy(policy: &Policy) {
    for t in policy.targets() {
        let url = url::Url::parse(t.base_url()).expect("a compiled base_url parses");
        assert_eq!(url.scheme(), t.origin.scheme.as_str(), "{}", t.base_url());
        assert_eq!(url.port_or_known_default(), Some(t.origin.port));
        assert!(same_host(&t.origin.host, &url), "{}", t.base_url());
        assert_eq!(url.path().trim_end_matches('/'), t.base_path.as_str());
        assert!(url.username().is_empty() && url.password().is_none());
        assert!(url.query().is_none() && url.fragment().is_none());
        for r in &t.routes {
            let (rt, rr) = policy
                .route_tool(r.tool.as_str())
                .expect("every route is a tool");
            assert!(std::ptr::eq(rt, t) && std::ptr::eq(rr, r), "{}", r.tool);
        }
    }
    let builtins = if policy.has_free_paths() { 2 } else { 0 };
    assert_eq!(
        crate::catalog::build(policy).len(),
        policy.route_count() + builtins
    );
    let _ = crate::lint::review(policy);
    let _ = crate::lint::grants(policy);
}

fn same_host(host: &Host, url: &url::Url) -> bool {
    match (host, url.host()) {
        (Host::Domain(d), Some(url::Host::Domain(h))) => d == h,
        (Host::Ip(IpAddr::V4(a)), Some(url::Host::Ipv4(b))) => *a == b,
        (Host::Ip(IpAddr::V6(a)), Some(url::Host::Ipv6(b))) => *a == b,
        _ => false,
    }
}

/// Compiles one allowlist written as JSON (YAML's JSON subset), resolving `${env:...}` from
/// `secrets`. `None` when the generator wrote something the compiler refuses.
fn compile_json(doc: &Value, secrets: &dyn Fn(&str) -> Option<String>) -> Option<Arc<Policy>> {
    let name: Arc<str> = Arc::from("<generated>");
    let raw = config::parse(&name, doc.to_string().as_bytes()).ok()?;
    Policy::compile_with_env(&[LoadedFile { name, raw }], SecretMode::Resolve, secrets).ok()
}

// ---------------------------------------------------------------------------------------------
// URL building from templates.

/// Base URLs as written, and the URL prefix each must compile to.
const BASES: &[(&str, &str)] = &[
    ("https://api.example", "https://api.example"),
    ("https://API.Example:443/v1/", "https://api.example/v1"),
    ("http://10.0.0.1:8080/a/b", "http://10.0.0.1:8080/a/b"),
    ("https://[fd00::1]:8443/x~y", "https://[fd00::1]:8443/x~y"),
    (
        "https://bücher.example/api",
        "https://xn--bcher-kva.example/api",
    ),
    ("https://a.example/s;p=1/@x", "https://a.example/s;p=1/@x"),
];

/// Literal template segments: every character one that stands for itself in a path.
const LITERALS: &[&str] = &[
    "items", "v1", "a.b", "x-y_z", "~u", "@me", "c:d", "(1)", "a=b;c", "*", "!$&'+,",
];

/// Values and texts an attacker would try in a parameter, a query or a header.
#[rustfmt::skip] // A word list reads best as a paragraph.
const HOSTILE: &[&str] = &[
    "a", "", ".", "..", "b", "inv_1", "x y", "/", "../", "%2e", "%2E%2e", "%2f", "\\", "?", "#",
    "@", ":", "é", "\r\n", "\t", "\0", "a.b", "~", "-_", "..;", ";", "%25", "%", "0", "12",
    "http://169.254.169.254/", "//evil.example", "\u{7f}", "\u{2028}", "\u{feff}", "ÿ", "&x=1",
    "=",
    "+", "[::1]", "LONG",
];

/// A hostile text: one to three pieces, or a free text.
fn hostile_text(inp: &mut Input) -> String {
    if inp.has_text() && inp.one_in(4) {
        return inp.text();
    }
    let mut s = String::new();
    for _ in 0..1 + inp.below(3) {
        match *inp.pick(HOSTILE) {
            // Past the 1024-byte bound on parameter values.
            "LONG" => s.push_str(&"a".repeat(1025)),
            piece => s.push_str(piece),
        }
    }
    s
}

/// A policy with one target per base URL, for the template and header targets.
fn base_policy() -> &'static Arc<Policy> {
    static POLICY: OnceLock<Arc<Policy>> = OnceLock::new();
    POLICY.get_or_init(|| {
        let targets: Vec<Value> = BASES
            .iter()
            .enumerate()
            .map(|(i, (base, _))| {
                json!({
                    "label": format!("t{i}"),
                    "base_url": base,
                    "network": {"allow_cidrs": ["10.0.0.0/8"]},
                    "headers": {
                        "allow": ["Accept", "X-Request-Id", "If-None-Match"],
                        "inject": {
                            "Authorization": "Bearer ${env:TOKEN}",
                            "X-Tenant": "${env:TENANT}",
                        },
                    },
                    "response_headers": ["Content-Type", "ETag", "X-Trace"],
                    "dangerous": {"allow_plaintext_http": true},
                    "paths": [{"methods": ["GET"], "glob": "/**"}],
                })
            })
            .collect();
        compile_json(&json!({"version": 1, "targets": targets}), &secrets)
            .expect("the base policy compiles")
    })
}

/// `${env:TOKEN}` in generated policies: what must never come back to a caller.
pub const SECRET_TOKEN: &str = "s3cr3t-T0KEN";
/// `${env:TENANT}`. Neither secret overlaps itself or the other, so redaction has one right
/// answer.
pub const SECRET_TENANT: &str = "tenant#42";

/// The environment of generated policies.
fn secrets(name: &str) -> Option<String> {
    match name {
        "TOKEN" => Some(SECRET_TOKEN.to_owned()),
        "TENANT" => Some(SECRET_TENANT.to_owned()),
        _ => None,
    }
}

/// Template values stay in their one segment: `check_value` refuses exactly the empty value and
/// dot segments; the URL keeps the target's origin and base path, each parameter decodes back to
/// its value from exactly its segment, and the URL re-parses to itself. A raw path that did not
/// come from a template is refused or holds to the same.
pub fn url_template(data: &[u8]) {
    let mut inp = Input::new(data);
    let policy = base_policy();
    let index = inp.below(policy.targets().len());
    let target = &policy.targets()[index];
    assert_eq!(
        target.base_url(),
        BASES[index].1,
        "base URL of {}",
        BASES[index].0
    );
    let mut text = String::new();
    for i in 0..inp.below(5) {
        text.push('/');
        if inp.flip() {
            text.push_str(&format!("{{p{i}}}"));
        } else {
            text.push_str(inp.word(LITERALS));
        }
    }
    if text.is_empty() || inp.one_in(4) {
        text.push('/');
    }
    let template = PathTemplate::parse(&text).expect("generated templates are valid");
    let values: Vec<(String, String)> = template
        .params()
        .map(|p| (p.to_owned(), hostile_text(&mut inp)))
        .collect();
    for (_, v) in &values {
        let refused = v.is_empty() || reference::dot_segment(v);
        assert_eq!(check_value(v).is_err(), refused, "check_value({v:?})");
    }
    if values.iter().any(|(_, v)| check_value(v).is_err()) {
        return;
    }
    let value_of = |p: &str| {
        values
            .iter()
            .find(|(n, _)| n == p)
            .map_or("", |(_, v)| v.as_str())
    };
    let path = template.render(value_of);
    assert_eq!(path, reference::render(&template, &value_of), "{text}");
    let mut query = String::new();
    let mut pairs = Vec::new();
    for _ in 0..inp.below(4) {
        let (name, value) = (hostile_text(&mut inp), hostile_text(&mut inp));
        push_query_pair(&mut query, &name, &value);
        pairs.push(format!(
            "{}={}",
            reference::encode(&name),
            reference::encode(&value)
        ));
    }
    assert_eq!(query, pairs.join("&"));
    let url = target_url::build(target, &path, &query)
        .unwrap_or_else(|why| panic!("{text} with {values:?}: {why}"));
    let parsed = assert_stays(target, url.as_str(), &path, &query);
    let rel = &parsed.path()[target.base_path.as_str().len()..];
    let parts: Vec<&str> = rel[1..].split('/').collect();
    for (seg, part) in template.segments().iter().zip(&parts) {
        match seg {
            Segment::Literal(l) => assert_eq!(l, part),
            Segment::Param(p) => assert_eq!(
                reference::percent_decode(part),
                value_of(p).as_bytes(),
                "parameter {p} in {url}"
            ),
        }
    }
    let extra = usize::from(template.trailing_slash() || template.segments().is_empty());
    assert_eq!(parts.len(), template.segments().len() + extra, "{url}");
    // The last line of defence: whatever path reaches `build`, the URL stays.
    let raw = hostile_path(&mut inp);
    if let Ok(u) = target_url::build(target, &raw, "") {
        assert_stays(target, u.as_str(), &raw, "");
    }
}

/// A built URL parses to itself, on the target's origin, with exactly the checked path under the
/// base path and exactly the checked query.
fn assert_stays(target: &Target, url: &str, path: &str, query: &str) -> url::Url {
    let parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("{url:?} does not parse: {e}"));
    assert_eq!(parsed.as_str(), url, "the URL does not re-parse to itself");
    assert_eq!(parsed.scheme(), target.origin.scheme.as_str(), "{url}");
    assert!(
        same_host(&target.origin.host, &parsed),
        "{url} left the host"
    );
    assert_eq!(parsed.port_or_known_default(), Some(target.origin.port));
    assert!(
        parsed.username().is_empty() && parsed.password().is_none() && parsed.fragment().is_none()
    );
    assert_eq!(
        parsed.path(),
        format!("{}{path}", target.base_path.as_str())
    );
    assert_eq!(parsed.query().unwrap_or(""), query, "{url}");
    parsed
}

// ---------------------------------------------------------------------------------------------
// Path normalization and glob matching.

/// Pieces of caller paths: names the globs use, and every spelling trick.
const PATH_TOKENS: &[&str] = &[
    "reports", "a", "b", "x.json", "v1", "files", "admin", ".", "..", "%2e", "%2E%2e", ".%2e",
    "%2f", "%2F", "%5c", "\\", "%00", "%0d%0a", "%7f", "?", "#", "%25", "%41", "%61", "%21", "!",
    ";", "..;", ".;", " ", "é", "%C3%A9", "%zz", "%4", "~", "%7E", "*", "[", "{", "@", ":", "%3a",
    "%3A", "+", "%2B", "'", "%", "a%2", "\t", "\u{7f}", "\u{2028}", "ÿ", "-", "_",
];

/// A caller's path: mostly absolute, with `//` and trailing slashes now and then.
fn hostile_path(inp: &mut Input) -> String {
    let mut p = if inp.one_in(8) {
        String::new()
    } else {
        "/".to_owned()
    };
    for i in 0..inp.below(6) {
        if i > 0 {
            p.push('/');
            if inp.one_in(12) {
                p.push('/');
            }
        }
        for _ in 0..1 + inp.below(3) {
            p.push_str(inp.word(PATH_TOKENS));
        }
    }
    if inp.one_in(6) {
        p.push('/');
    }
    p
}

/// Glob segments an allowlist author might write, including the careless ones.
#[rustfmt::skip] // A word list reads best as a paragraph.
const GLOB_SEGMENTS: &[&str] = &[
    "reports", "a", "b", "*", "**", "?", "x*", "*.json", "[ab]", "[a-c]", "[.-0]", "[*]", "{a,b}",
    "{,a}", "{x.json,v1}", "v[0-9]", "files", "admin", "..", ".", "!", ";", "a;b", "[!a]", "??",
    "{a,**}", "[a/b]", "*a*", "%2e", "é", "{a/b,c}",
];

fn hostile_glob(inp: &mut Input) -> String {
    let mut g = String::new();
    for _ in 0..1 + inp.below(4) {
        g.push('/');
        // Mostly well-formed segments, so most globs compile and get compared.
        let words = if inp.one_in(3) {
            GLOB_SEGMENTS
        } else {
            RULE_SEGMENTS
        };
        g.push_str(inp.word(words));
    }
    if inp.one_in(6) {
        g.push('/');
    }
    g
}

/// A normalized path equals the reference's canonical form of the caller's path, means the same
/// bytes, is its own normal form, and is what every other spelling of that path normalizes to; a
/// glob matches it exactly when the reference matcher (globs as docs/allowlist.md defines them)
/// does, through a single glob and through a target's set alike.
pub fn path_glob(data: &[u8]) {
    let mut inp = Input::new(data);
    let path = inp.text();
    let glob = match inp.text() {
        g if g.is_empty() => hostile_glob(&mut inp),
        g => g,
    };
    // Half the paths are instances of the glob, so matches are checked as often as misses.
    let path = match (path.is_empty(), reference::Glob::parse(&glob)) {
        (false, _) => path,
        (true, Some(spec)) if inp.flip() => spec.instance(&mut inp),
        (true, _) => hostile_path(&mut inp),
    };
    let normalized = normalize(&path);
    assert_eq!(
        normalized.as_ref().ok().map(|n| n.as_str()),
        reference::canonical_path(&path).as_deref(),
        "normalize({path:?})"
    );
    let Ok(n) = normalized else { return };
    assert_eq!(normalize(n.as_str()).as_ref(), Ok(&n), "not idempotent");
    assert_eq!(
        reference::decoded_segments(n.as_str()),
        reference::decoded_segments(&path),
        "normalizing {path:?} changed its meaning"
    );
    let respelled = reference::respell(&path, &mut inp);
    // The 2048-byte bound is on what the caller sends (docs/allowlist.md): a longer spelling of
    // the same path is refused for its length, rightly.
    assert!(
        respelled.len() > crate::policy::path::MAX_PATH_LEN
            || normalize(&respelled).as_ref() == Ok(&n),
        "{respelled:?} spells {path:?} but normalizes apart"
    );
    let Ok(g) = PathGlob::parse(&glob) else {
        return;
    };
    let matched = g.is_match(&n);
    let rules = PathRules::new(vec![PathRule {
        methods: [Method::Get].into_iter().collect(),
        glob: g,
        query: QueryRule::Deny,
        location: config::Location::file_start(&Arc::from("<fuzz>")),
    }]);
    assert_eq!(
        rules.matching(&n).count() == 1,
        matched,
        "set and glob disagree"
    );
    if let Some(spec) = reference::Glob::parse(&glob) {
        assert!(
            !spec.class_holds('/'),
            "{glob:?} has a class that matches '/'"
        );
        assert_eq!(
            matched,
            spec.matches(n.as_str()),
            "glob {glob:?} on {:?}",
            n.as_str()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// decide against a reference.

/// A generated allowlist: what was asked for, kept to check decisions against.
struct GenPolicy {
    targets: Vec<GenTarget>,
}

struct GenTarget {
    label: String,
    base: (&'static str, &'static str),
    allow: Vec<&'static str>,
    inject: Vec<&'static str>,
    request_bytes: u64,
    redirects: u8,
    routes: Vec<GenRoute>,
    rules: Vec<GenRule>,
}

struct GenRoute {
    name: String,
    method: Method,
    template: String,
    /// Template parameters, declared (`Some`) or not (any non-empty string).
    params: Vec<(String, Option<GenParam>)>,
    query: Vec<(String, GenParam)>,
    body: Option<GenBody>,
}

#[derive(Clone)]
struct GenParam {
    kind: &'static str,
    pattern: Option<usize>,
    one_of: Vec<Value>,
    required: bool,
}

struct GenBody {
    content_type: &'static str,
    json: bool,
    schema: bool,
    required: bool,
}

struct GenRule {
    methods: Vec<Method>,
    glob: String,
    spec: reference::Glob,
    /// `None`: no query; `Some([])`: any (`["*"]`); else these names.
    query: Option<Vec<&'static str>>,
}

/// Headers a target may let callers set; none is forbidden.
const SAFE_HEADERS: &[&str] = &[
    "Accept",
    "X-Request-Id",
    "If-None-Match",
    "Content-Type",
    "Cookie",
];
/// Headers a target may inject.
const INJECTABLE: &[&str] = &["Authorization", "X-Request-Id", "X-Api-Key"];
/// Header names callers try.
#[rustfmt::skip] // A word list reads best as a paragraph.
const HEADER_NAMES: &[&str] = &[
    "Accept", "accept", "ACCEPT", "X-Request-Id", "If-None-Match", "Content-Type", "Cookie",
    "Authorization", "X-Api-Key", "Host", "X-Forwarded-For", "x-forwarded-proto", "Forwarded",
    "Connection", "Transfer-Encoding", "Content-Length", "Accept-Encoding",
    "X-HTTP-Method-Override", "Proxy-Authorization", "Bad Name", "", "X:Y", "é", "X-Envoy-Path",
    "Te", "Via", "X-Real-IP", "Set-Cookie", "X-Custom",
];
type Predicate = fn(&str) -> bool;

/// Patterns the generator declares, each with a predicate written without regexes.
const PATTERNS: &[(&str, Predicate)] = &[
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
const QUERY_NAMES: &[&str] = &["q", "page", "f[a]", "x.y", "a-b"];
const RULE_QUERY_NAMES: &[&str] = &["q", "page", "date"];
/// Glob segments for generated rules: all inside the reference matcher's language.
const RULE_SEGMENTS: &[&str] = &[
    "reports", "a", "*", "**", "?", "x*", "*.json", "[ab]", "{a,b}", "v[0-9]", "files", "!",
];
const TEXT_TYPES: &[&str] = &["text/plain", "application/xml"];
/// A small body schema, and its check written out by hand below.
fn body_schema() -> Value {
    json!({"type": "object", "required": ["name"], "additionalProperties": false,
           "properties": {"name": {"type": "string", "maxLength": 8}}})
}

fn gen_policy(inp: &mut Input) -> GenPolicy {
    let targets = (0..1 + inp.below(2)).map(|i| gen_target(inp, i)).collect();
    GenPolicy { targets }
}

fn gen_target(inp: &mut Input, i: usize) -> GenTarget {
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

fn gen_route(inp: &mut Input, r: usize) -> GenRoute {
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

fn gen_param(inp: &mut Input, query: bool) -> GenParam {
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

fn gen_rule(inp: &mut Input) -> Option<GenRule> {
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
    fn to_json(&self) -> Value {
        let targets: Vec<Value> = self.targets.iter().map(GenTarget::to_json).collect();
        json!({"version": 1, "targets": targets})
    }
}

impl GenTarget {
    fn to_json(&self) -> Value {
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
    fn to_json(&self) -> Value {
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
    fn to_json(&self, query: bool) -> Value {
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
fn gen_param_value(inp: &mut Input, p: Option<&GenParam>) -> Value {
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
fn gen_json(inp: &mut Input, depth: u8) -> Value {
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
fn gen_headers(inp: &mut Input, allow: &[&'static str]) -> Value {
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

fn gen_route_args(inp: &mut Input, t: &GenTarget, r: &GenRoute) -> Map<String, Value> {
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

fn gen_target_args(inp: &mut Input, gp: &GenPolicy) -> Map<String, Value> {
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

/// decide allows a call exactly when the reference does, and then with the same method, URL,
/// headers, body and limits.
pub fn decide(data: &[u8]) {
    let mut inp = Input::new(data);
    let gp = gen_policy(&mut inp);
    let Some(policy) = compile_json(&gp.to_json(), &secrets) else {
        return;
    };
    let routes: Vec<(&GenTarget, &GenRoute)> = gp
        .targets
        .iter()
        .flat_map(|t| t.routes.iter().map(move |r| (t, r)))
        .collect();
    let (tool, args) = match inp.below(10) {
        0..=4 if !routes.is_empty() => {
            let (t, r) = *inp.pick(&routes);
            (
                format!("{}.{}", t.label, r.name),
                gen_route_args(&mut inp, t, r),
            )
        }
        9 => (
            inp.pick(&["list_targets", "t0.nope", "", "t0."])
                .to_string(),
            Map::new(),
        ),
        _ => ("call_target".to_owned(), gen_target_args(&mut inp, &gp)),
    };
    let want = reference::decide(&gp, &tool, &args);
    let got = match CallRequest::parse(&tool, Some(&args)) {
        Err(_) => None,
        Ok(request) => match crate::policy::decide(&policy, &request) {
            Decision::Deny(_) => None,
            Decision::Allow(p) => Some(reference::Allowed {
                method: p.method(),
                url: p.url().as_str().to_owned(),
                headers: p
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                    .collect(),
                body: p.body().to_vec(),
                response_bytes: p.limits().response_bytes,
                timeout_ms: p.limits().timeout.as_millis() as u64,
                redirects: p.limits().redirects,
            }),
        },
    };
    assert_eq!(
        got,
        want,
        "{tool} {}\npolicy: {}",
        Value::Object(args.clone()),
        gp.to_json()
    );
}

// ---------------------------------------------------------------------------------------------
// Address classification.

/// CIDRs an allowlist may open, including the sweeping ones.
#[rustfmt::skip] // A word list reads best as a paragraph.
const CIDRS: &[&str] = &[
    "10.0.0.0/8", "127.0.0.0/8", "0.0.0.0/0", "::/0", "169.254.0.0/16", "fe80::/10", "2002::/16",
    "64:ff9b::/96", "::ffff:0:0/96", "192.168.1.0/24", "8.8.8.0/24", "fd00::/8",
];

/// Any address, in any of its spellings, gets the class a table built from the IANA
/// special-purpose registries gives it; every spelling of an IPv4 address gets the class of that
/// address; and the network rule lets a peer through exactly when the reference rule does.
pub fn address(data: &[u8]) {
    let mut inp = Input::new(data);
    let v4 = match inp.below(3) {
        0 => Ipv4Addr::from(inp.u32()),
        _ => reference::v4_near_row(&mut inp),
    };
    let ip = match inp.below(8) {
        0 | 1 => IpAddr::V4(v4),
        2 => IpAddr::V6(Ipv6Addr::from(
            u128::from(inp.u32()) << 96 | u128::from(inp.u32()),
        )),
        3 | 4 => reference::v6_near_row(&mut inp),
        _ => {
            let forms = reference::spellings(v4, inp.u32());
            IpAddr::V6(*inp.pick(&forms))
        }
    };
    assert_eq!(classify(ip), reference::classify(ip), "class of {ip}");
    assert_eq!(unwrap(ip), reference::unwrap(ip), "unwrap({ip})");
    let plain = classify(IpAddr::V4(v4));
    for form in reference::spellings(v4, inp.u32()) {
        assert_eq!(classify(IpAddr::V6(form)), plain, "{form} spells {v4}");
    }
    let allow: Vec<IpNet> = (0..inp.below(4))
        .map(|_| inp.pick(CIDRS).parse().expect("cidr"))
        .collect();
    let port = *inp.pick(&[80u16, 443, 8787]);
    let own: Vec<SocketAddr> = (0..inp.below(3))
        .map(|_| {
            let at: IpAddr = *inp.pick(&[
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                ip,
            ]);
            SocketAddr::new(at, *inp.pick(&[8787u16, 443]))
        })
        .collect();
    let got = NetworkPolicy::new(allow.clone()).check(SocketAddr::new(ip, port), &own);
    assert_eq!(
        got.is_ok(),
        reference::may_connect(ip, port, &allow, &own),
        "{ip}:{port} with {allow:?}, own {own:?}: {got:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Header filtering and response bounding.

#[rustfmt::skip] // A word list reads best as a paragraph.
const RESPONSE_HEADER_NAMES: &[&str] = &[
    "content-type", "etag", "x-trace", "set-cookie", "set-cookie2", "connection", "keep-alive",
    "transfer-encoding", "upgrade", "trailer", "te", "proxy-authenticate", "x-internal-host",
    "location", "www-authenticate",
];

/// Nothing outside the allowlists passes, in either direction; no header value and no body
/// exceeds its bound; no injected secret comes back, whole or cut at a bound.
pub fn headers_body(data: &[u8]) {
    let mut inp = Input::new(data);
    let policy = base_policy();
    let target = inp.pick(policy.targets());
    // Caller headers, against the reference rule.
    let given: Vec<(String, String)> = (0..inp.below(5))
        .map(|_| {
            let name = if inp.one_in(6) {
                inp.text()
            } else {
                inp.pick(HEADER_NAMES).to_string()
            };
            (name, hostile_text(&mut inp))
        })
        .collect();
    let got = caller_headers(target, &given).ok().map(|v| {
        v.iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect::<Vec<_>>()
    });
    let allow = ["accept", "x-request-id", "if-none-match"];
    let inject = ["authorization", "x-tenant"];
    assert_eq!(
        got,
        reference::caller_headers(&allow, &inject, &given),
        "{given:?}"
    );
    // Response headers.
    let mut map = http::HeaderMap::new();
    for _ in 0..inp.below(6) {
        let name = http::HeaderName::from_static(inp.word(RESPONSE_HEADER_NAMES));
        let value = response_bytes(&mut inp);
        if let Ok(v) = http::HeaderValue::from_bytes(&value) {
            map.append(name, v);
        }
    }
    let out = crate::callout::filter_response_headers(target, &map);
    for (name, value) in &out {
        assert!(value.len() <= 8 * 1024, "{name}: {} bytes", value.len());
    }
    assert_eq!(out, reference::response_headers(&map), "{map:?}");
    // The body cap, fed chunk by chunk as `read_body` does.
    let limit = 1 + inp.below(64 * 1024) as u64;
    let declared = inp.flip().then(|| u64::from(inp.u32()));
    let mut cap = BodyCap::new(limit, declared);
    let mut sent = Vec::new();
    for _ in 0..inp.below(6) {
        let chunk = response_bytes(&mut inp);
        let chunk = chunk.repeat(1 + inp.below(50));
        sent.extend_from_slice(&chunk);
        if !cap.push(&chunk) {
            break;
        }
    }
    let (body, truncated) = cap.finish(target);
    let limit = limit as usize;
    assert!(
        body.len() <= limit,
        "{} bytes past a {limit}-byte cap",
        body.len()
    );
    assert_eq!(truncated, sent.len() > limit);
    assert_eq!(body.len(), sent.len().min(limit));
    for secret in [SECRET_TOKEN, SECRET_TENANT] {
        assert!(!contains(&body, secret.as_bytes()), "{secret} came back");
    }
    assert_eq!(
        &body[..],
        &reference::redact_cut(&sent[..body.len()], truncated)[..],
        "the body is not the redacted prefix"
    );
}

/// Response bytes: a free text, a secret, obs-text, or a long run.
fn response_bytes(inp: &mut Input) -> Vec<u8> {
    match inp.below(8) {
        0 => SECRET_TOKEN.as_bytes().to_vec(),
        1 => format!("Bearer {SECRET_TOKEN}, {SECRET_TENANT}").into_bytes(),
        2 => vec![b'v'; 9000],
        3 => vec![0xC3, 0xA9, 0xFF, b' ', b'x'],
        4 => SECRET_TENANT.as_bytes()[..1 + inp.below(SECRET_TENANT.len())].to_vec(),
        _ => hostile_text(inp).into_bytes(),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// The MCP tools/call argument path.

type Resolving =
    std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>;

/// A resolver that knows no name: every permitted call fails before a socket is opened.
struct NoNames;

impl HostResolver for NoNames {
    fn resolve(&self, host: &str, _port: u16) -> Resolving {
        let host = host.to_owned();
        Box::pin(async move {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("the fuzzer resolves no name ({host})"),
            ))
        })
    }
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    tools: Vec<String>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let mut targets = json!([{
            "label": "api",
            "base_url": "https://api.fuzz.invalid/api",
            "headers": {"allow": ["Accept", "X-Request-Id", "Content-Type"],
                        "inject": {"Authorization": "Bearer ${env:TOKEN}"}},
            "limits": {"request_bytes": "1KiB"},
            "routes": [
                {"name": "get_item", "method": "GET", "path": "/items/{id}",
                 "params": {"id": {"pattern": "^[a-z0-9_]{1,32}$"}},
                 "query": {"expand": {"enum": ["lines", "customer"]}}},
                {"name": "get_free", "method": "GET", "path": "/free/{any}"},
                {"name": "create", "method": "POST", "path": "/items",
                 "body": {"content_type": "application/json", "schema": body_schema()}},
            ],
            "paths": [{"methods": ["GET"], "glob": "/reports/*", "query": ["date"]},
                      {"methods": ["GET", "POST"], "glob": "/files/**"}],
        }]);
        // An IP literal that is never dialled: documentation space, and no allow_cidrs.
        targets.as_array_mut().expect("array").push(json!({
            "label": "lit", "base_url": "http://192.0.2.10:8080/",
            "dangerous": {"allow_plaintext_http": true},
            "paths": [{"methods": ["GET"], "glob": "/**"}],
        }));
        let policy = compile_json(&json!({"version": 1, "targets": targets}), &secrets)
            .expect("the tool policy compiles");
        let tools = crate::catalog::build(&policy)
            .into_iter()
            .map(|t| t.name)
            .collect();
        let callout =
            Callout::new(policy, Arc::new(NoNames), OwnListeners::default()).expect("callout");
        Harness {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            engine: Engine::new(callout),
            tools,
        }
    })
}

#[rustfmt::skip] // A word list reads best as a paragraph.
const TOOLS: &[&str] = &[
    "api.get_item", "api.get_free", "api.create", "call_target", "list_targets", "nope", "",
];

/// Any tool name and JSON arguments come back as a result or an `isError` result with a stable
/// code, never a panic; only an unknown tool is a protocol error; no secret is in any result.
/// Any upstream response maps to a result whose envelope tells the truth about it.
pub fn tool_call(data: &[u8]) {
    let mut inp = Input::new(data);
    let h = harness();
    let tool = match inp.text() {
        t if t.is_empty() => inp.pick(TOOLS).to_string(),
        t => t,
    };
    let args: Option<Map<String, Value>> = match serde_json::from_str::<Value>(&inp.text()) {
        Ok(Value::Object(m)) => Some(m),
        _ if inp.one_in(8) => None,
        _ => match gen_json(&mut inp, 0) {
            Value::Object(m) => Some(m),
            v => Some(Map::from_iter([(
                inp.pick(&["id", "label", "path", "body"]).to_string(),
                v,
            )])),
        },
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let outcome = h
        .runtime
        .block_on(h.engine.call(&tool, args.as_ref(), &cancel));
    let code = outcome.reason();
    let known = h.tools.contains(&tool);
    match crate::mcp::result::to_result(&tool, outcome) {
        Err(e) => {
            assert!(!known, "{tool} is a tool, yet: {e:?}");
            assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        }
        Ok(r) => {
            assert!(known, "unknown tool {tool:?} answered {r:?}");
            let text = serde_json::to_string(&r).expect("a result serializes");
            assert!(!text.contains(SECRET_TOKEN), "the secret is in {text}");
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            if tool == "list_targets" && code == "ok" {
                assert_ne!(r.is_error, Some(true));
            } else {
                assert_eq!(r.is_error, Some(true), "{tool}: {text}");
                let first = r.content.first().and_then(|c| c.as_text()).expect("a text");
                assert!(
                    first.text.starts_with(&format!("{code}: ")),
                    "{}",
                    first.text
                );
            }
        }
    }
    response_result(&mut inp);
}

#[rustfmt::skip] // A word list reads best as a paragraph.
const CONTENT_TYPES: &[&str] = &[
    "application/json", "application/problem+json; charset=utf-8", "text/plain", "text/html",
    "image/png", "audio/wav", "multipart/mixed; boundary=b", "multipart/mixed; boundary=\"b\"",
    "multipart/related", "application/octet-stream", "", "application/xml", ";;;", "TEXT/PLAIN",
];

/// An upstream's response as a result: the envelope states status, size and truncation as they
/// are, error statuses are `isError`, and every block is well-formed.
fn response_result(inp: &mut Input) {
    let body = if inp.has_text() {
        inp.text().into_bytes()
    } else {
        response_bytes(inp)
    };
    let status = *inp.pick(&[200u16, 201, 204, 301, 400, 404, 500, 599]);
    let content_type = inp.pick(CONTENT_TYPES).to_string();
    let truncated = inp.flip();
    let r = BoundedResponse {
        status,
        headers: vec![("content-type".into(), content_type.clone())],
        full_size: truncated.then_some(body.len() as u64 + 10),
        body: bytes::Bytes::from(body.clone()),
        truncated,
        content_type: Some(content_type),
        redirects: 0,
    };
    let result =
        crate::mcp::result::to_result("t.r", Outcome::Response(r)).expect("a response is a result");
    assert_eq!(result.is_error.unwrap_or(false), status >= 400);
    let envelope = result.structured_content.as_ref().expect("structured");
    assert_eq!(envelope["status"], json!(status));
    assert_eq!(envelope["body_bytes"], json!(body.len()));
    assert_eq!(envelope["truncated"], json!(truncated));
    assert!(envelope.get("body").is_some() != envelope.get("body_base64").is_some());
    assert!(result.content.len() <= 1 + 32, "one block per part at most");
    serde_json::to_string(&result).expect("a result serializes");
}

// ---------------------------------------------------------------------------------------------

/// Bugs found by these properties and reported, not fixed yet. Each predicate names exactly the
/// inputs a bug affects, so the properties skip those and keep checking everything else. Delete
/// a predicate (and its uses) with the fix; its `#[ignore]`d test in `tests/properties.rs` then
/// runs. None is open now: the last two were fixed with their regression tests.
pub mod known_bugs {}

/// The references: each rule written again from the documentation and the RFCs, the slow and
/// obvious way, with no code shared with what it checks.
pub mod reference {
    use super::{GenPolicy, GenRoute, GenTarget, Input, PATTERNS, SECRET_TENANT, SECRET_TOKEN};
    use crate::policy::Method;
    use crate::policy::net::AddressClass::{self, *};
    use crate::policy::template::{PathTemplate, Segment};
    use ipnet::IpNet;
    use serde_json::{Map, Value};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    use std::sync::OnceLock;

    /// Percent-encodes every byte but ASCII letters, digits, `-`, `_` and `~`.
    pub fn encode(s: &str) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'~' {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    /// Decodes `%XX` triplets; anything else stays as it is.
    pub fn percent_decode(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if b[i] == b'%'
                && i + 2 < b.len()
                && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
            {
                out.push((h * 16 + l) as u8);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    /// The segments of a path, each percent-decoded.
    pub fn decoded_segments(path: &str) -> Vec<Vec<u8>> {
        path.split('/').map(percent_decode).collect()
    }

    pub fn render<'a>(t: &PathTemplate, value: &dyn Fn(&str) -> &'a str) -> String {
        let mut out = String::new();
        for s in t.segments() {
            out.push('/');
            match s {
                Segment::Literal(l) => out.push_str(l),
                Segment::Param(p) => out.push_str(&encode(value(p))),
            }
        }
        if t.trailing_slash() || t.segments().is_empty() {
            out.push('/');
        }
        out
    }

    fn unreserved(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"-._~".contains(&b)
    }

    /// RFC 3986 sub-delims, `:` and `@`: characters a segment holds as they are, and which mean
    /// something else when percent-encoded.
    fn literal_reserved(b: u8) -> bool {
        b"!$&'()*+,;=:@".contains(&b)
    }

    /// The canonical form of a caller's path (RFC 3986 section 6.2.2: unreserved characters
    /// decoded, other triplets upper case, anything else a segment cannot hold encoded), or
    /// `None` when the path is one docs/allowlist.md says is refused: not absolute, too long, a
    /// dot segment (see [`dot_segment`]), an empty segment, a backslash,
    /// `?`, `#`, a control character, an encoded `/`, `\`, NUL or `%`, or a bad `%`. The
    /// 2048-byte bound holds for the caller's spelling and for the canonical form alike.
    pub fn canonical_path(path: &str) -> Option<String> {
        if path.len() > 2048 || !path.starts_with('/') {
            return None;
        }
        let raw: Vec<&str> = path[1..].split('/').collect();
        let mut out = String::new();
        for (i, seg) in raw.iter().enumerate() {
            let mut canon = String::new();
            let b = seg.as_bytes();
            let mut j = 0;
            while j < b.len() {
                let c = b[j];
                if c == b'%' {
                    let hex = std::str::from_utf8(b.get(j + 1..j + 3)?).ok()?;
                    if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                        return None;
                    }
                    let d = u8::from_str_radix(hex, 16).ok()?;
                    if d < 0x20 || d == 0x7f || b"/\\%".contains(&d) {
                        return None;
                    }
                    if unreserved(d) {
                        canon.push(d as char);
                    } else {
                        canon.push_str(&format!("%{d:02X}"));
                    }
                    j += 3;
                    continue;
                }
                if c < 0x20 || c == 0x7f || b"\\?#".contains(&c) {
                    return None;
                }
                if unreserved(c) || literal_reserved(c) {
                    canon.push(c as char);
                } else {
                    canon.push_str(&format!("%{c:02X}"));
                }
                j += 1;
            }
            if dot_segment(&canon) {
                return None;
            }
            let last = i + 1 == raw.len();
            if canon.is_empty() && !last {
                return None;
            }
            out.push('/');
            out.push_str(&canon);
        }
        (out.len() <= 2048).then_some(out)
    }

    /// A segment that some upstream resolves as `.` or `..`: the part before the first `;` (or
    /// `%3B`, for servers that decode first) is `.` or `..`. Tomcat, Jetty and Spring strip `;`
    /// path parameters before they resolve dot segments.
    pub fn dot_segment(seg: &str) -> bool {
        let lower = seg.to_ascii_lowercase();
        let end = [lower.find(';'), lower.find("%3b")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(seg.len());
        matches!(&seg[..end], "." | "..")
    }

    /// Another spelling of the same path: unreserved characters and characters a segment cannot
    /// hold may be written encoded or not, and hex digits in either case. Sub-delims keep their
    /// form: encoding one changes what the path means (RFC 3986 section 2.2).
    pub fn respell(path: &str, inp: &mut Input) -> String {
        let mut out = String::new();
        let b = path.as_bytes();
        let enc = |out: &mut String, d: u8, lower: bool| {
            let t = format!("%{d:02X}");
            out.push_str(&if lower { t.to_lowercase() } else { t });
        };
        let mut j = 0;
        while j < b.len() {
            let c = b[j];
            if c == b'%' && j + 2 < b.len() && b[j + 1..j + 3].iter().all(u8::is_ascii_hexdigit) {
                let d = percent_decode(&path[j..j + 3])[0];
                if unreserved(d) && inp.flip() {
                    out.push(d as char);
                } else {
                    enc(&mut out, d, inp.flip());
                }
                j += 3;
                continue;
            }
            let len = path[j..].chars().next().map_or(1, char::len_utf8);
            let plain_ascii = len == 1 && (literal_reserved(c) || b"/%".contains(&c));
            if !plain_ascii && c >= 0x20 && c != 0x7f && inp.flip() {
                for &d in &b[j..j + len] {
                    enc(&mut out, d, inp.flip());
                }
            } else {
                out.push_str(&path[j..j + len]);
            }
            j += len;
        }
        out
    }

    /// A piece of one glob segment.
    #[derive(Debug, Clone)]
    enum Piece {
        Lit(char),
        Star,
        One,
        Class(Vec<(char, char)>),
        /// `{a,b}`: one of these texts (empty ones dropped, unless all are).
        Alt(Vec<String>),
    }

    #[derive(Debug, Clone)]
    enum Seg {
        Pieces(Vec<Piece>),
        /// `**` as a whole segment: any number of segments.
        Deep,
    }

    /// A `paths` glob as docs/allowlist.md defines it: `*` and `?` stay within a segment, a
    /// class matches one character of one segment, `**` matches across segments. The reference
    /// models the syntax generated rules use; other globs parse to `None`.
    #[derive(Debug, Clone)]
    pub struct Glob(Vec<Seg>);

    fn lit_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || "-._~!$&'()+,;=:@]".contains(c)
    }

    impl Glob {
        pub fn parse(text: &str) -> Option<Glob> {
            let chars: Vec<char> = text.strip_prefix('/')?.chars().collect();
            let mut segs = Vec::new();
            let mut pieces = Vec::new();
            let mut raw = String::new();
            let mut i = 0;
            loop {
                let Some(&c) = chars.get(i) else {
                    segs.push(seg(raw, pieces));
                    return Some(Glob(segs));
                };
                i += 1;
                match c {
                    '/' => {
                        segs.push(seg(std::mem::take(&mut raw), std::mem::take(&mut pieces)));
                        continue;
                    }
                    '*' => {
                        if !matches!(pieces.last(), Some(Piece::Star)) {
                            pieces.push(Piece::Star);
                        }
                    }
                    '?' => pieces.push(Piece::One),
                    '[' => {
                        let mut items = Vec::new();
                        let mut first = true;
                        loop {
                            let c = *chars.get(i)?;
                            i += 1;
                            match c {
                                '!' | '^' if first => return None,
                                ']' if !first => break,
                                '-' if !first && chars.get(i) != Some(&']') => {
                                    let hi = *chars.get(i)?;
                                    i += 1;
                                    let (lo, _) = items.pop()?;
                                    if hi < lo {
                                        return None;
                                    }
                                    items.push((lo, hi));
                                }
                                c => items.push((c, c)),
                            }
                            first = false;
                        }
                        pieces.push(Piece::Class(items));
                    }
                    '{' => {
                        let close = chars[i..].iter().position(|&c| c == '}')? + i;
                        let inner: String = chars[i..close].iter().collect();
                        if !inner.chars().all(|c| lit_char(c) && c != ']') {
                            return None;
                        }
                        pieces.push(Piece::Alt(inner.split(',').map(str::to_owned).collect()));
                        i = close + 1;
                    }
                    c if lit_char(c) => pieces.push(Piece::Lit(c)),
                    _ => return None,
                }
                raw.push(c);
            }
        }

        /// Whether some class of the glob matches `c`.
        pub fn class_holds(&self, c: char) -> bool {
            self.0.iter().any(|s| {
                match s {
                Seg::Pieces(p) => p.iter().any(|p| {
                    matches!(p, Piece::Class(r) if r.iter().any(|&(lo, hi)| lo <= c && c <= hi))
                }),
                Seg::Deep => false,
            }
            })
        }

        /// Whether the glob matches a normalized path, segment by segment.
        pub fn matches(&self, path: &str) -> bool {
            let Some(rest) = path.strip_prefix('/') else {
                return false;
            };
            let parts: Vec<&str> = rest.split('/').collect();
            let mut memo = vec![None; (self.0.len() + 1) * (parts.len() + 1)];
            match_segs(&self.0, &parts, 0, 0, &mut memo)
        }

        /// A path this glob matches, filled in from `inp`: how generated calls hit a rule.
        pub fn instance(&self, inp: &mut Input) -> String {
            const FILL: &[&str] = &["a", "x.json", "b", "v1", "", "a", "%41", "..;", "%2e"];
            let mut out = String::new();
            for s in &self.0 {
                match s {
                    Seg::Deep => {
                        for _ in 0..inp.below(3) {
                            out.push('/');
                            out.push_str(inp.word(FILL));
                        }
                        if out.is_empty() {
                            out.push('/');
                        }
                    }
                    Seg::Pieces(pieces) => {
                        out.push('/');
                        for p in pieces {
                            match p {
                                Piece::Lit(c) => out.push(*c),
                                Piece::Star => out.push_str(inp.word(FILL)),
                                Piece::One => out.push(*inp.pick(&['a', '1', '.'])),
                                Piece::Class(r) => out.push(r[0].0),
                                Piece::Alt(items) => out.push_str(inp.pick(items).as_str()),
                            }
                        }
                    }
                }
            }
            out
        }
    }

    fn seg(raw: String, pieces: Vec<Piece>) -> Seg {
        if raw == "**" {
            Seg::Deep
        } else {
            Seg::Pieces(pieces)
        }
    }

    /// Whether `globs[g..]` matches `parts[p..]`, memoized in `memo` so that nested `**` and
    /// long paths stay polynomial (the fuzzer found the exponential version).
    fn match_segs(
        globs: &[Seg],
        parts: &[&str],
        g: usize,
        p: usize,
        memo: &mut [Option<bool>],
    ) -> bool {
        let key = g * (parts.len() + 1) + p;
        if let Some(known) = memo[key] {
            return known;
        }
        let matched = match globs.get(g) {
            None => p == parts.len(),
            // A trailing `/**` is `/` and anything after it: one or more segments.
            Some(Seg::Deep) if g + 1 == globs.len() => p < parts.len(),
            // Elsewhere, zero or more whole segments: skip it, or let it take one more.
            Some(Seg::Deep) => {
                match_segs(globs, parts, g + 1, p, memo)
                    || (p < parts.len() && match_segs(globs, parts, g, p + 1, memo))
            }
            Some(Seg::Pieces(pieces)) => {
                p < parts.len()
                    && match_pieces(pieces, &parts[p].chars().collect::<Vec<_>>())
                    && match_segs(globs, parts, g + 1, p + 1, memo)
            }
        };
        memo[key] = Some(matched);
        matched
    }

    /// Whether a segment's pieces match one path segment, by dynamic programming over (piece,
    /// position): `*` either ends or takes one more character.
    fn match_pieces(pieces: &[Piece], s: &[char]) -> bool {
        let mut memo = vec![None; (pieces.len() + 1) * (s.len() + 1)];
        match_from(pieces, s, 0, 0, &mut memo)
    }

    fn match_from(
        pieces: &[Piece],
        s: &[char],
        i: usize,
        j: usize,
        memo: &mut [Option<bool>],
    ) -> bool {
        let key = i * (s.len() + 1) + j;
        if let Some(known) = memo[key] {
            return known;
        }
        let rest = s.get(j..).unwrap_or(&[]);
        let matched = match pieces.get(i) {
            None => rest.is_empty(),
            Some(Piece::Lit(c)) => {
                rest.first() == Some(c) && match_from(pieces, s, i + 1, j + 1, memo)
            }
            Some(Piece::Star) => {
                match_from(pieces, s, i + 1, j, memo)
                    || (!rest.is_empty() && match_from(pieces, s, i, j + 1, memo))
            }
            Some(Piece::One) => !rest.is_empty() && match_from(pieces, s, i + 1, j + 1, memo),
            Some(Piece::Class(ranges)) => {
                rest.first()
                    .is_some_and(|&c| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi))
                    && match_from(pieces, s, i + 1, j + 1, memo)
            }
            Some(Piece::Alt(items)) => {
                let mut options: Vec<&str> = items
                    .iter()
                    .map(String::as_str)
                    .filter(|i| !i.is_empty())
                    .collect();
                if options.is_empty() {
                    options.push("");
                }
                options.iter().any(|o| {
                    let o: Vec<char> = o.chars().collect();
                    rest.starts_with(&o) && match_from(pieces, s, i + 1, j + o.len(), memo)
                })
            }
        };
        memo[key] = Some(matched);
        matched
    }

    /// Request headers no caller may set (docs/allowlist.md, `headers.allow`): hop-by-hop
    /// (RFC 9110 7.6.1), framing, routing, forwarding, client-address spoofing, method overrides,
    /// and Accept-Encoding.
    fn forbidden(name: &str) -> bool {
        const NAMES: &[&str] = &[
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "content-length",
            "expect",
            "host",
            "via",
            "forwarded",
            "x-real-ip",
            "x-client-ip",
            "true-client-ip",
            "cf-connecting-ip",
            "x-cluster-client-ip",
            "x-originating-ip",
            "x-remote-ip",
            "x-remote-addr",
            "x-host",
            "x-original-host",
            "x-original-url",
            "x-rewrite-url",
            "x-original-forwarded-for",
            "x-http-method",
            "x-http-method-override",
            "x-method-override",
            "accept-encoding",
        ];
        NAMES.contains(&name)
            || ["x-forwarded-", "x-envoy-", "proxy-"]
                .iter()
                .any(|p| name.starts_with(p))
    }

    /// RFC 9110 `token`.
    fn token(name: &str) -> bool {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    }

    /// The caller headers that pass, lowercased, or `None` when the call is refused: a header
    /// that is not a token, is forbidden, not allowed, given twice, or has a control character
    /// in its value refuses the call; an injected one is dropped.
    pub fn caller_headers(
        allow: &[&str],
        inject: &[&str],
        given: &[(String, String)],
    ) -> Option<Vec<(String, Vec<u8>)>> {
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        for (name, value) in given {
            if !token(name) {
                return None;
            }
            let name = name.to_ascii_lowercase();
            if forbidden(&name) {
                return None;
            }
            if inject.iter().any(|i| i.eq_ignore_ascii_case(&name)) {
                continue;
            }
            let ok_value = value
                .bytes()
                .all(|b| (b >= 0x20 && b != 0x7f) || b == b'\t');
            if !allow.iter().any(|a| a.eq_ignore_ascii_case(&name))
                || out.iter().any(|(n, _)| *n == name)
                || !ok_value
            {
                return None;
            }
            out.push((name, value.clone().into_bytes()));
        }
        Some(out)
    }

    /// Every occurrence of a secret blanked byte for byte; and when `cut` (the data was cut at
    /// a cap), the longest end of the data that is a secret's start, however short.
    pub fn redact_cut(data: &[u8], cut: bool) -> Vec<u8> {
        let mut out = redact(data);
        for s in [SECRET_TOKEN, SECRET_TENANT] {
            let start = (1..s.len())
                .rev()
                .find(|&n| out.ends_with(&s.as_bytes()[..n]));
            if let (true, Some(n)) = (cut, start) {
                let end = out.len();
                out[end - n..].fill(b'*');
            }
        }
        out
    }

    /// Every occurrence of a secret, blanked byte for byte.
    pub fn redact(data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        for s in [SECRET_TOKEN, SECRET_TENANT] {
            let s = s.as_bytes();
            let mut i = 0;
            while i + s.len() <= data.len() {
                if &data[i..i + s.len()] == s {
                    out[i..i + s.len()].fill(b'*');
                    i += s.len();
                } else {
                    i += 1;
                }
            }
        }
        out
    }

    /// The response headers of the base policy's targets (Content-Type, ETag, X-Trace): each
    /// one's values joined, secrets blanked, cut to 8 KiB on a character boundary (and the
    /// start of a secret at the cut blanked).
    pub fn response_headers(map: &http::HeaderMap) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for name in map.keys() {
            if !["content-type", "etag", "x-trace"].contains(&name.as_str()) {
                continue;
            }
            let joined: Vec<String> = map
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            let mut value = joined.join(", ");
            let cut = value.len() > 8 * 1024;
            while value.len() > 8 * 1024 {
                value.pop();
            }
            let redacted = redact_cut(value.as_bytes(), cut);
            let value = String::from_utf8(redacted).expect("secrets are ASCII");
            out.push((name.as_str().to_owned(), value));
        }
        out
    }

    /// The IANA IPv4 Special-Purpose Address Registry and the IPv4 Multicast Address Space
    /// Registry, mapped to harpoon's classes, plus the metadata addresses cloud providers
    /// document. The most specific row wins. Rows marked globally reachable by IANA are public,
    /// except inside 192.0.0.0/24 (IETF protocol assignments), which harpoon keeps reserved.
    const V4_ROWS: &[(&str, AddressClass)] = &[
        ("0.0.0.0/8", Unspecified),        // RFC 791 "this network"
        ("10.0.0.0/8", Private),           // RFC 1918
        ("100.64.0.0/10", Private),        // RFC 6598 shared address space
        ("127.0.0.0/8", Loopback),         // RFC 1122
        ("169.254.0.0/16", LinkLocal),     // RFC 3927
        ("172.16.0.0/12", Private),        // RFC 1918
        ("192.0.0.0/24", Reserved),        // RFC 6890 IETF protocol assignments (and its sub-rows)
        ("192.0.2.0/24", Reserved),        // RFC 5737 TEST-NET-1
        ("192.31.196.0/24", Public),       // RFC 7535 AS112-v4, globally reachable
        ("192.52.193.0/24", Public),       // RFC 7450 AMT, globally reachable
        ("192.88.99.0/24", Reserved),      // RFC 7526 deprecated 6to4 relay anycast
        ("192.168.0.0/16", Private),       // RFC 1918
        ("192.175.48.0/24", Public),       // RFC 7534 AS112 direct delegation, globally reachable
        ("198.18.0.0/15", Reserved),       // RFC 2544 benchmarking
        ("198.51.100.0/24", Reserved),     // RFC 5737 TEST-NET-2
        ("203.0.113.0/24", Reserved),      // RFC 5737 TEST-NET-3
        ("224.0.0.0/4", Multicast),        // RFC 5771
        ("240.0.0.0/4", Reserved),         // RFC 1112
        ("255.255.255.255/32", Multicast), // RFC 919 limited broadcast
        ("169.254.169.254/32", Metadata),  // AWS, GCP, Azure, OpenStack instance metadata
        ("169.254.170.2/32", Metadata),    // AWS ECS task metadata
        ("169.254.169.123/32", Metadata),  // AWS time sync
        ("169.254.169.253/32", Metadata),  // AWS VPC DNS
        ("100.100.100.200/32", Metadata),  // Alibaba Cloud metadata
        ("168.63.129.16/32", Metadata),    // Azure WireServer
        ("192.0.0.192/32", Metadata),      // Oracle Cloud metadata (legacy)
    ];

    /// The IANA IPv6 Special-Purpose Address Registry, the IPv6 multicast space and the
    /// deprecated site-local range, mapped likewise. Forms that carry an IPv4 address
    /// (::ffff:0:0/96, 64:ff9b::/96, 2002::/16, 2001::/32) are unwrapped before this table.
    const V6_ROWS: &[(&str, AddressClass)] = &[
        ("::/128", Unspecified),           // RFC 4291
        ("::1/128", Loopback),             // RFC 4291
        ("::/96", Reserved),               // RFC 4291 deprecated IPv4-compatible
        ("64:ff9b:1::/48", Private),       // RFC 8215 local-use translation
        ("100::/64", Reserved),            // RFC 6666 discard-only
        ("100:0:0:1::/64", Reserved),      // RFC 9780 dummy prefix
        ("2001::/23", Reserved),           // RFC 2928 IETF protocol assignments (and its sub-rows)
        ("2001:db8::/32", Reserved),       // RFC 3849 documentation
        ("2620:4f:8000::/48", Public), // RFC 7534 AS112-v6 direct delegation, globally reachable
        ("3fff::/20", Reserved),       // RFC 9637 documentation
        ("5f00::/16", Reserved),       // RFC 9602 SRv6 SIDs
        ("fc00::/7", Private),         // RFC 4193 unique-local
        ("fe80::/10", LinkLocal),      // RFC 4291 link-local
        ("fec0::/10", Private),        // RFC 3879 deprecated site-local
        ("ff00::/8", Multicast),       // RFC 4291
        ("fd00:ec2::254/128", Metadata), // AWS instance metadata over IPv6
        ("fd00:ec2::23/128", Metadata), // AWS DNS and time over IPv6
        ("fe80::a9fe:a9fe/128", Metadata), // OpenStack metadata over IPv6 (neutron, Ussuri)
        ("fd20:ce::254/128", Metadata), // GCP metadata over IPv6
    ];

    fn rows() -> &'static [(IpNet, AddressClass)] {
        static ROWS: OnceLock<Vec<(IpNet, AddressClass)>> = OnceLock::new();
        ROWS.get_or_init(|| {
            V4_ROWS
                .iter()
                .chain(V6_ROWS)
                .map(|(n, c)| (n.parse().expect("registry row"), *c))
                .collect()
        })
    }

    /// The IPv4 address an IPv6 address carries, by the RFC that defines each form.
    pub fn unwrap(ip: IpAddr) -> IpAddr {
        let IpAddr::V6(v6) = ip else { return ip };
        let o = v6.octets();
        let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
        let zero = |r: std::ops::Range<usize>| o[r].iter().all(|&b| b == 0);
        if zero(0..10) && o[10..12] == [0xff, 0xff] {
            return IpAddr::V4(last); // RFC 4291 IPv4-mapped
        }
        if zero(0..8) && o[8..12] == [0xff, 0xff, 0, 0] {
            return IpAddr::V4(last); // RFC 2765 SIIT
        }
        if o[..4] == [0, 0x64, 0xff, 0x9b] && zero(4..12) {
            return IpAddr::V4(last); // RFC 6052 well-known NAT64 prefix
        }
        if o[..2] == [0x20, 0x02] {
            return IpAddr::V4(Ipv4Addr::new(o[2], o[3], o[4], o[5])); // RFC 3056 6to4
        }
        if o[..4] == [0x20, 0x01, 0, 0] {
            return IpAddr::V4(Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15])); // RFC 4380 Teredo
        }
        ip
    }

    /// The class of the most specific row holding the unwrapped address; public when none does.
    pub fn classify(ip: IpAddr) -> AddressClass {
        let ip = unwrap(ip);
        rows()
            .iter()
            .filter(|(n, _)| n.contains(&ip))
            .max_by_key(|(n, _)| n.prefix_len())
            .map_or(Public, |(_, c)| *c)
    }

    /// An IPv4 address in, at the edge of, or just outside a registry row.
    pub fn v4_near_row(inp: &mut Input) -> Ipv4Addr {
        let (net, _) = inp.pick(V4_ROWS);
        let net: ipnet::Ipv4Net = net.parse().expect("row");
        let base = u32::from(net.network());
        let size = u32::MAX
            .checked_shr(u32::from(net.prefix_len()))
            .unwrap_or(0);
        let offset = match inp.below(4) {
            0 => 0,
            1 => size,
            2 => size.wrapping_add(1),
            _ => inp.u32() & size,
        };
        Ipv4Addr::from(base.wrapping_add(offset))
    }

    pub fn v6_near_row(inp: &mut Input) -> IpAddr {
        let (net, _) = inp.pick(V6_ROWS);
        let net: ipnet::Ipv6Net = net.parse().expect("row");
        let base = u128::from(net.network());
        let size = u128::MAX
            .checked_shr(u32::from(net.prefix_len()))
            .unwrap_or(0);
        let random =
            u128::from(inp.u32()) << 64 | u128::from(inp.u32()) << 32 | u128::from(inp.u32());
        let offset = match inp.below(4) {
            0 => 0,
            1 => size,
            2 => size.wrapping_add(1),
            _ => random & size,
        };
        IpAddr::V6(Ipv6Addr::from(base.wrapping_add(offset)))
    }

    /// Every IPv6 spelling of an IPv4 address: mapped, SIIT, NAT64, 6to4 and Teredo (with
    /// arbitrary server, flags and port bits from `noise`).
    pub fn spellings(v4: Ipv4Addr, noise: u32) -> Vec<Ipv6Addr> {
        let [a, b, c, d] = v4.octets();
        let w = |hi: u8, lo: u8| u16::from(hi) << 8 | u16::from(lo);
        let n = noise.to_be_bytes();
        vec![
            Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, w(a, b), w(c, d)),
            Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, w(a, b), w(c, d)),
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, w(a, b), w(c, d)),
            Ipv6Addr::new(0x2002, w(a, b), w(c, d), w(n[0], n[1]), 0, 0, 0, 1),
            Ipv6Addr::new(
                0x2001,
                0,
                w(n[0], n[1]),
                w(n[2], n[3]),
                0,
                w(n[1], n[2]),
                w(!a, !b),
                w(!c, !d),
            ),
        ]
    }

    /// docs/allowlist.md `network.allow_cidrs`: metadata, unspecified and multicast peers never;
    /// harpoon's own listeners never; else inside a CIDR (the address or the IPv4 one it
    /// carries), or public when there are none.
    pub fn may_connect(ip: IpAddr, port: u16, allow: &[IpNet], own: &[SocketAddr]) -> bool {
        let class = classify(ip);
        if matches!(class, Metadata | Unspecified | Multicast) {
            return false;
        }
        let plain = unwrap(ip);
        let listener = own.iter().any(|l| {
            l.port() == port && (l.ip() == plain || l.ip().is_unspecified() && class == Loopback)
        });
        if listener {
            return false;
        }
        if allow.is_empty() {
            return class == Public;
        }
        allow.iter().any(|n| n.contains(&ip) || n.contains(&plain))
    }

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
    const DEFAULT_RESPONSE_BYTES: u64 = 1024 * 1024;
    const DEFAULT_TIMEOUT_MS: u64 = 10_000;

    /// The reference decision on one tool call against a generated policy.
    pub(super) fn decide(gp: &GenPolicy, tool: &str, args: &Map<String, Value>) -> Option<Allowed> {
        if args.len() > 256 {
            return None;
        }
        if tool == "call_target" {
            return decide_target(gp, args);
        }
        for t in &gp.targets {
            for r in &t.routes {
                if format!("{}.{}", t.label, r.name) == tool {
                    return decide_route(t, r, args);
                }
            }
        }
        None
    }

    fn headers_arg(v: &Value) -> Option<Vec<(String, String)>> {
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

    fn check_param(p: Option<&super::GenParam>, v: &Value) -> Option<String> {
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
    fn schema_ok(v: &Value) -> bool {
        let Value::Object(m) = v else { return false };
        m.keys().all(|k| k == "name")
            && m.get("name")
                .and_then(Value::as_str)
                .is_some_and(|s| s.chars().count() <= 8)
    }

    fn decide_route(t: &GenTarget, r: &GenRoute, args: &Map<String, Value>) -> Option<Allowed> {
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
            if text.is_empty() || dot_segment(&text) {
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

    fn url(t: &GenTarget, path: &str, pairs: &[String]) -> String {
        let mut u = format!("{}{path}", t.base.1);
        if !pairs.is_empty() {
            u.push('?');
            u.push_str(&pairs.join("&"));
        }
        u
    }

    fn decide_target(gp: &GenPolicy, args: &Map<String, Value>) -> Option<Allowed> {
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
        let granting: Vec<&super::GenRule> = t
            .rules
            .iter()
            .filter(|r| r.spec.matches(&canonical) && r.methods.contains(&method))
            .collect();
        if granting.is_empty() {
            return None;
        }
        let allows = |r: &super::GenRule, name: &str| match &r.query {
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
}
