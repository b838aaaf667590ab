//! A differential test of harpoon's URL handling against the WHATWG URL Standard's own test
//! cases (fuzz/data/whatwg-urltestdata.json, from web-platform-tests). harpoon meets URLs in two
//! places: the `base_url` an allowlist names, and the `Location` of a redirect hop. For each, an
//! input the standard rejects is refused, and an accepted one means exactly what the standard
//! says it means: the same origin, the same path, the same query.

use harpoon::policy::hop::decide_hop;
use harpoon::policy::path::normalize;
use harpoon::policy::types::{Host, Method};
use harpoon::policy::{CallRequest, Decision, Target, decide};
use serde_json::{Value, json};

const DATA: &str = "fuzz/data/whatwg-urltestdata.json";

/// One test case: an input, an optional base, and the parts the standard expects (or failure).
struct Case {
    input: String,
    base: Option<String>,
    failure: bool,
    parts: Value,
}

impl Case {
    fn part(&self, name: &str) -> &str {
        self.parts[name].as_str().unwrap_or("")
    }
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(DATA).unwrap_or_else(|e| panic!("{DATA}: {e}"));
    let all: Vec<Value> = serde_json::from_str(&text).expect("JSON");
    all.into_iter()
        .filter(|c| c.is_object())
        .map(|c| Case {
            input: c["input"].as_str().expect("input").to_owned(),
            base: c["base"].as_str().map(str::to_owned),
            failure: c["failure"].as_bool().unwrap_or(false),
            parts: c,
        })
        .collect()
}

/// An allowlist with one target on `base_url`, granting GET on every path.
fn allowlist(base_url: &str) -> String {
    // JSON strings are YAML strings, escapes and all. Any query is granted, so a hop is judged
    // on where the standard resolves it; hop queries are judged in tests/callout.rs.
    let quoted = serde_json::to_string(base_url).expect("string");
    format!(
        "version: 1\ntargets:\n  - label: t\n    base_url: {quoted}\n    \
         dangerous: {{ allow_plaintext_http: true }}\n    redirects: 1\n    \
         paths: [{{ methods: [GET], glob: \"/**\", query: [\"*\"] }}]\n"
    )
}

fn compile(base_url: &str) -> Option<std::sync::Arc<harpoon::policy::Policy>> {
    let name: std::sync::Arc<str> = std::sync::Arc::from("<whatwg>");
    let raw = harpoon::config::parse(&name, allowlist(base_url).as_bytes()).ok()?;
    let file = harpoon::config::LoadedFile { name, raw };
    harpoon::policy::Policy::compile_with_env(
        &[file],
        harpoon::policy::SecretMode::Validate,
        &|_| None,
    )
    .ok()
}

/// The standard's `hostname` of a harpoon host.
fn hostname(host: &Host) -> String {
    host.to_string()
}

/// Whether `target`'s origin is the one the standard gives (`protocol`, `hostname`, `port`).
fn same_origin(target: &Target, c: &Case) -> bool {
    let port = match c.part("port") {
        "" => match c.part("protocol") {
            "https:" => 443,
            "http:" => 80,
            _ => return false,
        },
        p => p.parse().unwrap_or(0),
    };
    c.part("protocol") == format!("{}:", target.origin.scheme.as_str())
        && c.part("hostname") == hostname(&target.origin.host)
        && port == target.origin.port
}

/// A base_url harpoon accepts is a URL the standard accepts, and harpoon's origin and base path
/// are the standard's; one the standard rejects never compiles.
#[test]
fn base_urls_mean_what_the_url_standard_says() {
    let mut accepted = 0;
    let mut refused_failures = 0;
    for c in cases().iter().filter(|c| c.base.is_none()) {
        let compiled = compile(&c.input);
        if c.failure {
            assert!(
                compiled.is_none(),
                "{:?} fails in the standard but compiles",
                c.input
            );
            refused_failures += 1;
            continue;
        }
        let Some(policy) = compiled else { continue };
        let t = &policy.targets()[0];
        assert!(
            same_origin(t, c),
            "{:?}: origin {} vs {}",
            c.input,
            t.origin,
            c.parts
        );
        assert_eq!(
            t.base_path.as_str(),
            c.part("pathname").trim_end_matches('/'),
            "{:?}",
            c.input
        );
        for (part, why) in [
            ("username", "user info"),
            ("password", "user info"),
            ("search", "a query"),
            ("hash", "a fragment"),
        ] {
            assert_eq!(c.part(part), "", "{:?} compiled with {why}", c.input);
        }
        accepted += 1;
    }
    // The data holds dozens of each; far fewer means the test stopped testing.
    assert!(accepted >= 40, "only {accepted} base URLs compiled");
    assert!(
        refused_failures >= 40,
        "only {refused_failures} failures seen"
    );
}

/// A permit for a GET of `path` on the target: the current request a redirect comes back to.
fn permit<'p>(
    policy: &'p harpoon::policy::Policy,
    path: &str,
) -> Option<harpoon::policy::Permit<'p>> {
    let args = json!({"label": "t", "method": "GET", "path": path});
    let Some(harpoon::policy::ToolKind::Upstream(tool)) = policy.tool("call_target") else {
        panic!("the target declares paths, so call_target exists");
    };
    let request = CallRequest::parse(tool, args.as_object()).ok()?;
    match decide(policy, &request) {
        Decision::Allow(p) => Some(p),
        Decision::Deny(_) => None,
    }
}

/// A redirect hop that harpoon follows goes to exactly the URL the standard resolves the
/// `Location` to (fragment dropped), on the target's origin, under its base path; a `Location`
/// the standard rejects is refused; and every same-origin hop under the base path to a canonical
/// path is followed.
#[test]
fn redirect_locations_resolve_as_the_url_standard_says() {
    let mut followed = 0;
    let mut refused = 0;
    for c in cases() {
        let Some(base) = c.base.as_deref() else {
            continue;
        };
        let Ok(current) = url::Url::parse(base) else {
            continue;
        };
        if !matches!(current.scheme(), "http" | "https")
            || current.query().is_some()
            || current.fragment().is_some()
            || !current.username().is_empty()
        {
            continue;
        }
        // Two targets: one on the bare origin, one whose base path is the first segment of the
        // current URL, so a hop that climbs out of it is seen.
        let origin = current.origin().ascii_serialization();
        let first = current
            .path()
            .split('/')
            .nth(1)
            .filter(|s| !s.is_empty() && current.path().len() > s.len() + 1);
        let bases: Vec<String> = std::iter::once(origin.clone())
            .chain(first.map(|s| format!("{origin}/{s}")))
            .collect();
        for base_url in bases {
            let Some(pol) = compile(&base_url) else {
                continue;
            };
            let t = &pol.targets()[0];
            let rel = &current.path()[t.base_path.as_str().len()..];
            let Some(p) = permit(&pol, rel) else { continue };
            if p.url().as_str() != current.as_str() {
                continue;
            }
            let hop = decide_hop(&p, &c.input, Method::Get, false);
            if c.failure {
                assert!(
                    matches!(hop, Err(harpoon::policy::HopError::NotAUrl { .. })),
                    "{:?} against {base}: the standard fails it; harpoon: {hop:?}",
                    c.input
                );
                refused += 1;
                continue;
            }
            let pathname = c.part("pathname");
            let under = pathname
                .strip_prefix(t.base_path.as_str())
                .filter(|r| r.starts_with('/'));
            let canonical = under.is_some_and(|r| normalize(r).is_ok_and(|n| n.as_str() == r));
            let parses = current.join(&c.input).is_ok();
            match hop {
                Ok(h) => {
                    let u = url::Url::parse(h.url().as_str()).expect("a hop URL parses");
                    assert!(
                        same_origin(t, &c),
                        "{:?} against {base} left the origin",
                        c.input
                    );
                    assert!(
                        under.is_some(),
                        "{:?} against {base} left {}",
                        c.input,
                        t.base_path.as_str()
                    );
                    assert_eq!(u.path(), pathname, "{:?} against {base}", c.input);
                    let search = u
                        .query()
                        .filter(|q| !q.is_empty())
                        .map(|q| format!("?{q}"))
                        .unwrap_or_default();
                    assert_eq!(search, c.part("search"), "{:?} against {base}", c.input);
                    followed += 1;
                }
                Err(why) => {
                    assert!(
                        !(same_origin(t, &c) && canonical && parses),
                        "{:?} against {base} is {} on the origin under the base path; {why}",
                        c.input,
                        c.part("href")
                    );
                    refused += 1;
                }
            }
        }
    }
    assert!(followed >= 60, "only {followed} hops followed");
    assert!(refused >= 60, "only {refused} hops refused");
    println!("{followed} hops followed, {refused} refused");
}

/// The parser every check relies on resolves each http(s) case as the standard says, or refuses
/// it: a refusal fails closed (the base URL or the hop is refused), so it is listed, not wrong.
#[test]
fn the_url_parser_agrees_with_the_url_standard_on_http_urls() {
    let mut checked = 0;
    let mut stricter = Vec::new();
    for c in cases() {
        let base = c.base.as_deref().map(url::Url::parse);
        let parsed = match base {
            Some(Ok(b)) => b.join(&c.input),
            Some(Err(_)) => continue,
            None => url::Url::parse(&c.input),
        };
        if c.failure {
            if let Ok(u) = &parsed {
                assert!(
                    !matches!(u.scheme(), "http" | "https"),
                    "{:?} fails in the standard, parses as {u}",
                    c.input
                );
            }
            continue;
        }
        if !matches!(c.part("protocol"), "http:" | "https:") {
            continue;
        }
        match parsed {
            Ok(u) => assert_eq!(
                u.as_str(),
                c.part("href"),
                "{:?} against {:?}",
                c.input,
                c.base
            ),
            Err(_) => stricter.push(c.input.clone()),
        }
        checked += 1;
    }
    assert!(checked >= 200, "only {checked} http(s) cases");
    println!("stricter than the standard on: {stricter:?}");
    for input in &stricter {
        assert!(
            STRICTER.contains(&input.as_str()),
            "the URL parser newly refuses {input:?}"
        );
    }
}

/// Inputs the standard resolves and the `url` crate refuses (it predates the standard's change
/// for `///host` against a special base). harpoon then refuses the hop: fail closed.
const STRICTER: &[&str] = &[
    "///test",
    "///\\//\\//test",
    "///example.org/path",
    "///example.org/../path",
    "///example.org/../../",
    "///example.org/../path/../../",
    "///example.org/../path/../../path",
];

#[test]
fn the_test_data_is_the_whatwg_file() {
    let text = std::fs::read_to_string(DATA).expect("data");
    assert!(text.starts_with("[\n  \"# Pulled from https://github.com/web-platform-tests/wpt/"));
    assert!(cases().len() > 800);
}
