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
    pub targets: Vec<RawTarget>,
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
