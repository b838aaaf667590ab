//! What `serve`, `stdio` and `tunnel` share: loading the policy the way `check` does (the same
//! errors refuse a start), logging each review finding once, logging, and shutdown signals.

use crate::config;
use crate::lint;
use crate::policy::{Policy, SecretMode};
use crate::reload;
use crate::service::HarpoonService;
use crate::telemetry::{self, LogFormat};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The allowlists a serving subcommand loads (`stdio`, `tunnel`; `serve` declares its own,
/// since `--demo` stands in for it there).
#[derive(Debug, Clone, clap::Args)]
pub struct AllowlistArgs {
    /// Allowlist files, or directories of them (repeat the flag, or separate with commas).
    #[arg(
        long = "allowlist",
        value_name = "PATH",
        env = "HARPOON_ALLOWLIST",
        value_delimiter = ',',
        required = true
    )]
    pub allowlists: Vec<PathBuf>,
}

/// How a serving subcommand drains on SIGTERM or ctrl-c.
#[derive(Debug, Clone, clap::Args)]
pub struct DrainArgs {
    /// How long calls in flight may take to finish after SIGTERM or ctrl-c.
    #[arg(long, default_value = "30s", value_parser = crate::policy::limits::parse_duration)]
    pub drain_timeout: Duration,
}

/// The bounds of a listener that clients connect to (`serve`, `edge`).
#[derive(Debug, Clone, clap::Args)]
pub struct ListenArgs {
    /// How long a client may take to send a request's headers before its connection is closed.
    #[arg(long, default_value = "10s", value_parser = crate::policy::limits::parse_duration)]
    pub header_read_timeout: Duration,
    /// Most connections open at once; past it, new connections are closed at once.
    #[arg(long, default_value_t = crate::transport::listen::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
}

impl ListenArgs {
    pub fn limits(&self) -> crate::transport::listen::ListenLimits {
        crate::transport::listen::ListenLimits {
            header_read_timeout: self.header_read_timeout,
            max_connections: self.max_connections.max(1),
        }
    }
}

/// Logging flags, on every serving subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log format on stderr.
    #[arg(long, value_enum, env = "HARPOON_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter: `level` or `target=level,...` (e.g. `info,harpoon::audit=warn`).
    #[arg(long = "log", env = "HARPOON_LOG", default_value = telemetry::DEFAULT_LOG_FILTER)]
    pub log_filter: String,
}

impl LogArgs {
    pub fn init(&self) -> Result<(), String> {
        telemetry::init(self.log_format, &self.log_filter)
    }
}

/// How a serving subcommand reloads its allowlists while it runs (SIGHUP always reloads).
#[derive(Debug, Clone, clap::Args)]
pub struct ReloadArgs {
    /// Also reload when an allowlist file changes, as SIGHUP does. A change is loaded once the
    /// files have stopped changing for one --watch-interval; an invalid change is refused and
    /// the allowlists before keep serving. Secrets are re-read on every reload.
    #[arg(long)]
    pub watch: bool,
    /// How often --watch looks at the allowlist files (their size and modification time).
    #[arg(long, default_value = "1s", value_parser = crate::policy::limits::parse_duration)]
    pub watch_interval: Duration,
}

impl ReloadArgs {
    /// Starts reloading `paths` into `service` on SIGHUP (and on changes with --watch) until
    /// `stop`. Call before the server says it is ready.
    pub fn start(&self, service: &HarpoonService, paths: &[PathBuf], stop: CancellationToken) {
        let files = paths.to_vec();
        let load: reload::Loader = Arc::new(move || load_policy(&files));
        let watch = self.watch.then(|| reload::Watch {
            paths: paths.to_vec(),
            interval: self.watch_interval,
        });
        reload::spawn(service.clone(), Some(load), watch, stop);
    }
}

/// Loads and compiles for serving (secrets read). On error, the text `check` would print.
pub fn load_policy(paths: &[PathBuf]) -> Result<Arc<Policy>, String> {
    let files = config::load(paths).map_err(|e| e.to_string())?;
    compile_for_serving(&files, &|name| std::env::var(name).ok())
}

/// Compiles for serving and logs each review finding once: a risky allowlist still loads
/// (risk is the reviewer's call), an invalid one does not.
pub fn compile_for_serving(
    files: &[config::LoadedFile],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<Policy>, String> {
    let policy =
        Policy::compile_with_env(files, SecretMode::Resolve, env).map_err(|e| e.to_string())?;
    for f in lint::review(&policy) {
        tracing::warn!(code = f.code.id(), severity = f.severity.as_str(), location = %f.location, "{}", f.message);
    }
    Ok(policy)
}

/// Runs a serving subcommand: starts logging and the runtime, runs `serve` to its end, and turns
/// an error into its message on stderr and exit status 2.
pub fn run_serving<F>(log: &LogArgs, serve: F) -> std::process::ExitCode
where
    F: std::future::Future<Output = Result<(), String>>,
{
    let result = log
        .init()
        .map_err(|e| format!("error: {e}"))
        .and_then(|()| runtime())
        .and_then(|rt| rt.block_on(serve));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::from(super::check::EXIT_INVALID)
        }
    }
}

/// A token from a file, or else from an environment variable; surrounding whitespace dropped.
/// `what` names it in the error.
pub fn read_token(file: Option<&std::path::Path>, env: &str, what: &str) -> Result<String, String> {
    let token = match file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| format!("error: cannot read {}: {e}", f.display()))?,
        None => std::env::var(env).unwrap_or_default(),
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(format!(
            "error: {what} has no token; set {env} or give a token file"
        ));
    }
    Ok(token)
}

/// A multi-threaded runtime for the serving subcommands.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("harpoon")
        .build()
        .map_err(|e| format!("the async runtime could not start: {e}"))
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
