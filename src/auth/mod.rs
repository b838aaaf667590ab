//! harpoon as an OAuth 2.1 resource server (the MCP authorization specification): the access
//! token a remote caller presents is checked here (signature with a configured algorithm and a
//! key its issuer publishes, `iss`, `aud`, `exp`, `nbf`) and becomes a `Caller`, whose scopes the
//! engine checks against each tool's `access`. A token that is no JWT is asked about at the
//! issuer's RFC 7662 introspection endpoint when one is configured (`introspection`). The token
//! itself is never kept, logged or sent upstream. `metadata` gives the RFC 9728 document and the
//! `WWW-Authenticate` challenges.

pub mod error;
pub mod fetch;
pub mod introspection;
pub mod jwk;
pub mod jwt;
pub mod keys;
pub mod metadata;

pub use error::{KeyFetchError, TokenError};
pub use keys::{FetchContext, REFRESH_INTERVAL};

use crate::policy::{AuthorizationPolicy, Caller, Policy};
use introspection::Introspector;
use keys::{IssuerKeys, Lookup};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Checks access tokens for one policy's `authorization` section.
pub struct Authorizer {
    config: AuthorizationPolicy,
    issuers: Vec<IssuerKeys>,
    introspector: Introspector,
    fetch: FetchContext,
}

impl Authorizer {
    /// An authorizer for `policy`, or `None` when it has no `authorization` section.
    pub fn for_policy(policy: &Policy, fetch: FetchContext) -> Option<Self> {
        let config = policy.authorization()?.clone();
        let issuers = config
            .issuers
            .iter()
            .cloned()
            .map(IssuerKeys::new)
            .collect();
        Some(Self {
            config,
            issuers,
            introspector: Introspector::default(),
            fetch,
        })
    }

    pub fn config(&self) -> &AuthorizationPolicy {
        &self.config
    }

    /// How many times `issuer`'s keys were fetched (tests prove the refresh bound with it).
    pub async fn key_fetches(&self, issuer: &str) -> u64 {
        match self.issuers.iter().find(|i| i.issuer().id() == issuer) {
            Some(i) => i.fetches().await,
            None => 0,
        }
    }

    /// The caller `token` proves, or why it proves nothing.
    pub async fn authorize(&self, token: Option<&str>) -> Result<Caller, TokenError> {
        let token = token.ok_or(TokenError::Missing)?;
        let jws = match jwt::split(token, &self.config.algorithms) {
            Ok(jws) => jws,
            Err(TokenError::Malformed) => return self.introspect(token).await,
            Err(e) => return Err(e),
        };
        let keys = jwt::claimed_issuer(&jws.payload)
            .and_then(|iss| self.issuers.iter().find(|i| i.issuer().id() == iss))
            .ok_or(TokenError::UnknownIssuer)?;
        let candidates = match keys.lookup(jws.kid.as_deref(), &self.fetch).await {
            Lookup::Keys(k) => k,
            Lookup::Unavailable(e) => return Err(TokenError::KeysUnavailable(e)),
        };
        let fitting: Vec<_> = candidates.iter().filter(|k| k.fits(jws.alg)).collect();
        if fitting.is_empty() {
            return Err(TokenError::UnknownKey);
        }
        let verified = fitting
            .iter()
            .any(|k| k.verify(jws.alg, jws.signed.as_bytes(), &jws.signature));
        if !verified {
            return Err(TokenError::BadSignature);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let caller = jwt::check_claims(
            &jws.payload,
            keys.issuer().id(),
            self.config.resource.as_str(),
            now,
        )?;
        Ok(Caller::Token(Arc::new(caller)))
    }

    /// A token that is no JWT: asked about at the introspecting issuer, if one is configured.
    async fn introspect(&self, token: &str) -> Result<Caller, TokenError> {
        let issuer = self
            .config
            .introspecting_issuer()
            .ok_or(TokenError::Malformed)?;
        let caller = self
            .introspector
            .check(token, issuer, self.config.resource.as_str(), &self.fetch)
            .await?;
        Ok(Caller::Token(caller))
    }
}
