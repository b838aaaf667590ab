//! Why a presented access token was not accepted. `code()` is stable: the `WWW-Authenticate`
//! description, logs and tests use it. No variant keeps any part of the token.

use std::fmt;

/// Why a token was refused (the answer is always 401 `invalid_token`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not three base64url parts of JSON (and no introspection is configured), or larger than
    /// harpoon reads.
    Malformed,
    /// `alg` is not one of the configured algorithms (`none` and HMAC never are).
    AlgorithmNotAccepted(String),
    /// The header names a critical extension harpoon does not understand.
    CriticalHeader,
    /// `iss` is missing or not a configured issuer.
    UnknownIssuer,
    /// No key of the issuer matches the token's `kid` and `alg`, even after a refresh.
    UnknownKey,
    /// The signature does not verify with the issuer's key.
    BadSignature,
    /// `aud` does not name harpoon's resource.
    WrongAudience,
    /// `exp` is missing or past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// The issuer's keys could not be fetched.
    KeysUnavailable(KeyFetchError),
    /// An opaque token's introspection answer says it is not active (unknown, revoked, expired).
    Inactive,
    /// An opaque token's issuer could not be asked about it (RFC 7662 introspection failed).
    IntrospectionUnavailable(KeyFetchError),
}

/// Why an issuer's metadata, key set or introspection answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFetchError {
    /// The request failed (address refused, connection, timeout, status): the cause, redacted.
    Request(String),
    /// The answer is larger than harpoon reads.
    TooLarge,
    /// The answer is not the JSON expected.
    Malformed,
    /// The metadata's `issuer` differs from the configured one (RFC 8414 §3.3).
    IssuerMismatch,
    /// The metadata's `jwks_uri` is missing or not an acceptable URL.
    NoJwksUri,
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Missing => "token_missing",
            TokenError::Malformed => "token_malformed",
            TokenError::AlgorithmNotAccepted(_) => "algorithm_not_accepted",
            TokenError::CriticalHeader => "critical_header",
            TokenError::UnknownIssuer => "unknown_issuer",
            TokenError::UnknownKey => "unknown_key",
            TokenError::BadSignature => "bad_signature",
            TokenError::WrongAudience => "wrong_audience",
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::KeysUnavailable(_) => "keys_unavailable",
            TokenError::Inactive => "token_inactive",
            TokenError::IntrospectionUnavailable(_) => "introspection_unavailable",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Missing => f.write_str("an access token is required"),
            TokenError::Malformed => f.write_str("the access token is not a JWT harpoon reads"),
            TokenError::AlgorithmNotAccepted(alg) => {
                let alg: String = alg
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .take(16)
                    .collect();
                write!(f, "the token's algorithm '{alg}' is not accepted")
            }
            TokenError::CriticalHeader => {
                f.write_str("the token has a critical header harpoon does not understand")
            }
            TokenError::UnknownIssuer => f.write_str("the token's issuer is not trusted"),
            TokenError::UnknownKey => {
                f.write_str("the token is signed by a key its issuer does not publish")
            }
            TokenError::BadSignature => f.write_str("the token's signature does not verify"),
            TokenError::WrongAudience => f.write_str("the token is not meant for this resource"),
            TokenError::Expired => f.write_str("the token has expired"),
            TokenError::NotYetValid => f.write_str("the token is not valid yet"),
            TokenError::KeysUnavailable(e) => write!(f, "the issuer's keys are unavailable: {e}"),
            TokenError::Inactive => f.write_str("the issuer says the token is not active"),
            TokenError::IntrospectionUnavailable(e) => {
                write!(f, "the issuer could not be asked about the token: {e}")
            }
        }
    }
}

impl fmt::Display for KeyFetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFetchError::Request(m) => write!(f, "request failed: {m}"),
            KeyFetchError::TooLarge => f.write_str("the answer is too large"),
            KeyFetchError::Malformed => f.write_str("the answer is not the JSON expected"),
            KeyFetchError::IssuerMismatch => f.write_str("the metadata names another issuer"),
            KeyFetchError::NoJwksUri => f.write_str("the metadata has no acceptable jwks_uri"),
        }
    }
}

impl std::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TokenError::KeysUnavailable(e) | TokenError::IntrospectionUnavailable(e) => Some(e),
            _ => None,
        }
    }
}

impl std::error::Error for KeyFetchError {}
