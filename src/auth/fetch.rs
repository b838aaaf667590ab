//! One request from harpoon to an authorization server (its metadata, its JWKS, its
//! introspection endpoint), reached like an upstream: the issuer's `network` rule, the resolver
//! filter and the connect-time peer check, harpoon's own listeners refused, no proxy, no
//! redirects. The answer is read up to a limit, within `FETCH_TIMEOUT`.

use super::error::KeyFetchError;
use super::keys::{FETCH_TIMEOUT, FetchContext};
use crate::callout::client::restricted_builder;
use crate::policy::Issuer;

/// A client for `url` under `issuer`'s network rule.
pub fn client(
    url: &url::Url,
    issuer: &Issuer,
    ctx: &FetchContext,
) -> Result<reqwest::Client, KeyFetchError> {
    let port = url.port_or_known_default().unwrap_or(443);
    restricted_builder(
        &issuer.network,
        port,
        Some(&ctx.tls),
        &ctx.resolver,
        &ctx.own,
    )
    .connect_timeout(FETCH_TIMEOUT)
    .build()
    .map_err(|e| KeyFetchError::Request(e.to_string()))
}

/// Sends `request` and reads a success answer's body, at most `limit` bytes.
pub async fn send_bounded(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<Vec<u8>, KeyFetchError> {
    let exchange = async {
        let mut response = request
            .send()
            .await
            .map_err(|e| KeyFetchError::Request(describe(&e)))?;
        if !response.status().is_success() {
            return Err(KeyFetchError::Request(format!(
                "status {}",
                response.status().as_u16()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| KeyFetchError::Request(describe(&e)))?
        {
            if body.len() + chunk.len() > limit {
                return Err(KeyFetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(FETCH_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| Err(KeyFetchError::Request("timed out".into())))
}

/// The cause of a failed request, innermost first (an address refusal says which rule).
fn describe(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}
