//! Redirect hops: each followed hop is decided as a first request is, by the same rules. The
//! `Location` is resolved against the current URL, must keep the target's origin and base path,
//! and its method, path and query must be granted by the route (`grant_route_hop`) or by the
//! `paths` rules (`decide::grant_paths`, the one function `call_target` is decided by).

use super::decide::{Permit, grant_paths};
use super::deny::{DenyReason, PathDenial, QueryAllowed};
use super::model::Route;
use super::param::ParamError;
use super::path::{NormalizedPath, PathError, normalize};
use super::redact::Redacted;
use super::target_url::{self, UrlError};
use super::types::Method;
use percent_encoding::percent_decode_str;

/// Why a redirect hop was refused. The `Location` is kept only redacted: it came from the
/// upstream and may echo a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HopError {
    /// The `Location` header is not text.
    LocationNotText,
    /// The `Location` does not resolve to a URL.
    NotAUrl { location: Redacted },
    /// It leaves the target's origin or base path.
    Url { why: UrlError, location: Redacted },
    /// Its path is one a caller's path could not be.
    Path(PathError),
    /// The route or the `paths` rules would refuse it as a first request, for this reason.
    Denied(DenyReason),
}

impl std::fmt::Display for HopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HopError::LocationNotText => f.write_str("the Location header is not text"),
            HopError::NotAUrl { location } => write!(f, "Location '{location}' is not a URL"),
            HopError::Url { why, location } => write!(f, "{why} (Location '{location}')"),
            HopError::Path(e) => write!(f, "{e}"),
            HopError::Denied(reason) => write!(f, "{}: {reason}", reason.code()),
        }
    }
}

impl std::error::Error for HopError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HopError::Url { why, .. } => Some(why),
            HopError::Path(e) => Some(e),
            HopError::Denied(reason) => Some(reason),
            _ => None,
        }
    }
}

/// Decides a redirect hop as a first request is decided: the same origin, under the base path,
/// and granted to `method` with its path and query by the route (route tools) or by the same
/// `paths` rule check as `call_target`. The hop's URL is rebuilt from the checked parts.
pub fn decide_hop<'p>(
    permit: &Permit<'p>,
    location: &str,
    method: Method,
    keep_body: bool,
) -> Result<Permit<'p>, HopError> {
    let target = permit.target();
    let not_a_url = || HopError::NotAUrl {
        location: target.redact_text(location),
    };
    // The current URL was built and checked by `decide`, so it parses; should it not, the hop
    // is refused rather than followed.
    let base = url::Url::parse(permit.url().as_str()).map_err(|_| not_a_url())?;
    let next = base.join(location).map_err(|_| not_a_url())?;
    let rel = target_url::hop_path(target, &next).map_err(|why| HopError::Url {
        why,
        location: target.redact_text(location),
    })?;
    let path = normalize(rel).map_err(HopError::Path)?;
    let raw_query = next.query().unwrap_or("");
    // The query is judged as the upstream may read it: with `+` as a plus, and as a space.
    for pairs in [query_pairs_literal(raw_query), form_pairs(raw_query)] {
        match permit.route() {
            Some(route) => grant_route_hop(route, method, &path, &pairs),
            // The query `grant_paths` encodes is not sent: the hop's own is (below).
            None => grant_paths(
                target,
                method,
                method.as_str(),
                path.as_str(),
                &path,
                &pairs,
            )
            .map(drop),
        }
        .map_err(HopError::Denied)?;
    }
    // What is sent is the hop as the URL standard resolves it, which the checks above read.
    let url = target_url::build(target, rel, raw_query).map_err(|why| HopError::Url {
        why,
        location: target.redact_text(location),
    })?;
    Ok(permit.for_hop(method, url, path.as_str().to_owned(), keep_body))
}

/// Whether a route grants a redirect hop: its method, a path its template renders (each
/// parameter passing its declaration), and only declared query parameters, each passing its
/// declaration, the required ones present: what `decide_route` would let through.
fn grant_route_hop(
    route: &Route,
    method: Method,
    path: &NormalizedPath,
    pairs: &[(String, String)],
) -> Result<(), DenyReason> {
    if route.method != method {
        return Err(DenyReason::MethodNotAllowed {
            method: method.as_str().to_owned(),
            allowed: vec![route.method],
        });
    }
    if !route.template.matches(path.as_str(), &route.params) {
        return Err(DenyReason::PathNotAllowed {
            path: path.as_str().to_owned(),
            why: PathDenial::NoRuleMatches {
                globs: vec![route.template.as_str().to_owned()],
            },
        });
    }
    for (name, value) in pairs {
        let Some(spec) = route.query.get(name) else {
            return Err(DenyReason::QueryNotAllowed {
                name: name.clone(),
                allowed: QueryAllowed::Names(route.query.keys().cloned().collect()),
            });
        };
        spec.check_text(value).map_err(|why| DenyReason::BadParam {
            name: name.clone(),
            why,
        })?;
    }
    if let Some((name, _)) = route
        .query
        .iter()
        .find(|(n, spec)| spec.required && !pairs.iter().any(|(p, _)| p == *n))
    {
        return Err(DenyReason::BadParam {
            name: name.clone(),
            why: ParamError::Required,
        });
    }
    Ok(())
}

/// A query's pairs, percent-decoded, with `+` kept as a plus.
fn query_pairs_literal(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(n), decode(v))
        })
        .collect()
}

/// A query's pairs as an HTML form reads them (`+` is a space).
fn form_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::redact::Redactor;
    use std::error::Error;

    /// A refused hop keeps its cause: whoever walks the error chain (an embedder, a log) finds
    /// what refused it.
    #[test]
    fn a_refused_hop_keeps_its_cause() {
        let location = || Redactor::new(Vec::<Box<[u8]>>::new()).text("/elsewhere");
        let denied = || DenyReason::MethodNotAllowed {
            method: "POST".into(),
            allowed: vec![Method::Get],
        };
        let cases = [
            (
                HopError::Url {
                    why: UrlError::HopLeavesOrigin,
                    location: location(),
                },
                Some(UrlError::HopLeavesOrigin.to_string()),
            ),
            (
                HopError::Path(PathError::DotSegment),
                Some(PathError::DotSegment.to_string()),
            ),
            (HopError::Denied(denied()), Some(denied().to_string())),
            (HopError::LocationNotText, None),
            (
                HopError::NotAUrl {
                    location: location(),
                },
                None,
            ),
        ];
        for (error, cause) in cases {
            assert_eq!(error.source().map(|c| c.to_string()), cause, "{error}");
        }
    }
}
