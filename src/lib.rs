//! harpoon: an MCP server that turns the labeled, method-restricted REST targets of YAML
//! allowlist files into MCP tools, and enforces those allowlists on every call.
//!
//! # Layout
//!
//! The data path, one module a step (`docs/architecture.md` has the whole map):
//!
//! ```text
//! allowlist files -> config::load -> policy::Policy::compile -> catalog::build (tools)
//! tools/call {name, arguments} (transport: http | stdio | tunnel -> mcp::McpHandler)
//!   -> engine::Engine::call:  Policy::tool(name) -> CallRequest::parse -> policy::decide
//!        -> callout::Callout::send_observed(Permit), one telemetry::audit event
//!   -> mcp::result::to_result   (the handler turns the engine's Outcome into a result)
//! ```
//!
//! - [`config`]: allowlist files read within bounds into raw, untrusted structs.
//! - [`policy`]: the compiled, immutable `Policy`, its newtypes, `Policy::tool` (the one place a
//!   tool name is resolved), and `decide`, the only maker of a `Permit`.
//! - [`auth`]: harpoon as an OAuth 2.1 resource server: access tokens checked, callers made.
//! - [`callout`]: the only way to an upstream: sends a `Permit`, bounded and pinned. (The
//!   tunnel's connection to its service is the one other client; it carries MCP messages.)
//! - [`engine`]: one tool call from arguments to outcome: resolve, parse, decide, send, audit.
//! - [`progress`]: the stages of a permitted call, reported by the callout to the MCP layer.
//! - [`catalog`]: the tools a policy gives (one typed tool per route, `list_targets`,
//!   `call_target`) and the `list_targets` answer.
//! - [`mcp`]: the MCP handler (rmcp) and how outcomes become results.
//! - [`transport`]: Streamable HTTP, stdio, in-process messages, the tunnel and its edge.
//! - [`service`]: harpoon as a library, to embed in another program.
//! - [`telemetry`] and [`metrics`]: logs, the canonical audit event, Prometheus metrics.
//! - [`last_reload`]: what the last reload SIGHUP or `--watch` started came to, for the admin page.
//! - [`recent`]: the last 200 calls (policy names, codes and numbers only) for the admin page.
//! - [`import`]: `harpoon import openapi`: an allowlist from an OpenAPI document.
//! - [`lint`]: the review `harpoon check` prints: findings and what each target grants.
//! - [`doctor`]: the checks `harpoon doctor` runs over the network: DNS, addresses, connect,
//!   TLS, secrets, and read-only probes.
//! - [`cli`]: the command line, one file per subcommand.
//! - [`demo`]: the demo REST API behind `serve --demo`.
//! - [`synthetic`] (hidden from the docs): large allowlists for benchmarks and scale tests.
//! - `fuzzing` (only with the `fuzzing` feature, which the fuzz crate and the tests turn on):
//!   the fuzz targets' entry points, their properties and independent references.
#![forbid(unsafe_code)]

pub mod auth;
pub mod callout;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod demo;
pub mod doctor;
pub mod engine;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod import;
pub mod last_reload;
pub mod lint;
pub mod mcp;
pub mod metrics;
pub mod policy;
pub mod progress;
pub mod recent;
pub mod reload;
pub mod service;
pub mod synthetic;
pub mod telemetry;
pub mod transport;
