//! The allowlist file as written: serde structs that mirror the YAML one to one. Unknown keys
//! are errors, and every value that an error or a finding may point at keeps its span. Nothing
//! here is trusted: `policy::compile` turns these into the validated `Policy`.

use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// One allowlist file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAllowlist {
    /// Format version; only 1 exists.
    pub version: Spanned<u32>,
    /// Who may call: harpoon as an OAuth 2.1 resource server. At most one file has it.
    #[serde(default)]
    pub authorization: Option<Spanned<RawAuthorization>>,
    pub targets: Vec<RawTarget>,
}

/// The `authorization` section: the resource harpoon is, and whose tokens it accepts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuthorization {
    /// harpoon's resource URL (RFC 8707): the audience a token must name.
    pub resource: Spanned<String>,
    /// Signing algorithms accepted (`RS256`, `ES256`, `EdDSA`, ...).
    pub algorithms: Vec<Spanned<String>>,
    pub issuers: Vec<Spanned<RawIssuer>>,
}

/// One authorization server whose tokens are accepted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIssuer {
    /// The issuer identifier, exactly as tokens' `iss` and its metadata's `issuer` spell it.
    pub issuer: Spanned<String>,
    /// Where its keys are; when absent, its RFC 8414 metadata's `jwks_uri`.
    #[serde(default)]
    pub jwks_uri: Option<Spanned<String>>,
    /// The peer-address rule for reaching it, as for a target.
    #[serde(default)]
    pub network: Option<RawNetwork>,
    #[serde(default)]
    pub dangerous: Option<Spanned<RawDangerous>>,
    /// Where opaque (non-JWT) tokens are checked (RFC 7662); absent: only JWTs are accepted.
    #[serde(default)]
    pub introspection: Option<Spanned<RawIntrospection>>,
}

/// An issuer's RFC 7662 token introspection endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntrospection {
    pub endpoint: Spanned<String>,
    /// The `Authorization` header harpoon authenticates with (`Basic ${env:NAME}`, ...).
    #[serde(default)]
    pub authorization: Option<Spanned<String>>,
}

/// `access`: what a caller's token must carry to use a target or a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccess {
    #[serde(default)]
    pub scopes: Vec<Spanned<String>>,
    /// Claim name -> the string value it must have (or contain, when the claim is an array).
    #[serde(default)]
    pub claims: BTreeMap<String, Spanned<String>>,
}

/// One labeled upstream: an origin and base path, and what may be done there.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub label: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub base_url: Spanned<String>,
    #[serde(default)]
    pub network: Option<RawNetwork>,
    #[serde(default)]
    pub headers: Option<RawHeaders>,
    #[serde(default)]
    pub response_headers: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub limits: Option<Spanned<RawLimits>>,
    #[serde(default)]
    pub routes: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    pub paths: Vec<Spanned<RawPathRule>>,
    #[serde(default)]
    pub redirects: Option<Spanned<u32>>,
    #[serde(default)]
    pub dangerous: Option<Spanned<RawDangerous>>,
    /// Scopes and claims a caller needs for every tool of this target.
    #[serde(default)]
    pub access: Option<Spanned<RawAccess>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    #[serde(default)]
    pub allow_cidrs: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaders {
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    #[serde(default)]
    pub inject: BTreeMap<String, Spanned<String>>,
}

/// Limits as written: sizes like `16KiB`, durations like `5s`, rates like `20/s`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    #[serde(default)]
    pub request_bytes: Option<Spanned<String>>,
    #[serde(default)]
    pub response_bytes: Option<Spanned<String>>,
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub connect_timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub concurrency: Option<Spanned<u32>>,
    #[serde(default)]
    pub rate: Option<Spanned<String>>,
    #[serde(default)]
    pub oversize: Option<Spanned<String>>,
}

/// A route: one typed tool.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub name: Spanned<String>,
    /// The MCP tool name; `<label>.<name>` when absent.
    #[serde(default)]
    pub tool: Option<Spanned<String>>,
    #[serde(default)]
    pub description: Option<String>,
    pub method: Spanned<String>,
    pub path: Spanned<String>,
    #[serde(default)]
    pub params: BTreeMap<String, Spanned<RawParam>>,
    #[serde(default)]
    pub query: BTreeMap<String, Spanned<RawParam>>,
    #[serde(default)]
    pub body: Option<Spanned<RawBody>>,
    /// Scopes and claims a caller needs for this route, on top of the target's.
    #[serde(default)]
    pub access: Option<Spanned<RawAccess>>,
}

/// A path or query parameter declaration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParam {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<Spanned<String>>,
    #[serde(default)]
    pub pattern: Option<Spanned<String>>,
    #[serde(default, rename = "enum")]
    pub one_of: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub required: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBody {
    pub content_type: Spanned<String>,
    #[serde(default)]
    pub schema: Option<serde_json::Value>,
    #[serde(default)]
    pub required: Option<bool>,
}

/// A free-form access rule, reached through `call_target`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPathRule {
    pub methods: Vec<Spanned<String>>,
    pub glob: Spanned<String>,
    #[serde(default)]
    pub query: Option<Vec<Spanned<String>>>,
}

/// Opt-outs of safe defaults; `harpoon check` reports each one that is on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDangerous {
    #[serde(default)]
    pub allow_plaintext_http: Option<Spanned<bool>>,
}
