//! The `authorization` section, compiled: harpoon's resource URL (the audience every token must
//! name), the signing algorithms accepted, and the authorization servers (issuers) trusted, each
//! with the peer-address rule harpoon reaches it under. `none` and the HMAC algorithms can never
//! be configured: a resource server has no business holding an issuer's shared secret.

use super::compiler::Compiler;
use super::model::Dangerous;
use super::net::{NetworkPolicy, parse_cidr};
use super::secret::{InjectedValue, SecretMode, SecretTemplate};
use crate::config::raw::{RawAuthorization, RawIntrospection, RawIssuer};
use crate::config::{ErrorKind, Location};
use serde_saphyr::Spanned;
use std::fmt;

/// Most issuers one section may trust: each one is a key set fetched and kept in memory.
pub const MAX_ISSUERS: usize = 8;

/// A JWS signing algorithm harpoon verifies (RFC 7518), all asymmetric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    EdDsa,
}

impl Algorithm {
    pub const ALL: [Algorithm; 9] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The JOSE name (`alg`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// The algorithm named `name`, exactly as JOSE spells it.
    pub fn parse(name: &str) -> Option<Algorithm> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One trusted authorization server.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// The issuer identifier as written, compared byte for byte with a token's `iss`.
    pub id: String,
    /// The same, parsed: where its metadata is looked up.
    pub url: url::Url,
    /// Its key set's URL; when `None`, read from its RFC 8414 metadata.
    pub jwks_uri: Option<url::Url>,
    pub network: NetworkPolicy,
    pub dangerous: Dangerous,
    /// Where its opaque tokens are checked (RFC 7662), if anywhere.
    pub introspection: Option<Introspection>,
    pub location: Location,
}

/// An issuer's token introspection endpoint (RFC 7662) and how harpoon authenticates to it.
#[derive(Debug, Clone)]
pub struct Introspection {
    pub endpoint: url::Url,
    /// The `Authorization` header sent with each request (RFC 7662 §2.1 requires the resource
    /// server to authenticate); `None` sends none.
    pub authorization: Option<InjectedValue>,
}

impl Issuer {
    /// The identifier as tokens spell it (the configured text; the URL parser would add a
    /// trailing slash to a bare origin).
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The compiled `authorization` section.
#[derive(Debug, Clone)]
pub struct AuthorizationPolicy {
    /// harpoon's resource URL (RFC 8707, RFC 9728 `resource`): every token's `aud` names it.
    pub resource: url::Url,
    pub algorithms: Vec<Algorithm>,
    pub issuers: Vec<Issuer>,
    pub location: Location,
}

impl AuthorizationPolicy {
    /// The URL of harpoon's protected resource metadata (RFC 9728 §3.1): the well-known path
    /// inserted between the resource's origin and its path.
    pub fn metadata_url(&self) -> String {
        let r = &self.resource;
        let path = r.path().trim_end_matches('/');
        format!(
            "{}/.well-known/oauth-protected-resource{path}",
            r.origin().ascii_serialization()
        )
    }

    /// The issuer whose identifier is `iss`.
    pub fn issuer(&self, iss: &str) -> Option<&Issuer> {
        self.issuers.iter().find(|i| i.id() == iss)
    }

    /// The one issuer that introspects opaque tokens, if any.
    pub fn introspecting_issuer(&self) -> Option<&Issuer> {
        self.issuers.iter().find(|i| i.introspection.is_some())
    }
}

/// An `https` URL without userinfo or fragment (`http` only with `allow_plaintext_http`).
fn parse_url(text: &str, plaintext: bool) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("'{text}' is not a URL ({e})"))?;
    let scheme_ok = url.scheme() == "https" || (plaintext && url.scheme() == "http");
    if !scheme_ok {
        return Err(format!("'{text}' is not an https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(format!("'{text}' has userinfo or a fragment"));
    }
    if url.host().is_none() {
        return Err(format!("'{text}' has no host"));
    }
    Ok(url)
}

pub(super) fn compile_authorization(
    c: &mut Compiler,
    raw: &Spanned<RawAuthorization>,
) -> Option<AuthorizationPolicy> {
    let errors_before = c.errors.len();
    let location = c.loc(raw);
    let raw = &raw.value;
    let ctx = "authorization";
    let resource_at = c.loc(&raw.resource);
    let resource = parse_url(&raw.resource.value, false)
        .and_then(|u| match u.query() {
            Some(_) => Err(format!("'{}' has a query", raw.resource.value)),
            None => Ok(u),
        })
        .map_err(|m| {
            let hint = "write harpoon's public https URL, e.g. https://mcp.example.com/mcp";
            c.error(ErrorKind::Authorization, &resource_at, ctx, m, hint);
        })
        .ok();
    let algorithms = compile_algorithms(c, &raw.algorithms, &location);
    if raw.issuers.is_empty() || raw.issuers.len() > MAX_ISSUERS {
        let msg = format!(
            "{} issuers are listed; between 1 and {MAX_ISSUERS} are accepted",
            raw.issuers.len()
        );
        let hint = "list the authorization servers whose tokens harpoon accepts";
        c.error(ErrorKind::Authorization, &location, ctx, msg, hint);
    }
    let issuers: Vec<Issuer> = raw
        .issuers
        .iter()
        .filter_map(|i| compile_issuer(c, i))
        .collect();
    // An opaque token names no issuer: with two introspection endpoints harpoon would have to
    // show every caller's token to an issuer that may not have made it.
    if let [_, second, ..] = &issuers
        .iter()
        .filter(|i| i.introspection.is_some())
        .collect::<Vec<_>>()[..]
    {
        let msg = "more than one issuer has an introspection endpoint";
        let hint = "keep introspection on the one issuer that makes opaque tokens";
        c.error(ErrorKind::Authorization, &second.location, ctx, msg, hint);
    }
    if c.errors.len() > errors_before {
        return None;
    }
    Some(AuthorizationPolicy {
        resource: resource?,
        algorithms,
        issuers,
        location,
    })
}

fn compile_algorithms(c: &mut Compiler, raw: &[Spanned<String>], at: &Location) -> Vec<Algorithm> {
    let ctx = "authorization";
    let mut out = Vec::new();
    for name in raw {
        let at = c.loc(name);
        match Algorithm::parse(&name.value) {
            Some(a) if !out.contains(&a) => out.push(a),
            Some(_) => {}
            None => {
                let msg = format!("algorithm '{}' is not accepted", name.value);
                let known: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
                let hint = format!(
                    "use asymmetric algorithms only ({}); 'none' and HMAC are never accepted",
                    known.join(", ")
                );
                c.error(ErrorKind::Authorization, &at, ctx, msg, &hint);
            }
        }
    }
    if raw.is_empty() {
        let hint = "name the algorithms your authorization server signs with, e.g. [RS256]";
        c.error(
            ErrorKind::Authorization,
            at,
            ctx,
            "no algorithm is listed",
            hint,
        );
    }
    out
}

fn compile_issuer(c: &mut Compiler, raw: &Spanned<RawIssuer>) -> Option<Issuer> {
    let location = c.loc(&raw.value.issuer);
    let raw = &raw.value;
    let ctx = format!("authorization issuer '{}'", raw.issuer.value);
    let dangerous = Dangerous {
        allow_plaintext_http: raw
            .dangerous
            .as_ref()
            .and_then(|d| d.value.allow_plaintext_http.as_ref())
            .is_some_and(|b| b.value),
    };
    let plain = dangerous.allow_plaintext_http;
    let hint = "write an https URL (http only with dangerous.allow_plaintext_http)";
    let issuer = parse_url(&raw.issuer.value, plain)
        .and_then(|u| match u.query() {
            Some(_) => Err(format!("'{}' has a query", raw.issuer.value)),
            None => Ok(u),
        })
        .map_err(|m| c.error(ErrorKind::Authorization, &location, &ctx, m, hint))
        .ok();
    let jwks_uri = match &raw.jwks_uri {
        None => None,
        Some(j) => {
            let at = c.loc(j);
            parse_url(&j.value, plain)
                .map_err(|m| c.error(ErrorKind::Authorization, &at, &ctx, m, hint))
                .ok()
        }
    };
    let mut nets = Vec::new();
    for cidr in raw.network.iter().flat_map(|n| &n.allow_cidrs) {
        let at = c.loc(cidr);
        match parse_cidr(&cidr.value) {
            Ok(n) => nets.push(n),
            Err((m, h)) => c.error(ErrorKind::Network, &at, &ctx, m, &h),
        }
    }
    let introspection = match &raw.introspection {
        None => None,
        Some(i) => Some(compile_introspection(c, &i.value, plain, &ctx)?),
    };
    Some(Issuer {
        id: raw.issuer.value.clone(),
        url: issuer?,
        jwks_uri: if raw.jwks_uri.is_some() {
            Some(jwks_uri?)
        } else {
            None
        },
        network: NetworkPolicy::new(nets),
        dangerous,
        introspection,
        location,
    })
}

fn compile_introspection(
    c: &mut Compiler,
    raw: &RawIntrospection,
    plain: bool,
    ctx: &str,
) -> Option<Introspection> {
    let at = c.loc(&raw.endpoint);
    let hint = "write an https URL (http only with dangerous.allow_plaintext_http)";
    let endpoint = parse_url(&raw.endpoint.value, plain)
        .map_err(|m| c.error(ErrorKind::Authorization, &at, ctx, m, hint))
        .ok();
    let authorization = match &raw.authorization {
        None => None,
        Some(text) => Some(compile_client_authorization(c, text, ctx)?),
    };
    Some(Introspection {
        endpoint: endpoint?,
        authorization,
    })
}

/// The introspection request's `Authorization` value: a secret like an injected header's.
fn compile_client_authorization(
    c: &mut Compiler,
    text: &Spanned<String>,
    ctx: &str,
) -> Option<InjectedValue> {
    let at = c.loc(text);
    let template = match SecretTemplate::parse(&text.value) {
        Ok(t) => t,
        Err(m) => {
            let msg = format!("introspection authorization {m}");
            c.error(ErrorKind::Secret, &at, ctx, msg, "");
            return None;
        }
    };
    if !template.has_reference() {
        let msg = "introspection authorization is written inline";
        let hint = "keep the credentials out of the file: use ${env:NAME} or ${file:/path}";
        c.error(ErrorKind::Secret, &at, ctx, msg, hint);
        return None;
    }
    match c.secrets {
        SecretMode::Validate => Some(InjectedValue::Unresolved),
        SecretMode::Resolve => match template.resolve(c.env) {
            Ok(s) => Some(InjectedValue::Resolved(s)),
            Err(m) => {
                let msg = format!("introspection authorization: {m}");
                let hint = "provide the secret to harpoon's process";
                c.error(ErrorKind::Secret, &at, ctx, msg, hint);
                None
            }
        },
    }
}
