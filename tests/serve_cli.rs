//! `harpoon serve` as a process: it refuses what it must refuse, with the messages `check` gives,
//! and on SIGTERM it finishes the calls in flight before it exits.

use crate::support::mcp_client::{MODERN, McpHttp};
use crate::support::serve_process::spawn_ready;
use crate::support::upstream::{Reply, Upstream};
use crate::support::{INVALID_DIR, SHIPPED_DIR};
use serde_json::json;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

fn harpoon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harpoon"));
    c.env_remove("HARPOON_TOKEN")
        .env_remove("HARPOON_LISTEN")
        .env_remove("HARPOON_ALLOWLIST")
        .kill_on_drop(true);
    c
}

async fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut c = harpoon();
    c.args(args)
        .env_remove("CONTROL_PLANE_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("HARPOON_TUNNEL_TOKEN")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let out = tokio::time::timeout(Duration::from_secs(30), c.output())
        .await
        .expect("exits")
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_invalid_allowlist_is_refused_with_the_message_check_gives() {
    let file = format!("{INVALID_DIR}/template-unclosed.yaml");
    let (code, stderr) = run(
        &["serve", "--allowlist", &file, "--listen", "127.0.0.1:0"],
        &[],
    )
    .await;
    assert_eq!(code, 2);
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_harpoon"))
        .args(["check", &file])
        .output()
        .expect("check");
    let check_first = String::from_utf8_lossy(&check.stderr)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !check_first.is_empty() && stderr.contains(&check_first),
        "serve said:\n{stderr}\ncheck said: {check_first}"
    );
}

#[tokio::test]
async fn an_unset_secret_refuses_the_start_naming_the_reference() {
    let file = format!("{SHIPPED_DIR}/billing.yaml");
    let (code, stderr) = run(
        &["serve", "--allowlist", &file, "--listen", "127.0.0.1:0"],
        &[],
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("${env:BILLING_TOKEN} is not set or is empty"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_network_listener_needs_the_flag_and_a_token() {
    let file = format!("{SHIPPED_DIR}/demo.yaml");
    let env = [("HARPOON_DEMO_TOKEN", "x")];
    let (code, stderr) = run(
        &["serve", "--allowlist", &file, "--listen", "0.0.0.0:0"],
        &env,
    )
    .await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("not loopback) without --allow-remote"),
        "{stderr}"
    );
    let (code, stderr) = run(
        &[
            "serve",
            "--allowlist",
            &file,
            "--listen",
            "0.0.0.0:0",
            "--allow-remote",
        ],
        &env,
    )
    .await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("needs a bearer token in HARPOON_TOKEN"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_session_cap_of_zero_is_refused_with_the_fix() {
    let file = format!("{SHIPPED_DIR}/demo.yaml");
    let env = [("HARPOON_DEMO_TOKEN", "x")];
    let (code, stderr) = run(
        &["serve", "--allowlist", &file, "--max-sessions", "0"],
        &env,
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "invalid value '0' for '--max-sessions <MAX_SESSIONS>': 0 would refuse every MCP session; give 1 or more"
        ),
        "{stderr}"
    );
}

/// Starts `harpoon serve` and returns it with the MCP URL it logged.
async fn start_serve(args: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let mut serve = harpoon();
    serve.arg("serve").args(args).envs(env.iter().copied());
    spawn_ready(serve).await
}

#[tokio::test]
async fn sigterm_lets_calls_in_flight_finish() {
    let up = Upstream::start(|_| Reply::Slow(Duration::from_millis(800), "finished".into())).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.yaml");
    std::fs::write(&path, crate::enforcement::allowlist(&up.url())).expect("write");
    let (mut child, url) = start_serve(
        &[
            "--allowlist",
            path.to_str().expect("utf-8"),
            "--listen",
            "127.0.0.1:0",
        ],
        &[("TEST_TOKEN", "t")],
    )
    .await;
    let mut c = McpHttp::new(&url);
    let call = tokio::spawn(async move {
        c.call(
            MODERN,
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/slow"}),
        )
        .await
    });
    for _ in 0..200 {
        if !up.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !up.requests().is_empty(),
        "the call reached the upstream before SIGTERM"
    );
    let pid = child.id().expect("pid").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let reply = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the call ends")
        .expect("joins");
    assert_eq!(
        reply["result"]["structuredContent"]["body"], "finished",
        "{reply}"
    );
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits")
        .expect("status");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn serve_demo_works_out_of_the_box() {
    let (mut child, url) = start_serve(&["--demo", "--listen", "127.0.0.1:0"], &[]).await;
    let mut c = McpHttp::new(&url);
    let reply = c.call(MODERN, "demo_get_item", json!({"id": "1"})).await;
    assert_eq!(
        reply["result"]["structuredContent"]["body"]["name"], "anchor",
        "{reply}"
    );
    let report = c
        .call(
            MODERN,
            "call_target",
            json!({"label": "demo", "method": "GET", "path": "/reports/latest"}),
        )
        .await;
    assert_eq!(
        report["result"]["structuredContent"]["status"], 200,
        "the redirect to /reports/daily is followed: {report}"
    );
    let _ = child.start_kill();
}

/// Invariant 3: the proxy environment variables are ignored. Were they read, the call would go
/// to the canary (a plain HTTP server, which answers a proxied request like any other).
#[tokio::test]
async fn proxy_environment_variables_are_ignored() {
    let up = Upstream::start(|_| Reply::ok("direct")).await;
    let canary = Upstream::canary().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.yaml");
    std::fs::write(&path, crate::enforcement::allowlist(&up.url())).expect("write");
    let proxy = canary.url();
    let env: Vec<(&str, &str)> = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .into_iter()
    .map(|name| (name, proxy.as_str()))
    .chain([("TEST_TOKEN", "t"), ("NO_PROXY", ""), ("no_proxy", "")])
    .collect();
    let (mut child, url) = start_serve(
        &[
            "--allowlist",
            path.to_str().expect("utf-8"),
            "--listen",
            "127.0.0.1:0",
        ],
        &env,
    )
    .await;
    let mut c = McpHttp::new(&url);
    let reply = c
        .call(
            MODERN,
            "call_target",
            json!({"label": "api", "method": "GET", "path": "/reports/x"}),
        )
        .await;
    assert_eq!(
        reply["result"]["structuredContent"]["body"], "direct",
        "{reply}"
    );
    assert_eq!(up.requests().len(), 1);
    assert_eq!(canary.hits(), 0);
    child.kill().await.expect("kill");
}

/// The tunnel's token travels with every poll: a plaintext edge is refused unless it is on
/// loopback, before any connection is tried. (`.invalid` never resolves, so were the check
/// gone, the tunnel would only retry, and `run` would time out.)
#[tokio::test]
async fn the_tunnel_refuses_a_plaintext_edge_off_loopback() {
    let file = format!("{SHIPPED_DIR}/demo.yaml");
    let env = [("HARPOON_DEMO_TOKEN", "x"), ("HARPOON_TUNNEL_TOKEN", "t")];
    for edge in ["http://edge.invalid:9", "http://localhost.invalid:9"] {
        let (code, stderr) = run(
            &[
                "tunnel",
                "--allowlist",
                &file,
                "--edge",
                edge,
                "--tunnel-id",
                "ci",
            ],
            &env,
        )
        .await;
        assert_eq!(code, 2, "{edge}: {stderr}");
        assert!(
            stderr.contains("the edge must be https"),
            "{edge}: {stderr}"
        );
    }
}

/// `harpoon edge` refuses a non-loopback address without `--allow-remote` and a client token,
/// before it binds anything.
#[test]
fn the_edge_refuses_a_network_address_without_a_client_token() {
    for args in [
        vec![
            "edge",
            "--listen",
            "0.0.0.0:0",
            "--tunnel",
            "tunnel_0123456789abcdef0123456789abcdef",
        ],
        vec![
            "edge",
            "--listen",
            "0.0.0.0:0",
            "--tunnel",
            "tunnel_0123456789abcdef0123456789abcdef",
            "--allow-remote",
        ],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_harpoon"))
            .args(&args)
            .env("HARPOON_TUNNEL_TOKEN", "tok")
            .env_remove("HARPOON_EDGE_CLIENT_TOKEN")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("error: refusing to listen on 0.0.0.0:0 (not loopback) without --allow-remote and HARPOON_EDGE_CLIENT_TOKEN"),
            "{args:?}: {stderr}"
        );
    }
}

/// `harpoon explain` as a user runs it: 0 and the URL for an allowed call, 1 and the reason for
/// a denied one, 2 for an unknown tool or arguments that are not a JSON object.
#[test]
fn explain_gives_the_verdict_the_reason_and_the_url() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_harpoon"))
            .arg("explain")
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let file = "allowlists/billing.yaml";
    let (code, out, _) = run(&[
        file,
        "--tool",
        "billing_get_invoice",
        "--args",
        r#"{"invoice_id": "inv_12345678"}"#,
        "--json",
    ]);
    assert_eq!(code, Some(0), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["decision"], "allow");
    assert!(
        report["url"]
            .as_str()
            .expect("url")
            .ends_with("/invoices/inv_12345678"),
        "{report}"
    );
    let (code, out, _) = run(&[
        file,
        "--tool",
        "billing_get_invoice",
        "--args",
        r#"{"invoice_id": "../admin"}"#,
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("decision   deny"), "{out}");
    assert!(out.contains("reason     bad_param"), "{out}");
    let (code, _, err) = run(&[file, "--tool", "billing.get_invoice"]);
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("error: there is no tool 'billing.get_invoice'"),
        "{err}"
    );
    let (code, _, err) = run(&[file, "--tool", "billing_get_invoice", "--args", "[1]"]);
    assert_eq!(code, Some(2));
    assert_eq!(err.trim(), "error: --args must be a JSON object");
}

/// `harpoon tunnel` takes its key as tunnel-client does: CONTROL_PLANE_API_KEY, then
/// OPENAI_API_KEY, then the edge's HARPOON_TUNNEL_TOKEN; it refuses a key that is not a key and,
/// for OpenAI's service (the default), a tunnel id that is not OpenAI's; all before connecting.
#[tokio::test]
async fn the_tunnel_takes_its_key_and_id_as_the_service_needs() {
    let file = format!("{SHIPPED_DIR}/demo.yaml");
    let base = ["tunnel", "--allowlist", file.as_str()];
    let (code, stderr) = run(
        &[
            &base[..],
            &["--tunnel-id", "tunnel_0123456789abcdef0123456789abcdef"],
        ]
        .concat(),
        &[("HARPOON_DEMO_TOKEN", "x")],
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("error: the tunnel has no key; set CONTROL_PLANE_API_KEY (or OPENAI_API_KEY or HARPOON_TUNNEL_TOKEN), or give --token-file"),
        "{stderr}"
    );
    let (code, stderr) = run(
        &[
            &base[..],
            &["--tunnel-id", "tunnel_0123456789abcdef0123456789abcdef"],
        ]
        .concat(),
        &[
            ("HARPOON_DEMO_TOKEN", "x"),
            ("OPENAI_API_KEY", "sk-proj-a b"),
        ],
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "error: the key in OPENAI_API_KEY may hold only letters, digits, '_' and '-'"
        ),
        "{stderr}"
    );
    let (code, stderr) = run(
        &[&base[..], &["--tunnel-id", "billing"]].concat(),
        &[
            ("HARPOON_DEMO_TOKEN", "x"),
            ("CONTROL_PLANE_API_KEY", "sk-live_abc"),
        ],
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("error: tunnel id 'billing' is not an OpenAI tunnel id (tunnel_ and 32 lowercase letters or digits)"), "{stderr}");
}
