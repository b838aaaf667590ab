//! One JSON-RPC message in, its reply out, with no socket: the tunnel runs harpoon this way.
//! Each message is served statelessly through rmcp's own dispatch, so both protocol eras work
//! (`initialize` is negotiated, 2026-07-28 `_meta` is checked, `server/discover` answered);
//! a plain 2026-07-28 `tools/call` is answered directly (`mcp::direct_call`), as rmcp would.

use super::McpHandler;
use super::direct_call::DirectCall;
use crate::policy::Caller;
use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage};
use rmcp::service::serve_directly_with_ct;
use rmcp::transport::OneshotTransport;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// The reply to `raw`, or `None` for a notification or a response (they get no reply).
pub async fn handle(handler: McpHandler, raw: &str, cancel: CancellationToken) -> Option<String> {
    handle_relaying(handler, raw, cancel, None).await
}

/// Like `handle`, sending each notification the handler emits before its reply (progress) to
/// `relay`, in order, as JSON text.
pub async fn handle_relaying(
    handler: McpHandler,
    raw: &str,
    cancel: CancellationToken,
    relay: Option<tokio::sync::mpsc::UnboundedSender<String>>,
) -> Option<String> {
    handle_relaying_as(handler, raw, cancel, relay, None).await
}

/// Like `handle_relaying`, for `caller` (the one the transport established from the message's
/// headers); `None` leaves the handler's default (anonymous).
pub async fn handle_relaying_as(
    handler: McpHandler,
    raw: &str,
    cancel: CancellationToken,
    relay: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    caller: Option<Caller>,
) -> Option<String> {
    if let Some(call) = DirectCall::read(raw.as_bytes(), &handler) {
        return Some(call.answer(&handler, caller, &cancel).await.into_string());
    }
    let message: ClientJsonRpcMessage = match serde_json::from_str(raw) {
        Ok(m) => m,
        Err(e) => {
            let error = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("parse error: {e}")}});
            return Some(error.to_string());
        }
    };
    // A plain stateless `tools/call` needs none of rmcp's per-request service.
    let mut message = match DirectCall::take(message, &handler) {
        Ok(call) => {
            return Some(call.answer(&handler, caller, &cancel).await.into_string());
        }
        Err(message) => *message,
    };
    let ClientJsonRpcMessage::Request(request) = &mut message else {
        return None;
    };
    if let Some(caller) = caller {
        request.request.extensions_mut().insert(caller);
    }
    let (transport, mut replies) = OneshotTransport::<RoleServer>::new(message);
    let running = serve_directly_with_ct(handler, transport, None, cancel);
    let mut reply = None;
    while let Some(out) = replies.recv().await {
        match out {
            ServerJsonRpcMessage::Response(_) | ServerJsonRpcMessage::Error(_) => {
                reply = serde_json::to_string(&out).ok();
                break;
            }
            ServerJsonRpcMessage::Notification(_) => {
                if let (Some(relay), Ok(text)) = (&relay, serde_json::to_string(&out)) {
                    let _ = relay.send(text);
                }
            }
            _ => {}
        }
    }
    tokio::spawn(async move {
        let _ = running.waiting().await;
    });
    reply
}
