//! The callout engine: the only way harpoon reaches the network. `send` takes a `Permit`, which
//! only `policy::decide` can make.

mod body;
pub mod client;
mod error;
mod limiter;
mod peer_check;
pub mod resolver;
mod send;

pub use body::{BodyCap, BoundedResponse, filter_response_headers};
pub use error::{CallError, Phase};
pub use resolver::{HostResolver, SystemResolver};

use crate::policy::{Policy, Target};
use limiter::Limiter;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock};

/// harpoon's own listening addresses, which no target may reach. Servers register them after
/// binding; the check reads a snapshot per connection.
#[derive(Debug, Clone, Default)]
pub struct OwnListeners(Arc<RwLock<Vec<SocketAddr>>>);

impl OwnListeners {
    pub fn add(&self, addr: SocketAddr) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).push(addr);
    }

    pub fn snapshot(&self) -> Vec<SocketAddr> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Per-target runtime state, indexed like `Policy::targets`.
struct TargetRuntime {
    /// Built on first use: start-up stays fast with thousands of targets.
    client: OnceLock<Result<reqwest::Client, String>>,
    limiter: Limiter,
}

/// Sends permitted requests for one policy.
pub struct Callout {
    policy: Arc<Policy>,
    runtimes: Vec<TargetRuntime>,
    tls: rustls::ClientConfig,
    resolver: Arc<dyn HostResolver>,
    own: OwnListeners,
}

impl Callout {
    /// A callout for `policy`. `resolver` answers DNS (inject a fixed one in tests); `own` lists
    /// harpoon's listeners. Fails only if TLS cannot be set up at all.
    pub fn new(
        policy: Arc<Policy>,
        resolver: Arc<dyn HostResolver>,
        own: OwnListeners,
    ) -> Result<Self, String> {
        // Without a platform trust store, https targets fail with a certificate error and http
        // ones still work: the failure shows on the first https call, not as a refusal to start.
        let tls = client::tls_config().or_else(|_| client::tls_config_without_roots())?;
        let runtimes = policy
            .targets()
            .iter()
            .map(|t| TargetRuntime {
                client: OnceLock::new(),
                limiter: Limiter::new(&t.limits),
            })
            .collect();
        Ok(Self {
            policy,
            runtimes,
            tls,
            resolver,
            own,
        })
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    pub fn own_listeners(&self) -> &OwnListeners {
        &self.own
    }

    fn runtime(&self, target: &Target) -> &TargetRuntime {
        &self.runtimes[target.index()]
    }
}
