//! The path-injection bugs peers published, run end to end against harpoon: each payload is
//! written here from the advisory or thread (never copied from it), against a route whose
//! parameter has no constraint at all (the worst case an allowlist can hold) and against
//! `call_target`. Every case either is refused with its exact reason code and nothing reaches
//! the upstream, or goes out as exactly the one URL stated: the value in its one segment.
//!
//! - FastMCP GHSA-vv7q-7jx5-f767: raw substitution then `urljoin`, so `../` climbed and an
//!   absolute URL replaced the host, with the provider's credentials.
//! - Kong AI MCP Proxy 3.13.0.0: "path traversal can be done with path parameter".
//! - mcphub #1083 (fixed in #1089): `../../admin/config`, `a?x=1`, `a#frag`, a stray `%`.
//! - google/adk-js #597: path traversal, query smuggling; adk-python #7065: `..` kept literal
//!   beside encoded slashes (`..%2F..%2Fadmin`) after `quote(safe="")`.
//! - windmill #9211: `../../../resources/get/u/alice/prod_db` reached another endpoint.
//! - agentgateway #3598: path parameter values validated and encoded before forwarding.

use crate::support::engine::{call, code, engine};
use crate::support::upstream::Upstream;
use serde_json::{Value, json};

enum Expect {
    /// Refused with this reason code; the upstream sees nothing.
    Denied(&'static str),
    /// Sent as exactly this request target.
    Sent(&'static str),
}

fn cases() -> Vec<(&'static str, &'static str, Value, Expect)> {
    use Expect::*;
    let free = |v: &str| json!({"any": v});
    let ct = |p: &str| json!({"label": "api", "method": "GET", "path": p});
    vec![
        (
            "fastmcp",
            "api_get_free",
            free("../../admin"),
            Sent("/api/free/%2E%2E%2F%2E%2E%2Fadmin"),
        ),
        (
            "fastmcp",
            "api_get_free",
            free("http://evil.example/x"),
            Sent("/api/free/http%3A%2F%2Fevil%2Eexample%2Fx"),
        ),
        (
            "fastmcp",
            "api_get_free",
            free("//evil.example/x"),
            Sent("/api/free/%2F%2Fevil%2Eexample%2Fx"),
        ),
        ("fastmcp", "api_get_free", free(".."), Denied("bad_param")),
        (
            "kong",
            "api_get_free",
            free("%2e%2e%2fadmin"),
            Denied("double_encoded"),
        ),
        (
            "kong",
            "call_target",
            ct("/reports/../admin"),
            Denied("path_not_allowed"),
        ),
        (
            "mcphub",
            "api_get_free",
            free("../../admin/config"),
            Sent("/api/free/%2E%2E%2F%2E%2E%2Fadmin%2Fconfig"),
        ),
        (
            "mcphub",
            "api_get_free",
            free("a?x=1"),
            Sent("/api/free/a%3Fx%3D1"),
        ),
        (
            "mcphub",
            "api_get_free",
            free("a#frag"),
            Sent("/api/free/a%23frag"),
        ),
        (
            "mcphub",
            "api_get_free",
            free("100%"),
            Sent("/api/free/100%25"),
        ),
        (
            "mcphub",
            "call_target",
            ct("/reports/a%"),
            Denied("path_not_allowed"),
        ),
        (
            "adk-js",
            "api_get_free",
            free("x?role=admin&"),
            Sent("/api/free/x%3Frole%3Dadmin%26"),
        ),
        (
            "adk-js",
            "call_target",
            ct("/reports/x?role=admin"),
            Denied("path_not_allowed"),
        ),
        (
            "adk-python",
            "api_get_free",
            free("..%2F..%2Fadmin"),
            Denied("double_encoded"),
        ),
        ("adk-python", "api_get_free", free("."), Denied("bad_param")),
        (
            "adk-python",
            "api_get_free",
            free("..;"),
            Denied("bad_param"),
        ),
        (
            "windmill",
            "api_get_free",
            free("../../../resources/get/u/alice/prod_db"),
            Sent("/api/free/%2E%2E%2F%2E%2E%2F%2E%2E%2Fresources%2Fget%2Fu%2Falice%2Fprod_db"),
        ),
        (
            "windmill",
            "call_target",
            ct("/reports/../../resources/get"),
            Denied("path_not_allowed"),
        ),
        (
            "agentgateway",
            "api_get_free",
            free("a\\..\\b"),
            Sent("/api/free/a%5C%2E%2E%5Cb"),
        ),
        (
            "agentgateway",
            "api_get_free",
            free("%5c..%5cadmin"),
            Denied("double_encoded"),
        ),
        (
            "agentgateway",
            "api_get_free",
            free(""),
            Denied("bad_param"),
        ),
        (
            "agentgateway",
            "api_get_free",
            free("x\r\nHost: evil"),
            Sent("/api/free/x%0D%0AHost%3A%20evil"),
        ),
    ]
}

#[tokio::test]
async fn peers_published_path_injections_are_refused_or_stay_in_their_segment() {
    let up = Upstream::echo().await;
    let engine = engine(&crate::enforcement::allowlist(&up.url()));
    for (peer, tool, args, expect) in cases() {
        let before = up.requests().len();
        let outcome = call(&engine, tool, args.clone()).await;
        match expect {
            Expect::Denied(reason) => {
                assert_eq!(code(&outcome), reason, "{peer}: {tool} {args}");
                assert_eq!(
                    up.requests().len(),
                    before,
                    "{peer}: {args} reached the upstream"
                );
            }
            Expect::Sent(target) => {
                assert_eq!(code(&outcome), "ok", "{peer}: {tool} {args}: {outcome:?}");
                let seen = up.requests();
                assert_eq!(seen.len(), before + 1, "{peer}: one request");
                assert_eq!(seen[before].target, target, "{peer}: {args}");
            }
        }
    }
}
