//! harpoon as an OAuth 2.1 resource server, end to end on loopback: a test issuer (keys made at
//! test time, metadata and JWKS served), tokens minted per test, harpoon's HTTP server in front
//! of a recording upstream. Every denial asserts its exact status, challenge and reason, and
//! that nothing reached the upstream.

use crate::support::http;
use crate::support::issuer::{Issuer, Key, now, unsigned};
use crate::support::mcp_client::{MODERN, McpHttp};
use crate::support::server::{self, TestServer};
use crate::support::upstream::{Reply, Upstream};
use harpoon::policy::{Caller, TokenCaller};
use harpoon::service::{HarpoonService, ServiceOptions};
use harpoon::transport::http::HttpOptions;
use harpoon::transport::listen::ListenLimits;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub(crate) const RESOURCE: &str = "https://mcp.example.test/mcp";
const METADATA: &str = "https://mcp.example.test/.well-known/oauth-protected-resource/mcp";

/// The test allowlist, accepting `algorithms` (a YAML list).
fn allowlist_accepting(issuer: &str, upstream: &str, algorithms: &str) -> String {
    format!(
        r#"
version: 1
authorization:
  resource: {RESOURCE}
  algorithms: {algorithms}
  issuers:
    - issuer: {issuer}
      network: {{ allow_cidrs: [127.0.0.1/32] }}
      dangerous: {{ allow_plaintext_http: true }}
targets:
  - label: api
    base_url: {upstream}
    network: {{ allow_cidrs: [127.0.0.1/32] }}
    dangerous: {{ allow_plaintext_http: true }}
    headers:
      inject:
        Authorization: "Bearer ${{env:TEST_TOKEN}}"
    access: {{ scopes: [api.read] }}
    routes:
      - name: get_item
        method: GET
        path: /items/{{id}}
      - name: delete_item
        method: DELETE
        path: /items/{{id}}
        access: {{ scopes: [api.write] }}
    paths:
      - {{ methods: [GET], glob: "/reports/*" }}
  - label: admin
    base_url: {upstream}/admin
    network: {{ allow_cidrs: [127.0.0.1/32] }}
    dangerous: {{ allow_plaintext_http: true }}
    access: {{ scopes: [admin] }}
    paths:
      - {{ methods: [GET], glob: "/users/*" }}
"#
    )
}

pub(crate) struct Setup {
    pub(crate) issuer: Issuer,
    pub(crate) upstream: Upstream,
    pub(crate) harpoon: TestServer,
}

pub(crate) async fn setup(keys: &[&Key], refresh: Duration) -> Setup {
    setup_accepting(keys, refresh, "[ES256, EdDSA]").await
}

async fn setup_accepting(keys: &[&Key], refresh: Duration, algorithms: &str) -> Setup {
    let issuer = Issuer::start(keys).await;
    let upstream = Upstream::echo().await;
    let yaml = allowlist_accepting(&issuer.id(), &upstream.url(), algorithms);
    let policy = crate::support::engine::policy(&yaml);
    let options = ServiceOptions {
        key_refresh_interval: refresh,
        ..ServiceOptions::default()
    };
    let service = HarpoonService::from_policy(policy, options).expect("service");
    let harpoon = server::serve(service, HttpOptions::loopback(), ListenLimits::default()).await;
    Setup {
        issuer,
        upstream,
        harpoon,
    }
}

/// A 2026-07-28 `tools/call` or `tools/list` with `token`: (status, WWW-Authenticate, body).
pub(crate) async fn post(
    s: &Setup,
    token: Option<&str>,
    method: &str,
    params: Value,
) -> (u16, String, Value) {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "harpoon-tests", "version": "1"},
    });
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let mut req = http()
        .post(s.harpoon.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", method)
        .body(body.to_string());
    if let Some(name) = params.get("name").and_then(Value::as_str) {
        req = req.header("mcp-name", name);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("post");
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        challenge,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn invalid_token(reason: &str) -> String {
    format!(
        "Bearer resource_metadata=\"{METADATA}\", error=\"invalid_token\", error_description=\"{reason}\""
    )
}

fn tool_names(reply: &Value) -> Vec<String> {
    reply["result"]["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_protected_resource_metadata_is_served_at_both_well_known_paths() {
    let key = Key::es256("k1");
    let s = setup(&[&key], Duration::ZERO).await;
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let (status, body) = crate::support::get(&s.harpoon.url(path)).await;
        assert_eq!(status, 200, "{path}");
        let doc: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            doc,
            json!({"resource": RESOURCE, "authorization_servers": [s.issuer.id()],
                "scopes_supported": ["admin", "api.read", "api.write"],
                "bearer_methods_supported": ["header"], "resource_name": "harpoon"}),
            "{path}"
        );
    }
    let (status, _) =
        crate::support::get(&s.harpoon.url("/.well-known/oauth-protected-resource/other")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_token_that_proves_nothing_gets_401_with_its_reason_and_reaches_nothing() {
    let key = Key::es256("k1");
    let stranger = Key::eddsa("stranger");
    let impostor = Key::es256("k1");
    let s = setup(&[&key], Duration::ZERO).await;
    let good = s.issuer.claims(RESOURCE, "api.read");
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().cloned().unwrap_or_default() {
            c[k] = v;
        }
        c
    };
    let cases: Vec<(&str, Option<String>, String)> = vec![
        (
            "no token",
            None,
            format!("Bearer resource_metadata=\"{METADATA}\""),
        ),
        (
            "expired",
            Some(key.sign(&with(json!({"exp": now() - 3600})))),
            invalid_token("token_expired"),
        ),
        (
            "wrong audience",
            Some(key.sign(&with(json!({"aud": "https://other.example/mcp"})))),
            invalid_token("wrong_audience"),
        ),
        (
            "wrong issuer",
            Some(key.sign(&with(json!({"iss": "https://evil.example"})))),
            invalid_token("unknown_issuer"),
        ),
        (
            "alg none",
            Some(unsigned(&good)),
            invalid_token("algorithm_not_accepted"),
        ),
        (
            "unknown key",
            Some(stranger.sign(&good)),
            invalid_token("unknown_key"),
        ),
        (
            "same kid, other key",
            Some(impostor.sign(&good)),
            invalid_token("bad_signature"),
        ),
        (
            "not a JWT",
            Some("opaque-token".into()),
            invalid_token("token_malformed"),
        ),
    ];
    for (what, token, challenge) in cases {
        let params = json!({"name": "api_get_item", "arguments": {"id": "a1"}});
        let (status, got, body) = post(&s, token.as_deref(), "tools/call", params).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(got, challenge, "{what}");
        let reason = challenge
            .split("error_description=\"")
            .nth(1)
            .map_or("token_missing", |r| r.trim_end_matches('"'));
        assert_eq!(body["reason"], reason, "{what}");
    }
    assert_eq!(
        s.upstream.hits(),
        0,
        "a refused caller reached the upstream"
    );
}

#[tokio::test]
async fn rsa_tokens_verify_with_the_padding_their_key_and_header_agree_on() {
    // One RSA key (made at test time) under four kids: published for RS256, for PS256, and
    // twice without `alg` (any RSA padding may be tried with it).
    let rs = Key::rsa("rs", "RS256", true);
    let ps = Key::rsa("ps", "PS256", true);
    let loose_pkcs1 = Key::rsa("loose", "RS256", false);
    let loose_pss = Key::rsa("loose", "PS256", false);
    let s = setup_accepting(&[&rs, &ps, &loose_pkcs1], Duration::ZERO, "[RS256, PS256]").await;
    let claims = s.issuer.claims(RESOURCE, "api.read");
    let get_item = json!({"name": "api_get_item", "arguments": {"id": "a1"}});
    for (what, token) in [
        ("RS256", rs.sign(&claims)),
        ("PS256", ps.sign(&claims)),
        ("RS256, key without alg", loose_pkcs1.sign(&claims)),
        ("PS256, key without alg", loose_pss.sign(&claims)),
    ] {
        let (status, _, reply) = post(&s, Some(&token), "tools/call", get_item.clone()).await;
        assert_eq!(status, 200, "{what}: {reply}");
        assert_eq!(reply["result"]["isError"], json!(false), "{what}: {reply}");
    }
    assert_eq!(s.upstream.requests().len(), 4);
    let hits = s.upstream.hits();

    let cases = [
        // The key says RS256: a PS256 header finds no key that fits.
        (
            "PS256 header, RS256 key",
            rs.sign_claiming("PS256", &claims),
            "unknown_key",
        ),
        // The key allows either padding: the header picks PSS, the PKCS#1 signature fails it.
        (
            "PS256 header, PKCS#1 signature",
            loose_pkcs1.sign_claiming("PS256", &claims),
            "bad_signature",
        ),
        (
            "RS256 header, PSS signature",
            loose_pss.sign_claiming("RS256", &claims),
            "bad_signature",
        ),
        // Not configured, though the key could: refused before any key is looked at.
        (
            "RS384",
            rs.sign_claiming("RS384", &claims),
            "algorithm_not_accepted",
        ),
        (
            "HS256",
            rs.sign_claiming("HS256", &claims),
            "algorithm_not_accepted",
        ),
    ];
    for (what, token, reason) in cases {
        let (status, challenge, body) =
            post(&s, Some(&token), "tools/call", get_item.clone()).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(challenge, invalid_token(reason), "{what}");
        assert_eq!(body["reason"], reason, "{what}");
    }
    assert_eq!(
        s.upstream.hits(),
        hits,
        "a refused RSA token reached the upstream"
    );
}

#[tokio::test]
async fn scopes_filter_tools_list_and_too_few_get_403_with_the_scope_needed() {
    let key = Key::eddsa("k1");
    let s = setup(&[&key], Duration::ZERO).await;
    let reader = key.sign(&s.issuer.claims(RESOURCE, "api.read"));
    let (status, _, reply) = post(&s, Some(&reader), "tools/list", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        tool_names(&reply),
        ["list_targets", "call_target", "api_get_item"]
    );
    let label = &reply["result"]["tools"][1]["inputSchema"]["properties"]["label"];
    assert_eq!(
        label["enum"],
        json!(["api"]),
        "call_target offers only open targets"
    );

    let denials = [
        (
            json!({"name": "api_delete_item", "arguments": {"id": "a1"}}),
            "api.read api.write",
        ),
        (
            json!({"name": "call_target", "arguments": {"label": "admin", "method": "GET", "path": "/users/1"}}),
            "admin",
        ),
    ];
    for (params, scope) in denials {
        let (status, challenge, body) = post(&s, Some(&reader), "tools/call", params).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(
            challenge,
            format!(
                "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{METADATA}\", error_description=\"insufficient_scope\""
            )
        );
        assert_eq!(body["error"], "insufficient_scope");
        assert_eq!(body["scope"], scope);
    }
    let (_, _, reply) = post(
        &s,
        Some(&reader),
        "tools/call",
        json!({"name": "list_targets", "arguments": {}}),
    )
    .await;
    let targets = &reply["result"]["structuredContent"]["targets"];
    let labels: Vec<&str> = targets
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["label"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(labels, ["api"], "{reply}");
    assert_eq!(s.upstream.hits(), 0, "a denied call reached the upstream");

    let admin = key.sign(&s.issuer.claims(RESOURCE, "api.read api.write admin"));
    let (_, _, reply) = post(&s, Some(&admin), "tools/list", json!({})).await;
    assert_eq!(
        tool_names(&reply),
        [
            "list_targets",
            "call_target",
            "api_delete_item",
            "api_get_item"
        ]
    );
}

#[tokio::test]
async fn enough_scopes_call_through_and_the_callers_token_never_goes_upstream() {
    let key = Key::es256("k1");
    let s = setup(&[&key], Duration::ZERO).await;
    let token = key.sign(&s.issuer.claims(RESOURCE, "api.read"));
    let params = json!({"name": "api_get_item", "arguments": {"id": "a1"}});
    let (status, _, reply) = post(&s, Some(&token), "tools/call", params).await;
    assert_eq!(status, 200);
    assert_eq!(reply["result"]["isError"], json!(false), "{reply}");
    assert_eq!(reply["result"]["structuredContent"]["status"], 200);
    let seen = s.upstream.requests();
    assert_eq!(seen.len(), 1);
    // The injected credential still applies; the caller's token appears nowhere.
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer s3cret-token-value")
    );
    for (name, value) in &seen[0].headers {
        assert!(
            !value.contains(&token),
            "the caller's token went upstream in {name}"
        );
    }
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_unknown_keys_refresh_at_a_bounded_rate() {
    let old = Key::es256("old");
    let new = Key::eddsa("new");
    let s = setup(&[&old], Duration::ZERO).await;
    let ok = |k: &Key| k.sign(&s.issuer.claims(RESOURCE, "api.read"));
    let list = json!({});
    assert_eq!(
        post(&s, Some(&ok(&old)), "tools/list", list.clone())
            .await
            .0,
        200
    );
    s.issuer.publish(&[&new]);
    assert_eq!(
        post(&s, Some(&ok(&new)), "tools/list", list.clone())
            .await
            .0,
        200
    );
    assert_eq!(
        s.issuer.jwks_fetches(),
        2,
        "one fetch, one refresh on the new kid"
    );

    // With the refresh interval not yet passed, made-up kids cost the issuer nothing more.
    let key = Key::es256("k1");
    let s = setup(&[&key], Duration::from_secs(3600)).await;
    let good = key.sign(&s.issuer.claims(RESOURCE, "api.read"));
    assert_eq!(
        post(&s, Some(&good), "tools/list", list.clone()).await.0,
        200
    );
    for i in 0..5 {
        let stranger = Key::es256(&format!("made-up-{i}"));
        let token = stranger.sign(&s.issuer.claims(RESOURCE, "api.read"));
        let (status, challenge, _) = post(&s, Some(&token), "tools/list", list.clone()).await;
        assert_eq!((status, challenge), (401, invalid_token("unknown_key")));
    }
    assert_eq!(s.issuer.jwks_fetches(), 1);
}

fn token_caller(scopes: &[&str]) -> Caller {
    Caller::Token(Arc::new(TokenCaller {
        issuer: "https://as.example".into(),
        subject: Some("user-7".into()),
        client_id: Some("client-3".into()),
        scopes: scopes
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>(),
        claims: BTreeMap::new(),
    }))
}

#[tokio::test]
async fn the_handler_checks_the_caller_again_on_every_call() {
    // In process (the tunnel's path): no HTTP layer in front, the engine's own check refuses.
    let key = Key::es256("k1");
    let s = setup(&[&key], Duration::ZERO).await;
    let handler = s.harpoon.service.handler();
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "api_delete_item", "arguments": {"id": "a1"}, "_meta": {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}}}})
    .to_string();
    for caller in [Some(token_caller(&["api.read"])), None] {
        let reply = harpoon::mcp::inprocess::handle_relaying_as(
            handler.clone(),
            &call,
            CancellationToken::new(),
            None,
            caller,
        )
        .await
        .expect("reply");
        let reply: Value = serde_json::from_str(&reply).expect("json");
        assert_eq!(reply["result"]["isError"], json!(true), "{reply}");
        assert_eq!(
            reply["result"]["content"][0]["text"],
            "insufficient_scope: this caller may not use this tool: it needs a token with the \
             scopes api.read api.write; ask the user to authorize them",
            "{reply}"
        );
    }
    // The local caller (stdio, an embedding program) is trusted with everything.
    let outcome = s
        .harpoon
        .service
        .engine()
        .call(
            "api_delete_item",
            json!({"id": "a1"}).as_object(),
            &CancellationToken::new(),
        )
        .await;
    assert_eq!(outcome.reason(), "ok");
    assert_eq!(s.upstream.requests().len(), 1);
}

#[tokio::test]
async fn an_anonymous_in_process_caller_sees_no_tools() {
    let key = Key::es256("k1");
    let s = setup(&[&key], Duration::ZERO).await;
    let mut c = McpHttp::new(&s.harpoon.mcp_url());
    let (_, ex) = c.modern("tools/list", json!({})).await;
    assert_eq!(ex.status, 401);
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}}}})
    .to_string();
    let reply = s
        .harpoon
        .service
        .handle_message(&list, CancellationToken::new())
        .await
        .expect("reply");
    let reply: Value = serde_json::from_str(&reply).expect("json");
    assert_eq!(tool_names(&reply), Vec::<String>::new(), "{reply}");
}

/// A scripted tunnel service: one poll answers `commands`, later polls are empty; every reply
/// post is recorded. It stops with the test's runtime.
async fn tunnel_service(
    commands: Value,
) -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<Value>>>) {
    use axum::response::IntoResponse;
    let batch = Arc::new(std::sync::Mutex::new(Some(commands)));
    let posts: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
    let recorded = Arc::clone(&posts);
    let app = axum::Router::new()
        .route(
            "/v1/tunnels/{id}/poll",
            axum::routing::get(move || {
                let next = batch.lock().expect("lock").take();
                async move {
                    match next {
                        Some(b) => (axum::http::StatusCode::OK, b.to_string()).into_response(),
                        None => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            axum::http::StatusCode::NO_CONTENT.into_response()
                        }
                    }
                }
            }),
        )
        .route(
            "/v1/tunnels/{id}/response",
            axum::routing::post(move |body: String| {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                recorded.lock().expect("lock").push(v);
                async { (axum::http::StatusCode::OK, r#"{"status":"ok"}"#) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, posts)
}

#[tokio::test]
async fn the_tunnel_checks_the_callers_authorization_header_the_same_way() {
    use harpoon::transport::tunnel::{self, TunnelOptions, TunnelStatus};
    let key = Key::es256("k1");
    let s = setup(&[&key], Duration::ZERO).await;
    let reader = key.sign(&s.issuer.claims(RESOURCE, "api.read"));
    let meta = json!({"io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {}});
    let call = |rid: &str, tool: &str, auth: Option<&str>| {
        let mut headers = json!({});
        if let Some(a) = auth {
            headers["Authorization"] = json!([format!("Bearer {a}")]);
        }
        json!({"request_id": rid, "shard_token": "s", "command_type": "jsonrpc", "channel": "main",
            "created_at": "2026-01-01T00:00:00Z", "response_timeout": "20s", "headers": headers,
            "jsonrpc": {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": tool, "arguments": {"id": "t1"}, "_meta": meta}}})
    };
    let commands = json!({"commands": [
        call("none", "api_get_item", None),
        call("forged", "api_get_item", Some(&unsigned(&s.issuer.claims(RESOURCE, "api.read")))),
        call("read", "api_get_item", Some(&reader)),
        call("write", "api_delete_item", Some(&reader)),
        {"request_id": "oauth", "shard_token": "s", "command_type": "oauth_discovery", "channel": "main",
            "created_at": "2026-01-01T00:00:00Z"},
    ]});
    let (addr, posts) = tunnel_service(commands).await;
    let options = TunnelOptions {
        edge: format!("http://{addr}").parse().expect("url"),
        tunnel_id: "t1".into(),
        token: "tunnel-secret".into(),
        max_in_flight: 4,
        poll_timeout: Duration::from_millis(500),
        drain_timeout: Duration::from_secs(5),
        organization: None,
        egress: tunnel::Egress::default(),
    };
    let stop = CancellationToken::new();
    let status = Arc::new(TunnelStatus::default());
    tokio::spawn(tunnel::run(
        s.harpoon.service.clone(),
        options,
        status,
        stop.clone(),
    ));
    let mut by_id = BTreeMap::new();
    for _ in 0..1000 {
        by_id = posts
            .lock()
            .expect("lock")
            .iter()
            .map(|p| (p["request_id"].as_str().unwrap_or("").to_owned(), p.clone()))
            .collect::<BTreeMap<String, Value>>();
        if by_id.len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    assert_eq!(by_id.len(), 5, "{by_id:?}");
    let none = &by_id["none"];
    assert_eq!(none["resp_code"], 401);
    assert_eq!(
        none["resp_headers"]["WWW-Authenticate"],
        json!([format!("Bearer resource_metadata=\"{METADATA}\"")])
    );
    let forged = &by_id["forged"];
    assert_eq!(forged["resp_code"], 401);
    assert_eq!(
        forged["resp_headers"]["WWW-Authenticate"],
        json!([invalid_token("algorithm_not_accepted")])
    );
    assert_eq!(forged["resp_json"]["reason"], "algorithm_not_accepted");
    let read = &by_id["read"];
    assert_eq!(read["resp_code"], 200);
    assert_eq!(
        read["resp_json"]["result"]["structuredContent"]["status"], 200,
        "{read}"
    );
    let write = &by_id["write"];
    assert_eq!(write["resp_code"], 403, "{write}");
    assert_eq!(write["resp_json"]["error"], "insufficient_scope", "{write}");
    assert_eq!(write["resp_json"]["scope"], "api.read api.write", "{write}");
    let challenge = write["resp_headers"]["WWW-Authenticate"][0]
        .as_str()
        .unwrap_or("");
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_scope\", scope=\"api.read api.write\""),
        "{challenge}"
    );
    let oauth = &by_id["oauth"];
    assert_eq!(oauth["resp_type"], "oauth_discovery_response");
    assert_eq!(oauth["resp_code"], 200);
    assert_eq!(oauth["resp_json"]["resource"], RESOURCE);
    assert_eq!(
        oauth["resp_json"]["authorization_servers"],
        json!([s.issuer.id()])
    );
    // Only the permitted read reached the upstream, with the injected credential, not the token.
    let seen = s.upstream.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer s3cret-token-value")
    );
}

#[test]
fn a_required_claim_must_be_in_the_token_and_only_one_file_may_authorize() {
    let yaml = r#"
version: 1
authorization:
  resource: https://mcp.example.test/mcp
  algorithms: [ES256]
  issuers: [{ issuer: "https://as.example" }]
targets:
  - label: api
    base_url: https://api.example.test
    access: { scopes: [api.read], claims: { tenant: acme } }
    routes: [{ name: get, method: GET, path: "/x" }]
"#;
    let policy = crate::support::engine::policy(yaml);
    let (target, route) = policy.route_tool("api_get").expect("tool");
    let with_tenant = |tenant: &[&str]| {
        let mut c = token_caller(&["api.read"]);
        if let Caller::Token(t) = &mut c {
            let t = Arc::make_mut(t);
            t.claims.insert(
                "tenant".into(),
                tenant.iter().map(|s| (*s).to_owned()).collect(),
            );
        }
        c
    };
    assert_eq!(
        policy.may_use(&with_tenant(&["acme"]), target, Some(route)),
        Ok(())
    );
    assert_eq!(
        policy.may_use(&with_tenant(&["other", "acme"]), target, Some(route)),
        Ok(())
    );
    let denied = policy
        .may_use(&with_tenant(&["other"]), target, Some(route))
        .expect_err("wrong tenant");
    assert_eq!(denied.claims, ["tenant"]);
    assert!(
        policy
            .may_use(&Caller::Anonymous, target, Some(route))
            .is_err()
    );
    assert_eq!(policy.may_use(&Caller::Local, target, Some(route)), Ok(()));

    // A second file with its own section is refused where it stands.
    let name: Arc<str> = Arc::from("second.yaml");
    let second = yaml.replace("label: api", "label: api2");
    let files = [
        harpoon::config::LoadedFile {
            name: Arc::from("first.yaml"),
            raw: harpoon::config::parse(&Arc::from("first.yaml"), yaml.as_bytes()).expect("yaml"),
        },
        harpoon::config::LoadedFile {
            name: Arc::clone(&name),
            raw: harpoon::config::parse(&name, second.as_bytes()).expect("yaml"),
        },
    ];
    let errors = harpoon::policy::Policy::compile_with_env(
        &files,
        harpoon::policy::SecretMode::Resolve,
        &crate::support::no_secrets,
    )
    .expect_err("two sections");
    assert_eq!(
        errors.to_string(),
        "error: second.yaml:4:3: authorization is already declared at first.yaml:4:3; keep one authorization section across all loaded files"
    );
}

/// An RFC 7662 introspection endpoint on 127.0.0.1 answering for a few opaque tokens.
async fn introspection_endpoint() -> Upstream {
    Upstream::start(|seen| {
        let form: BTreeMap<String, String> = url::form_urlencoded::parse(&seen.body)
            .into_owned()
            .collect();
        let active = |scope: &str, aud: &str| {
            Reply::json(
                200,
                json!({"active": true, "aud": aud, "scope": scope, "sub": "user-9",
                    "client_id": "client-opaque", "exp": now() + 300, "token_type": "Bearer"}),
            )
        };
        match form.get("token").map(String::as_str) {
            Some("opaque-reader") => active("api.read", RESOURCE),
            Some("opaque-other-audience") => active("api.read", "https://other.example/mcp"),
            Some("opaque-huge") => Reply::json(
                200,
                json!({"active": true, "aud": RESOURCE, "exp": now() + 300,
                    "padding": "x".repeat(harpoon::auth::introspection::MAX_RESPONSE_BYTES)}),
            ),
            _ => Reply::json(200, json!({"active": false})),
        }
    })
    .await
}

/// The test setup with an introspection endpoint on the issuer; `loopback_allowed: false`
/// leaves the issuer under the default network rule (public addresses only).
async fn setup_introspecting(key: &Key, loopback_allowed: bool) -> (Setup, Upstream) {
    let introspect = introspection_endpoint().await;
    let issuer = Issuer::start(&[key]).await;
    let upstream = Upstream::echo().await;
    let mut yaml = allowlist_accepting(&issuer.id(), &upstream.url(), "[ES256]").replacen(
        "      dangerous: { allow_plaintext_http: true }\n",
        &format!(
            "      dangerous: {{ allow_plaintext_http: true }}\n      introspection:\n        endpoint: {}/introspect\n        authorization: \"Basic ${{env:INTROSPECTION_CREDENTIALS}}\"\n",
            introspect.url()
        ),
        1,
    );
    if !loopback_allowed {
        // The first network rule is the issuer's.
        yaml = yaml.replacen("      network: { allow_cidrs: [127.0.0.1/32] }\n", "", 1);
    }
    let policy = crate::support::engine::policy(&yaml);
    let service = HarpoonService::from_policy(policy, ServiceOptions::default()).expect("service");
    let harpoon = server::serve(service, HttpOptions::loopback(), ListenLimits::default()).await;
    let setup = Setup {
        issuer,
        upstream,
        harpoon,
    };
    (setup, introspect)
}

#[tokio::test]
async fn the_introspection_endpoint_is_reached_under_the_issuers_network_rule() {
    let key = Key::es256("k1");
    let (s, introspect) = setup_introspecting(&key, false).await;
    let get_item = json!({"name": "api_get_item", "arguments": {"id": "a1"}});
    let (status, challenge, _) = post(&s, Some("opaque-reader"), "tools/call", get_item).await;
    assert_eq!(status, 401);
    assert_eq!(challenge, invalid_token("introspection_unavailable"));
    // The peer check runs once the connection is made (the URL names an address, so no
    // resolver is asked): the endpoint may see a connection, never a byte of a request.
    assert_eq!(
        introspect.requests().len(),
        0,
        "a loopback endpoint was asked without allow_cidrs"
    );
    assert_eq!(s.upstream.hits(), 0);
}

#[tokio::test]
async fn an_opaque_token_is_introspected_once_and_its_scopes_decide() {
    let key = Key::es256("k1");
    let (s, introspect) = setup_introspecting(&key, true).await;

    // Asked once; every later request with the same token is answered from the cache.
    let (status, _, reply) = post(&s, Some("opaque-reader"), "tools/list", json!({})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        tool_names(&reply),
        ["list_targets", "call_target", "api_get_item"]
    );
    let get_item = json!({"name": "api_get_item", "arguments": {"id": "a1"}});
    let (status, _, reply) = post(&s, Some("opaque-reader"), "tools/call", get_item.clone()).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["result"]["isError"], json!(false), "{reply}");
    let delete = json!({"name": "api_delete_item", "arguments": {"id": "a1"}});
    let (status, challenge, _) = post(&s, Some("opaque-reader"), "tools/call", delete).await;
    assert_eq!(status, 403);
    assert!(challenge.contains("error=\"insufficient_scope\", scope=\"api.read api.write\""));
    let asked = introspect.requests();
    assert_eq!(
        asked.len(),
        1,
        "the answer is cached until the token expires"
    );
    assert_eq!(asked[0].method, "POST");
    assert_eq!(asked[0].target, "/introspect");
    assert_eq!(
        asked[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        asked[0].header("authorization"),
        Some("Basic aGFycG9vbjpzM2NyM3Q="),
        "harpoon authenticates to the introspection endpoint"
    );
    assert_eq!(
        asked[0].body,
        b"token=opaque-reader&token_type_hint=access_token"
    );
    // The opaque token, like a JWT, never goes upstream.
    let seen = s.upstream.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer s3cret-token-value")
    );
    assert!(
        seen[0]
            .headers
            .iter()
            .all(|(_, v)| !v.contains("opaque-reader")),
        "the caller's token went upstream"
    );

    // Refusals: each asks again (nothing refused is cached) and reaches no upstream.
    let hits = s.upstream.hits();
    for (token, reason, asks) in [
        ("opaque-revoked", "token_inactive", 1),
        ("opaque-revoked", "token_inactive", 1),
        ("opaque-other-audience", "wrong_audience", 1),
        ("opaque-huge", "introspection_unavailable", 1),
    ] {
        let before = introspect.requests().len();
        let (status, challenge, body) = post(&s, Some(token), "tools/call", get_item.clone()).await;
        assert_eq!(status, 401, "{token}: {body}");
        assert_eq!(challenge, invalid_token(reason), "{token}");
        assert_eq!(body["reason"], reason, "{token}");
        assert_eq!(introspect.requests().len(), before + asks, "{token}");
    }
    assert_eq!(
        s.upstream.hits(),
        hits,
        "a refused token reached the upstream"
    );

    // A JWT is still checked against the issuer's keys and never sent to introspection.
    let before = introspect.requests().len();
    let jwt = key.sign(&s.issuer.claims(RESOURCE, "api.read"));
    let (status, _, reply) = post(&s, Some(&jwt), "tools/call", get_item).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(introspect.requests().len(), before);
}
