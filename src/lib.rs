//! harpoon: an MCP server that turns the labeled, method-restricted REST targets of YAML
//! allowlist files into MCP tools, and enforces those allowlists on every call.
//!
//! # Layout
//!
//! The data path, one module a step:
//!
//! ```text
//! allowlist files -> config::load -> policy::Policy::compile -> catalog::build (tools)
//! tools/call {name, arguments} (transport: http | stdio | tunnel -> mcp)
//!   -> policy::CallRequest::parse -> policy::decide -> callout::Callout::send(Permit)
//!   -> mcp::result::to_result, plus one telemetry::audit event   (engine runs these steps)
//! ```
//!
//! - [`config`]: allowlist files read within bounds into raw, untrusted structs.
//! - [`policy`]: the compiled, immutable `Policy`, its newtypes, and `decide`, the only maker
//!   of a `Permit`.
//! - [`callout`]: the only way to the network: sends a `Permit`, bounded and pinned.
//! - [`engine`]: one tool call from arguments to outcome: parse, decide, send, audit.
//! - [`catalog`]: the tools a policy gives: one typed tool per route, `list_targets`,
//!   `call_target`.
//! - [`mcp`]: the MCP handler (rmcp) and how outcomes become results.
//! - [`transport`]: Streamable HTTP, stdio, in-process messages, the tunnel and its edge.
//! - [`service`]: harpoon as a library, to embed in another program.
//! - [`telemetry`] and [`metrics`]: logs, the canonical audit event, Prometheus metrics.
//! - [`lint`]: the review `harpoon check` prints: findings and what each target grants.
//! - [`cli`]: the command line, one file per subcommand.
//! - [`demo`]: the demo REST API behind `serve --demo`.
//! - `synthetic` and `fuzzing` (hidden): large allowlists for benchmarks, and the fuzz targets'
//!   entry points with their properties and references.
#![forbid(unsafe_code)]

pub mod callout;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod lint;
pub mod mcp;
pub mod metrics;
pub mod policy;
pub mod progress;
pub mod service;
pub mod synthetic;
pub mod telemetry;
pub mod transport;
