//! The callout: the only way harpoon reaches an upstream. `send` takes a `Permit`, which only
//! `policy::decide` can make. (The tunnel's connection to its service is the one other client;
//! it carries MCP messages, never an upstream request.)

mod body;
pub mod client;
mod error;
pub mod failure;
mod limiter;
pub mod media_type;
mod peer_check;
pub mod resolver;
mod send;

pub use body::{BodyCap, BoundedResponse, MAX_RETURNED_HEADER_VALUE, filter_response_headers};
pub use client::TlsError;
pub use error::{CallError, Phase};
pub use failure::{FailureStage, NetworkFailure};
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
    client: OnceLock<client::UpstreamClient>,
    limiter: Limiter,
}

/// Sends permitted requests for one policy.
pub struct Callout {
    runtimes: Vec<TargetRuntime>,
    tls: rustls::ClientConfig,
    resolver: Arc<dyn HostResolver>,
    own: OwnListeners,
}

impl Callout {
    /// A callout for `policy`. `resolver` answers DNS (inject a fixed one in tests); `own` lists
    /// harpoon's listeners. Fails only if TLS cannot be set up at all.
    pub fn new(
        policy: &Policy,
        resolver: Arc<dyn HostResolver>,
        own: OwnListeners,
    ) -> Result<Self, TlsError> {
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
            runtimes,
            tls,
            resolver,
            own,
        })
    }

    pub fn own_listeners(&self) -> &OwnListeners {
        &self.own
    }

    /// The TLS settings and resolver upstream calls use; the authorization layer reaches
    /// issuers with the same.
    pub fn tls(&self) -> &rustls::ClientConfig {
        &self.tls
    }

    pub fn resolver(&self) -> &Arc<dyn HostResolver> {
        &self.resolver
    }

    /// The runtime of `target`. The engine pairs each callout with the policy it was made for,
    /// so the index is in range; a target of another policy is refused, never sent.
    fn runtime(&self, target: &Target) -> Result<&TargetRuntime, CallError> {
        self.runtimes
            .get(target.index())
            .ok_or(CallError::ForeignPermit)
    }
}
