//! The callout against real upstreams on loopback that misbehave: redirects off the origin,
//! endless bodies, compression bombs, resets, stalls, huge headers, overload.

use crate::support::engine::{call, code, engine, response};
use crate::support::upstream::{Reply, Upstream};
use serde_json::json;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One target on `upstream` with the given extra target lines.
fn target(upstream: &str, extra: &str) -> String {
    format!(
        "version: 1\ntargets:\n  - label: api\n    base_url: {upstream}/api\n    network: {{ allow_cidrs: [127.0.0.1/32] }}\n    \
         headers:\n      allow: [Accept, X-Request-Id]\n      inject: {{ Authorization: \"Bearer ${{env:TEST_TOKEN}}\" }}\n    \
         response_headers: [Content-Type, ETag, Location]\n    dangerous: {{ allow_plaintext_http: true }}\n    \
         paths: [{{ methods: [GET, POST], glob: \"/**\" }}]\n{extra}"
    )
}

fn get(path: &str) -> serde_json::Value {
    json!({"label": "api", "method": "GET", "path": path})
}

#[tokio::test]
async fn injected_headers_reach_the_upstream_and_win() {
    let up = Upstream::echo().await;
    let engine = engine(&target(&up.url(), ""));
    let args = json!({"label": "api", "method": "GET", "path": "/x", "headers": {"Accept": "application/json", "Authorization": "Bearer attacker"}});
    let r = response(call(&engine, "call_target", args).await);
    assert_eq!(r.status, 200);
    let seen = &up.requests()[0];
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer s3cret-token-value")
    );
    assert_eq!(
        seen.headers
            .iter()
            .filter(|(n, _)| n == "authorization")
            .count(),
        1
    );
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(seen.header("accept-encoding"), Some("identity"));
    assert!(
        seen.header("user-agent")
            .is_some_and(|u| u.starts_with("harpoon/"))
    );
    let body = String::from_utf8_lossy(&r.body);
    assert!(
        !body.contains("s3cret-token-value"),
        "an echoed secret must be blanked: {body}"
    );
    assert!(
        body.contains("authorization: Bearer ******************"),
        "{body}"
    );
}

#[tokio::test]
async fn only_allowlisted_response_headers_come_back_and_never_set_cookie() {
    let up = Upstream::start(|_| Reply::Respond {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/plain".into()),
            ("etag".into(), "\"v1\"".into()),
            ("set-cookie".into(), "session=secret".into()),
            ("x-internal-host".into(), "db-7.internal".into()),
        ],
        body: b"ok".to_vec(),
    })
    .await;
    let engine = engine(&target(&up.url(), ""));
    let r = response(call(&engine, "call_target", get("/x")).await);
    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["content-type", "etag"]);
}

#[tokio::test]
async fn a_redirect_off_the_origin_is_refused_before_it_is_dialled() {
    let canary = Upstream::canary().await;
    let off = format!("{}/api/x", canary.url());
    let up = Upstream::start(move |_| Reply::redirect(302, &off)).await;
    let engine = engine(&target(&up.url(), "    redirects: 3\n"));
    let outcome = call(&engine, "call_target", get("/x")).await;
    assert_eq!(code(&outcome), "redirect_not_allowed", "{outcome:?}");
    assert_eq!(canary.hits(), 0);
    // Regression: the hop was once rebuilt on the target's origin instead of being refused,
    // which sent it back to the upstream. The upstream must see the first request only.
    assert_eq!(up.requests().len(), 1);
    for location in [
        "http://evil.example/api/x",
        "//evil.example/api/x",
        "/elsewhere/x",
        "https://127.0.0.1/api/x",
    ] {
        let loc = location.to_owned();
        let up = Upstream::start(move |_| Reply::redirect(307, &loc)).await;
        let e = crate::support::engine::engine(&target(&up.url(), "    redirects: 3\n"));
        assert_eq!(
            code(&call(&e, "call_target", get("/x")).await),
            "redirect_not_allowed",
            "{location}"
        );
    }
}

/// A route's body sets the one Content-Type the upstream sees (the route's, not the caller's),
/// and every other header still goes: the injected credential and the allowed ones.
/// (Mutation testing found the other headers unasserted.)
#[tokio::test]
async fn a_route_body_replaces_only_the_content_type() {
    let up = Upstream::start(|_| Reply::ok("made")).await;
    let yaml = format!(
        "version: 1\ntargets:\n  - label: api\n    base_url: {}/api\n    \
         network: {{ allow_cidrs: [127.0.0.1/32] }}\n    headers:\n      \
         allow: [Content-Type, X-Request-Id]\n      \
         inject: {{ Authorization: \"Bearer ${{env:TEST_TOKEN}}\" }}\n    \
         dangerous: {{ allow_plaintext_http: true }}\n    routes:\n      \
         - {{ name: create, method: POST, path: /items, body: {{ content_type: application/json }} }}\n",
        up.url()
    );
    let engine = engine(&yaml);
    let args = json!({"body": {"name": "bolt"},
        "headers": {"X-Request-Id": "r1", "Content-Type": "text/plain"}});
    let r = response(call(&engine, "api_create", args).await);
    assert_eq!(r.status, 200);
    let seen = up.requests().pop().expect("the request");
    let content_types: Vec<&str> = seen
        .headers
        .iter()
        .filter(|(n, _)| n == "content-type")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(content_types, ["application/json"]);
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer s3cret-token-value")
    );
    assert_eq!(seen.header("x-request-id"), Some("r1"));
    assert_eq!(seen.body, br#"{"name":"bolt"}"#);
}

/// A 303 turns a POST into a bodiless GET: the hop drops the body and its Content-Type and keeps
/// every other header (the injected credential, an allowed one); a 307 keeps the body and its
/// Content-Type. (Mutation testing found the headers of a hop unasserted.)
#[tokio::test]
async fn a_redirect_that_drops_the_body_drops_its_content_type_only() {
    let up = Upstream::start(|s| match s.target.as_str() {
        "/api/see-other" => Reply::redirect(303, "/api/landing"),
        "/api/temporary" => Reply::redirect(307, "/api/landing"),
        _ => Reply::ok("landed"),
    })
    .await;
    let yaml = format!(
        "version: 1\ntargets:\n  - label: api\n    base_url: {}/api\n    \
         network: {{ allow_cidrs: [127.0.0.1/32] }}\n    headers:\n      \
         allow: [Content-Type, X-Request-Id]\n      \
         inject: {{ Authorization: \"Bearer ${{env:TEST_TOKEN}}\" }}\n    \
         dangerous: {{ allow_plaintext_http: true }}\n    redirects: 1\n    \
         paths: [{{ methods: [GET, POST], glob: \"/**\" }}]\n",
        up.url()
    );
    let engine = engine(&yaml);
    for (path, keeps_body) in [("/see-other", false), ("/temporary", true)] {
        let args = json!({"label": "api", "method": "POST", "path": path, "body": "data",
            "headers": {"X-Request-Id": "r1", "Content-Type": "text/plain"}});
        let r = response(call(&engine, "call_target", args).await);
        assert_eq!((r.status, r.redirects), (200, 1), "{path}");
        let seen = up.requests();
        let (first, hop) = (&seen[seen.len() - 2], &seen[seen.len() - 1]);
        let content_type = first.header("content-type");
        assert!(
            content_type.is_some(),
            "{path}: the POST had a Content-Type"
        );
        let expected = if keeps_body {
            ("POST", &b"data"[..], content_type)
        } else {
            ("GET", &b""[..], None)
        };
        assert_eq!(
            (
                hop.method.as_str(),
                &hop.body[..],
                hop.header("content-type")
            ),
            expected,
            "{path}"
        );
        assert_eq!(
            hop.header("authorization"),
            Some("Bearer s3cret-token-value")
        );
        assert_eq!(hop.header("x-request-id"), Some("r1"), "{path}");
    }
}

#[tokio::test]
async fn same_origin_redirects_are_followed_hop_by_hop_within_the_limit() {
    let up = Upstream::start(|s| match s.target.as_str() {
        "/api/old" => Reply::redirect(301, "/api/new"),
        "/api/new" => Reply::ok("moved"),
        "/api/loop" => Reply::redirect(302, "/api/loop"),
        "/api/post" => Reply::redirect(303, "/api/new"),
        _ => Reply::ok("?"),
    })
    .await;
    let engine = engine(&target(&up.url(), "    redirects: 2\n"));
    let r = response(call(&engine, "call_target", get("/old")).await);
    assert_eq!(
        (r.status, r.redirects, &r.body[..]),
        (200, 1, &b"moved"[..])
    );
    assert_eq!(
        code(&call(&engine, "call_target", get("/loop")).await),
        "too_many_redirects"
    );
    let post = json!({"label": "api", "method": "POST", "path": "/post", "body": "data"});
    let r = response(call(&engine, "call_target", post).await);
    assert_eq!(r.status, 200);
    let last = up.requests().pop().expect("request");
    assert_eq!(
        (last.method.as_str(), last.body.len()),
        ("GET", 0),
        "303 turns POST into a bodiless GET"
    );
    // With no redirects allowed, the 3xx comes back as it is.
    let no_redirects = crate::support::engine::engine(&target(&up.url(), ""));
    let r = response(call(&no_redirects, "call_target", get("/old")).await);
    assert_eq!(r.status, 301);
    assert!(r.headers.contains(&("location".into(), "/api/new".into())));
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_cap() {
    let up = Upstream::start(|_| Reply::StreamForever).await;
    let engine = engine(&target(
        &up.url(),
        "    limits: { response_bytes: 64KiB, timeout: 5s }\n",
    ));
    let r = response(call(&engine, "call_target", get("/stream")).await);
    assert_eq!(r.body.len(), 64 * 1024);
    assert!(r.truncated);
    assert_eq!(r.full_size, None, "a chunked body has no known size");
    let engine = crate::support::engine::engine(&target(
        &up.url(),
        "    limits: { response_bytes: 64KiB, oversize: error }\n",
    ));
    assert_eq!(
        code(&call(&engine, "call_target", get("/stream")).await),
        "response_too_large"
    );
}

#[tokio::test]
async fn a_known_oversize_body_reports_its_full_size() {
    let up = Upstream::start(|_| Reply::ok(&"z".repeat(10_000))).await;
    let engine = engine(&target(&up.url(), "    limits: { response_bytes: 1000 }\n"));
    let r = response(call(&engine, "call_target", get("/big")).await);
    assert_eq!(
        (r.body.len(), r.full_size, r.truncated),
        (1000, Some(10_000), true)
    );
}

/// A body that fills the cap exactly is whole: not cut, its size known, and accepted where
/// `oversize: error` refuses anything longer. (Mutation testing found the edge untested.)
#[tokio::test]
async fn a_body_that_fills_the_cap_exactly_is_whole() {
    let up = Upstream::start(|_| Reply::ok(&"z".repeat(1000))).await;
    for oversize in ["truncate", "error"] {
        let limits = format!("    limits: {{ response_bytes: 1000, oversize: {oversize} }}\n");
        let engine = engine(&target(&up.url(), &limits));
        let r = response(call(&engine, "call_target", get("/exact")).await);
        assert_eq!(
            (r.body.len(), r.full_size, r.truncated),
            (1000, Some(1000), false),
            "{oversize}"
        );
    }
}

/// With `oversize: error`, a declared length over the cap is refused at the headers, before a
/// byte of the body is read: this upstream announces 1000 bytes and then stalls, so reading
/// would end in a timeout instead.
#[tokio::test]
async fn a_declared_oversize_is_refused_before_the_body_is_read() {
    let up = Upstream::start(|_| Reply::StallAfterHeaders).await;
    let limits = "    limits: { response_bytes: 100, oversize: error, timeout: 5s }\n";
    let engine = engine(&target(&up.url(), limits));
    let started = std::time::Instant::now();
    let outcome = call(&engine, "call_target", get("/announced")).await;
    assert_eq!(code(&outcome), "response_too_large");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the body was waited for"
    );
}

/// `BodyCap` as `read_body` feeds it: a chunk that fills the cap exactly is kept and reading
/// goes on; the next byte is cut; the length and emptiness it reports are the bytes kept.
#[test]
fn the_body_cap_is_exact_at_its_edge() {
    use harpoon::callout::BodyCap;
    let policy = crate::support::engine::policy(&target("http://127.0.0.1:9", ""));
    let mut cap = BodyCap::new(10, None);
    assert!((cap.is_empty(), cap.len(), cap.truncated()) == (true, 0, false));
    assert!(cap.push(b"0123"));
    assert!((cap.is_empty(), cap.len(), cap.truncated()) == (false, 4, false));
    assert!(
        cap.push(b"456789"),
        "a chunk that fills the cap exactly is kept"
    );
    assert!((cap.len(), cap.truncated()) == (10, false));
    assert!(!cap.push(b"x"), "one byte past the cap stops the read");
    assert!((cap.len(), cap.truncated()) == (10, true));
    let (body, truncated) = cap.finish(&policy.targets()[0]);
    assert_eq!((&body[..], truncated), (&b"0123456789"[..], true));
}

#[tokio::test]
async fn a_compression_bomb_is_never_decoded() {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&vec![0u8; 50 * 1024 * 1024])
        .expect("compress");
    let bomb = gz.finish().expect("gzip");
    let compressed = bomb.len();
    assert!(
        compressed < 100 * 1024,
        "the bomb is small on the wire ({compressed})"
    );
    let up = Upstream::start(move |_| Reply::Respond {
        status: 200,
        headers: vec![
            ("content-encoding".into(), "gzip".into()),
            ("content-type".into(), "application/octet-stream".into()),
        ],
        body: bomb.clone(),
    })
    .await;
    let engine = engine(&target(&up.url(), "    limits: { response_bytes: 1MiB }\n"));
    let r = response(call(&engine, "call_target", get("/bomb")).await);
    assert_eq!(
        r.body.len(),
        compressed,
        "the body is returned as sent, not inflated"
    );
    assert!(!r.truncated);
}

#[tokio::test]
async fn resets_and_protocol_failures_are_errors_not_hangs() {
    use harpoon::callout::{CallError, FailureStage};
    fn stage(outcome: &harpoon::engine::Outcome) -> Option<(&'static str, FailureStage)> {
        match outcome {
            harpoon::engine::Outcome::Failed(CallError::Upstream(f)) => Some(("upstream", f.stage)),
            harpoon::engine::Outcome::Failed(CallError::Unreachable(f)) => {
                Some(("unreachable", f.stage))
            }
            _ => None,
        }
    }
    for (reply, want) in [
        (
            (|| Reply::Reset) as fn() -> Reply,
            ("upstream", FailureStage::Exchange),
        ),
        (|| Reply::ResetMidBody, ("upstream", FailureStage::Body)),
        (
            || Reply::HugeHeaders(500),
            ("upstream", FailureStage::Exchange),
        ),
    ] {
        let up = Upstream::start(move |_| reply()).await;
        let engine = engine(&target(&up.url(), ""));
        let outcome = call(&engine, "call_target", get("/x")).await;
        assert_eq!(stage(&outcome), Some(want), "{outcome:?}");
        assert_eq!(code(&outcome), "upstream_error", "{outcome:?}");
    }
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let engine = engine(&target(&format!("http://127.0.0.1:{closed}"), ""));
    let outcome = call(&engine, "call_target", get("/x")).await;
    assert_eq!(
        stage(&outcome),
        Some(("unreachable", FailureStage::Connect)),
        "{outcome:?}"
    );
    assert_eq!(code(&outcome), "upstream_unreachable");
}

#[tokio::test]
async fn stalls_end_in_a_timeout_naming_the_phase() {
    let up = Upstream::start(|s| {
        if s.target.ends_with("/head") {
            Reply::StallBeforeHeaders
        } else {
            Reply::StallAfterHeaders
        }
    })
    .await;
    let engine = engine(&target(&up.url(), "    limits: { timeout: 300ms }\n"));
    for (path, phase) in [
        ("/head", harpoon::callout::Phase::FirstByte),
        ("/body", harpoon::callout::Phase::Body),
    ] {
        let started = std::time::Instant::now();
        let outcome = call(&engine, "call_target", get(path)).await;
        assert_eq!(code(&outcome), "upstream_timeout");
        let harpoon::engine::Outcome::Failed(e) = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            *e,
            harpoon::callout::CallError::Timeout {
                phase,
                after: Duration::from_millis(300)
            }
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the call ended"
        );
    }
}

#[tokio::test]
async fn overload_and_rate_limits_refuse_at_once() {
    let up = Upstream::start(|s| {
        if s.target.ends_with("/slow") {
            Reply::StallBeforeHeaders
        } else {
            Reply::ok("fast")
        }
    })
    .await;
    let engine = std::sync::Arc::new(engine(&target(
        &up.url(),
        "    limits: { concurrency: 1, timeout: 3s }\n",
    )));
    let slow = tokio::spawn({
        let engine = std::sync::Arc::clone(&engine);
        async move { code(&call(&engine, "call_target", get("/slow")).await) }
    });
    for _ in 0..200 {
        if !up.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !up.requests().is_empty(),
        "the slow call reached the upstream"
    );
    assert_eq!(
        code(&call(&engine, "call_target", get("/fast")).await),
        "overloaded"
    );
    assert_eq!(slow.await.expect("join"), "upstream_timeout");
    let engine = crate::support::engine::engine(&target(&up.url(), "    limits: { rate: 2/h }\n"));
    assert_eq!(
        code(&call(&engine, "call_target", get("/fast")).await),
        "ok"
    );
    assert_eq!(
        code(&call(&engine, "call_target", get("/fast")).await),
        "ok"
    );
    assert_eq!(
        code(&call(&engine, "call_target", get("/fast")).await),
        "rate_limited"
    );
}

#[tokio::test]
async fn cancelling_a_call_aborts_the_upstream_request() {
    let up = Upstream::start(|_| Reply::StallUntilClosed).await;
    let engine = engine(&target(&up.url(), "    limits: { timeout: 20s }\n"));
    let cancel = CancellationToken::new();
    let args = get("/slow");
    // The bounds only keep a broken build from hanging the test; the order is what is proven:
    // the upstream saw the request, the call was cancelled, then the upstream saw its close.
    let bound = Duration::from_secs(10);
    let (outcome, closed) = tokio::join!(
        engine.call("call_target", args.as_object(), &cancel),
        async {
            tokio::time::timeout(bound, up.request_arrived())
                .await
                .expect("the upstream saw the request");
            cancel.cancel();
            tokio::time::timeout(bound, up.connection_closed()).await
        }
    );
    assert_eq!(code(&outcome), "cancelled");
    assert!(closed.is_ok(), "the upstream saw its connection close");
    assert_eq!(up.closes(), 1);
    assert_eq!(up.requests().len(), 1);
}

/// Stands in for a bug: panics when the call reaches `at`.
struct PanicsAt(harpoon::progress::Stage);

impl harpoon::progress::Progress for PanicsAt {
    fn report(&self, stage: harpoon::progress::Stage) {
        if std::mem::discriminant(&stage) == std::mem::discriminant(&self.0) {
            panic!("a bug at {stage:?}");
        }
    }
}

/// A panic inside a call, before the request leaves or while its response is read, ends that
/// call as `internal_error` (counted like any call) instead of unwinding into the transport,
/// where it could leave the client waiting; the engine serves the next call as usual.
#[tokio::test]
async fn a_panic_inside_a_call_ends_it_as_internal_error_and_the_engine_serves_on() {
    use harpoon::callout::CallError;
    use harpoon::engine::Outcome;
    use harpoon::progress::Stage;
    let up = Upstream::start(|_| Reply::ok("fine")).await;
    let engine = engine(&target(&up.url(), ""));
    let args = get("/x");
    let cases = [
        (Stage::Permitted, 0),
        (Stage::Headers { status: 0 }, 1),
        (Stage::Body { bytes: 0 }, 2),
    ];
    for (at, requests_after) in cases {
        let outcome = engine
            .call_with_progress(
                "call_target",
                args.as_object(),
                &CancellationToken::new(),
                &PanicsAt(at),
            )
            .await;
        assert!(
            matches!(outcome, Outcome::Failed(CallError::Internal)),
            "{at:?}: {outcome:?}"
        );
        assert_eq!(code(&outcome), "internal_error");
        assert_eq!(up.requests().len(), requests_after, "{at:?}");
    }
    let next = call(&engine, "call_target", get("/x")).await;
    assert_eq!(code(&next), "ok");
    assert_eq!(&response(next).body[..], b"fine");
    let metrics = engine.metrics().render(&[]);
    let line = metrics
        .lines()
        .find(|l| l.contains("reason=\"internal_error\"") && !l.starts_with('#'))
        .unwrap_or_else(|| panic!("no internal_error counter:\n{metrics}"));
    assert!(line.ends_with(" 3"), "{line}");
}

#[tokio::test]
async fn error_statuses_come_back_with_their_body() {
    let up = Upstream::start(|_| Reply::json(500, json!({"error": "boom"}))).await;
    let engine = engine(&target(&up.url(), ""));
    let outcome = call(&engine, "call_target", get("/x")).await;
    assert_eq!(code(&outcome), "upstream_status");
    let r = response(outcome);
    assert_eq!((r.status, &r.body[..]), (500, &br#"{"error":"boom"}"#[..]));
}

#[tokio::test]
async fn narrowing_knobs_only_lower_limits() {
    let up = Upstream::start(|_| Reply::ok(&"y".repeat(5000))).await;
    let engine = engine(&target(&up.url(), "    limits: { response_bytes: 4000 }\n"));
    let args = json!({"label": "api", "method": "GET", "path": "/x", "max_response_bytes": 100});
    assert_eq!(
        response(call(&engine, "call_target", args).await)
            .body
            .len(),
        100
    );
    let args =
        json!({"label": "api", "method": "GET", "path": "/x", "max_response_bytes": 1_000_000});
    assert_eq!(
        response(call(&engine, "call_target", args).await)
            .body
            .len(),
        4000,
        "cannot be raised"
    );
}

/// A redirect hop is decided as a first request is, query included: a `paths` rule with no
/// `query`, or a route that declares none, refuses a hop that adds one, and the hop never
/// reaches the upstream (it sees the first request only). The reason inside is the first
/// request's: `query_not_allowed`.
#[tokio::test]
async fn a_redirect_hop_gets_no_query_the_allowlist_does_not_grant() {
    let up = Upstream::start(|s| match s.target.as_str() {
        "/api/public/hello" => Reply::redirect(302, "/api/public/hello2?t=x"),
        "/api/items/a" => Reply::redirect(302, "/api/items/b?admin=true"),
        "/api/items/c" => Reply::redirect(302, "/api/items/d?expand=lines"),
        "/api/items/e" => Reply::redirect(302, "/api/items/f?expand=secrets"),
        _ => Reply::ok("landed"),
    })
    .await;
    let yaml = format!(
        "version: 1\ntargets:\n  - label: api\n    base_url: {}/api\n    network: {{ allow_cidrs: [127.0.0.1/32] }}\n    \
         dangerous: {{ allow_plaintext_http: true }}\n    redirects: 3\n    \
         paths: [{{ methods: [GET], glob: \"/public/*\" }}]\n    routes:\n      \
         - {{ name: get, method: GET, path: \"/items/{{id}}\", query: {{ expand: {{ enum: [lines] }} }} }}\n",
        up.url()
    );
    let engine = engine(&yaml);
    let outcome = call(&engine, "call_target", get("/public/hello")).await;
    let harpoon::engine::Outcome::Failed(harpoon::callout::CallError::RedirectNotAllowed(
        harpoon::policy::HopError::Denied(reason),
    )) = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(reason.code(), "query_not_allowed");
    let outcome = call(&engine, "api_get", json!({"id": "a"})).await;
    assert_eq!(code(&outcome), "redirect_not_allowed", "{outcome:?}");
    let outcome = call(&engine, "api_get", json!({"id": "e"})).await;
    assert_eq!(code(&outcome), "redirect_not_allowed", "{outcome:?}");
    let targets: Vec<String> = up.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        ["/api/public/hello", "/api/items/a", "/api/items/e"],
        "no refused hop was sent"
    );
    // A declared query parameter with a declared value is followed, re-encoded.
    let r = response(call(&engine, "api_get", json!({"id": "c"})).await);
    assert_eq!((r.status, r.redirects), (200, 1));
    assert_eq!(
        up.requests().last().expect("hop").target,
        "/api/items/d?expand=lines"
    );
}

/// A route's redirect hop is granted only to a path the route's template renders, each
/// parameter passing its declaration: not another path, not one segment more or less, not a
/// value the declaration refuses, not without the template's trailing slash. (Mutation testing
/// found `PathTemplate::matches` untested: a hop to any path would have gone unnoticed.)
#[tokio::test]
async fn a_route_hop_is_granted_only_to_a_path_and_query_its_route_grants() {
    let up = Upstream::start(|s| match s.target.as_str() {
        "/api/items/off" => Reply::redirect(302, "/api/admin"),
        "/api/items/deeper" => Reply::redirect(302, "/api/items/deeper/x"),
        "/api/items/shallower" => Reply::redirect(302, "/api/items"),
        "/api/items/refused" => Reply::redirect(302, "/api/items/n0t-a11owed"),
        "/api/items/fine" => Reply::redirect(302, "/api/items/landed"),
        "/api/groups/slash/" => Reply::redirect(302, "/api/groups/other/"),
        "/api/groups/noslash/" => Reply::redirect(302, "/api/groups/other"),
        "/api/" => Reply::redirect(302, "/api/"),
        "/api/search/missing?q=ab" => Reply::redirect(302, "/api/search/other?p=c"),
        // `+` is a plus to some upstreams and a space to others: the hop must pass both readings.
        "/api/search/plus?q=ab" => Reply::redirect(302, "/api/search/other?q=a+b"),
        "/api/search/space?q=ab" => Reply::redirect(302, "/api/search/other?q=ab&p=a+b"),
        "/api/search/extra?q=ab" => Reply::redirect(302, "/api/search/other?q=ab&x=1"),
        "/api/search/fine?q=ab" => Reply::redirect(302, "/api/search/other?q=a%20b&p=c"),
        _ => Reply::ok("landed"),
    })
    .await;
    let yaml = format!(
        "version: 1\ntargets:\n  - label: api\n    base_url: {}/api\n    network: {{ allow_cidrs: [127.0.0.1/32] }}\n    \
         dangerous: {{ allow_plaintext_http: true }}\n    redirects: 3\n    routes:\n      \
         - {{ name: item, method: GET, path: \"/items/{{id}}\", params: {{ id: {{ pattern: \"^[a-z]+$\" }} }} }}\n      \
         - {{ name: group, method: GET, path: \"/groups/{{g}}/\", params: {{ g: {{ pattern: \"^[a-z]+$\" }} }} }}\n      \
         - {{ name: root, method: GET, path: \"/\" }}\n      \
         - {{ name: search, method: GET, path: \"/search/{{k}}\", params: {{ k: {{ pattern: \"^[a-z]+$\" }} }}, \
         query: {{ q: {{ pattern: \"^[a-z ]+$\", required: true }}, p: {{ pattern: \"^[a-z+]+$\" }} }} }}\n",
        up.url()
    );
    let engine = engine(&yaml);
    let cases = [
        (
            "api_item",
            json!({"id": "off"}),
            "redirect_not_allowed",
            None,
        ),
        (
            "api_item",
            json!({"id": "deeper"}),
            "redirect_not_allowed",
            None,
        ),
        (
            "api_item",
            json!({"id": "shallower"}),
            "redirect_not_allowed",
            None,
        ),
        (
            "api_item",
            json!({"id": "refused"}),
            "redirect_not_allowed",
            None,
        ),
        (
            "api_group",
            json!({"g": "noslash"}),
            "redirect_not_allowed",
            None,
        ),
        (
            "api_item",
            json!({"id": "fine"}),
            "ok",
            Some("/api/items/landed"),
        ),
        (
            "api_group",
            json!({"g": "slash"}),
            "ok",
            Some("/api/groups/other/"),
        ),
        // A hop without the route's required query parameter, with a value that fails its
        // pattern read either way, or with an undeclared one, is refused.
        (
            "api_search",
            json!({"k": "missing", "q": "ab"}),
            "redirect_not_allowed",
            None,
        ),
        (
            "api_search",
            json!({"k": "plus", "q": "ab"}),
            "redirect_not_allowed",
            None,
        ),
        (
            "api_search",
            json!({"k": "space", "q": "ab"}),
            "redirect_not_allowed",
            None,
        ),
        (
            "api_search",
            json!({"k": "extra", "q": "ab"}),
            "redirect_not_allowed",
            None,
        ),
        (
            "api_search",
            json!({"k": "fine", "q": "ab"}),
            "ok",
            Some("/api/search/other?q=a%20b&p=c"),
        ),
        // The root route's hop to itself is granted, again and again, up to the limit.
        ("api_root", json!({}), "too_many_redirects", Some("/api/")),
    ];
    for (tool, args, expected, last_sent) in cases {
        let sent_before = up.requests().len();
        let outcome = call(&engine, tool, args.clone()).await;
        assert_eq!(code(&outcome), expected, "{tool} {args}: {outcome:?}");
        let sent: Vec<String> = up.requests()[sent_before..]
            .iter()
            .map(|r| r.target.clone())
            .collect();
        match last_sent {
            None => assert_eq!(
                sent.len(),
                1,
                "{tool} {args}: no refused hop was sent: {sent:?}"
            ),
            Some(hop) => {
                assert!(sent.len() > 1, "{tool} {args}: {sent:?}");
                assert_eq!(sent.last().map(String::as_str), Some(hop), "{tool} {args}");
            }
        }
    }
}

/// An upstream that echoes the injected secret in a refused redirect's `Location` (absolute,
/// relative, or unparseable) never gets it into the result's message.
#[tokio::test]
async fn a_secret_in_a_refused_location_is_redacted() {
    let secret = "s3cret-token-value";
    for location in [
        format!("http://evil.example/?t={secret}"),
        format!("/elsewhere?t={secret}"),
        format!("http://[::1/?t={secret}"),
        format!("http://evil.example/?t=%73{}", &secret[1..]),
    ] {
        let loc = location.clone();
        let up = Upstream::start(move |_| Reply::redirect(302, &loc)).await;
        let engine = engine(&target(&up.url(), "    redirects: 3\n"));
        let outcome = call(&engine, "call_target", get("/x")).await;
        assert_eq!(code(&outcome), "redirect_not_allowed", "{location}");
        let harpoon::engine::Outcome::Failed(e) = &outcome else {
            panic!("{outcome:?}")
        };
        let message = e.to_string();
        assert!(!message.contains(secret), "{location}: {message}");
        assert!(!message.contains(&secret[1..]), "{location}: {message}");
        // The rest of the Location is still there to read, blanked byte for byte; one that
        // shows the secret only once decoded is withheld whole.
        let shown = if location.contains('%') {
            harpoon::policy::redact::WITHHELD.to_owned()
        } else {
            location.replace(secret, &"*".repeat(secret.len()))
        };
        assert!(
            message.contains(&format!("Location '{shown}'")),
            "{location}: {message}"
        );
    }
}

/// Secrets an upstream echoes where harpoon decodes or copies: a media type (`image/<secret>`
/// would have become a block's `mimeType`), JSON `\u` escapes (harpoon parses the body), and a
/// multipart part's percent-encoded `Content-Location`. None reaches the result.
#[tokio::test]
async fn secrets_in_media_types_json_escapes_and_part_locations_never_reach_a_result() {
    let secret = "s3cret-token-value";
    let escaped: String = secret
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let encoded: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
    let (escaped2, encoded2) = (escaped.clone(), encoded.clone());
    let up = Upstream::start(move |s| {
        let (ct, body) = match s.target.as_str() {
            "/api/image" => (format!("image/{secret}"), b"\x89PNG".to_vec()),
            "/api/json" => (
                "application/json".to_owned(),
                format!("{{\"token\": \"{escaped2}\", \"{escaped2}\": 1}}").into_bytes(),
            ),
            _ => (
                "multipart/mixed; boundary=b".to_owned(),
                format!("--b\r\nContent-Type: text/plain\r\nContent-Location: test://{encoded2}\r\n\r\nhi\r\n--b--").into_bytes(),
            ),
        };
        Reply::Respond {
            status: 200,
            headers: vec![("content-type".into(), ct)],
            body,
        }
    })
    .await;
    let engine = engine(&target(&up.url(), ""));
    for path in ["/image", "/json", "/multipart"] {
        let outcome = call(&engine, "call_target", get(path)).await;
        let result = harpoon::mcp::result::to_result("call_target", outcome).expect("a result");
        let text = serde_json::to_string(&result).expect("json");
        assert!(!text.contains(secret), "{path}: {text}");
        assert!(!text.contains(&encoded), "{path}: {text}");
        assert!(
            !text.contains(&escaped.replace('\\', "\\\\")),
            "{path}: {text}"
        );
        if path == "/image" {
            // The media type held the secret, so it reads as octet-stream: no image block.
            assert_eq!(result.content.len(), 1, "{text}");
        }
    }
}

/// A request body of exactly `request_bytes` is sent; one byte more is refused before anything
/// leaves. (Mutation testing found the edge untested.)
#[test]
fn a_request_body_at_the_limit_is_allowed_and_one_byte_more_is_not() {
    let policy = crate::support::engine::policy(&target(
        "http://127.0.0.1:9",
        "    limits: { request_bytes: 10 }\n",
    ));
    for (body, expected) in [
        ("x".repeat(10), "allow"),
        ("x".repeat(11), "request_too_large"),
    ] {
        let args = json!({"label": "api", "method": "POST", "path": "/x", "body": body});
        let verdict = match decided(&policy, args, |p| p.body().len()) {
            Ok(sent) => {
                assert_eq!(sent, 10);
                "allow"
            }
            Err(code) => code,
        };
        assert_eq!(verdict, expected, "{} bytes", body.len());
    }
}

/// What `decide` makes of `call_target` with `args`: `read` of its permit, or the reason code
/// of its refusal. The steps the engine takes before sending, without sending.
fn decided<T>(
    policy: &harpoon::policy::Policy,
    args: serde_json::Value,
    read: impl FnOnce(&harpoon::policy::Permit) -> T,
) -> Result<T, &'static str> {
    use harpoon::policy::{CallRequest, Decision, ToolKind, decide};
    let Some(ToolKind::Upstream(tool)) = policy.tool("call_target") else {
        panic!("call_target exists");
    };
    let request = CallRequest::parse(tool, args.as_object()).expect("parses");
    match decide(policy, &request) {
        Decision::Allow(p) => Ok(read(&p)),
        Decision::Deny(r) => Err(r.code()),
    }
}

/// Every per-call knob of `call_target` only lowers the target's limit, never raises it:
/// `timeout_ms`, `max_response_bytes`, `max_redirects` and `follow_redirects`, read off the
/// permit `decide` makes.
#[test]
fn every_narrowing_knob_only_lowers_its_limit() {
    let policy = crate::support::engine::policy(&target(
        "http://127.0.0.1:9",
        "    limits: { timeout: 2s, response_bytes: 4000 }\n    redirects: 3\n",
    ));
    let limits = |knobs: serde_json::Value| {
        let mut args = json!({"label": "api", "method": "GET", "path": "/x"});
        args.as_object_mut()
            .expect("object")
            .extend(knobs.as_object().expect("object").clone());
        decided(&policy, args, |p| p.limits())
    };
    let base = limits(json!({})).expect("allowed");
    assert_eq!(
        (base.timeout, base.response_bytes, base.redirects),
        (Duration::from_secs(2), 4000, 3)
    );
    assert_eq!(
        limits(json!({"timeout_ms": 100})).unwrap().timeout,
        Duration::from_millis(100)
    );
    assert_eq!(
        limits(json!({"timeout_ms": 100_000})).unwrap().timeout,
        Duration::from_secs(2)
    );
    assert_eq!(
        limits(json!({"timeout_ms": 5})).unwrap_err(),
        "bad_argument"
    );
    // The floor itself is allowed (mutation testing found the edge untested).
    assert_eq!(
        limits(json!({"timeout_ms": 10})).unwrap().timeout,
        Duration::from_millis(10)
    );
    assert_eq!(
        limits(json!({"max_response_bytes": 10}))
            .unwrap()
            .response_bytes,
        10
    );
    assert_eq!(
        limits(json!({"max_response_bytes": 1_000_000}))
            .unwrap()
            .response_bytes,
        4000
    );
    assert_eq!(
        limits(json!({"max_response_bytes": 0})).unwrap_err(),
        "bad_argument"
    );
    assert_eq!(limits(json!({"max_redirects": 1})).unwrap().redirects, 1);
    assert_eq!(limits(json!({"max_redirects": 50})).unwrap().redirects, 3);
    assert_eq!(
        limits(json!({"follow_redirects": false}))
            .unwrap()
            .redirects,
        0
    );
    assert_eq!(
        limits(json!({"follow_redirects": true})).unwrap().redirects,
        3
    );
    assert_eq!(
        limits(json!({"follow_redirects": true, "max_redirects": 2}))
            .unwrap()
            .redirects,
        2
    );
}
