//! How MCP messages reach the handler: Streamable HTTP, stdio, and the outbound-only tunnel
//! with its reference edge (which hand messages to `mcp::inprocess` one at a time); and
//! `serve`'s loopback admin page (`ui`).

pub mod bearer;
pub mod edge;
pub mod http;
pub mod listen;
pub mod loopback;
pub mod mcp_endpoint;
pub mod mcp_gate;
pub mod oauth;
pub mod poll_protocol;
pub mod self_wake;
pub mod sessions;
pub mod stdio;
pub mod tunnel;
pub mod ui;
