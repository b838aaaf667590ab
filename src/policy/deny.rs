//! Why `decide` refuses a call, with each cause kept as the enum that found it, so tests assert
//! the exact variant and a caller can tell one refusal from another. `DenyReason::code()` is
//! stable: logs, metrics, results and tests all use it; `Display` is the message a model can act
//! on. Error types across the crate are written this one way: an enum, `Display` by hand (as
//! rustls does), and `std::error::Error` with `source()` where a cause is kept.

use super::access::AccessDenial;
use super::param::ParamError;
use super::path::PathError;
use super::request::ArgumentError;
use super::schema::SchemaViolation;
use super::target_url::UrlError;
use super::types::Method;
use std::fmt;

/// Why a call was refused before any connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenyReason {
    UnknownTarget {
        label: String,
        why: TargetDenial,
    },
    BadArgument(ArgumentError),
    BadParam {
        name: String,
        why: ParamError,
    },
    MethodNotAllowed {
        method: String,
        allowed: Vec<Method>,
    },
    PathNotAllowed {
        path: String,
        why: PathDenial,
    },
    QueryNotAllowed {
        name: String,
        allowed: QueryAllowed,
    },
    HeaderNotAllowed {
        name: String,
        why: HeaderDenial,
    },
    BodyNotAllowed {
        why: BodyDenial,
    },
    BadBody(BodyError),
    RequestTooLarge {
        size: u64,
        limit: u64,
    },
    /// A template value, or a `call_target` path segment, that one more percent-decoding turns
    /// into a dot segment, a separator or a control character.
    DoubleEncoded {
        place: EncodedPlace,
    },
    /// The caller's token lacks a scope or claim the tool needs (authorization configured).
    InsufficientScope(AccessDenial),
}

/// Where a double-encoded value was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodedPlace {
    /// The route parameter of this name.
    Param(String),
    /// The `call_target` path, with this segment.
    PathSegment(String),
}

/// Why a `call_target` label was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetDenial {
    /// No target has the label.
    DoesNotExist,
    /// The target declares no `paths`, so only its route tools reach it.
    NoPaths,
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathDenial {
    /// The caller's path is malformed (normalization refused it).
    Malformed(PathError),
    /// No `paths` rule's glob matches; these are the globs.
    NoRuleMatches { globs: Vec<String> },
    /// The URL built from it did not stay on the target (a defence in depth that no valid path
    /// reaches).
    Url(UrlError),
}

/// Which query names the matching `paths` rules allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryAllowed {
    Any,
    Names(Vec<String>),
}

/// Why a caller header was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderDenial {
    InvalidName,
    /// Hop-by-hop, routing, forwarding or spoofing: never forwarded whatever the file says.
    NeverForwarded,
    /// Not on the target's `headers.allow`; these are.
    NotAllowed {
        allowed: Vec<String>,
    },
    GivenTwice,
    /// The value holds a line break or another control character.
    BadValue,
}

/// Why a body was refused where none may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyDenial {
    /// The route declares no body.
    RouteTakesNone,
    /// The method carries no body (GET, HEAD, OPTIONS).
    MethodTakesNone,
}

/// Why a route's body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    Required,
    /// The route's body is text, and the value is not a string.
    NotText,
    /// The body schema refused the value: where and why.
    Schema(SchemaViolation),
    /// The value could not be written as JSON.
    Encode(String),
}

impl DenyReason {
    pub fn code(&self) -> &'static str {
        match self {
            DenyReason::UnknownTarget { .. } => "unknown_target",
            DenyReason::BadArgument(_) => "bad_argument",
            DenyReason::BadParam { .. } => "bad_param",
            DenyReason::MethodNotAllowed { .. } => "method_not_allowed",
            DenyReason::PathNotAllowed { .. } => "path_not_allowed",
            DenyReason::QueryNotAllowed { .. } => "query_not_allowed",
            DenyReason::HeaderNotAllowed { .. } => "header_not_allowed",
            DenyReason::BodyNotAllowed { .. } => "body_not_allowed",
            DenyReason::BadBody(_) => "bad_body",
            DenyReason::RequestTooLarge { .. } => "request_too_large",
            DenyReason::DoubleEncoded { .. } => "double_encoded",
            DenyReason::InsufficientScope(_) => "insufficient_scope",
        }
    }
}

/// `a, b` or `none`.
fn list(items: impl Iterator<Item = impl fmt::Display>) -> String {
    let v: Vec<String> = items.map(|i| i.to_string()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::UnknownTarget { label, why } => {
                write!(
                    f,
                    "target '{label}' {why}; call list_targets to see the targets"
                )
            }
            DenyReason::BadArgument(e) => write!(f, "{e}"),
            DenyReason::BadParam { name, why } => write!(f, "parameter '{name}' {why}"),
            DenyReason::MethodNotAllowed { method, allowed } => write!(
                f,
                "method {method} is not allowed here; allowed: {}",
                list(allowed.iter())
            ),
            DenyReason::PathNotAllowed { path, why } => {
                write!(f, "path '{path}' is not allowed: {why}")
            }
            DenyReason::QueryNotAllowed { name, allowed } => {
                let allowed = match allowed {
                    QueryAllowed::Any => "any".to_owned(),
                    QueryAllowed::Names(n) => list(n.iter()),
                };
                write!(
                    f,
                    "query parameter '{name}' is not allowed; allowed: {allowed}"
                )
            }
            DenyReason::HeaderNotAllowed { name, why } => write!(f, "header '{name}' {why}"),
            DenyReason::BodyNotAllowed { why } => write!(f, "a body is not allowed: {why}"),
            DenyReason::BadBody(why) => write!(f, "the body is not valid: {why}"),
            DenyReason::RequestTooLarge { size, limit } => write!(
                f,
                "the request body is {size} bytes, above this target's limit of {limit}"
            ),
            DenyReason::DoubleEncoded { place } => {
                let what = match place {
                    EncodedPlace::Param(name) => format!("parameter '{name}'"),
                    EncodedPlace::PathSegment(seg) => format!("path segment '{seg}'"),
                };
                write!(
                    f,
                    "{what} decodes to a dot segment, '/', '\\' or a control character once more; \
                     an upstream that decodes twice would act on it, so send the value decoded"
                )
            }
            DenyReason::InsufficientScope(d) => {
                write!(f, "this caller may not use this tool: ")?;
                if !d.needed.is_empty() {
                    write!(f, "it needs a token with the scopes {}", d.needed.join(" "))?;
                } else {
                    write!(f, "it needs a valid access token")?;
                }
                if !d.claims.is_empty() {
                    write!(f, " and the claims {}", list(d.claims.iter()))?;
                }
                write!(f, "; ask the user to authorize them")
            }
        }
    }
}

impl std::error::Error for DenyReason {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DenyReason::BadArgument(e) => Some(e),
            DenyReason::BadParam { why, .. } => Some(why),
            DenyReason::PathNotAllowed { why, .. } => Some(why),
            _ => None,
        }
    }
}

impl fmt::Display for TargetDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetDenial::DoesNotExist => "does not exist",
            TargetDenial::NoPaths => "has no paths for call_target (use its route tools)",
        })
    }
}

impl fmt::Display for PathDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathDenial::Malformed(e) => write!(f, "{e}"),
            PathDenial::NoRuleMatches { globs } => {
                write!(f, "no paths rule matches; allowed: {}", globs.join(", "))
            }
            PathDenial::Url(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PathDenial {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PathDenial::Malformed(e) => Some(e),
            PathDenial::Url(e) => Some(e),
            PathDenial::NoRuleMatches { .. } => None,
        }
    }
}

impl fmt::Display for HeaderDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderDenial::InvalidName => f.write_str("is not a valid header name"),
            HeaderDenial::NeverForwarded => {
                f.write_str("is never forwarded (a hop-by-hop, routing or forwarding header)")
            }
            HeaderDenial::NotAllowed { allowed } => {
                write!(f, "may not be set; allowed: {}", list(allowed.iter()))
            }
            HeaderDenial::GivenTwice => f.write_str("is given twice"),
            HeaderDenial::BadValue => {
                f.write_str("has a value with a line break or another control character")
            }
        }
    }
}

impl fmt::Display for BodyDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyDenial::RouteTakesNone => "this tool takes no body",
            BodyDenial::MethodTakesNone => "this method takes no body",
        })
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Required => f.write_str("'body' is required"),
            BodyError::NotText => f.write_str("this body is text: pass a string"),
            BodyError::Schema(why) => write!(f, "{why}"),
            BodyError::Encode(why) => f.write_str(why),
        }
    }
}
