//! `harpoon tunnel`: serve the allowlists' tools through an edge, dialling out only.

use super::startup::{
    AllowlistArgs, DrainArgs, LogArgs, load_policy, read_token, run_serving, shutdown_signal,
};
use crate::policy::limits::parse_duration;
use crate::service::{HarpoonService, ServiceOptions};
use crate::transport::poll_protocol::{MAX_POLL_TIMEOUT, valid_tunnel_id};
use crate::transport::tunnel::{self, TunnelOptions, TunnelStatus};
use axum::response::IntoResponse;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
The token comes from HARPOON_TUNNEL_TOKEN, or from --token-file. The edge must be https unless it
is on loopback. /healthz, /readyz (ready while polls succeed) and /metrics are served on
--health-listen.

Example:
  HARPOON_TUNNEL_TOKEN=... harpoon tunnel --allowlist allowlists/ --edge https://edge.example --tunnel-id billing")]
pub struct TunnelArgs {
    #[command(flatten)]
    pub allowlist: AllowlistArgs,
    /// The edge's base URL.
    #[arg(long, env = "HARPOON_EDGE")]
    pub edge: url::Url,
    /// The tunnel id the edge knows this tunnel by.
    #[arg(long, env = "HARPOON_TUNNEL_ID")]
    pub tunnel_id: String,
    /// A file holding the tunnel token (instead of HARPOON_TUNNEL_TOKEN).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Commands run at once; the tunnel asks the edge for no more than it has room for.
    #[arg(long, default_value_t = 16)]
    pub max_in_flight: usize,
    /// An OpenAI organization id, sent as `OpenAI-Organization` (organization-backed tunnels).
    #[arg(long, env = "HARPOON_TUNNEL_ORGANIZATION")]
    pub organization: Option<String>,
    /// How long each long-poll waits on the edge.
    #[arg(long, default_value = "25s", value_parser = parse_duration)]
    pub poll_timeout: Duration,
    /// Where /healthz, /readyz and /metrics are served.
    #[arg(long, default_value = "127.0.0.1:8790")]
    pub health_listen: SocketAddr,
    #[command(flatten)]
    pub drain: DrainArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

pub fn run(args: &TunnelArgs) -> ExitCode {
    run_serving(&args.log, serve(args))
}

fn options(args: &TunnelArgs) -> Result<TunnelOptions, String> {
    if !valid_tunnel_id(&args.tunnel_id) {
        return Err(format!(
            "error: tunnel id '{}' may hold only lowercase letters, digits, '_' and '-'",
            args.tunnel_id
        ));
    }
    let token = read_token(
        args.token_file.as_deref(),
        "HARPOON_TUNNEL_TOKEN",
        "the tunnel",
    )?;
    let loopback = match args.edge.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match args.edge.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("error: the edge must be https (the token travels with every poll) unless it is on loopback".into()),
        other => return Err(format!("error: the edge URL scheme '{other}' is not http or https")),
    }
    Ok(TunnelOptions {
        organization: args.organization.clone(),
        edge: args.edge.clone(),
        tunnel_id: args.tunnel_id.clone(),
        token,
        max_in_flight: args.max_in_flight.max(1),
        poll_timeout: args.poll_timeout.min(MAX_POLL_TIMEOUT),
        drain_timeout: args.drain.drain_timeout,
    })
}

async fn serve(args: &TunnelArgs) -> Result<(), String> {
    let options = options(args)?;
    let policy = load_policy(&args.allowlist.allowlists)?;
    let service = HarpoonService::from_policy(policy, ServiceOptions::default())
        .map_err(|e| e.to_string())?;
    let status = Arc::new(TunnelStatus::default());
    let listener = tokio::net::TcpListener::bind(args.health_listen)
        .await
        .map_err(|e| {
            format!(
                "error: cannot listen on {} for health: {e}; pick another with --health-listen",
                args.health_listen
            )
        })?;
    service
        .own_listeners()
        .add(listener.local_addr().map_err(|e| e.to_string())?);
    let shutdown = CancellationToken::new();
    let health = health_router(&service, &status);
    let stop = shutdown.clone();
    tokio::spawn(async move {
        crate::transport::listen::serve(
            listener,
            health,
            crate::transport::listen::ListenLimits::default(),
            stop.cancelled_owned(),
        )
        .await;
    });
    let signal = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing commands in flight");
        signal.cancel();
    });
    tracing::info!(edge = %options.edge, tunnel = %options.tunnel_id, tools = service.policy().route_count(), "harpoon tunnel polling");
    let result = tunnel::run(service, options, status, shutdown.clone()).await;
    shutdown.cancel();
    result.map_err(|e| format!("error: {e}"))
}

fn health_router(service: &HarpoonService, status: &Arc<TunnelStatus>) -> axum::Router {
    use axum::http::StatusCode;
    use axum::routing::get;
    let ready = Arc::clone(status);
    let metrics_status = Arc::clone(status);
    let engine = Arc::clone(service.engine());
    axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.ready.load(Ordering::SeqCst);
                async move {
                    if ready {
                        (StatusCode::OK, "ready\n").into_response()
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not polling\n").into_response()
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let text = metrics_status.render() + &engine.metrics().render(&[]);
                async move { text }
            }),
        )
}
