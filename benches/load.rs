//! The load benchmark: `cargo bench --bench load`.
//!
//! It starts the upstream the issue measured with (nginx serving a small JSON file; an axum
//! server in this process when nginx is missing), `harpoon serve` (the release binary) in front
//! of it, and a load generator (load/generator.rs: prepared requests on keep-alive connections,
//! as wrk sends them) that drives MCP `tools/call` at fixed concurrency (1, 16, 64), the same
//! GET straight to the upstream, and through nginx as a reverse proxy with upstream keep-alive
//! (the fair limit for two HTTP hops), and, when it is built (`cargo build --release --example
//! bare_proxy`), the floor of harpoon's own stack answering the same POST. The rows of one
//! concurrency take turns in one-second slices, so a drift of the machine falls on all of them
//! alike. It prints calls per second, p50/p99 latency, the harpoon process's peak RSS, and the
//! ratios to the anchors. nginx comes from Debian's package (`apt-get install nginx-light`);
//! without it the proxy row is skipped and the report says so and how to install it.
//! Then the tunnel path (edge + 1 and 2 tunnel replicas; at 16 in turns with `serve`), and a
//! memory-bound run: 100 concurrent calls whose responses hit a 1 MiB cap. Everything runs on
//! 127.0.0.1 and stops at the end. `HARPOON_LOAD_SECONDS` sets each row's time (default 5).

use axum::body::Body;
use axum::response::IntoResponse;
use serde_json::json;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[path = "load/generator.rs"]
mod generator;
use generator::{Call, Figures, drive, drive_in_turns, once};

const CONCURRENCY: [usize; 3] = [1, 16, 64];
/// Size of the body the memory run's upstream sends: twice the cap, so every call is cut.
const BIG_BODY: usize = 2 * 1024 * 1024;
/// The tunnel id of the tunnel phases, in the form `harpoon edge` takes (the service's).
const LOAD_TUNNEL: &str = "tunnel_0123456789abcdef0123456789abcdef";
/// The item the benchmark reads (`/api/items/123`): a small JSON object.
const ITEM: &str = r#"{"id":"123","name":"widget","quantity":12}"#;

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter we do not need.
    let seconds: u64 = std::env::var("HARPOON_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let phase = Duration::from_secs(seconds);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(phase));
}

/// The upstream when nginx is missing: a minimal axum server on its own runtime thread, in
/// this process (so it shares the generator's CPU, which nginx as the upstream does not).
fn start_axum_upstream() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("upstream runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind upstream");
            tx.send(listener.local_addr().expect("addr"))
                .expect("send addr");
            let app = axum::Router::new()
                .route(
                    "/api/items/{id}",
                    axum::routing::get(
                        |axum::extract::Path(id): axum::extract::Path<String>| async move {
                            (
                                [("content-type", "application/json")],
                                ITEM.replace("123", &id),
                            )
                        },
                    ),
                )
                .route(
                    "/api/big",
                    axum::routing::get(|| async {
                        (
                            [("content-type", "text/plain")],
                            Body::from(vec![b'x'; BIG_BODY]),
                        )
                            .into_response()
                    }),
                );
            let _ = axum::serve(listener, app).await;
        });
    });
    rx.recv().expect("upstream address")
}

fn allowlist(upstream: SocketAddr) -> String {
    format!(
        "version: 1\ntargets:\n  - label: bench\n    base_url: http://{upstream}/api\n    network: {{ allow_cidrs: [127.0.0.1/32] }}\n    \
         dangerous: {{ allow_plaintext_http: true }}\n    limits: {{ concurrency: 1024, response_bytes: 1MiB, timeout: 30s }}\n    \
         routes:\n      - {{ name: get_item, method: GET, path: \"/items/{{id}}\", params: {{ id: {{ pattern: \"^[0-9]{{1,9}}$\" }} }} }}\n      \
         - {{ name: big, method: GET, path: /big }}\n"
    )
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn spawn(args: &[&str], env: &[(&str, &str)]) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_harpoon"))
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("harpoon starts");
        Proc(child)
    }

    /// (VmRSS, VmHWM) in KiB, from /proc.
    fn memory(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

/// nginx, one process, no logs, connections kept open (not closed after 1,000 requests, as by
/// default), from `dir`, with `server` as its one server block (`{name}.conf`
/// there); `Err` (and why) when nginx is not installed or does not start.
fn nginx(dir: &std::path::Path, name: &str, server: &str) -> Result<Proc, String> {
    let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .ok_or("nginx is not installed (Debian: apt-get install nginx-light)")?;
    let d = dir.display();
    let config = format!(
        "worker_processes 1;\ndaemon off;\nmaster_process off;\npid {d}/{name}.pid;\nerror_log {d}/{name}-error.log;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  keepalive_requests 1000000;\n  client_body_temp_path {d}/{name}-body;\n  proxy_temp_path {d}/{name}-proxy;\n\
           fastcgi_temp_path {d}/{name}-fastcgi;\n  uwsgi_temp_path {d}/{name}-uwsgi;\n  scgi_temp_path {d}/{name}-scgi;\n\
           {server}\n}}\n"
    );
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, config).map_err(|e| format!("writing {}: {e}", path.display()))?;
    let child = Command::new(binary)
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join(format!("{name}-error.log")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{binary} did not start: {e}"))?;
    Ok(Proc(child))
}

/// The upstream as the issue measures it: nginx serving the item as a static JSON file (and
/// the memory run's 2 MiB body), on a free loopback port.
fn start_static_upstream(dir: &std::path::Path) -> Result<(Proc, SocketAddr), String> {
    let www = dir.join("www/api/items");
    std::fs::create_dir_all(&www).map_err(|e| format!("creating {}: {e}", www.display()))?;
    std::fs::write(www.join("123"), ITEM).map_err(|e| format!("writing the item: {e}"))?;
    std::fs::write(dir.join("www/api/big"), vec![b'x'; BIG_BODY])
        .map_err(|e| format!("writing the big body: {e}"))?;
    let listen = free_port();
    let root = dir.join("www");
    let server = format!(
        "default_type application/json;\n  server {{ listen {listen}; root {}; location = /api/big {{ default_type text/plain; }} }}",
        root.display()
    );
    Ok((nginx(dir, "upstream", &server)?, listen))
}

/// nginx as a reverse proxy in front of `upstream`, with upstream keep-alive, on a free
/// loopback port.
fn start_nginx_proxy(
    upstream: SocketAddr,
    dir: &std::path::Path,
) -> Result<(Proc, SocketAddr), String> {
    let listen = free_port();
    let server = format!(
        "upstream up {{ server {upstream}; keepalive 128; keepalive_requests 1000000; }}\n  \
         server {{ listen {listen}; location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}"
    );
    Ok((nginx(dir, "proxy", &server)?, listen))
}

async fn wait_ready(http: &reqwest::Client, url: &str) {
    for _ in 0..300 {
        if http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never became ready");
}

/// `harpoon serve` on a free loopback port, ready and settled (so its RSS is its idle RSS).
async fn start_serve(http: &reqwest::Client, allowlist: &str) -> (Proc, SocketAddr) {
    let listen = free_port();
    let serve = Proc::spawn(
        &[
            "serve",
            "--allowlist",
            allowlist,
            "--listen",
            &listen.to_string(),
        ],
        &[],
    );
    wait_ready(http, &format!("http://{listen}/readyz")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    (serve, listen)
}

fn client() -> reqwest::Client {
    let tls = harpoon::callout::client::tls_config_without_roots().expect("tls");
    reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(tls)
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// The rows of one concurrency, measured in turns.
struct Compared {
    concurrency: usize,
    direct: Figures,
    nginx: Option<Figures>,
    floor: Option<Figures>,
    harpoon: Figures,
}

impl Compared {
    /// The issue's ratios, as a row of the ratio table.
    fn ratios(&self) -> String {
        let over = |x: &Figures| format!("{} ms", ms(x.p50.saturating_sub(self.direct.p50)));
        let or_na = |x: Option<String>| x.unwrap_or_else(|| "n/a".into());
        format!(
            "| {} | {:.2} | {} | {} | {} | {} |",
            self.concurrency,
            self.harpoon.calls_per_second / self.direct.calls_per_second,
            or_na(
                self.nginx
                    .as_ref()
                    .map(|n| format!("{:.2}", self.harpoon.calls_per_second / n.calls_per_second))
            ),
            over(&self.harpoon),
            or_na(self.nginx.as_ref().map(over)),
            or_na(self.floor.as_ref().map(over)),
        )
    }
}

/// The floor of harpoon's stack (examples/bare_proxy.rs: tokio, hyper, hyper-util, nothing
/// else) in front of `upstream`, answering the same POST as harpoon, when it has been built.
fn start_floor(upstream: SocketAddr) -> Result<(Proc, SocketAddr), String> {
    // The benchmark runs from target/<profile>/deps; examples are built next to it.
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("examples/bare_proxy")))
        .filter(|p| p.exists())
        .ok_or("not built (cargo build --release --example bare_proxy)")?;
    let listen = free_port();
    let child = Command::new(&binary)
        .arg(listen.to_string())
        .arg(format!("http://{upstream}/api/items/123"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{} did not start: {e}", binary.display()))?;
    Ok((Proc(child), listen))
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

async fn run(phase: Duration) {
    let http = client();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_static_upstream, upstream, upstream_note) = match start_static_upstream(dir.path()) {
        Ok((proc, at)) => (Some(proc), at, "nginx serving a static file".to_owned()),
        Err(why) => (
            None,
            start_axum_upstream(),
            format!("axum in the generator's process ({why})"),
        ),
    };
    wait_ready(&http, &format!("http://{upstream}/api/items/123")).await;
    let path = dir.path().join("bench.yaml");
    std::fs::write(&path, allowlist(upstream)).expect("write allowlist");
    let path = path.to_str().expect("utf-8").to_owned();
    let mut report = String::new();
    let mut out = |line: String| {
        println!("{line}");
        report.push_str(&line);
        report.push('\n');
    };

    let (serve, listen) = start_serve(&http, &path).await;
    let (idle_rss, _) = serve.memory();
    out(format!("upstream: {upstream_note}"));
    out(format!(
        "harpoon serve idle RSS: {:.1} MB",
        idle_rss as f64 / 1024.0
    ));
    out(String::new());
    out("| path | concurrency | calls/s | p50 ms | p99 ms | errors | harpoon peak RSS MB |".into());
    out("|---|---|---|---|---|---|---|".into());
    let direct = Call::get(upstream, "/api/items/123");
    let mcp = Call::mcp(listen, "/mcp", "bench_get_item", json!({"id": "123"}));
    let nginx = match start_nginx_proxy(upstream, dir.path()) {
        Ok((proc, at)) => {
            wait_ready(&http, &format!("http://{at}/api/items/123")).await;
            Some((proc, Call::get(at, "/api/items/123")))
        }
        Err(why) => {
            out(format!("(nginx row skipped: {why})"));
            None
        }
    };
    let floor = match start_floor(upstream) {
        Ok((proc, at)) => {
            wait_ready(&http, &format!("http://{at}/")).await;
            let call = Call::mcp(at, "/mcp", "bench_get_item", json!({"id": "123"}));
            Some((proc, call.any_ok_answer()))
        }
        Err(why) => {
            out(format!("(floor row skipped: {why})"));
            None
        }
    };
    let mut compared = Vec::new();
    for c in CONCURRENCY {
        let mut rows = vec![&direct, &mcp];
        rows.extend(nginx.as_ref().map(|(_, call)| call));
        rows.extend(floor.as_ref().map(|(_, call)| call));
        let mut figures = drive_in_turns(&rows, c, phase).await.into_iter();
        let (direct, harpoon) = (
            figures.next().expect("direct"),
            figures.next().expect("harpoon"),
        );
        let nginx = nginx.as_ref().and_then(|_| figures.next());
        let floor = floor.as_ref().and_then(|_| figures.next());
        let (_, peak) = serve.memory();
        let row = |name: &str, f: &Figures, peak: &str| {
            format!(
                "| {name} | {c} | {:.0} | {} | {} | {} | {peak} |",
                f.calls_per_second,
                ms(f.p50),
                ms(f.p99),
                f.errors
            )
        };
        out(row("direct", &direct, ""));
        if let Some(n) = &nginx {
            out(row("nginx reverse proxy", n, ""));
        }
        if let Some(f) = &floor {
            out(row("floor: bare hyper proxy (POST)", f, ""));
        }
        out(row(
            "harpoon serve",
            &harpoon,
            &format!("{:.1}", peak as f64 / 1024.0),
        ));
        compared.push(Compared {
            concurrency: c,
            direct,
            nginx,
            floor,
            harpoon,
        });
    }
    out(String::new());
    out("| concurrency | harpoon/direct calls/s | harpoon/nginx calls/s (goal at 64: >= 0.5) | p50 harpoon - direct (goal at 1: <= 0.050 ms) | p50 nginx - direct | p50 floor - direct |".into());
    out("|---|---|---|---|---|---|".into());
    for row in &compared {
        out(row.ratios());
    }
    drop((nginx, floor));

    // The tunnel path: MCP client -> edge -> tunnel -> harpoon -> upstream.
    let edge_at = free_port();
    let env = [("HARPOON_TUNNEL_TOKEN", "load-token")];
    let _edge = Proc::spawn(
        &[
            "edge",
            "--listen",
            &edge_at.to_string(),
            "--tunnel",
            LOAD_TUNNEL,
        ],
        &env,
    );
    wait_ready(&http, &format!("http://{edge_at}/readyz")).await;
    let health_a = free_port();
    let tunnel_args = |health: &SocketAddr| {
        vec![
            "tunnel".to_owned(),
            "--allowlist".into(),
            path.clone(),
            "--edge".into(),
            format!("http://{edge_at}"),
            "--tunnel-id".into(),
            LOAD_TUNNEL.into(),
            "--max-in-flight".into(),
            "64".into(),
            "--health-listen".into(),
            health.to_string(),
        ]
    };
    let a_args = tunnel_args(&health_a);
    let _a = Proc::spawn(&a_args.iter().map(String::as_str).collect::<Vec<_>>(), &env);
    wait_ready(&http, &format!("http://{health_a}/readyz")).await;
    let tunnel_call = Call::mcp(
        edge_at,
        &format!("/v1/mcp/{LOAD_TUNNEL}"),
        "bench_get_item",
        json!({"id": "123"}),
    );
    out(String::new());
    out("| tunnel path | concurrency | calls/s | p50 ms | p99 ms | errors |".into());
    out("|---|---|---|---|---|---|".into());
    let mut tunnel_ratio = None;
    for c in [1, 16, 64] {
        // At 16 the tunnel takes turns with `serve` (still running), for the goal's ratio.
        let t = if c == 16 {
            let mut both = drive_in_turns(&[&tunnel_call, &mcp], c, phase)
                .await
                .into_iter();
            let (t, s) = (both.next().expect("tunnel"), both.next().expect("serve"));
            tunnel_ratio = Some((t.calls_per_second / s.calls_per_second, s.calls_per_second));
            t
        } else {
            drive(&tunnel_call, c, phase).await
        };
        out(format!(
            "| 1 replica | {c} | {:.0} | {} | {} | {} |",
            t.calls_per_second,
            ms(t.p50),
            ms(t.p99),
            t.errors
        ));
    }
    let health_b = free_port();
    let b_args = tunnel_args(&health_b);
    let _b = Proc::spawn(&b_args.iter().map(String::as_str).collect::<Vec<_>>(), &env);
    wait_ready(&http, &format!("http://{health_b}/readyz")).await;
    for c in [16, 64] {
        let t = drive(&tunnel_call, c, phase).await;
        out(format!(
            "| 2 replicas | {c} | {:.0} | {} | {} | {} |",
            t.calls_per_second,
            ms(t.p50),
            ms(t.p99),
            t.errors
        ));
    }

    if let Some((r, serve_alongside)) = tunnel_ratio {
        out(format!(
            "tunnel (1 replica) / serve calls/s at concurrency 16, in turns: {r:.2} (goal >= 0.5; serve {serve_alongside:.0} calls/s alongside)"
        ));
    }

    // Memory bound: 100 concurrent calls, each response cut at the 1 MiB cap, on a fresh
    // process so its peak RSS is this run's.
    drop(serve);
    let (fresh, listen) = start_serve(&http, &path).await;
    let (idle, _) = fresh.memory();
    let big = Call::mcp(listen, "/mcp", "bench_big", json!({}));
    let calls: Vec<_> = (0..100u64)
        .map(|_| {
            let big = big.clone();
            tokio::spawn(async move { once(&mut None, &big).await })
        })
        .collect();
    let mut ok = 0;
    for c in calls {
        ok += usize::from(c.await.expect("call"));
    }
    let (_, peak) = fresh.memory();
    let growth = peak.saturating_sub(idle) as f64 / 1024.0;
    out(String::new());
    out(format!(
        "memory bound: 100 concurrent calls cut at 1 MiB ({ok} ok): idle {:.1} MB, peak {:.1} MB, growth {growth:.1} MB = {:.2} MiB per call (goal <= 1.25 x the 1 MiB cap)",
        idle as f64 / 1024.0,
        peak as f64 / 1024.0,
        growth / 100.0
    ));
    let _ = std::fs::create_dir_all("target");
    let _ = std::fs::write("target/load-report.md", report);
    println!("\n(written to target/load-report.md)");
}
