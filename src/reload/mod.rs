//! Replacing the allowlists while harpoon serves. SIGHUP, or a change `--watch` sees, loads
//! every allowlist again (re-reading secrets) exactly as a start would. A valid result replaces
//! the policy atomically (`HarpoonService::reload`); an invalid one is refused with the message
//! `check` gives, counted in `harpoon_reload_failures_total`, and the policy before keeps
//! serving. Readiness never changes: a refused reload loses nothing.

mod watch;

pub use watch::Fingerprint;

use crate::policy::Policy;
use crate::service::{HarpoonService, Reloaded, ServiceError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Loads and compiles the allowlists again, as a start does; the error is the text `check`
/// prints. Runs on a blocking thread (it reads files).
pub type Loader = Arc<dyn Fn() -> Result<Arc<Policy>, String> + Send + Sync>;

/// The least time between two looks at the files, so a watch costs nothing measurable.
pub const MIN_WATCH_INTERVAL: Duration = Duration::from_millis(100);

/// Why a reload was refused. Either way the policy before it keeps serving.
#[derive(Debug)]
pub enum ReloadError {
    /// The allowlists (or their secrets) are invalid: the text `check` prints.
    Load(String),
    /// The new policy could not be served (TLS setup for its targets).
    Service(ServiceError),
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::Load(e) => write!(f, "{e}"),
            ReloadError::Service(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReloadError::Load(_) => None,
            ReloadError::Service(e) => Some(e),
        }
    }
}

/// Loads with `load` and, if that succeeds, puts the result in service. Counts (a refused
/// load here, the rest in `HarpoonService::reload`) and logs the outcome either way.
pub async fn reload_once(service: &HarpoonService, load: &Loader) -> Result<Reloaded, ReloadError> {
    let load = Arc::clone(load);
    let loaded = match tokio::task::spawn_blocking(move || load()).await {
        Ok(result) => result.map_err(ReloadError::Load),
        Err(e) => Err(ReloadError::Load(format!(
            "error: the reload task failed: {e}"
        ))),
    };
    let result = match loaded {
        Ok(policy) => service.reload(policy).await.map_err(ReloadError::Service),
        Err(e) => {
            service.engine().metrics().record_reload(false);
            Err(e)
        }
    };
    match &result {
        Ok(r) => service.last_reload().set(
            true,
            &format!(
                "allowlists reloaded: {} tool(s) before, {} after; {} open session(s) told the list changed",
                r.tools_before, r.tools_after, r.sessions_told
            ),
        ),
        Err(e) => service.last_reload().set(false, &e.to_string()),
    }
    match &result {
        Ok(r) => tracing::info!(
            tools_before = r.tools_before,
            tools_after = r.tools_after,
            sessions_told = r.sessions_told,
            "allowlists reloaded"
        ),
        Err(e) => tracing::error!(
            "reload refused; the allowlists loaded before keep serving. Fix the files and reload again:\n{e}"
        ),
    }
    result
}

/// What starts a reload besides SIGHUP.
#[derive(Debug, Clone)]
pub struct Watch {
    /// The allowlist files and directories, as given on the command line.
    pub paths: Vec<PathBuf>,
    /// How often to look at them.
    pub interval: Duration,
}

/// Starts reloading on SIGHUP (and on file changes, with `watch`) until `stop`. With no
/// `load` (the demo's built-in allowlist), SIGHUP is logged and ignored. Call it before the
/// server says it is ready: from then on SIGHUP no longer ends the process.
pub fn spawn(
    service: HarpoonService,
    load: Option<Loader>,
    watch: Option<Watch>,
    stop: CancellationToken,
) {
    #[cfg(unix)]
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP ({e}); reload with --watch instead");
            None
        }
    };
    let mut fingerprint = watch.as_ref().map(|w| Fingerprint::take(&w.paths));
    let interval = watch
        .as_ref()
        .map(|w| w.interval.max(MIN_WATCH_INTERVAL))
        .unwrap_or(Duration::MAX);
    tokio::spawn(async move {
        let mut pending: Option<Fingerprint> = None;
        loop {
            #[cfg(unix)]
            let signal = async {
                match hangup.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let signal = std::future::pending::<Option<()>>();
            let reload_now = tokio::select! {
                () = stop.cancelled() => return,
                _ = signal => {
                    tracing::info!("SIGHUP: reloading the allowlists");
                    true
                }
                () = tokio::time::sleep(interval), if watch.is_some() => {
                    changed(watch.as_ref(), &mut fingerprint, &mut pending)
                }
            };
            if !reload_now {
                continue;
            }
            match &load {
                Some(load) => {
                    let _ = reload_once(&service, load).await;
                }
                None => tracing::info!(
                    "nothing to reload: --demo serves its built-in allowlist; start with --allowlist to reload files"
                ),
            }
        }
    });
}

/// Whether the watched files changed and have since settled: a change is acted on once the
/// next look finds the files as they were at the last one, so an editor's half-written file
/// is not loaded.
fn changed(
    watch: Option<&Watch>,
    last: &mut Option<Fingerprint>,
    pending: &mut Option<Fingerprint>,
) -> bool {
    let (Some(watch), Some(seen)) = (watch, last.as_mut()) else {
        return false;
    };
    let now = Fingerprint::take(&watch.paths);
    if now == *seen {
        return false;
    }
    if pending.as_ref() == Some(&now) {
        *seen = now;
        *pending = None;
        tracing::info!("allowlist files changed: reloading");
        return true;
    }
    *pending = Some(now);
    false
}
