//! Building the URL a permitted request goes to, and proving it stays on the target's origin
//! and under its base path: the string is assembled from checked parts, then parsed again with
//! the WHATWG URL parser and compared part by part. A URL that parses to anything else is
//! refused; no argument can get past this.

use super::model::Target;
use super::types::{Host, Scheme};
use percent_encoding::utf8_percent_encode;

/// A URL that `decide` built and checked. Only this module makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl(String);

impl TargetUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a built URL, or a redirect's, was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    NotAbsolute,
    HopLeavesOrigin,
    HopLeavesBasePath,
    DoesNotParse,
    LeftOrigin,
    GainedUserInfoOrFragment,
    PathChanged,
    QueryChanged,
}

impl std::fmt::Display for UrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UrlError::NotAbsolute => "the path does not start with '/'",
            UrlError::HopLeavesOrigin => "the redirect leaves the target's origin",
            UrlError::HopLeavesBasePath => "the redirect leaves the target's base path",
            UrlError::DoesNotParse => "the built URL does not parse",
            UrlError::LeftOrigin => "the built URL left the target's origin",
            UrlError::GainedUserInfoOrFragment => "the built URL gained user info or a fragment",
            UrlError::PathChanged => {
                "the built URL's path is not the checked path under the base path"
            }
            UrlError::QueryChanged => "the built URL's query is not the checked query",
        })
    }
}

impl std::error::Error for UrlError {}

/// Appends `name=value` to an encoded query, both encoded with an empty safe set.
pub fn push_query_pair(query: &mut String, name: &str, value: &str) {
    use super::template::PARAM_VALUE_ENCODE_SET as SET;
    if !query.is_empty() {
        query.push('&');
    }
    query.extend(utf8_percent_encode(name, SET));
    query.push('=');
    query.extend(utf8_percent_encode(value, SET));
}

/// Builds `base_url + path [+ '?' + query]` and checks it. `path` starts with '/' and is
/// already encoded; `query` is already encoded (see `push_query_pair`).
pub fn build(target: &Target, path: &str, query: &str) -> Result<TargetUrl, UrlError> {
    if !path.starts_with('/') {
        return Err(UrlError::NotAbsolute);
    }
    let base = target.base_url();
    let mut s = String::with_capacity(base.len() + path.len() + query.len() + 1);
    s.push_str(base);
    s.push_str(path);
    if !query.is_empty() {
        s.push('?');
        s.push_str(query);
    }
    check(target, &s, path, query)?;
    Ok(TargetUrl(s))
}

/// The path of a redirect hop relative to the base path, if the hop keeps the target's origin
/// and stays under its base path. Its query is checked and re-encoded by `decide_hop`.
pub fn hop_path<'u>(target: &Target, url: &'u url::Url) -> Result<&'u str, UrlError> {
    if !same_origin(target, url) {
        return Err(UrlError::HopLeavesOrigin);
    }
    url.path()
        .strip_prefix(target.base_path.as_str())
        .filter(|p| p.starts_with('/'))
        .ok_or(UrlError::HopLeavesBasePath)
}

/// Scheme, host and port all equal the target's.
fn same_origin(target: &Target, url: &url::Url) -> bool {
    let scheme = match target.origin.scheme {
        Scheme::Http => "http",
        Scheme::Https => "https",
    };
    let same_host = match (&target.origin.host, url.host()) {
        (Host::Domain(d), Some(url::Host::Domain(h))) => d == h,
        (Host::Ip(std::net::IpAddr::V4(a)), Some(url::Host::Ipv4(b))) => *a == b,
        (Host::Ip(std::net::IpAddr::V6(a)), Some(url::Host::Ipv6(b))) => *a == b,
        _ => false,
    };
    url.scheme() == scheme && same_host && url.port_or_known_default() == Some(target.origin.port)
}

/// Resolves the built reference against the target's base, parsed once at load, with the
/// WHATWG parser: any dot segment, scheme-relative form or stray character it would reinterpret
/// shows up as a mismatch. (Parsing against the cached base skips re-parsing the host.)
fn check(target: &Target, s: &str, path: &str, query: &str) -> Result<(), UrlError> {
    let reference = &s[target.base_url().len() - target.base_path.as_str().len()..];
    let url = target
        .base
        .join(reference)
        .map_err(|_| UrlError::DoesNotParse)?;
    if !same_origin(target, &url) {
        return Err(UrlError::LeftOrigin);
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(UrlError::GainedUserInfoOrFragment);
    }
    let base = target.base_path.as_str();
    if url.path().len() != base.len() + path.len()
        || !url.path().starts_with(base)
        || !url.path().ends_with(path)
    {
        return Err(UrlError::PathChanged);
    }
    if url.query().unwrap_or("") != query {
        return Err(UrlError::QueryChanged);
    }
    Ok(())
}
