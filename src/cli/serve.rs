//! `harpoon serve`: MCP over Streamable HTTP at `/mcp`, with `/healthz`, `/readyz`,
//! `/metrics` and the loopback admin page `/ui`. `--demo` adds an embedded REST API and its allowlist, so it works out of the box.

use super::startup::{
    DrainArgs, ListenArgs, LogArgs, ReloadArgs, compile_for_serving, load_policy, run_serving,
    shutdown_signal,
};
use crate::demo;
use crate::policy::limits::parse_duration;
use crate::service::{HarpoonService, ServiceOptions};
use crate::transport::http::{self, HttpOptions, ServerStatus};
use crate::transport::sessions::SessionLimits;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  harpoon serve --demo
  harpoon serve --allowlist allowlists/ --listen 127.0.0.1:8787

A client connects to http://LISTEN/mcp (Streamable HTTP; protocol 2025-11-25 and 2026-07-28).
The admin page is http://LISTEN/ui, on loopback only (see --allow-remote-ui).
Listening on a non-loopback address needs --allow-remote and either a token in HARPOON_TOKEN,
which clients then send as `Authorization: Bearer <token>`, or an `authorization` section in the
allowlists (OAuth access tokens, docs/authorization.md).")]
pub struct ServeArgs {
    /// Allowlist files, or directories of them (repeat the flag, or separate with commas).
    #[arg(
        long = "allowlist",
        value_name = "PATH",
        env = "HARPOON_ALLOWLIST",
        value_delimiter = ',',
        required_unless_present = "demo",
        conflicts_with = "demo"
    )]
    pub allowlists: Vec<PathBuf>,
    /// Serve the embedded demo REST API (127.0.0.1:8789) and its allowlist.
    #[arg(long)]
    pub demo: bool,
    /// Address to listen on.
    #[arg(long, env = "HARPOON_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Permit a non-loopback listen address (requires HARPOON_TOKEN).
    #[arg(long)]
    pub allow_remote: bool,
    /// Serve the admin page /ui to any address and Host header that presents the HARPOON_TOKEN
    /// bearer token (without it, /ui answers loopback requests only).
    #[arg(long)]
    pub allow_remote_ui: bool,
    /// Host header values to accept besides the loopback names (the name clients use).
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,
    /// Browser origins to accept besides loopback ones (e.g. `https://inspector.example`).
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    #[command(flatten)]
    pub reload: ReloadArgs,
    #[command(flatten)]
    pub drain: DrainArgs,
    #[command(flatten)]
    pub listen_limits: ListenArgs,
    /// Most MCP sessions open at once (2025-11-25 clients hold one each; 2026-07-28 requests
    /// open none). Past it, an `initialize` is answered 503 with a message saying so.
    #[arg(long, default_value_t = crate::transport::sessions::DEFAULT_MAX_SESSIONS,
          value_parser = parse_session_count)]
    pub max_sessions: usize,
    /// How long a session may sit idle before it is closed (its client starts a new one).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub session_idle_timeout: Duration,
    #[command(flatten)]
    pub log: LogArgs,
}

/// At least one session: 0 would refuse every 2025-11-25 client, which is never what was meant
/// (say so rather than quietly serving with another number).
fn parse_session_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => {
            Err("0 would refuse every MCP session; give 1 or more (the default is 256)".into())
        }
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}; give a whole number of sessions, such as 256")),
    }
}

pub fn run(args: &ServeArgs) -> ExitCode {
    run_serving(&args.log, serve(args))
}

fn http_options(
    args: &ServeArgs,
    authorization: Option<&crate::policy::AuthorizationPolicy>,
) -> Result<HttpOptions, String> {
    let mut options = HttpOptions::loopback();
    options
        .allowed_hosts
        .extend(args.allowed_hosts.iter().cloned());
    options
        .allowed_origins
        .extend(args.allowed_origins.iter().cloned());
    options.token = std::env::var("HARPOON_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    if let Some(auth) = authorization {
        if options.token.is_some() {
            return Err("error: HARPOON_TOKEN is set and the allowlists have an authorization section; both claim the Authorization header, so unset HARPOON_TOKEN (callers present OAuth access tokens)".into());
        }
        // Clients reach harpoon under its resource URL's host: accept that Host header.
        if let Some(host) = auth.resource.host_str() {
            options
                .allowed_hosts
                .push(host.trim_matches(['[', ']']).to_owned());
        }
    }
    if args.allow_remote_ui && options.token.is_none() {
        return Err(if authorization.is_some() {
            "error: --allow-remote-ui needs the HARPOON_TOKEN bearer token, which allowlists with an authorization section cannot use; drop the flag and open /ui on loopback (ssh -L from elsewhere)".into()
        } else {
            "error: --allow-remote-ui needs a bearer token in HARPOON_TOKEN: off loopback, /ui is served only to callers that send it".into()
        });
    }
    options.allow_remote_ui = args.allow_remote_ui;
    options.sessions = SessionLimits {
        max_sessions: args.max_sessions,
        idle_timeout: args.session_idle_timeout,
    };
    if !args.listen.ip().is_loopback() {
        if !args.allow_remote {
            return Err(format!(
                "error: refusing to listen on {} (not loopback) without --allow-remote; MCP on a network needs a token",
                args.listen
            ));
        }
        if options.token.is_none() && authorization.is_none() {
            return Err("error: --allow-remote needs a bearer token in HARPOON_TOKEN, or an authorization section in the allowlists".into());
        }
        if !args.listen.ip().is_unspecified() {
            options.allowed_hosts.push(args.listen.ip().to_string());
        }
    }
    Ok(options)
}

async fn serve(args: &ServeArgs) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    let policy = if args.demo {
        let token = demo::token();
        let addr = demo::start(&token, shutdown.child_token())
            .await
            .map_err(|e| format!("error: {e}"))?;
        tracing::info!(%addr, "demo REST API listening");
        let name: Arc<str> = Arc::from("<demo>/allowlists/demo.yaml");
        let raw = crate::config::parse(&name, demo::DEMO_ALLOWLIST.as_bytes())
            .map_err(|e| format!("error: {e}"))?;
        let env = |n: &str| (n == demo::DEMO_TOKEN_VAR).then(|| token.clone());
        compile_for_serving(&[crate::config::LoadedFile { name, raw }], &env)?
    } else {
        load_policy(&args.allowlists)?
    };
    let options = http_options(args, policy.authorization())?;
    let service = HarpoonService::from_policy(policy, ServiceOptions::default())
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            format!(
                "error: cannot listen on {}: {e}; pick another address with --listen",
                args.listen
            )
        })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    service.own_listeners().add(addr);
    let status = Arc::new(ServerStatus::default());
    let app = http::router(&service, &options, Arc::clone(&status), shutdown.clone());
    if args.demo {
        crate::reload::spawn(service.clone(), None, None, shutdown.clone());
    } else {
        args.reload
            .start(&service, &args.allowlists, shutdown.clone());
    }
    status.set_ready(true);
    tracing::info!(
        mcp = %format!("http://{addr}/mcp"),
        ui = %format!("http://{addr}/ui"),
        targets = service.policy().targets().len(),
        tools = service.policy().route_count(),
        "harpoon serving"
    );
    let drain = drain(
        service.clone(),
        Arc::clone(&status),
        shutdown.clone(),
        args.drain.drain_timeout,
    );
    crate::transport::listen::serve(listener, app, args.listen_limits.limits(), drain).await;
    tracing::info!("harpoon stopped");
    Ok(())
}

/// Time the last replies get to reach their clients before open MCP streams are ended: a reply
/// is written within milliseconds of its call finishing.
pub const STREAM_GRACE: Duration = Duration::from_millis(500);

/// On a signal: stop being ready, refuse new calls, let calls in flight finish (up to the drain
/// timeout). Then the listener closes; a moment later open MCP streams (SSE) are ended, once the
/// last replies have gone out, so the server can exit.
async fn drain(
    service: HarpoonService,
    status: Arc<ServerStatus>,
    shutdown: CancellationToken,
    timeout: Duration,
) {
    shutdown_signal().await;
    tracing::info!(
        in_flight = service.tracker().in_flight(),
        "shutting down: draining calls in flight"
    );
    status.set_ready(false);
    service.tracker().begin_drain();
    if tokio::time::timeout(timeout, service.tracker().wait_idle())
        .await
        .is_err()
    {
        tracing::warn!(
            in_flight = service.tracker().in_flight(),
            "drain timeout reached; cancelling calls in flight"
        );
        shutdown.cancel();
        return;
    }
    tokio::spawn(async move {
        tokio::time::sleep(STREAM_GRACE).await;
        shutdown.cancel();
    });
}
