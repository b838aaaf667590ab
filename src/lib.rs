//! harpoon: an MCP server that turns the labeled, method-restricted REST targets of YAML
//! allowlist files into MCP tools, and enforces those allowlists on every call.
//!
//! # Layout
//!
//! - [`config`]: allowlist files read within bounds into raw, untrusted structs.
//! - [`policy`]: the compiled, immutable `Policy` and its newtypes.
//! - [`callout`]: the only way to the network: sends a `Permit`, bounded and pinned.
//! - [`engine`]: one tool call from arguments to outcome: parse, decide, send, audit.
//! - [`telemetry`]: logging and the canonical audit event.
//! - [`lint`]: the review `harpoon check` prints: findings and what each target grants.
//! - [`cli`]: the command line, one file per subcommand.
#![forbid(unsafe_code)]

pub mod callout;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod lint;
pub mod mcp;
pub mod metrics;
pub mod policy;
pub mod service;
pub mod synthetic;
pub mod telemetry;
pub mod transport;
