//! Opaque access tokens, checked by asking their issuer (RFC 7662 token introspection) and
//! remembered until they expire. Only the one issuer configured with an `introspection`
//! endpoint is asked (an opaque token names no issuer, so no other may see it). Its answer must
//! say `active`, name harpoon's resource in `aud` and carry `exp`; it then goes through the same
//! claim checks as a JWT's payload. The cache is keyed by the token's SHA-256, so the token
//! itself is not kept; it is bounded in entries and in time, and an inactive answer is not
//! cached (a revoked token stays refused, a new one is asked about).

use super::error::{KeyFetchError, TokenError};
use super::fetch;
use super::jwt::{self, MAX_TOKEN_BYTES};
use super::keys::FetchContext;
use crate::policy::secret::InjectedValue;
use crate::policy::{Issuer, TokenCaller};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

/// Largest introspection answer read: real ones are a few hundred bytes.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Most tokens remembered: each entry is a digest and a caller (a few hundred bytes); when full,
/// expired entries go first, then the one expiring soonest.
pub const MAX_CACHED: usize = 1024;

/// Longest an answer is trusted, even when the token lives longer: a token revoked at its
/// issuer is refused here at most this long afterwards.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(300);

/// Most introspection requests in flight at once: a flood of made-up tokens costs the issuer
/// at most this many concurrent requests (each is bounded by the fetch timeout).
pub const MAX_CONCURRENT: usize = 8;

type Digest = [u8; 32];

struct Cached {
    caller: Arc<TokenCaller>,
    until: Instant,
}

/// The introspection cache of one authorizer.
pub struct Introspector {
    cache: Mutex<HashMap<Digest, Cached>>,
    permits: Semaphore,
}

impl Default for Introspector {
    fn default() -> Self {
        Self {
            cache: Mutex::new(HashMap::new()),
            permits: Semaphore::new(MAX_CONCURRENT),
        }
    }
}

impl Introspector {
    /// The caller `token` proves according to `issuer`'s introspection endpoint (remembered
    /// while the answer is fresh); `resource` is harpoon's.
    pub async fn check(
        &self,
        token: &str,
        issuer: &Issuer,
        resource: &str,
        ctx: &FetchContext,
    ) -> Result<Arc<TokenCaller>, TokenError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let digest = digest(token);
        if let Some(caller) = self.cached(&digest) {
            return Ok(caller);
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| TokenError::IntrospectionUnavailable(KeyFetchError::Malformed))?;
        // Another request may have asked about the same token while this one waited.
        if let Some(caller) = self.cached(&digest) {
            return Ok(caller);
        }
        let answer = ask(token, issuer, ctx)
            .await
            .map_err(TokenError::IntrospectionUnavailable)?;
        let now = unix_now();
        let (caller, exp) = judge(answer, issuer.id(), resource, now)?;
        let caller = Arc::new(caller);
        let ttl = Duration::from_secs(exp.saturating_sub(now)).min(MAX_CACHE_TTL);
        if !ttl.is_zero() {
            self.remember(digest, Arc::clone(&caller), ttl);
        }
        Ok(caller)
    }

    /// How many answers are remembered (tests prove the bound with it).
    pub fn cached_len(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.len())
    }

    fn cached(&self, digest: &Digest) -> Option<Arc<TokenCaller>> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(digest)
            .filter(|c| c.until > Instant::now())
            .map(|c| Arc::clone(&c.caller))
    }

    fn remember(&self, digest: Digest, caller: Arc<TokenCaller>, ttl: Duration) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        let now = Instant::now();
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, c| c.until > now);
        }
        if cache.len() >= MAX_CACHED
            && let Some(soonest) = cache.iter().min_by_key(|(_, c)| c.until).map(|(d, _)| *d)
        {
            cache.remove(&soonest);
        }
        cache.insert(
            digest,
            Cached {
                caller,
                until: now + ttl,
            },
        );
    }
}

fn digest(token: &str) -> Digest {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The POST of RFC 7662 §2.1: the token as a form field, harpoon's own credentials in the
/// `Authorization` header when configured.
async fn ask(
    token: &str,
    issuer: &Issuer,
    ctx: &FetchContext,
) -> Result<Map<String, Value>, KeyFetchError> {
    let Some(config) = &issuer.introspection else {
        return Err(KeyFetchError::Malformed);
    };
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("token_type_hint", "access_token")
        .finish();
    let client = fetch::client(&config.endpoint, issuer, ctx)?;
    let mut request = client
        .post(config.endpoint.clone())
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .body(form);
    if let Some(InjectedValue::Resolved(secret)) = &config.authorization {
        request = request.header(
            reqwest::header::AUTHORIZATION,
            secret.header_value().clone(),
        );
    }
    let body = fetch::send_bounded(request, MAX_RESPONSE_BYTES).await?;
    match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(KeyFetchError::Malformed),
    }
}

/// The caller an introspection answer proves, and its `exp`.
fn judge(
    mut answer: Map<String, Value>,
    issuer: &str,
    resource: &str,
    now: u64,
) -> Result<(TokenCaller, u64), TokenError> {
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err(TokenError::Inactive);
    }
    // The endpoint speaks for its issuer: an answer without `iss` is the issuer's, one naming
    // another issuer is refused by the claim checks.
    answer
        .entry("iss")
        .or_insert_with(|| Value::String(issuer.to_owned()));
    let exp = answer
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(TokenError::Expired)?;
    let caller = jwt::check_claims(&answer, issuer, resource, now)?;
    Ok((caller, exp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://as.example";
    const RES: &str = "https://mcp.example/mcp";

    fn answer(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn an_answer_must_be_active_for_this_resource_and_not_expired() {
        let good = json!({"active": true, "aud": RES, "exp": 2000, "sub": "u1",
            "client_id": "c1", "scope": "a b"});
        let (caller, exp) = judge(answer(good.clone()), ISS, RES, 1000).expect("active");
        assert_eq!(exp, 2000);
        assert_eq!(caller.issuer, ISS);
        assert_eq!(caller.subject.as_deref(), Some("u1"));
        assert_eq!(caller.client_id.as_deref(), Some("c1"));
        assert_eq!(caller.scopes.iter().collect::<Vec<_>>(), ["a", "b"]);
        let cases = [
            (json!({"active": false}), TokenError::Inactive),
            (
                json!({"active": "true", "aud": RES, "exp": 2000}),
                TokenError::Inactive,
            ),
            (json!({"aud": RES, "exp": 2000}), TokenError::Inactive),
            (
                json!({"active": true, "exp": 2000}),
                TokenError::WrongAudience,
            ),
            (
                json!({"active": true, "aud": "https://other.example", "exp": 2000}),
                TokenError::WrongAudience,
            ),
            (json!({"active": true, "aud": RES}), TokenError::Expired),
            (
                json!({"active": true, "aud": RES, "exp": 10}),
                TokenError::Expired,
            ),
            (
                json!({"active": true, "aud": RES, "exp": 2000, "iss": "https://evil.example"}),
                TokenError::UnknownIssuer,
            ),
        ];
        for (a, want) in cases {
            assert_eq!(
                judge(answer(a.clone()), ISS, RES, 1000).err(),
                Some(want),
                "{a}"
            );
        }
    }

    #[test]
    fn the_cache_keeps_at_most_max_cached_answers() {
        let i = Introspector::default();
        let caller = Arc::new(TokenCaller {
            issuer: ISS.into(),
            subject: None,
            client_id: None,
            scopes: Default::default(),
            claims: Default::default(),
        });
        for n in 0..MAX_CACHED + 10 {
            i.remember(digest(&format!("t{n}")), Arc::clone(&caller), MAX_CACHE_TTL);
        }
        assert_eq!(i.cached_len(), MAX_CACHED);
        assert!(i.cached(&digest(&format!("t{}", MAX_CACHED + 9))).is_some());
    }
}
