//! How MCP messages reach the handler: Streamable HTTP, stdio, one message at a time in
//! process, and the outbound-only tunnel with its reference edge.

pub mod bearer;
pub mod edge;
pub mod http;
pub mod inprocess;
pub mod poll_protocol;
pub mod stdio;
pub mod tunnel;
