//! An issuer's signing keys: fetched from its JWKS (found through its RFC 8414 metadata unless
//! configured), kept in memory, refreshed when a token names a key not in the set (rotation) at
//! most once per `refresh_interval`, and re-read after `KEYS_TTL`. The issuer is reached through
//! the same peer-address rules as upstream calls: its `network` rule, the resolver filter and
//! the connect-time check, harpoon's own listeners refused.

use super::error::KeyFetchError;
use super::fetch;
use super::jwk::{self, PublicKey};
use crate::callout::{HostResolver, OwnListeners};
use crate::policy::Issuer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Largest metadata or JWKS document read: real ones are a few KiB.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// How long one fetch of a document may take, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a fetched key set is used before it is read again.
pub const KEYS_TTL: Duration = Duration::from_secs(3600);

/// Least time between two fetches caused by unknown keys: a stream of tokens with made-up
/// `kid`s costs the issuer one request per interval, not one per token.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// What the authorization layer needs to reach issuers.
#[derive(Clone)]
pub struct FetchContext {
    pub tls: rustls::ClientConfig,
    pub resolver: Arc<dyn HostResolver>,
    pub own: OwnListeners,
    /// Least time between refreshes on an unknown key (`REFRESH_INTERVAL` unless a test sets it).
    pub refresh_interval: Duration,
}

#[derive(Default)]
struct State {
    keys: Vec<PublicKey>,
    /// When the set was last fetched (successfully or not).
    fetched: Option<Instant>,
    /// How many fetches were made: tests read it through `fetches`.
    fetches: u64,
}

/// One issuer's key cache.
pub struct IssuerKeys {
    issuer: Issuer,
    state: Mutex<State>,
}

/// What a lookup found.
pub enum Lookup {
    Keys(Vec<PublicKey>),
    Unavailable(KeyFetchError),
}

impl IssuerKeys {
    pub fn new(issuer: Issuer) -> Self {
        Self {
            issuer,
            state: Mutex::new(State::default()),
        }
    }

    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// How many times the issuer's keys were fetched.
    pub async fn fetches(&self) -> u64 {
        self.state.lock().await.fetches
    }

    /// The keys that may verify a token with `kid` (all fitting keys when it names none),
    /// fetching the set first when it is missing or stale, or when no key matches and the
    /// last fetch is older than the refresh interval.
    pub async fn lookup(&self, kid: Option<&str>, ctx: &FetchContext) -> Lookup {
        // The lock is held across a fetch, so concurrent callers share one request.
        let mut state = self.state.lock().await;
        let stale = state.fetched.is_none_or(|t| t.elapsed() >= KEYS_TTL);
        let matching = |keys: &[PublicKey]| -> Vec<PublicKey> {
            keys.iter()
                .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
                .cloned()
                .collect()
        };
        let found = matching(&state.keys);
        let may_refresh = state
            .fetched
            .is_none_or(|t| t.elapsed() >= ctx.refresh_interval);
        if !stale && (!found.is_empty() || !may_refresh) {
            return Lookup::Keys(found);
        }
        state.fetches += 1;
        state.fetched = Some(Instant::now());
        match self.fetch(ctx).await {
            Ok(keys) => {
                state.keys = keys;
                Lookup::Keys(matching(&state.keys))
            }
            // A failed refresh keeps the keys it had: an issuer outage does not lock out
            // tokens signed by keys already known.
            Err(e) if found.is_empty() => Lookup::Unavailable(e),
            Err(_) => Lookup::Keys(found),
        }
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Vec<PublicKey>, KeyFetchError> {
        let jwks_uri = match &self.issuer.jwks_uri {
            Some(u) => u.clone(),
            None => self.discover_jwks_uri(ctx).await?,
        };
        let body = get(&jwks_uri, &self.issuer, ctx).await?;
        jwk::parse_set(&body).ok_or(KeyFetchError::Malformed)
    }

    /// RFC 8414: `/.well-known/oauth-authorization-server` inserted before the issuer's path,
    /// then OpenID Connect's `/.well-known/openid-configuration` appended to it.
    async fn discover_jwks_uri(&self, ctx: &FetchContext) -> Result<url::Url, KeyFetchError> {
        let url = &self.issuer.url;
        let origin = url.origin().ascii_serialization();
        let path = url.path().trim_end_matches('/');
        let candidates = [
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ];
        let mut last = KeyFetchError::NoJwksUri;
        for candidate in candidates {
            let Ok(candidate) = url::Url::parse(&candidate) else {
                continue;
            };
            let body = match get(&candidate, &self.issuer, ctx).await {
                Ok(b) => b,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let meta: serde_json::Value =
                serde_json::from_slice(&body).map_err(|_| KeyFetchError::Malformed)?;
            if meta.get("issuer").and_then(|v| v.as_str()) != Some(self.issuer.id()) {
                return Err(KeyFetchError::IssuerMismatch);
            }
            let plain = self.issuer.dangerous.allow_plaintext_http;
            return meta
                .get("jwks_uri")
                .and_then(|v| v.as_str())
                .and_then(|u| url::Url::parse(u).ok())
                .filter(|u| u.scheme() == "https" || (plain && u.scheme() == "http"))
                .ok_or(KeyFetchError::NoJwksUri);
        }
        Err(last)
    }
}

/// One bounded GET through the issuer's network rule.
async fn get(
    url: &url::Url,
    issuer: &Issuer,
    ctx: &FetchContext,
) -> Result<Vec<u8>, KeyFetchError> {
    let client = fetch::client(url, issuer, ctx)?;
    let request = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json");
    fetch::send_bounded(request, MAX_DOCUMENT_BYTES).await
}
