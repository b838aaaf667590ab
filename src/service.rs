//! harpoon as a library: load allowlists once, then serve the same MCP handler over Streamable
//! HTTP (mounted in any axum router), stdio, any rmcp transport, or one JSON-RPC message at a
//! time in process (how the tunnel runs it). `examples/embed.rs` shows it in a host program.
//!
//! ```no_run
//! # async fn run() -> Result<(), harpoon::service::ServiceError> {
//! let service = harpoon::service::HarpoonService::from_paths(&["allowlists/billing.yaml".into()])?;
//! // `route_service`: the endpoint is `/mcp` itself; `nest_service` would also serve `/mcp/...`.
//! let app: axum::Router = axum::Router::new().route_service("/mcp", service.streamable_http(Default::default()));
//! # Ok(()) }
//! ```

use crate::auth::{Authorizer, FetchContext};
use crate::callout::{Callout, HostResolver, OwnListeners, SystemResolver, TlsError};
use crate::config::{self, ConfigErrors};
use crate::engine::Engine;
use crate::last_reload::LastReload;
use crate::mcp::generation::Generation;
use crate::mcp::{CallTracker, McpHandler};
use crate::policy::{Policy, SecretMode};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

/// rmcp's Streamable HTTP settings (allowed hosts and origins, body cap, shutdown token),
/// re-exported so a host program needs no direct rmcp dependency.
pub use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What a service needs besides its policy. The defaults resolve names with the system
/// resolver and know no listener of their own.
#[derive(Clone)]
pub struct ServiceOptions {
    pub resolver: Arc<dyn HostResolver>,
    /// Addresses harpoon listens on, which no target may reach. Add to it after binding.
    pub own_listeners: OwnListeners,
    /// Least time between two fetches of an issuer's keys caused by tokens naming unknown
    /// keys (`auth::REFRESH_INTERVAL` by default).
    pub key_refresh_interval: std::time::Duration,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            resolver: Arc::new(SystemResolver),
            own_listeners: OwnListeners::default(),
            key_refresh_interval: crate::auth::REFRESH_INTERVAL,
        }
    }
}

/// Why a service could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServiceError {
    /// An allowlist is unreadable or invalid: the same errors `harpoon check` prints.
    Config(ConfigErrors),
    /// TLS for upstream calls could not be set up.
    Tls(TlsError),
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::Config(e) => write!(f, "{e}"),
            ServiceError::Tls(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServiceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServiceError::Config(e) => Some(e),
            ServiceError::Tls(e) => Some(e),
        }
    }
}

/// A loaded, ready-to-serve harpoon. Its policy can be replaced while it serves (`reload`).
#[derive(Clone)]
pub struct HarpoonService {
    handler: McpHandler,
    key_refresh_interval: std::time::Duration,
    /// What the last reload SIGHUP or `--watch` started came to (the admin page shows it).
    last_reload: Arc<LastReload>,
}

/// What a reload changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloaded {
    /// Tools served before and after (harpoon's own tools included).
    pub tools_before: usize,
    pub tools_after: usize,
    /// Open sessions sent `notifications/tools/list_changed`.
    pub sessions_told: usize,
}

impl HarpoonService {
    /// Loads and compiles allowlists (reading their secrets) with default options. The error is
    /// the same text `harpoon check` prints.
    pub fn from_paths(paths: &[PathBuf]) -> Result<Self, ServiceError> {
        let files = config::load(paths).map_err(ServiceError::Config)?;
        let policy = Policy::compile(&files, SecretMode::Resolve).map_err(ServiceError::Config)?;
        Self::from_policy(policy, ServiceOptions::default())
    }

    /// A service for an already compiled policy.
    pub fn from_policy(policy: Arc<Policy>, options: ServiceOptions) -> Result<Self, ServiceError> {
        let callout = Callout::new(&policy, options.resolver, options.own_listeners)
            .map_err(ServiceError::Tls)?;
        let first = generation(
            policy,
            callout,
            Arc::default(),
            options.key_refresh_interval,
        );
        Ok(Self {
            handler: McpHandler::with_tracker(first, Arc::new(CallTracker::default())),
            key_refresh_interval: options.key_refresh_interval,
            last_reload: Arc::default(),
        })
    }

    /// Serves `policy` from now on, atomically: requests that start afterwards see its tools,
    /// targets and authorization; calls in flight finish on the policy they started with. The
    /// resolver, own listeners and metrics carry over; issuers' keys are fetched again. On
    /// error nothing changes. Either way the reload is counted in the metrics.
    pub async fn reload(&self, policy: Arc<Policy>) -> Result<Reloaded, ServiceError> {
        let before = self.handler.current();
        let old = before.engine();
        let callout = match Callout::new(
            &policy,
            Arc::clone(old.callout().resolver()),
            old.callout().own_listeners().clone(),
        ) {
            Ok(c) => c,
            Err(e) => {
                old.metrics().record_reload(false);
                return Err(ServiceError::Tls(e));
            }
        };
        let next = generation(
            policy,
            callout,
            Arc::clone(old.metrics()),
            self.key_refresh_interval,
        );
        let tools_after = next.tools().len();
        let sessions_told = self.handler.replace(next).await;
        // Counted once it is in service: whoever sees the count sees the new policy.
        old.metrics().record_reload(true);
        Ok(Reloaded {
            tools_before: before.tools().len(),
            tools_after,
            sessions_told,
        })
    }

    /// The access-token checker of the current policy, when it configures authorization.
    pub fn authorizer(&self) -> Option<Arc<Authorizer>> {
        self.handler.current().authorizer().cloned()
    }

    /// The rmcp `ServerHandler`: serve it over any rmcp transport.
    pub fn handler(&self) -> McpHandler {
        self.handler.clone()
    }

    /// The engine of the current policy.
    pub fn engine(&self) -> Arc<Engine> {
        self.handler.engine()
    }

    /// The policy in service now.
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(self.handler.engine().policy())
    }

    /// The result of the last reload `reload::reload_once` ran (SIGHUP, `--watch`).
    pub fn last_reload(&self) -> &LastReload {
        &self.last_reload
    }

    pub fn tracker(&self) -> &Arc<CallTracker> {
        self.handler.tracker()
    }

    /// Addresses harpoon listens on, which no target may reach (shared by every generation).
    pub fn own_listeners(&self) -> OwnListeners {
        self.handler.engine().callout().own_listeners().clone()
    }

    /// The Streamable HTTP service (a tower service) to mount at a path of the host's router.
    /// Both protocol eras are served; legacy clients get sessions.
    pub fn streamable_http(
        &self,
        config: StreamableHttpServerConfig,
    ) -> StreamableHttpService<McpHandler, LocalSessionManager> {
        self.streamable_http_with(config, Arc::new(LocalSessionManager::default()))
    }

    /// The same, keeping legacy sessions in `sessions` (whose size and idle time the caller
    /// bounds: `transport::sessions`).
    pub fn streamable_http_with(
        &self,
        config: StreamableHttpServerConfig,
        sessions: Arc<LocalSessionManager>,
    ) -> StreamableHttpService<McpHandler, LocalSessionManager> {
        let handler = self.handler.clone();
        StreamableHttpService::new(move || Ok(handler.clone()), sessions, config)
    }

    /// Handles one JSON-RPC message in process and returns the reply, if the message wants one.
    /// The message's caller is anonymous: with authorization configured it may use nothing
    /// (`mcp::inprocess::handle_relaying_as` names the caller).
    pub async fn handle_message(&self, raw: &str, cancel: CancellationToken) -> Option<String> {
        crate::mcp::inprocess::handle(self.handler.clone(), raw, cancel).await
    }
}

/// One generation: an engine for `policy` counting into `metrics`, and its token checker.
fn generation(
    policy: Arc<Policy>,
    callout: Callout,
    metrics: Arc<crate::metrics::Metrics>,
    refresh_interval: std::time::Duration,
) -> Generation {
    let fetch = FetchContext {
        tls: callout.tls().clone(),
        resolver: Arc::clone(callout.resolver()),
        own: callout.own_listeners().clone(),
        refresh_interval,
    };
    let authorizer = Authorizer::for_policy(&policy, fetch).map(Arc::new);
    Generation::new(
        Arc::new(Engine::with_metrics(policy, callout, metrics)),
        authorizer,
    )
}
