//! A JWT access token (RFC 7519, RFC 9068) split and checked: its header read to pick the key,
//! its claims checked once the signature verified. Nothing from an unverified payload decides
//! anything but which configured issuer's keys to try.

use super::error::TokenError;
use crate::policy::{Algorithm, TokenCaller};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Largest token read: real access tokens are one or two KiB; headers cap the rest.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Clock skew tolerated on `exp` and `nbf`, in seconds: a minute, as most resource servers
/// allow; a token stays usable at most this long past its expiry.
pub const LEEWAY_SECS: u64 = 60;

/// Most claims copied from a token for `access.claims` checks, and the longest value kept.
const MAX_CLAIMS: usize = 64;
const MAX_CLAIM_VALUES: usize = 64;

/// A token split into its parts, its header read.
pub struct Jws<'t> {
    pub alg: Algorithm,
    pub kid: Option<String>,
    /// `header.payload`, the signed bytes.
    pub signed: &'t str,
    pub signature: Vec<u8>,
    pub payload: Map<String, Value>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// Splits and decodes `token`; `accepted` are the configured algorithms.
pub fn split<'t>(token: &'t str, accepted: &[Algorithm]) -> Result<Jws<'t>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| TokenError::Malformed)
    };
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| TokenError::Malformed)?;
    // `none`, HMAC and anything unconfigured stop here, before any key is looked at.
    let alg = Algorithm::parse(&header.alg)
        .filter(|a| accepted.contains(a))
        .ok_or(TokenError::AlgorithmNotAccepted(header.alg))?;
    if header.crit.is_some() {
        return Err(TokenError::CriticalHeader);
    }
    let payload: Map<String, Value> =
        serde_json::from_slice(&decode(p)?).map_err(|_| TokenError::Malformed)?;
    Ok(Jws {
        alg,
        kid: header.kid,
        signed: &token[..h.len() + 1 + p.len()],
        signature: decode(s)?,
        payload,
    })
}

/// The unverified `iss`, to choose whose keys to verify with.
pub fn claimed_issuer(payload: &Map<String, Value>) -> Option<&str> {
    payload.get("iss")?.as_str()
}

/// Checks the verified claims against `issuer`, `resource` and `now` (seconds since the
/// epoch), and says who the caller is.
pub fn check_claims(
    payload: &Map<String, Value>,
    issuer: &str,
    resource: &str,
    now: u64,
) -> Result<TokenCaller, TokenError> {
    if claimed_issuer(payload) != Some(issuer) {
        return Err(TokenError::UnknownIssuer);
    }
    let audience_ok = match payload.get("aud") {
        Some(Value::String(a)) => same_resource(a, resource),
        Some(Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| same_resource(a, resource))),
        _ => false,
    };
    if !audience_ok {
        return Err(TokenError::WrongAudience);
    }
    let exp = payload
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(TokenError::Expired)?;
    if now > exp.saturating_add(LEEWAY_SECS) {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = payload.get("nbf")
        && nbf
            .as_u64()
            .is_none_or(|nbf| nbf > now.saturating_add(LEEWAY_SECS))
    {
        return Err(TokenError::NotYetValid);
    }
    Ok(caller(payload, issuer))
}

/// `aud` names the resource: equal, or equal but for a trailing slash (a bare origin is
/// written both ways).
fn same_resource(aud: &str, resource: &str) -> bool {
    aud == resource || aud.trim_end_matches('/') == resource.trim_end_matches('/')
}

fn caller(payload: &Map<String, Value>, issuer: &str) -> TokenCaller {
    let text = |name: &str| payload.get(name).and_then(Value::as_str).map(str::to_owned);
    let mut scopes = BTreeSet::new();
    if let Some(s) = payload.get("scope").and_then(Value::as_str) {
        scopes.extend(s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned));
    }
    if let Some(Value::Array(list)) = payload.get("scp") {
        scopes.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    let mut claims = BTreeMap::new();
    for (name, value) in payload.iter().take(MAX_CLAIMS) {
        let values: Vec<String> = match value {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .take(MAX_CLAIM_VALUES)
                .map(str::to_owned)
                .collect(),
            Value::Bool(_) | Value::Number(_) => vec![value.to_string()],
            _ => continue,
        };
        claims.insert(name.clone(), values);
    }
    TokenCaller {
        issuer: issuer.to_owned(),
        subject: text("sub"),
        client_id: text("client_id").or_else(|| text("azp")),
        scopes,
        claims,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    const ISS: &str = "https://as.example";
    const RES: &str = "https://mcp.example/mcp";

    #[test]
    fn claims_are_checked_with_the_documented_leeway() {
        let base = json!({"iss": ISS, "aud": RES, "exp": 1000, "sub": "u1", "scope": "a b", "client_id": "c"});
        let ok = check_claims(&payload(base.clone()), ISS, RES, 1000 + LEEWAY_SECS).expect("ok");
        assert_eq!(ok.subject.as_deref(), Some("u1"));
        assert_eq!(ok.client_id.as_deref(), Some("c"));
        assert_eq!(
            ok.scopes.iter().map(String::as_str).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let late = check_claims(&payload(base), ISS, RES, 1001 + LEEWAY_SECS);
        assert_eq!(late.err(), Some(TokenError::Expired));
        let no_exp = json!({"iss": ISS, "aud": [RES], "sub": "u1"});
        assert_eq!(
            check_claims(&payload(no_exp), ISS, RES, 0).err(),
            Some(TokenError::Expired)
        );
        let early = json!({"iss": ISS, "aud": [RES], "exp": 5000, "nbf": 2000});
        assert_eq!(
            check_claims(&payload(early.clone()), ISS, RES, 1999 - LEEWAY_SECS).err(),
            Some(TokenError::NotYetValid)
        );
        assert!(check_claims(&payload(early), ISS, RES, 2000 - LEEWAY_SECS).is_ok());
        let other = json!({"iss": ISS, "aud": ["https://other.example/mcp"], "exp": 5000});
        assert_eq!(
            check_claims(&payload(other), ISS, RES, 0).err(),
            Some(TokenError::WrongAudience)
        );
    }

    #[test]
    fn none_hmac_and_unconfigured_algorithms_stop_at_the_header() {
        let enc = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let body = enc(json!({"iss": ISS}));
        for alg in ["none", "HS256", "RS256", "nOnE"] {
            let token = format!("{}.{body}.", enc(json!({"alg": alg})));
            let got = split(&token, &[Algorithm::Es256]).err();
            assert_eq!(
                got,
                Some(TokenError::AlgorithmNotAccepted(alg.into())),
                "{alg}"
            );
        }
        let crit = format!(
            "{}.{body}.AA",
            enc(json!({"alg": "ES256", "crit": ["b64"]}))
        );
        assert_eq!(
            split(&crit, &[Algorithm::Es256]).err(),
            Some(TokenError::CriticalHeader)
        );
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(
                split(bad, &[Algorithm::Es256]).err(),
                Some(TokenError::Malformed),
                "{bad}"
            );
        }
    }
}
