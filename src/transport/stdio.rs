//! MCP over stdin and stdout. stdout carries only MCP messages; logs go to stderr.
//!
//! Local trust: the caller is the program that started harpoon, which has no token to present
//! and needs none; every tool the allowlists grant is its, whatever their `access` rules say
//! (docs/authorization.md). A remote caller never reaches this transport.

use crate::mcp::McpHandler;
use rmcp::ServiceExt;

/// Serves until stdin closes.
pub async fn serve(handler: McpHandler) -> Result<(), String> {
    let running = handler
        .local()
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("stdio session did not start: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| format!("stdio session failed: {e}"))?;
    Ok(())
}
