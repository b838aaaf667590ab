//! MCP over stdin and stdout. stdout carries only MCP messages; logs go to stderr.

use crate::mcp::McpHandler;
use rmcp::ServiceExt;

/// Serves until stdin closes.
pub async fn serve(handler: McpHandler) -> Result<(), String> {
    let running = handler
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("stdio session did not start: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| format!("stdio session failed: {e}"))?;
    Ok(())
}
