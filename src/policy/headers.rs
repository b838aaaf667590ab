//! Header rules. A caller may set only the headers its target allowlists, and never one that
//! frames the message, routes it, or speaks for a proxy; injected headers always win. Only
//! allowlisted response headers come back, and `Set-Cookie` never does.

use super::compiler::Compiler;
use super::headers;
use super::model::InjectedHeader;
use super::secret::{InjectedValue, SecretMode, SecretTemplate};
use crate::config::raw::RawHeaders;
use crate::config::{ErrorKind, Location};
use serde_saphyr::Spanned;

use http::HeaderName;

/// Request headers that no caller may set and no allowlist may grant or inject: hop-by-hop
/// (RFC 9110 7.6.1), framing, routing, forwarding and client-address spoofing headers, method
/// overrides, and `Accept-Encoding` (harpoon never decodes, so it asks for identity).
pub const FORBIDDEN_REQUEST_HEADERS: &[&str] = &[
    "accept-encoding",
    "cf-connecting-ip",
    "connection",
    "content-length",
    "expect",
    "forwarded",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "true-client-ip",
    "upgrade",
    "via",
    "x-client-ip",
    "x-cluster-client-ip",
    "x-host",
    "x-http-method",
    "x-http-method-override",
    "x-method-override",
    "x-original-forwarded-for",
    "x-original-host",
    "x-original-url",
    "x-originating-ip",
    "x-real-ip",
    "x-remote-addr",
    "x-remote-ip",
    "x-rewrite-url",
];

/// Prefixes of request headers that are always forbidden.
pub const FORBIDDEN_REQUEST_PREFIXES: &[&str] = &["x-forwarded-", "x-envoy-", "proxy-"];

/// Response headers never returned: cookies would hand session state to the model, and
/// hop-by-hop headers describe a connection the caller never sees.
pub const FORBIDDEN_RESPONSE_HEADERS: &[&str] = &[
    "set-cookie",
    "set-cookie2",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers that carry credentials: a caller that may set them can act as anyone the upstream
/// knows, which `check` reports.
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
    "x-csrf-token",
    "x-amz-security-token",
];

/// The response headers returned when a target names none.
pub const DEFAULT_RESPONSE_HEADERS: &[&str] = &["content-type"];

/// Whether a request header is forbidden for callers and allowlists alike.
pub fn is_forbidden_request_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    FORBIDDEN_REQUEST_HEADERS.contains(&n)
        || FORBIDDEN_REQUEST_PREFIXES.iter().any(|p| n.starts_with(p))
}

pub fn is_forbidden_response_header(name: &HeaderName) -> bool {
    FORBIDDEN_RESPONSE_HEADERS.contains(&name.as_str())
}

/// Whether a header name looks like it carries a credential.
pub fn is_credential_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    CREDENTIAL_HEADERS.contains(&n)
        || [
            "token", "secret", "password", "api-key", "apikey", "session",
        ]
        .iter()
        .any(|w| n.contains(w))
}

/// Parses a header name as an allowlist writes it (any case), or says why not.
pub fn parse_name(text: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(text.as_bytes())
        .map_err(|_| format!("'{text}' is not a valid header name; use letters, digits and '-'"))
}

/// The caller headers a target allows, where each is written, and its injected headers.
pub(super) type HeaderParts = (Vec<HeaderName>, Vec<Location>, Vec<InjectedHeader>);

pub(super) fn compile_headers(
    c: &mut Compiler,
    raw: Option<&RawHeaders>,
    ctx: &str,
) -> HeaderParts {
    let mut allow = Vec::new();
    let mut spans = Vec::new();
    let Some(raw) = raw else {
        return (allow, spans, Vec::new());
    };
    for h in &raw.allow {
        let at = c.loc(h);
        match headers::parse_name(&h.value) {
            Err(m) => c.error(ErrorKind::Header, &at, ctx, m, ""),
            Ok(name) if headers::is_forbidden_request_header(&name) => c.error(
                ErrorKind::Header,
                &at,
                ctx,
                format!("header '{}' can never be set by a caller", h.value),
                "remove it from headers.allow; hop-by-hop, routing and forwarding headers are always stripped",
            ),
            Ok(name) if allow.contains(&name) => {
                c.error(ErrorKind::Duplicate, &at, ctx, format!("header '{}' is listed twice", h.value), "list it once")
            }
            Ok(name) => {
                allow.push(name);
                spans.push(at);
            }
        }
    }
    let mut injected: Vec<InjectedHeader> = Vec::new();
    for (name_text, value) in &raw.inject {
        let at = c.loc(value);
        let name = match headers::parse_name(name_text) {
            Ok(n) => n,
            Err(m) => {
                c.error(ErrorKind::Header, &at, ctx, m, "");
                continue;
            }
        };
        if headers::is_forbidden_request_header(&name) {
            let msg = format!("header '{name_text}' cannot be injected");
            c.error(
                ErrorKind::Header,
                &at,
                ctx,
                msg,
                "remove it; hop-by-hop, routing and forwarding headers are set by harpoon or never",
            );
            continue;
        }
        if injected.iter().any(|h| h.name == name) {
            let msg =
                format!("header '{name_text}' is injected twice (names are case-insensitive)");
            c.error(ErrorKind::Duplicate, &at, ctx, msg, "keep one");
            continue;
        }
        if let Some(h) = compile_injected(c, name, name_text, &value.value, at, ctx) {
            injected.push(h);
        }
    }
    (allow, spans, injected)
}

pub(super) fn compile_injected(
    c: &mut Compiler,
    name: HeaderName,
    written: &str,
    text: &str,
    at: Location,
    ctx: &str,
) -> Option<InjectedHeader> {
    let template = match SecretTemplate::parse(text) {
        Ok(t) => t,
        Err(m) => {
            c.error(
                ErrorKind::Secret,
                &at,
                ctx,
                format!("injected header '{written}' {m}"),
                "",
            );
            return None;
        }
    };
    let value = match c.secrets {
        SecretMode::Validate => InjectedValue::Unresolved,
        SecretMode::Resolve => match template.resolve(c.env) {
            Ok(s) => InjectedValue::Resolved(s),
            Err(m) => {
                let msg = format!("injected header '{written}': {m}");
                c.error(
                    ErrorKind::Secret,
                    &at,
                    ctx,
                    msg,
                    "provide the secret to harpoon's process",
                );
                return None;
            }
        },
    };
    Some(InjectedHeader {
        name,
        template,
        value,
        location: at,
    })
}

pub(super) fn compile_response_headers(
    c: &mut Compiler,
    raw: Option<&[Spanned<String>]>,
    ctx: &str,
) -> Vec<HeaderName> {
    let Some(raw) = raw else {
        return headers::DEFAULT_RESPONSE_HEADERS
            .iter()
            .map(|h| HeaderName::from_static(h))
            .collect();
    };
    let mut out = Vec::new();
    for h in raw {
        let at = c.loc(h);
        match headers::parse_name(&h.value) {
            Err(m) => c.error(ErrorKind::Header, &at, ctx, m, ""),
            Ok(name) if headers::is_forbidden_response_header(&name) => c.error(
                ErrorKind::Header,
                &at,
                ctx,
                format!("response header '{}' is never returned", h.value),
                "remove it from response_headers; cookies and hop-by-hop headers never reach the caller",
            ),
            Ok(name) if out.contains(&name) => {
                c.error(ErrorKind::Duplicate, &at, ctx, format!("response header '{}' is listed twice", h.value), "list it once")
            }
            Ok(name) => out.push(name),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> HeaderName {
        parse_name(s).unwrap()
    }

    #[test]
    fn forbidden_request_headers() {
        for name in [
            "Host",
            "X-Forwarded-For",
            "x-forwarded-whatever",
            "Forwarded",
            "X-Real-IP",
            "Connection",
            "Transfer-Encoding",
            "Proxy-Authorization",
            "X-HTTP-Method-Override",
            "Accept-Encoding",
            "X-Envoy-Original-Path",
        ] {
            assert!(is_forbidden_request_header(&h(name)), "{name}");
        }
        for name in [
            "Accept",
            "If-None-Match",
            "Authorization",
            "X-Request-Id",
            "Content-Type",
        ] {
            assert!(!is_forbidden_request_header(&h(name)), "{name}");
        }
    }

    #[test]
    fn every_listed_header_is_recognised_by_the_fast_path() {
        for name in FORBIDDEN_REQUEST_HEADERS {
            assert!(is_forbidden_request_header(&h(name)), "{name}");
        }
        for prefix in FORBIDDEN_REQUEST_PREFIXES {
            assert!(
                is_forbidden_request_header(&h(&format!("{prefix}anything"))),
                "{prefix}"
            );
        }
    }

    #[test]
    fn forbidden_response_headers() {
        assert!(is_forbidden_response_header(&h("Set-Cookie")));
        assert!(is_forbidden_response_header(&h("Transfer-Encoding")));
        assert!(!is_forbidden_response_header(&h("ETag")));
    }

    #[test]
    fn credential_headers() {
        assert!(is_credential_header(&h("Authorization")));
        assert!(is_credential_header(&h("X-Vault-Token")));
        assert!(!is_credential_header(&h("Accept")));
    }

    #[test]
    fn names_are_validated() {
        assert!(
            parse_name("Bad Header")
                .unwrap_err()
                .contains("not a valid header name")
        );
        assert!(parse_name("X-Ok").is_ok());
    }
}
