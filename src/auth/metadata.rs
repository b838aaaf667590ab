//! What harpoon tells clients about its authorization: the protected resource metadata
//! (RFC 9728) and the `WWW-Authenticate` challenges of a 401 (RFC 6750 §3) and of a 403 for too
//! few scopes (the MCP authorization specification's step-up).

use super::TokenError;
use crate::policy::{AccessDenial, Policy};
use serde_json::{Value, json};

/// The RFC 9728 document: the resource, its authorization servers, the scopes it knows, and
/// that tokens go in the `Authorization` header only.
pub fn resource_metadata(policy: &Policy) -> Option<Value> {
    let auth = policy.authorization()?;
    let servers: Vec<&str> = auth.issuers.iter().map(|i| i.id()).collect();
    Some(json!({
        "resource": resource_id(auth.resource.as_str()),
        "authorization_servers": servers,
        "scopes_supported": policy.scopes_supported(),
        "bearer_methods_supported": ["header"],
        "resource_name": "harpoon",
    }))
}

/// The resource as clients compare it: the URL parser adds a `/` to a bare origin, which the
/// configured text may not have had; RFC 8707 resources are usually written without it.
fn resource_id(resource: &str) -> &str {
    match resource.strip_suffix('/') {
        Some(r) if !r.ends_with('/') && r.matches('/').count() == 2 => r,
        _ => resource,
    }
}

/// A quoted-string value: harpoon's own text only, so just `"` and `\` need escaping.
fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The challenge of a 401: where the metadata is, and for a bad token (not a missing one)
/// `error="invalid_token"` with the reason code.
pub fn unauthorized_challenge(metadata_url: &str, error: &TokenError) -> String {
    let mut c = format!("Bearer resource_metadata=\"{}\"", quoted(metadata_url));
    if *error != TokenError::Missing {
        c.push_str(&format!(
            ", error=\"invalid_token\", error_description=\"{}\"",
            error.code()
        ));
    }
    c
}

/// The challenge of a 403: `insufficient_scope` and every scope the tool needs.
pub fn insufficient_scope_challenge(metadata_url: &str, denial: &AccessDenial) -> String {
    format!(
        "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\", error_description=\"insufficient_scope\"",
        quoted(&denial.needed.join(" ")),
        quoted(metadata_url)
    )
}
