//! The admin page of `serve` at `/ui`: served on loopback with what each target grants, refused
//! for a foreign Host or Origin, its JSON listing calls without their arguments, bodies or
//! secrets, the last reload shown escaped, `--allow-remote-ui` trading loopback for the token,
//! the ring of recent calls bounded, and the page as a real headless Chromium renders it after
//! its script ran.

use crate::support::engine::test_env;
use crate::support::mcp_client::{MODERN, McpHttp};
use crate::support::serve_process::spawn_ready;
use crate::support::server::{self, TestServer};
use crate::support::upstream::{Reply, Upstream};
use harpoon::recent::{RECENT_CALLS, RecentCalls};
use harpoon::telemetry::CallRecord;
use harpoon::transport::http::HttpOptions;
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};

/// What the upstream answers: it must never reach the page.
const UPSTREAM_BODY: &str = "upstream-body-7f3a9c";
/// An argument value: it must never reach the page.
const ARGUMENT: &str = "argvalue_5d2e1b";
/// A tool name no policy has: the caller's text must never reach the page.
const UNKNOWN_TOOL: &str = "no_such_tool_q8w7";

fn secret() -> String {
    test_env("TEST_TOKEN").expect("the test secret")
}

async fn upstream() -> Upstream {
    Upstream::start(|_| Reply::ok(UPSTREAM_BODY)).await
}

async fn start(up: &Upstream, options: HttpOptions) -> TestServer {
    server::start(&crate::enforcement::allowlist(&up.url()), options).await
}

/// GET with extra headers: (status, the headers' text, body).
async fn get_with(
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = crate::support::http().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let r = request.send().await.expect("GET");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap_or_default())
}

/// One permitted call, one denied for its argument, one for a tool that does not exist.
async fn make_calls(mcp_url: &str) {
    let mut c = McpHttp::new(mcp_url);
    let ok = c
        .call(MODERN, "api_get_item", json!({"id": ARGUMENT}))
        .await;
    assert_eq!(ok["result"]["structuredContent"]["status"], 200, "{ok}");
    let denied = c
        .call(MODERN, "api_get_item", json!({"id": "../admin"}))
        .await;
    assert_eq!(denied["result"]["isError"], true, "{denied}");
    let unknown = c.call(MODERN, UNKNOWN_TOOL, json!({"id": ARGUMENT})).await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
}

fn assert_nothing_leaked(what: &str, text: &str) {
    for leak in [
        secret().as_str(),
        ARGUMENT,
        UPSTREAM_BODY,
        UNKNOWN_TOOL,
        "../admin",
    ] {
        assert!(!text.contains(leak), "{what} shows {leak:?}:\n{text}");
    }
}

#[tokio::test]
async fn the_page_is_served_on_loopback_with_the_grants_findings_and_a_strict_policy() {
    let up = upstream().await;
    let s = start(&up, HttpOptions::loopback()).await;
    let (status, headers, body) = get_with(&s.url("/ui"), &[]).await;
    assert_eq!(status, 200, "{body}");
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("x-content-type-options"), "nosniff");
    for grant in [
        "<h3>target api</h3>",
        "<tr><th>tool api_get_item</th><td>GET /items/{id}; id ~ ^[a-z0-9_]{1,32}$",
        "<tr><th>call_target</th><td>GET /reports/* (query: date)</td></tr>",
        "<tr><th>injects</th><td>authorization from ${env:TEST_TOKEN}</td></tr>",
        "<b>warning[plaintext_http]</b>",
        "<b>warning[recursive_glob]</b>",
        "<script src=\"/ui/app.js\" defer></script>",
    ] {
        assert!(body.contains(grant), "{grant} missing from:\n{body}");
    }
    assert!(!body.contains(&secret()), "{body}");
    let (status, headers, script) = get_with(&s.url("/ui/app.js"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/javascript; charset=utf-8")
    );
    assert!(script.contains("/ui/calls.json"), "{script}");
}

#[tokio::test]
async fn a_foreign_host_or_origin_is_refused_with_the_way_to_allow_it() {
    let up = upstream().await;
    let s = start(&up, HttpOptions::loopback()).await;
    for path in ["/ui", "/ui/calls.json", "/ui/app.js"] {
        let (status, _, body) = get_with(&s.url(path), &[("host", "evil.example")]).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            body.contains("this request's Host header is not loopback")
                && body.contains("--allow-remote-ui")
                && body.contains("HARPOON_TOKEN"),
            "{path}: {body}"
        );
    }
    for origin in [
        "http://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        let (status, _, body) = get_with(&s.url("/ui"), &[("origin", origin)]).await;
        assert_eq!(status, 403, "{origin}: {body}");
        assert!(
            body.contains(
                "this request's Origin header (a page on another site sent it) is not loopback"
            ),
            "{origin}: {body}"
        );
    }
    let (status, _, _) = get_with(&s.url("/ui"), &[("origin", "http://localhost:1")]).await;
    assert_eq!(status, 200, "a loopback origin is served");
    let (status, _, _) = get_with(&s.url("/ui"), &[("host", "localhost")]).await;
    assert_eq!(status, 200, "a loopback name is served");
}

#[tokio::test]
async fn the_calls_json_lists_each_call_and_never_an_argument_a_body_or_a_secret() {
    let up = upstream().await;
    let s = start(&up, HttpOptions::loopback()).await;
    make_calls(&s.mcp_url()).await;
    assert_eq!(up.requests().len(), 1, "only the permitted call went out");
    let (status, _, text) = get_with(&s.url("/ui/calls.json"), &[]).await;
    assert_eq!(status, 200, "{text}");
    assert_nothing_leaked("/ui/calls.json", &text);
    let data: Value = serde_json::from_str(&text).expect("JSON");
    let calls = data["calls"].as_array().expect("calls");
    let fields = |c: &Value| {
        (
            c["tool"].as_str().unwrap_or_default().to_owned(),
            c["target"].as_str().unwrap_or_default().to_owned(),
            c["decision"].as_str().unwrap_or_default().to_owned(),
            c["reason"].as_str().unwrap_or_default().to_owned(),
            c["status"].as_u64().unwrap_or(999),
        )
    };
    let seen: Vec<_> = calls.iter().map(fields).collect();
    let expect = |t: &str, g: &str, d: &str, r: &str, st: u64| {
        (t.to_owned(), g.to_owned(), d.to_owned(), r.to_owned(), st)
    };
    assert_eq!(
        seen,
        [
            expect("_unknown", "", "deny", "unknown_tool", 0),
            expect("api_get_item", "api", "deny", "bad_param", 0),
            expect("api_get_item", "api", "allow", "ok", 200),
        ],
        "newest first: {text}"
    );
    let ok = &calls[2];
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["bytes_in"], UPSTREAM_BODY.len() as u64, "{ok}");
    assert!(ok["time_ms"].as_u64().is_some_and(|t| t > 0), "{ok}");
    assert!(ok["latency_us"].as_u64().is_some(), "{ok}");
    assert_eq!(
        data["denials"],
        json!([{"reason": "bad_param", "calls": 1}, {"reason": "unknown_tool", "calls": 1}])
    );
    let (_, _, page) = get_with(&s.url("/ui"), &[]).await;
    assert_nothing_leaked("/ui", &page);
    assert!(
        page.contains("<tr><td>bad_param</td><td>1</td></tr>"),
        "{page}"
    );
}

#[tokio::test]
async fn the_last_reload_is_shown_escaped_and_the_calls_before_it_stay_listed() {
    let up = upstream().await;
    let s = start(&up, HttpOptions::loopback()).await;
    make_calls(&s.mcp_url()).await;
    let (_, _, page) = get_with(&s.url("/ui"), &[]).await;
    assert!(page.contains("No reload since the start"), "{page}");

    let broken: harpoon::reload::Loader =
        Arc::new(|| Err("error: a.yaml:3:1: target '<script>alert(1)</script>' & more".to_owned()));
    let refused = harpoon::reload::reload_once(&s.service, &broken).await;
    assert!(refused.is_err());
    let (_, _, page) = get_with(&s.url("/ui"), &[]).await;
    assert!(
        page.contains("refused: the allowlists loaded before keep serving")
            && page.contains(
                "error: a.yaml:3:1: target &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; &amp; more"
            ),
        "{page}"
    );
    assert!(!page.contains("<script>alert"), "{page}");

    let yaml = crate::enforcement::allowlist(&up.url());
    let valid: harpoon::reload::Loader =
        Arc::new(move || Ok(crate::support::engine::policy(&yaml)));
    harpoon::reload::reload_once(&s.service, &valid)
        .await
        .expect("reloads");
    let (_, _, page) = get_with(&s.url("/ui"), &[]).await;
    assert!(
        page.contains("applied</p>\n<pre>allowlists reloaded: 5 tool(s) before, 5 after"),
        "{page}"
    );
    let (_, _, text) = get_with(&s.url("/ui/calls.json"), &[]).await;
    let data: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        data["calls"].as_array().map(Vec::len),
        Some(3),
        "the calls made before the reloads: {text}"
    );
}

#[tokio::test]
async fn allow_remote_ui_trades_the_loopback_checks_for_the_token() {
    let up = upstream().await;
    let options = HttpOptions {
        token: Some("t0ken".into()),
        allow_remote_ui: true,
        ..HttpOptions::loopback()
    };
    let s = start(&up, options).await;
    let (status, headers, body) = get_with(&s.url("/ui"), &[]).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    assert!(body.contains("HARPOON_TOKEN"), "{body}");
    let (status, _, _) = get_with(&s.url("/ui"), &[("authorization", "Bearer wrong")]).await;
    assert_eq!(status, 401);
    let (status, _, body) = get_with(
        &s.url("/ui/calls.json"),
        &[
            ("authorization", "Bearer t0ken"),
            ("host", "harpoon.example"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_ring_keeps_the_last_200_calls() {
    let ring = RecentCalls::default();
    let names: Vec<String> = (0..250).map(|i| format!("tool_{i}")).collect();
    for name in &names {
        ring.push(&CallRecord {
            tool: name,
            decision: "allow",
            reason: "ok",
            ..CallRecord::default()
        });
    }
    let kept = ring.newest_first();
    assert_eq!((kept.len(), RECENT_CALLS), (200, 200));
    assert_eq!((kept[0].seq, kept[0].tool.as_str()), (250, "tool_249"));
    assert_eq!((kept[199].seq, kept[199].tool.as_str()), (51, "tool_50"));

    // Through the engine, which feeds the ring from each call's audit record.
    let up = upstream().await;
    let engine = crate::support::engine::engine(&crate::enforcement::allowlist(&up.url()));
    for _ in 0..RECENT_CALLS + 5 {
        crate::support::engine::call(&engine, UNKNOWN_TOOL, json!({})).await;
    }
    let kept = engine.metrics().recent().newest_first();
    assert_eq!(kept.len(), RECENT_CALLS);
    assert_eq!(kept[0].seq, RECENT_CALLS as u64 + 5);
    assert!(kept.iter().all(|c| c.tool == "_unknown"));
}

// --- a real browser ------------------------------------------------------------------------

/// Set (to 1) where the browser test must run: without Chromium it then fails instead of saying
/// it was skipped. `.ci/run` installs Chromium and sets it, so CI never skips the test; a plain
/// `cargo test` on a machine without Chromium skips it with a note.
const REQUIRE_BROWSER_VAR: &str = "HARPOON_REQUIRE_BROWSER";
/// How long the browser may take to load, run the page's script and dump the DOM.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// Chromium from `PATH` (Debian's `chromium`, or `chromium-browser`).
fn chromium() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

/// A browser process group, killed whole when the test ends however it ends.
struct Browser {
    child: Child,
    /// Its process group (the id of the process started), kept past its exit.
    group: Option<u32>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self.group {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The DOM of `url` after its scripts ran (with `extra` flags), as headless Chromium dumps it.
async fn dump_dom(chromium: &std::path::Path, url: &str, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().to_str().expect("utf-8")
        ))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let child = command.spawn().expect("chromium starts");
    let mut browser = Browser {
        group: child.id(),
        child,
    };
    let mut stdout = browser.child.stdout.take().expect("stdout");
    let read = async {
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut out)
            .await
            .expect("reads the DOM");
        out
    };
    let dom = tokio::time::timeout(BROWSER_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| panic!("chromium did not dump {url} within {BROWSER_TIMEOUT:?}"));
    let _ = tokio::time::timeout(BROWSER_TIMEOUT, browser.child.wait()).await;
    dom
}

/// The inner HTML of the element that starts with `open` (up to its first `close`).
fn element<'d>(dom: &'d str, open: &str, close: &str) -> &'d str {
    let start = dom
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in the DOM:\n{dom}"));
    let rest = &dom[start + open.len()..];
    &rest[..rest.find(close).unwrap_or(rest.len())]
}

/// Starts `harpoon serve` on 127.0.0.1:0 and returns it with its base URL.
async fn start_serve(allowlist: &std::path::Path) -> (Child, String) {
    let mut serve = Command::new(env!("CARGO_BIN_EXE_harpoon"));
    serve
        .env_remove("HARPOON_TOKEN")
        .env_remove("HARPOON_LISTEN")
        .env_remove("HARPOON_ALLOWLIST")
        .env("TEST_TOKEN", secret())
        .args(["serve", "--listen", "127.0.0.1:0", "--allowlist"])
        .arg(allowlist)
        .kill_on_drop(true);
    let (child, mcp) = spawn_ready(serve).await;
    (child, mcp.trim_end_matches("/mcp").to_owned())
}

#[tokio::test]
async fn a_real_browser_shows_a_call_made_during_the_test_and_no_secret() {
    let Some(chromium) = chromium() else {
        let message = "chromium is not installed: the admin page is tested in a real browser; \
                       install it (`apt-get install chromium`; .ci/run does)";
        if std::env::var(REQUIRE_BROWSER_VAR).is_ok_and(|v| v == "1") {
            panic!("{message} ({REQUIRE_BROWSER_VAR}=1 is set)");
        }
        eprintln!("SKIPPED a_real_browser_shows_a_call_made_during_the_test: {message}");
        return;
    };
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, crate::enforcement::allowlist(&up.url())).expect("write");
    let (_serve, base) = start_serve(&file).await;
    make_calls(&format!("{base}/mcp")).await;

    let dom = dump_dom(&chromium, &format!("{base}/ui"), &[]).await;
    let live = element(&dom, "<span id=\"live\">", "</span>");
    assert!(
        live.starts_with("Live: updated ") && live.contains("3 call(s) listed"),
        "the page's script did not fill the page: {live}"
    );
    let calls = element(&dom, "<tbody id=\"calls\">", "</tbody>");
    for cell in [
        "<td>api_get_item</td><td>api</td><td>GET</td><td>allow</td><td>ok</td><td>200</td>",
        "<td>api_get_item</td><td>api</td><td>GET</td><td>deny</td><td>bad_param</td><td>—</td>",
        "<td>_unknown</td><td>—</td><td>—</td><td>deny</td><td>unknown_tool</td>",
    ] {
        assert!(
            calls.contains(cell),
            "{cell} missing from the calls:\n{calls}"
        );
    }
    let denials = element(&dom, "<tbody id=\"denials\">", "</tbody>");
    assert!(
        denials.contains("<td>bad_param</td><td>1</td>"),
        "{denials}"
    );
    assert_nothing_leaked("the rendered page", &dom);

    // The same server under a name that is not loopback (resolved to 127.0.0.1 by the
    // browser itself, as DNS rebinding would): refused, and the page says how to allow it.
    let port = base.rsplit(':').next().expect("port");
    let foreign = dump_dom(
        &chromium,
        &format!("http://harpoon-rebound.example:{port}/ui"),
        &["--host-resolver-rules=MAP harpoon-rebound.example 127.0.0.1"],
    )
    .await;
    assert!(
        foreign.contains("this request's Host header is not loopback")
            && foreign.contains("--allow-remote-ui"),
        "{foreign}"
    );
    assert!(!foreign.contains("api_get_item"), "{foreign}");
}

#[tokio::test]
async fn allow_remote_ui_without_a_token_refuses_the_start() {
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, crate::enforcement::allowlist(&up.url())).expect("write");
    let run = Command::new(env!("CARGO_BIN_EXE_harpoon"))
        .env_remove("HARPOON_TOKEN")
        .env_remove("HARPOON_LISTEN")
        .env_remove("HARPOON_ALLOWLIST")
        .env("TEST_TOKEN", secret())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-remote-ui",
            "--allowlist",
        ])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("exits")
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--allow-remote-ui needs a bearer token in HARPOON_TOKEN"),
        "{stderr}"
    );
}

/// `harpoon tunnel` serves the page on its health listener, with the tunnel's state: whether
/// it polls, when it last polled well, and its counters; loopback only, as under `serve`.
#[tokio::test]
async fn the_tunnel_serves_the_page_with_its_state_on_its_health_listener() {
    let service = crate::tunnel_refusals::Refusing::start(204, "").await;
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, crate::enforcement::allowlist(&up.url())).expect("write");
    let health = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let _tunnel = Command::new(env!("CARGO_BIN_EXE_harpoon"))
        .arg("tunnel")
        .arg("--allowlist")
        .arg(&file)
        .args(["--edge", &format!("http://{}", service.addr)])
        .args(["--tunnel-id", crate::tunnel_refusals::TUNNEL_ID])
        .args(["--health-listen", &health.to_string()])
        .env_remove("CONTROL_PLANE_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("HARPOON_EDGE")
        .env_remove("HARPOON_TUNNEL_ID")
        .env("HARPOON_TUNNEL_TOKEN", "tunnel-key")
        .env("TEST_TOKEN", secret())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("harpoon tunnel starts");
    let url = format!("http://{health}/ui");
    let mut page = String::new();
    for _ in 0..200 {
        if let Ok(r) = crate::support::http().get(&url).send().await
            && r.status() == 200
        {
            page = r.text().await.unwrap_or_default();
            if page.contains("<span class=\"ok\">polling</span>") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let section = element(&page, "<section id=\"tunnel\">", "</section>");
    assert!(
        section.contains("<span class=\"ok\">polling</span>"),
        "{section}"
    );
    assert!(
        !section.contains("none yet"),
        "a good poll is dated: {section}"
    );
    assert_nothing_leaked("the tunnel's page", &page);

    let (status, _, body) = get_with(&format!("http://{health}/ui/calls.json"), &[]).await;
    assert_eq!(status, 200, "{body}");
    let state: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(state["tunnel"]["polling"], true, "{state}");
    assert!(state["tunnel"]["polls_ok"].as_u64() >= Some(1), "{state}");
    assert!(
        state["tunnel"]["last_poll_ok_unix"].as_u64() > Some(0),
        "{state}"
    );

    let (status, _, _) = get_with(&url, &[("host", "evil.example")]).await;
    assert_eq!(
        status, 403,
        "a foreign Host is refused on the tunnel's listener too"
    );
}
