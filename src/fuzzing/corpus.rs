//! The shared material of the properties: word lists of hostile texts, paths and globs, the
//! base policy of one target per base URL, and the secrets it injects.

use super::generators::*;
use super::input::Input;
use crate::config::{self, LoadedFile};
use crate::policy::types::Host;
use crate::policy::{Policy, SecretMode};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

/// Compiles one allowlist written as JSON (YAML's JSON subset), resolving `${env:...}` from
/// `secrets`. `None` when the generator wrote something the compiler refuses.
pub(crate) fn compile_json(
    doc: &Value,
    secrets: &dyn Fn(&str) -> Option<String>,
) -> Option<Arc<Policy>> {
    let name: Arc<str> = Arc::from("<generated>");
    let raw = config::parse(&name, doc.to_string().as_bytes()).ok()?;
    Policy::compile_with_env(&[LoadedFile { name, raw }], SecretMode::Resolve, secrets).ok()
}

/// Base URLs as written, and the URL prefix each must compile to.
pub(crate) const BASES: &[(&str, &str)] = &[
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
pub(crate) const LITERALS: &[&str] = &[
    "items", "v1", "a.b", "x-y_z", "~u", "@me", "c:d", "(1)", "a=b;c", "*", "!$&'+,",
];

/// Values and texts an attacker would try in a parameter, a query or a header.
#[rustfmt::skip] // A word list reads best as a paragraph.
pub(crate) const HOSTILE: &[&str] = &[
    "a", "", ".", "..", "b", "inv_1", "x y", "/", "../", "%2e", "%2E%2e", "%2f", "\\", "?", "#",
    "@", ":", "é", "\r\n", "\t", "\0", "a.b", "~", "-_", "..;", ";", "%25", "%", "0", "12",
    "http://169.254.169.254/", "//evil.example", "\u{7f}", "\u{2028}", "\u{feff}", "ÿ", "&x=1",
    "=",
    "+", "[::1]", "LONG",
];

/// A hostile text: one to three pieces, or a free text.
pub(crate) fn hostile_text(inp: &mut Input) -> String {
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
pub(crate) fn base_policy() -> &'static Arc<Policy> {
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
pub(crate) fn secrets(name: &str) -> Option<String> {
    match name {
        "TOKEN" => Some(SECRET_TOKEN.to_owned()),
        "TENANT" => Some(SECRET_TENANT.to_owned()),
        _ => None,
    }
}

/// A caller's path: mostly absolute, with `//` and trailing slashes now and then.
pub(crate) fn hostile_path(inp: &mut Input) -> String {
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

pub(crate) fn hostile_glob(inp: &mut Input) -> String {
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

pub(crate) fn same_host(host: &Host, url: &url::Url) -> bool {
    match (host, url.host()) {
        (Host::Domain(d), Some(url::Host::Domain(h))) => d == h,
        (Host::Ip(IpAddr::V4(a)), Some(url::Host::Ipv4(b))) => *a == b,
        (Host::Ip(IpAddr::V6(a)), Some(url::Host::Ipv6(b))) => *a == b,
        _ => false,
    }
}

/// Response bytes: a free text, a secret, obs-text, or a long run.
pub(crate) fn response_bytes(inp: &mut Input) -> Vec<u8> {
    match inp.below(8) {
        0 => SECRET_TOKEN.as_bytes().to_vec(),
        1 => format!("Bearer {SECRET_TOKEN}, {SECRET_TENANT}").into_bytes(),
        2 => vec![b'v'; 9000],
        3 => vec![0xC3, 0xA9, 0xFF, b' ', b'x'],
        4 => SECRET_TENANT.as_bytes()[..1 + inp.below(SECRET_TENANT.len())].to_vec(),
        _ => hostile_text(inp).into_bytes(),
    }
}

/// Pieces of caller paths: names the globs use, and every spelling trick.
pub(crate) const PATH_TOKENS: &[&str] = &[
    "reports", "a", "b", "x.json", "v1", "files", "admin", ".", "..", "%2e", "%2E%2e", ".%2e",
    "%2f", "%2F", "%5c", "\\", "%00", "%0d%0a", "%7f", "?", "#", "%25", "%41", "%61", "%21", "!",
    ";", "..;", ".;", " ", "é", "%C3%A9", "%zz", "%4", "~", "%7E", "*", "[", "{", "@", ":", "%3a",
    "%3A", "+", "%2B", "'", "%", "a%2", "\t", "\u{7f}", "\u{2028}", "ÿ", "-", "_",
];

/// Glob segments an allowlist author might write, including the careless ones.
#[rustfmt::skip] // A word list reads best as a paragraph.
pub(crate) const GLOB_SEGMENTS: &[&str] = &[
    "reports", "a", "b", "*", "**", "?", "x*", "*.json", "[ab]", "[a-c]", "[.-0]", "[*]", "{a,b}",
    "{,a}", "{x.json,v1}", "v[0-9]", "files", "admin", "..", ".", "!", ";", "a;b", "[!a]", "??",
    "{a,**}", "[a/b]", "*a*", "%2e", "é", "{a/b,c}",
];
