//! What can go wrong after a call is permitted. `code()` is stable, like `DenyReason::code`.

use super::failure::NetworkFailure;
use super::limiter::Refusal;
use crate::policy::HopError;
use crate::policy::net::AddressDenial;
use std::net::SocketAddr;
use std::time::Duration;

/// The phase of a call that ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connect,
    FirstByte,
    Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// The peer address is not allowed for this target.
    AddressNotAllowed {
        addr: Option<SocketAddr>,
        denial: AddressDenial,
    },
    RateLimited {
        retry_after: Duration,
    },
    Overloaded {
        concurrency: u32,
    },
    /// The policy was compiled without reading secrets (check/explain); it cannot send.
    SecretUnresolved,
    Timeout {
        phase: Phase,
        after: Duration,
    },
    /// DNS failed or the connection was refused or reset before a response.
    Unreachable(NetworkFailure),
    /// The upstream broke the protocol, or reset mid-body.
    Upstream(NetworkFailure),
    /// The body is over the cap and the target chose `oversize: error`.
    ResponseTooLarge {
        limit: u64,
        size: Option<u64>,
    },
    /// A redirect could not be followed.
    RedirectNotAllowed(HopError),
    TooManyRedirects {
        limit: u8,
    },
    /// The MCP client cancelled the call.
    Cancelled,
    /// The permit was made by another policy than the callout's (a bug in an embedder's wiring;
    /// refused rather than sent with another target's limits).
    ForeignPermit,
    /// The call panicked inside harpoon (a bug). The engine caught it so that the client gets
    /// this answer and the server serves on; whether the request had left is unknown.
    Internal,
}

impl CallError {
    pub fn code(&self) -> &'static str {
        match self {
            CallError::AddressNotAllowed { .. } => "address_not_allowed",
            CallError::RateLimited { .. } => "rate_limited",
            CallError::Overloaded { .. } => "overloaded",
            CallError::SecretUnresolved => "secret_unresolved",
            CallError::Timeout { .. } => "upstream_timeout",
            CallError::Unreachable(_) => "upstream_unreachable",
            CallError::Upstream(_) => "upstream_error",
            CallError::ResponseTooLarge { .. } => "response_too_large",
            CallError::RedirectNotAllowed(_) => "redirect_not_allowed",
            CallError::TooManyRedirects { .. } => "too_many_redirects",
            CallError::Cancelled => "cancelled",
            CallError::ForeignPermit | CallError::Internal => "internal_error",
        }
    }
}

impl CallError {
    /// The error with the text it carries from the network (a library's message about what the
    /// upstream sent) passed through the target's redaction, like every upstream string.
    pub(super) fn redacted(self, target: &crate::policy::Target) -> Self {
        match self {
            CallError::Upstream(why) => CallError::Upstream(why.redacted(target)),
            CallError::Unreachable(why) => CallError::Unreachable(why.redacted(target)),
            other => other,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            CallError::AddressNotAllowed { addr, denial } => match addr {
                Some(a) => format!(
                    "the upstream address {} is not allowed: {}",
                    a.ip(),
                    denial.message()
                ),
                None => format!("the upstream address is not allowed: {}", denial.message()),
            },
            CallError::RateLimited { retry_after } => {
                format!(
                    "this target's rate limit is reached; retry in {} ms",
                    retry_after.as_millis().max(1)
                )
            }
            CallError::Overloaded { concurrency } => {
                format!("this target already has {concurrency} calls in flight; retry shortly")
            }
            CallError::SecretUnresolved => {
                "this server was started without reading its secrets".into()
            }
            CallError::Timeout { phase, after } => {
                let what = match phase {
                    Phase::Connect => "could not connect",
                    Phase::FirstByte => "sent no response headers",
                    Phase::Body => "did not finish the body",
                };
                format!("the upstream {what} within {} ms", after.as_millis())
            }
            CallError::Unreachable(why) => format!("the upstream could not be reached: {why}"),
            CallError::Upstream(why) => format!("the upstream failed: {why}"),
            CallError::ResponseTooLarge { limit, size } => match size {
                Some(s) => {
                    format!("the response is {s} bytes, above this target's limit of {limit}")
                }
                None => format!("the response is larger than this target's limit of {limit} bytes"),
            },
            CallError::RedirectNotAllowed(why) => {
                format!("the upstream redirected and the redirect is not allowed: {why}")
            }
            CallError::TooManyRedirects { limit } => {
                format!("the upstream redirected more than {limit} times")
            }
            CallError::Cancelled => "the call was cancelled".into(),
            CallError::ForeignPermit => {
                "the permit was made for another policy than this callout's".into()
            }
            CallError::Internal => {
                "harpoon failed inside this call (a bug, logged on the server); \
                 the request may or may not have reached the upstream"
                    .into()
            }
        };
        f.write_str(&text)
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::RedirectNotAllowed(e) => Some(e),
            CallError::Unreachable(e) | CallError::Upstream(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Refusal> for CallError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Overloaded { concurrency } => CallError::Overloaded { concurrency },
            Refusal::RateLimited { retry_after } => CallError::RateLimited { retry_after },
        }
    }
}
