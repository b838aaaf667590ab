//! The attack table: hostile tool arguments and careless allowlists, each denied with its exact
//! reason code, and a canary upstream (the target's only address) proving nothing reached the
//! network.

use crate::support::engine::{StaticResolver, call, code, engine, engine_with, response};
use crate::support::upstream::Upstream;
use harpoon::callout::OwnListeners;
use serde_json::{Value, json};

/// The allowlist every attack runs against; its target's only address is `upstream`.
pub fn allowlist(upstream: &str) -> String {
    format!(
        r#"
version: 1
targets:
  - label: api
    base_url: {upstream}/api
    network: {{ allow_cidrs: [127.0.0.1/32] }}
    headers:
      allow: [Accept, X-Request-Id, Content-Type, Authorization-Hint]
      inject: {{ Authorization: "Bearer ${{env:TEST_TOKEN}}" }}
    response_headers: [Content-Type, ETag, Location]
    limits: {{ request_bytes: 1KiB, response_bytes: 4KiB, timeout: 2s }}
    dangerous: {{ allow_plaintext_http: true }}
    routes:
      - name: get_item
        method: GET
        path: /items/{{id}}
        params: {{ id: {{ pattern: "^[a-z0-9_]{{1,32}}$" }} }}
        query: {{ expand: {{ enum: [lines, customer] }} }}
      - {{ name: get_free, method: GET, path: "/free/{{any}}" }}
      - name: create
        method: POST
        path: /items
        body:
          content_type: application/json
          schema: {{ type: object, required: [name], additionalProperties: false, properties: {{ name: {{ type: string, maxLength: 20 }} }} }}
    paths:
      - {{ methods: [GET], glob: "/reports/*", query: [date] }}
      - {{ methods: [GET, POST], glob: "/files/**" }}
"#
    )
}

fn ct(path: &str) -> Value {
    json!({"label": "api", "method": "GET", "path": path})
}

/// (tool, arguments, reason code). Every case must be denied before any connection.
fn attacks() -> Vec<(&'static str, Value, &'static str)> {
    let long = "a".repeat(2000);
    vec![
        // Route parameters: traversal, encoding, absolute URLs, CRLF, wrong types, extras.
        ("api_get_item", json!({"id": "../admin"}), "bad_param"),
        ("api_get_item", json!({"id": "%2e%2e"}), "bad_param"),
        ("api_get_item", json!({"id": "a/b"}), "bad_param"),
        (
            "api_get_item",
            json!({"id": "http://169.254.169.254/latest"}),
            "bad_param",
        ),
        ("api_get_item", json!({"id": "//evil.example"}), "bad_param"),
        ("api_get_item", json!({"id": "x@evil.example"}), "bad_param"),
        (
            "api_get_item",
            json!({"id": "x\r\nHost: evil.example"}),
            "bad_param",
        ),
        (
            "api_get_item",
            json!({"id": "x", "expand": "secrets"}),
            "bad_param",
        ),
        ("api_get_item", json!({}), "bad_param"),
        ("api_get_item", json!({"id": 5}), "bad_param"),
        (
            "api_get_item",
            json!({"id": "x", "url": "http://evil.example/"}),
            "bad_argument",
        ),
        (
            "api_get_item",
            json!({"id": "x", "body": "payload"}),
            "body_not_allowed",
        ),
        ("api_get_free", json!({"any": ".."}), "bad_param"),
        ("api_get_free", json!({"any": "."}), "bad_param"),
        ("api_get_free", json!({"any": ""}), "bad_param"),
        ("api_get_free", json!({"any": long}), "bad_param"),
        // Bodies.
        ("api_create", json!({}), "bad_body"),
        ("api_create", json!({"body": {"name": 1}}), "bad_body"),
        (
            "api_create",
            json!({"body": {"name": "x", "admin": true}}),
            "bad_body",
        ),
        ("api_create", json!({"body": "not an object"}), "bad_body"),
        // Free-form paths: traversal in every spelling, absolute URLs, separators, CRLF.
        ("call_target", ct("/reports/../admin"), "path_not_allowed"),
        (
            "call_target",
            ct("/reports/%2e%2e/admin"),
            "path_not_allowed",
        ),
        (
            "call_target",
            ct("/reports/%2E%2e%2fadmin"),
            "path_not_allowed",
        ),
        ("call_target", ct("/reports/.%2e/admin"), "path_not_allowed"),
        // Double encoding: a second decode upstream (IIS, some gateways) would see `..`.
        (
            "call_target",
            ct("/reports/%252e%252e/admin"),
            "double_encoded",
        ),
        ("call_target", ct("/reports/%252fadmin"), "double_encoded"),
        ("call_target", ct("/reports/%255cadmin"), "double_encoded"),
        ("api_get_free", json!({"any": "%2e%2e"}), "double_encoded"),
        ("api_get_free", json!({"any": "%2E."}), "double_encoded"),
        ("api_get_free", json!({"any": "a%2fb"}), "double_encoded"),
        (
            "api_get_free",
            json!({"any": "..%2f..%2fadmin"}),
            "double_encoded",
        ),
        ("api_get_free", json!({"any": "%5cadmin"}), "double_encoded"),
        (
            "api_get_free",
            json!({"any": "x%0d%0aHost:%20evil"}),
            "double_encoded",
        ),
        // A lone `*` is one non-empty segment: `/reports/*` does not grant `/reports/`.
        ("call_target", ct("/reports/"), "path_not_allowed"),
        ("call_target", ct("/reports/a%2fb"), "path_not_allowed"),
        ("call_target", ct("/reports/a%5cb"), "path_not_allowed"),
        ("call_target", ct("/reports\\..\\admin"), "path_not_allowed"),
        (
            "call_target",
            ct("//evil.example/reports/x"),
            "path_not_allowed",
        ),
        (
            "call_target",
            ct("http://evil.example/reports/x"),
            "path_not_allowed",
        ),
        ("call_target", ct("reports/x"), "path_not_allowed"),
        ("call_target", ct("/reports/x?admin=1"), "path_not_allowed"),
        ("call_target", ct("/reports/x#fragment"), "path_not_allowed"),
        (
            "call_target",
            ct("/reports/x\r\nHost: evil.example"),
            "path_not_allowed",
        ),
        (
            "call_target",
            ct("/reports/x%0d%0aHost:%20evil"),
            "path_not_allowed",
        ),
        ("call_target", ct("/reports/x%00"), "path_not_allowed"),
        ("call_target", ct("/reports/x/y"), "path_not_allowed"),
        ("call_target", ct("/reports//x"), "path_not_allowed"),
        ("call_target", ct("/admin"), "path_not_allowed"),
        ("call_target", ct(""), "path_not_allowed"),
        // Methods, labels, query, headers.
        (
            "call_target",
            json!({"label": "api", "method": "DELETE", "path": "/reports/x"}),
            "method_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "get", "path": "/reports/x"}),
            "method_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "TRACE", "path": "/reports/x"}),
            "method_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "CONNECT", "path": "/reports/x"}),
            "method_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "nope", "method": "GET", "path": "/reports/x"}),
            "unknown_target",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "query": {"admin": "1"}}),
            "query_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/files/x", "query": {"date": "1"}}),
            "query_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"Host": "evil.example"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"X-Forwarded-For": "127.0.0.1"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"X-Forwarded-Host": "evil.example"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"Forwarded": "for=127.0.0.1"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"X-Real-IP": "127.0.0.1"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"X-HTTP-Method-Override": "DELETE"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"Connection": "close, Authorization"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"Transfer-Encoding": "chunked"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"Content-Length": "0"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"Accept": "a\r\nX-Injected: 1"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"Accept": "a\nb"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"X-Secret": "1"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "headers": {"Bad Name": "1"}}),
            "header_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "body": "x"}),
            "body_not_allowed",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "POST", "path": "/files/a", "body": "x".repeat(1025)}),
            "request_too_large",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x", "timeout_ms": 1}),
            "bad_argument",
        ),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "url": "http://evil.example/"}),
            "bad_argument",
        ),
        (
            "call_target",
            json!({"label": ["api"], "method": "GET"}),
            "bad_argument",
        ),
    ]
}

#[tokio::test]
async fn every_attack_is_denied_with_its_reason_and_nothing_leaves() {
    let canary = Upstream::canary().await;
    let engine = engine(&allowlist(&canary.url()));
    let mut wrong = Vec::new();
    for (tool, args, want) in attacks() {
        let got = code(&call(&engine, tool, args.clone()).await);
        if got != want {
            wrong.push(format!("{tool} {args}: want {want}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(
        canary.hits(),
        0,
        "a denied request reached the canary: {:?}",
        canary.requests()
    );
}

/// A path value that cannot fill its segment is refused with a message that says why.
/// (Mutation testing found these messages unasserted.)
#[tokio::test]
async fn a_path_value_that_cannot_fill_its_segment_is_refused_saying_why() {
    let canary = Upstream::canary().await;
    let engine = engine(&allowlist(&canary.url()));
    for (value, why) in [
        ("..", "parameter 'any' is a dot segment"),
        ("..;x", "parameter 'any' is a dot segment"),
        ("", "parameter 'any' is empty"),
    ] {
        let outcome = call(&engine, "api_get_free", json!({ "any": value })).await;
        let harpoon::engine::Outcome::Denied(reason) = &outcome else {
            panic!("{value:?}: {outcome:?}")
        };
        assert_eq!(reason.to_string(), why, "{value:?}");
    }
    assert_eq!(canary.hits(), 0);
}

/// A refused free-form path tells the model what is wrong with it, one message per fault.
#[tokio::test]
async fn a_malformed_path_is_refused_saying_why() {
    let canary = Upstream::canary().await;
    let engine = engine(&allowlist(&canary.url()));
    // Short as sent (a longer argument is refused before it is read as a path), too long once
    // each `é` is encoded as `%C3%A9`.
    let too_long = format!("/reports/{}", "é".repeat(400));
    for (path, why) in [
        (
            too_long.as_str(),
            "path is longer than 2048 bytes (as sent, or once normalized)",
        ),
        ("reports/x", "path must start with '/'"),
        ("/reports/x\r\n", "path holds a control character"),
        ("/reports\\x", "path holds a backslash"),
        (
            "/reports/x?a=1",
            "path holds '?' or '#'; pass query parameters in 'query'",
        ),
        ("/reports//x", "path holds an empty segment ('//')"),
        (
            "/reports/%2E%2E",
            "path holds a '.' or '..' segment (plain or encoded)",
        ),
        ("/reports/a%2fb", "path holds an encoded '/', '\\' or NUL"),
        (
            "/reports/%2541",
            "path holds an encoded '%' (double encoding)",
        ),
        (
            "/reports/%4",
            "path holds a '%' that is not followed by two hex digits",
        ),
    ] {
        let outcome = call(&engine, "call_target", ct(path)).await;
        let harpoon::engine::Outcome::Denied(reason) = &outcome else {
            panic!("{path:?}: {outcome:?}")
        };
        let said = reason.to_string();
        assert_eq!(
            said.rsplit_once(" is not allowed: ").map(|(_, why)| why),
            Some(why),
            "{said:?}"
        );
    }
    assert_eq!(canary.hits(), 0);
}

#[tokio::test]
async fn the_same_allowlist_lets_legitimate_calls_through() {
    // The table above proves denial; this proves the allowlist is not simply broken.
    let up = Upstream::echo().await;
    let engine = engine(&allowlist(&up.url()));
    for (tool, args) in [
        ("api_get_item", json!({"id": "inv_1", "expand": "lines"})),
        ("api_create", json!({"body": {"name": "widget"}})),
        (
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/daily", "query": {"date": "2026-01-01"}}),
        ),
        (
            "call_target",
            json!({"label": "api", "method": "POST", "path": "/files/a/b", "body": "hello"}),
        ),
    ] {
        let r = response(call(&engine, tool, args.clone()).await);
        assert_eq!(r.status, 200, "{tool} {args}");
    }
    let targets: Vec<String> = up
        .requests()
        .iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    assert_eq!(
        targets,
        [
            "GET /api/items/inv_1?expand=lines",
            "POST /api/items",
            "GET /api/reports/daily?date=2026-01-01",
            "POST /api/files/a/b",
        ]
    );
}

#[tokio::test]
async fn hostile_values_in_free_parameters_stay_in_their_segment() {
    let up = Upstream::echo().await;
    let engine = engine(&allowlist(&up.url()));
    for (value, sent) in [
        ("../../admin", "/api/free/%2E%2E%2F%2E%2E%2Fadmin"),
        (
            "http://169.254.169.254/x",
            "/api/free/http%3A%2F%2F169%2E254%2E169%2E254%2Fx",
        ),
        ("@evil.example", "/api/free/%40evil%2Eexample"),
        ("a?b#c", "/api/free/a%3Fb%23c"),
        ("\\..\\", "/api/free/%5C%2E%2E%5C"),
    ] {
        let r = response(call(&engine, "api_get_free", json!({"any": value})).await);
        assert_eq!(r.status, 200);
        let seen = up.requests().pop().expect("a request");
        assert_eq!(seen.target, sent, "value {value:?}");
        assert_eq!(
            seen.header("host"),
            Some(format!("127.0.0.1:{}", up.addr.port()).as_str())
        );
    }
}

/// A careless allowlist author: the host is loopback in another spelling, with no
/// `allow_cidrs`, so only public addresses may be reached.
#[tokio::test]
async fn ip_encodings_of_loopback_in_base_url_are_still_denied() {
    let canary = Upstream::canary().await;
    let port = canary.addr.port();
    for host in [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0x7f.1",
        "017700000001",
        "127.1",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
    ] {
        let yaml = format!(
            "version: 1\ntargets:\n  - label: api\n    base_url: http://{host}:{port}/\n    dangerous: {{ allow_plaintext_http: true }}\n    paths: [{{ methods: [GET], glob: \"/*\" }}]\n"
        );
        let engine = engine(&yaml);
        let got = code(&call(&engine, "call_target", ct("/x")).await);
        assert_eq!(got, "address_not_allowed", "host {host}");
    }
    assert_eq!(canary.hits(), 0);
}

/// DNS that answers with an address the target may not reach (rebinding, split horizon):
/// refused before dialling.
#[tokio::test]
async fn dns_answers_outside_allow_cidrs_are_never_dialled() {
    let canary = Upstream::canary().await;
    let port = canary.addr.port();
    let yaml = format!(
        "version: 1\ntargets:\n  - label: api\n    base_url: http://api.internal.test:{port}/\n    network: {{ allow_cidrs: [10.20.0.0/16] }}\n    dangerous: {{ allow_plaintext_http: true }}\n    paths: [{{ methods: [GET], glob: \"/*\" }}]\n"
    );
    let resolver = StaticResolver::default().with("api.internal.test", &["127.0.0.1:0"]);
    let engine = engine_with(&yaml, resolver, OwnListeners::default());
    let outcome = call(&engine, "call_target", ct("/x")).await;
    assert_eq!(code(&outcome), "address_not_allowed", "{outcome:?}");
    // Public-only targets refuse a private answer the same way.
    let yaml = yaml.replace("    network: { allow_cidrs: [10.20.0.0/16] }\n", "");
    let resolver = StaticResolver::default().with("api.internal.test", &["127.0.0.1:0"]);
    let engine = engine_with(&yaml, resolver, OwnListeners::default());
    assert_eq!(
        code(&call(&engine, "call_target", ct("/x")).await),
        "address_not_allowed"
    );
    assert_eq!(canary.hits(), 0);
}

#[tokio::test]
async fn harpoons_own_listener_is_never_a_target() {
    let canary = Upstream::canary().await;
    let own = OwnListeners::default();
    own.add(canary.addr);
    let port = canary.addr.port();
    for host in ["127.0.0.1", "self.test"] {
        let yaml = format!(
            "version: 1\ntargets:\n  - label: api\n    base_url: http://{host}:{port}/\n    network: {{ allow_cidrs: [127.0.0.1/32] }}\n    dangerous: {{ allow_plaintext_http: true }}\n    paths: [{{ methods: [GET], glob: \"/*\" }}]\n"
        );
        let resolver = StaticResolver::default().with("self.test", &["127.0.0.1:0"]);
        let engine = engine_with(&yaml, resolver, own.clone());
        assert_eq!(
            code(&call(&engine, "call_target", ct("/x")).await),
            "address_not_allowed",
            "{host}"
        );
    }
    assert_eq!(canary.hits(), 0);
}

#[test]
fn metadata_and_transition_forms_are_denied_whatever_allow_cidrs_says() {
    use harpoon::policy::net::{AddressDenial, NetworkPolicy};
    let everything = NetworkPolicy::new(vec![
        "0.0.0.0/0".parse().expect("v4"),
        "::/0".parse().expect("v6"),
    ]);
    for addr in [
        "169.254.169.254:80",
        "[::ffff:169.254.169.254]:80",
        "[::ffff:a9fe:a9fe]:80",
        "[64:ff9b::a9fe:a9fe]:80",
        "[2002:a9fe:a9fe::]:80",
        "[fd00:ec2::254]:80",
        "100.100.100.200:80",
        "168.63.129.16:80",
        "0.0.0.0:80",
        "[::]:80",
    ] {
        let got = everything.check(addr.parse().expect("addr"), &[]);
        assert!(
            matches!(got, Err(AddressDenial::AlwaysDenied(_))),
            "{addr}: {got:?}"
        );
    }
}

/// The same forms end to end: a target that allows every address (`0.0.0.0/0` and `::/0`)
/// whose DNS answers with a metadata or transition form is still refused before dialling, with
/// the always-denied reason, and the canary sees nothing.
#[tokio::test]
async fn metadata_answers_are_refused_end_to_end_whatever_allow_cidrs_says() {
    use harpoon::callout::CallError;
    use harpoon::policy::net::AddressDenial;
    let canary = Upstream::canary().await;
    let port = canary.addr.port();
    let yaml = format!(
        "version: 1\ntargets:\n  - label: api\n    base_url: http://meta.test:{port}/\n    network: {{ allow_cidrs: [0.0.0.0/0, \"::/0\"] }}\n    dangerous: {{ allow_plaintext_http: true }}\n    paths: [{{ methods: [GET], glob: \"/*\" }}]\n"
    );
    for answer in [
        "169.254.169.254:80",
        "[::ffff:169.254.169.254]:80",
        "[64:ff9b::a9fe:a9fe]:80",
        "[2002:a9fe:a9fe::]:80",
        "[fd00:ec2::254]:80",
        "[fe80::a9fe:a9fe]:80",
        "100.100.100.200:80",
        "168.63.129.16:80",
    ] {
        let resolver = StaticResolver::default().with("meta.test", &[answer]);
        let engine = engine_with(&yaml, resolver, OwnListeners::default());
        let outcome = call(&engine, "call_target", ct("/latest")).await;
        let harpoon::engine::Outcome::Failed(CallError::AddressNotAllowed { denial, .. }) =
            &outcome
        else {
            panic!("{answer}: {outcome:?}");
        };
        assert!(
            matches!(denial, AddressDenial::AlwaysDenied(_)),
            "{answer}: {denial:?}"
        );
    }
    assert_eq!(canary.hits(), 0);
}

/// Patterns mean what the published JSON Schema says (ECMA-262): `\d` is an ASCII digit and `\w`
/// an ASCII word character, so Arabic-Indic and fullwidth digits, fullwidth letters and
/// combining marks are refused, and nothing reaches the canary.
#[tokio::test]
async fn class_escapes_in_patterns_are_ascii_as_the_schema_says() {
    let canary = Upstream::canary().await;
    let yaml = format!(
        r#"
version: 1
targets:
  - label: api
    base_url: {}/api
    network: {{ allow_cidrs: [127.0.0.1/32] }}
    dangerous: {{ allow_plaintext_http: true }}
    routes:
      - name: get_num
        method: GET
        path: /n/{{n}}
        params: {{ n: {{ pattern: '^\d{{1,6}}$' }} }}
        query: {{ w: {{ pattern: '^\w{{1,16}}$' }} }}
"#,
        canary.url()
    );
    let engine = engine(&yaml);
    for args in [
        json!({"n": "١٢٣"}),
        json!({"n": "１２３"}),
        json!({"n": "۵"}),
        json!({"n": "1", "w": "ａｂｃ"}),
        json!({"n": "1", "w": "e\u{301}"}),
        json!({"n": "1", "w": "é"}),
    ] {
        let outcome = call(&engine, "api_get_num", args.clone()).await;
        assert_eq!(code(&outcome), "bad_param", "{args}");
    }
    assert_eq!(canary.hits(), 0, "{:?}", canary.requests());
    let allowed = call(&engine, "api_get_num", json!({"n": "123456", "w": "abc_1"})).await;
    assert_eq!(code(&allowed), "ok");
    assert_eq!(canary.requests().len(), 1, "the ASCII call went out");
}
