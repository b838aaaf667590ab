//! `harpoon tunnel`: serve the allowlists' tools through an edge, dialling out only.

use super::startup::{
    AllowlistArgs, DrainArgs, LogArgs, ReloadArgs, load_policy, read_token, run_serving,
    shutdown_signal,
};
use crate::policy::limits::parse_duration;
use crate::service::{HarpoonService, ServiceOptions};
use crate::transport::poll_protocol::{
    MAX_POLL_TIMEOUT, is_service_key, is_service_tunnel_id, valid_tunnel_id,
};
use crate::transport::tunnel::{
    self, CheckOutcome, Egress, TunnelError, TunnelOptions, TunnelStatus,
};
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
The service is OpenAI's tunnel service (https://api.openai.com, or https://mtls.api.openai.com
with --client-cert) unless --edge names another one that speaks its protocol (`harpoon edge`, a gateway, a path prefix). The key comes from
--token-file, else CONTROL_PLANE_API_KEY, else OPENAI_API_KEY, else HARPOON_TUNNEL_TOKEN (the
variable `harpoon edge` reads); it is never a flag and never logged. For OpenAI's service it is a
runtime API key with Tunnels Read and Use on the tunnel, and the tunnel id is `tunnel_` and 32
lowercase letters or digits. The service must be https unless it is on loopback. /healthz,
/readyz (ready while polls succeed) and /metrics are served on --health-listen. --ca-file,
--client-cert/--client-key and --proxy apply to the connection to the service only. Exit status:
0 stopped (or --check accepted), 1 the service refused the key, tunnel id or organization (or
--check got no verdict), 2 invalid flags, key, files or allowlist.

Examples:
  CONTROL_PLANE_API_KEY=... harpoon tunnel --allowlist allowlists/ --tunnel-id tunnel_0123456789abcdef0123456789abcdef
  CONTROL_PLANE_API_KEY=... harpoon tunnel --allowlist allowlists/ --tunnel-id tunnel_... --check
  HARPOON_TUNNEL_TOKEN=... harpoon tunnel --allowlist allowlists/demo.yaml --edge http://127.0.0.1:8788 --tunnel-id demo")]
pub struct TunnelArgs {
    #[command(flatten)]
    pub allowlist: AllowlistArgs,
    #[command(flatten)]
    pub reload: ReloadArgs,
    #[command(flatten)]
    pub connection: ServiceConnection,
    /// Commands run at once; the tunnel asks the edge for no more than it has room for.
    #[arg(long, default_value_t = 16)]
    pub max_in_flight: usize,
    /// How long each long-poll waits on the edge.
    #[arg(long, default_value = "25s", value_parser = parse_duration)]
    pub poll_timeout: Duration,
    /// Make one short poll, say whether the key, tunnel id and organization are accepted, and exit.
    #[arg(long)]
    pub check: bool,
    /// Where /healthz, /readyz, /metrics and the admin page /ui (loopback requests only) are
    /// served.
    #[arg(long, default_value = "127.0.0.1:8790")]
    pub health_listen: SocketAddr,
    #[command(flatten)]
    pub drain: DrainArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// How to reach the tunnel service and who to say this tunnel is: shared by `tunnel` and
/// `doctor --tunnel`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceConnection {
    /// The tunnel service's base URL: OpenAI's by default (its mTLS host with --client-cert), or
    /// any service of the same protocol.
    #[arg(long, env = "HARPOON_EDGE")]
    pub edge: Option<url::Url>,
    /// The tunnel id the service knows this tunnel by.
    #[arg(long, env = "HARPOON_TUNNEL_ID")]
    pub tunnel_id: Option<String>,
    /// A file holding the key (instead of the environment).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// An OpenAI organization id, sent as `OpenAI-Organization` (organization-backed tunnels).
    #[arg(long, env = "HARPOON_TUNNEL_ORGANIZATION")]
    pub organization: Option<String>,
    /// PEM CA certificates trusted for the service in addition to the platform's (a TLS-inspecting
    /// proxy's root, a gateway's private CA). Upstream calls do not use them.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain for mTLS to the service (with --client-key).
    #[arg(long, value_name = "PEM", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert.
    #[arg(long, value_name = "PEM", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// An HTTP proxy for the connection to the service only (`http://host:port`); upstream calls
    /// never use a proxy. HTTPS_PROXY and friends are not read.
    #[arg(long, env = "HARPOON_TUNNEL_PROXY", value_name = "URL")]
    pub proxy: Option<url::Url>,
}

/// The poll and drain times of options made for a check (`--poll-timeout`'s and
/// `--drain-timeout`'s defaults).
const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(25);
const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// OpenAI's tunnel service, the default `--edge`.
pub const OPENAI_TUNNEL_SERVICE: &str = "https://api.openai.com";
/// OpenAI's mTLS host, the default `--edge` when a client certificate is given.
pub const OPENAI_TUNNEL_SERVICE_MTLS: &str = "https://mtls.api.openai.com";
/// Exit status when the service refused the key, the tunnel id or the organization (or, for
/// `--check`, gave no verdict).
pub const EXIT_REFUSED: u8 = 1;

/// Where the key is looked for, in order, when no `--token-file` is given.
pub const KEY_VARIABLES: [&str; 3] = [
    "CONTROL_PLANE_API_KEY",
    "OPENAI_API_KEY",
    "HARPOON_TUNNEL_TOKEN",
];

/// The key: from `--token-file`, else the first of `KEY_VARIABLES` that is set. It must be
/// `[0-9A-Za-z_-]+`, as the service's keys are (tunnel-client refuses others before sending).
fn read_key(file: Option<&std::path::Path>) -> Result<String, String> {
    let (key, source) = match file {
        Some(f) => (
            read_token(Some(f), KEY_VARIABLES[0], "the tunnel")?,
            f.display().to_string(),
        ),
        None => KEY_VARIABLES
            .iter()
            .find_map(|v| {
                std::env::var(v)
                    .ok()
                    .map(|k| k.trim().to_owned())
                    .filter(|k| !k.is_empty())
                    .map(|k| (k, (*v).to_owned()))
            })
            .ok_or_else(|| {
                format!(
                    "error: the tunnel has no key; set {} (or {} or {}), or give --token-file",
                    KEY_VARIABLES[0], KEY_VARIABLES[1], KEY_VARIABLES[2]
                )
            })?,
    };
    if !is_service_key(&key) {
        return Err(format!(
            "error: the key in {source} may hold only letters, digits, '_' and '-'; check that it is the whole key and nothing else"
        ));
    }
    Ok(key)
}

/// Whether `url` is OpenAI's service (its mTLS host included).
fn is_openai(url: &url::Url) -> bool {
    matches!(
        url.host_str(),
        Some("api.openai.com" | "mtls.api.openai.com")
    )
}

/// Exit status 0 when stopped, 1 ([`EXIT_REFUSED`]) when the service refused, 2 for invalid
/// input (flags, key, allowlist, files).
pub fn run(args: &TunnelArgs) -> ExitCode {
    let was_refused = std::sync::atomic::AtomicBool::new(false);
    let code = run_serving(&args.log, async {
        let result = if args.check {
            check(args).await
        } else {
            serve(args).await
        };
        result.map_err(|stop| match stop {
            Stop::Invalid(message) => message,
            Stop::Refused(message) => {
                was_refused.store(true, Ordering::SeqCst);
                message
            }
        })
    });
    if was_refused.load(Ordering::SeqCst) {
        ExitCode::from(EXIT_REFUSED)
    } else {
        code
    }
}

/// Why `harpoon tunnel` ended with an error.
enum Stop {
    /// Bad flags, key, allowlist or files: exit 2.
    Invalid(String),
    /// The service refused (or, for --check, gave no verdict): exit 1.
    Refused(String),
}

impl From<String> for Stop {
    fn from(message: String) -> Self {
        Stop::Invalid(message)
    }
}

fn refused(e: TunnelError) -> Stop {
    if e.is_refusal() {
        Stop::Refused(format!("error: {e}"))
    } else {
        Stop::Invalid(format!("error: {e}"))
    }
}

/// `--check`: one short poll and a verdict.
async fn check(args: &TunnelArgs) -> Result<(), Stop> {
    let options = options(args)?;
    // The allowlist is loaded too, so "ok" means the tunnel would start.
    load_policy(&args.allowlist.allowlists)?;
    match tunnel::check(&options).await.map_err(refused)? {
        CheckOutcome::Accepted { not_run } => {
            let organization = options
                .organization
                .as_deref()
                .map(|o| format!(", organization {o}"))
                .unwrap_or_default();
            println!(
                "ok: {} accepts the key, tunnel {}{organization}",
                options.edge, options.tunnel_id
            );
            if not_run > 0 {
                println!(
                    "note: the poll handed over {not_run} command(s); they were answered 503 without running, so their callers retry"
                );
            }
            Ok(())
        }
        CheckOutcome::Refused(e) => Err(refused(e)),
        CheckOutcome::Unavailable(why) => Err(Stop::Refused(format!(
            "error: no verdict: {why}; check the network path (--proxy, --ca-file) and retry"
        ))),
    }
}

fn options(args: &TunnelArgs) -> Result<TunnelOptions, String> {
    let mut options = connection_options(&args.connection)?;
    options.max_in_flight = args.max_in_flight.max(1);
    options.poll_timeout = args.poll_timeout.min(MAX_POLL_TIMEOUT);
    options.drain_timeout = args.drain.drain_timeout;
    Ok(options)
}

/// The options for reaching the service as `connection` says, with one command at a time
/// and the default poll and drain times (what a check needs).
pub fn connection_options(args: &ServiceConnection) -> Result<TunnelOptions, String> {
    let Some(tunnel_id) = args.tunnel_id.clone() else {
        return Err("error: no tunnel id; give --tunnel-id (or HARPOON_TUNNEL_ID), the id the service knows this tunnel by".into());
    };
    let edge = match (&args.edge, &args.client_cert) {
        (Some(e), _) => e.clone(),
        (None, None) => url::Url::parse(OPENAI_TUNNEL_SERVICE).map_err(|e| e.to_string())?,
        (None, Some(_)) => {
            url::Url::parse(OPENAI_TUNNEL_SERVICE_MTLS).map_err(|e| e.to_string())?
        }
    };
    if let Some(p) = &args.proxy
        && !matches!(p.scheme(), "http" | "https")
    {
        return Err(format!(
            "error: --proxy {} is not an http:// or https:// proxy URL",
            tunnel::redact_userinfo(p)
        ));
    }
    if !valid_tunnel_id(&tunnel_id) {
        return Err(format!(
            "error: tunnel id '{tunnel_id}' may hold only lowercase letters, digits, '_' and '-'"
        ));
    }
    if is_openai(&edge) && !is_service_tunnel_id(&tunnel_id) {
        return Err(format!(
            "error: tunnel id '{tunnel_id}' is not an OpenAI tunnel id (tunnel_ and 32 lowercase letters or digits); copy it from the Platform's tunnel settings, or point --edge at another service"
        ));
    }
    let token = read_key(args.token_file.as_deref())?;
    let loopback = match edge.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match edge.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("error: the edge must be https (the token travels with every poll) unless it is on loopback".into()),
        other => return Err(format!("error: the edge URL scheme '{other}' is not http or https")),
    }
    Ok(TunnelOptions {
        organization: args.organization.clone(),
        edge,
        tunnel_id,
        token,
        max_in_flight: 1,
        poll_timeout: DEFAULT_POLL_TIMEOUT,
        drain_timeout: DEFAULT_DRAIN_TIMEOUT,
        egress: Egress {
            ca_file: args.ca_file.clone(),
            client_cert: args.client_cert.clone().zip(args.client_key.clone()),
            proxy: args.proxy.clone(),
        },
    })
}

async fn serve(args: &TunnelArgs) -> Result<(), Stop> {
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
    args.reload
        .start(&service, &args.allowlist.allowlists, shutdown.clone());
    tracing::info!(edge = %options.edge, tunnel = %options.tunnel_id, tools = service.policy().route_count(), "harpoon tunnel polling");
    let result = tunnel::run(service, options, status, shutdown.clone()).await;
    shutdown.cancel();
    result.map_err(refused)
}

fn health_router(service: &HarpoonService, status: &Arc<TunnelStatus>) -> axum::Router {
    use axum::http::StatusCode;
    use axum::routing::get;
    let ready = Arc::clone(status);
    let metrics_status = Arc::clone(status);
    let ui = crate::transport::ui::tunnel_router(service, Arc::clone(status));
    let service = service.clone();
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
                let text = metrics_status.render() + &service.engine().metrics().render(&[]);
                async move { text }
            }),
        )
        .merge(ui)
}
