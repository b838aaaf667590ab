//! How MCP messages reach the handler: Streamable HTTP, stdio, one message at a time in
//! process (for the tunnel).

pub mod http;
pub mod inprocess;
pub mod stdio;
