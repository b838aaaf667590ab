//! `harpoon edge`: the reference edge, a local model of OpenAI's tunnel service. MCP clients
//! call `/v1/mcp/{id}`; tunnels poll `/v1/tunnels/{id}/poll` and post to
//! `/v1/tunnels/{id}/response`.

use super::startup::{ListenArgs, LogArgs, read_token, run_serving, shutdown_signal};
use crate::policy::limits::parse_duration;
use crate::transport::edge::{self, DEFAULT_MAX_QUEUE, Edge, EdgeOptions};
use crate::transport::poll_protocol::{is_service_key, is_service_tunnel_id};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each --tunnel is ID or ID=TOKEN_FILE; without a file the key is HARPOON_TUNNEL_TOKEN. As on
OpenAI's service, an id is `tunnel_` and 32 lowercase letters or digits, and a key is made of
letters, digits, '_' and '-' (OpenAI's tunnel-client refuses anything else). MCP clients connect
to http://LISTEN/v1/mcp/ID. Listening on a non-loopback address needs --allow-remote and a
client token in HARPOON_EDGE_CLIENT_TOKEN.

Example:
  HARPOON_TUNNEL_TOKEN=... harpoon edge --tunnel tunnel_0123456789abcdef0123456789abcdef")]
pub struct EdgeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8788")]
    pub listen: SocketAddr,
    /// A tunnel this edge serves: ID or ID=TOKEN_FILE (repeatable).
    #[arg(long = "tunnel", value_name = "ID[=TOKEN_FILE]", required = true)]
    pub tunnels: Vec<String>,
    /// How long an MCP caller waits for the tunnel's reply.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub call_timeout: Duration,
    /// Most calls queued per tunnel.
    #[arg(long, default_value_t = DEFAULT_MAX_QUEUE)]
    pub max_queue: usize,
    /// Permit a non-loopback listen address (requires HARPOON_EDGE_CLIENT_TOKEN).
    #[arg(long)]
    pub allow_remote: bool,
    #[command(flatten)]
    pub listen_limits: ListenArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

pub fn run(args: &EdgeArgs) -> ExitCode {
    run_serving(&args.log, serve(args))
}

fn options(args: &EdgeArgs) -> Result<EdgeOptions, String> {
    let mut tunnels = Vec::new();
    for spec in &args.tunnels {
        let (id, file) = match spec.split_once('=') {
            Some((id, f)) => (id, Some(PathBuf::from(f))),
            None => (spec.as_str(), None),
        };
        if !is_service_tunnel_id(id) {
            return Err(format!(
                "error: tunnel id '{id}' is not tunnel_ and 32 lowercase letters or digits (the service's form, which its tunnel-client requires)"
            ));
        }
        let token = read_token(
            file.as_deref(),
            "HARPOON_TUNNEL_TOKEN",
            &format!("tunnel '{id}'"),
        )?;
        if !is_service_key(&token) {
            return Err(format!(
                "error: the key of tunnel '{id}' may hold only letters, digits, '_' and '-' (the service's form, which its tunnel-client requires)"
            ));
        }
        tunnels.push((id.to_owned(), token));
    }
    let client_token = std::env::var("HARPOON_EDGE_CLIENT_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    if !(args.listen.ip().is_loopback() || (args.allow_remote && client_token.is_some())) {
        return Err(format!(
            "error: refusing to listen on {} (not loopback) without --allow-remote and HARPOON_EDGE_CLIENT_TOKEN",
            args.listen
        ));
    }
    Ok(EdgeOptions {
        tunnels,
        call_timeout: args.call_timeout,
        max_queue: args.max_queue.max(1),
        client_token,
        safe_lease: edge::SAFE_LEASE,
        max_poll_bytes: crate::transport::poll_protocol::MAX_POLL_BODY_BYTES,
        fail_first_replies: 0,
    })
}

async fn serve(args: &EdgeArgs) -> Result<(), String> {
    let edge = Edge::new(options(args)?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            format!(
                "error: cannot listen on {}: {e}; pick another address with --listen",
                args.listen
            )
        })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let shutdown = CancellationToken::new();
    tokio::spawn(std::sync::Arc::clone(&edge).sweep_leases(shutdown.clone()));
    tracing::info!(%addr, tunnels = args.tunnels.len(), "harpoon edge listening");
    let stop = shutdown.clone();
    crate::transport::listen::serve(
        listener,
        edge::router(edge),
        args.listen_limits.limits(),
        async move {
            shutdown_signal().await;
            stop.cancel();
        },
    )
    .await;
    Ok(())
}
