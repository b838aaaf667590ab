//! A stateless 2026-07-28 `tools/call` answered without rmcp's per-request service.
//!
//! rmcp serves every stateless request by starting a whole service for it (a task, channels,
//! a peer, a one-shot transport) and tearing it down after the reply: in a profile of
//! `tools/call` at concurrency 64 that machinery was over a third of harpoon's CPU. A plain
//! `tools/call` needs none of it, so the transports hand such a request here and answer it
//! with the same handler method, the same result and the same JSON-RPC envelope rmcp would
//! build. Anything else, and any call this module is not sure about (a progress token, an
//! input round trip, an older protocol, a tool whose schema binds arguments to headers), goes to rmcp as before:
//! `take` gives the message back untouched. `tests/direct_call.rs` sends the same requests
//! both ways and asserts the same replies.
//!
//! `read` finds such a call in a request's bytes without rmcp's message type, whose reading
//! tries each kind of message in turn through a buffered copy of the whole body (7% of
//! harpoon's CPU per call in a profile: issue 14). It reads one exact shape and refuses every
//! other, so what it accepts is a subset of what `take` accepts after rmcp's reading
//! (`tests/direct_call.rs` checks this on a corpus of near misses).

use super::generation::Generation;
use super::streamed_reply::StreamedReply;
use super::{McpHandler, result, shutting_down};
use crate::policy::Caller;
use rmcp::model::{
    CallToolResponse, CallToolResult, ClientJsonRpcMessage, ClientRequest, GetMeta, JsonObject,
    JsonRpcRequest, JsonRpcVersion2_0, ProtocolVersion, RequestId, RequestMetaObject,
    ServerJsonRpcMessage, ServerResult,
};
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A `tools/call` request taken off the rmcp path.
pub struct DirectCall {
    id: RequestId,
    name: Cow<'static, str>,
    arguments: Option<JsonObject>,
    /// The generation that was in service when the call was judged direct: it runs the call
    /// too, so a reload in between cannot hand it a tool that must go through rmcp.
    generation: Arc<Generation>,
}

impl std::fmt::Debug for DirectCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectCall")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("arguments", &self.arguments)
            .finish_non_exhaustive()
    }
}

/// Two calls are the same when they carry the same id, tool and arguments.
impl PartialEq for DirectCall {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.name == other.name && self.arguments == other.arguments
    }
}

/// The one shape `DirectCall::read` accepts: every member known, each at most once (serde
/// refuses a repeated field), `_meta` required.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainRequest<'a> {
    #[serde(rename = "jsonrpc")]
    _version: JsonRpcVersion2_0,
    id: RequestId,
    /// Borrowed: a method name written with escapes is refused, and goes the long way.
    method: &'a str,
    params: PlainParams,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainParams {
    name: String,
    #[serde(default)]
    arguments: Option<JsonObject>,
    #[serde(rename = "_meta")]
    meta: RequestMetaObject,
}

impl DirectCall {
    /// The call `message` holds, when it is one this module answers exactly as rmcp would:
    /// a `tools/call` request whose `_meta` names protocol 2026-07-28 with every key that
    /// revision requires, asks for no progress and no input round trip, for a tool the current
    /// generation has and answers directly. Otherwise `Err` gives `message` back, boxed (it is
    /// large, and this is the rare way).
    pub fn take(
        message: ClientJsonRpcMessage,
        handler: &McpHandler,
    ) -> Result<Self, Box<ClientJsonRpcMessage>> {
        let generation = handler.current();
        if !is_plain_call(&message, &generation) {
            return Err(Box::new(message));
        }
        match message {
            ClientJsonRpcMessage::Request(JsonRpcRequest {
                id,
                request: ClientRequest::CallToolRequest(call),
                ..
            }) => Ok(Self {
                id,
                name: call.params.name,
                arguments: call.params.arguments,
                generation,
            }),
            other => Err(Box::new(other)),
        }
    }

    /// The call in the JSON text `body` when it is written in the one plain shape of a
    /// 2026-07-28 `tools/call` and `take` would accept it too; `None` for anything else,
    /// which the caller reads the long way (rmcp's message, then `take`).
    pub fn read(body: &[u8], handler: &McpHandler) -> Option<Self> {
        let request: PlainRequest<'_> = serde_json::from_slice(body).ok()?;
        if request.method != "tools/call" {
            return None;
        }
        let PlainParams {
            name,
            arguments,
            meta,
        } = request.params;
        let generation = handler.current();
        (is_plain_meta(&meta) && generation.answers_directly(&name)).then(|| Self {
            id: request.id,
            name: Cow::Owned(name),
            arguments,
            generation,
        })
    }

    /// The tool this call names.
    pub fn tool(&self) -> &str {
        &self.name
    }

    /// Runs the call for `caller` (`None`: the handler's default) and returns its reply, the
    /// message rmcp would send: the result, or a JSON-RPC error for an unknown tool. A text or
    /// binary response comes as a `StreamedReply`, written from the one copy of its body.
    /// Cancelling `cancel`, or dropping the future, aborts the upstream request.
    pub async fn answer(
        self,
        handler: &McpHandler,
        caller: Option<Caller>,
        cancel: &CancellationToken,
    ) -> DirectReply {
        let engine = self.generation.engine();
        engine.metrics().record_direct_call();
        let name = &self.name;
        let arguments = self.arguments.as_ref();
        let Some(outcome) = handler
            .call_directly(engine, caller, name, arguments, cancel)
            .await
        else {
            return DirectReply::Message(Box::new(response(shutting_down(), self.id)));
        };
        let outcome = match StreamedReply::for_outcome(&self.id, outcome) {
            Ok(streamed) => return DirectReply::Streamed(streamed),
            Err(outcome) => outcome,
        };
        match result::to_result(name, outcome) {
            Ok(r) => DirectReply::Message(Box::new(response(r, self.id))),
            Err(e) => DirectReply::Message(Box::new(ServerJsonRpcMessage::error(e, Some(self.id)))),
        }
    }
}

/// The reply to a direct call.
pub enum DirectReply {
    /// Boxed: a message is large, and the enum moves through the HTTP path.
    Message(Box<ServerJsonRpcMessage>),
    Streamed(StreamedReply),
}

impl DirectReply {
    /// The reply as JSON text.
    pub fn into_string(self) -> String {
        match self {
            Self::Message(m) => serde_json::to_string(&m).unwrap_or_default(),
            Self::Streamed(s) => s.into_string(),
        }
    }
}

fn response(result: CallToolResult, id: RequestId) -> ServerJsonRpcMessage {
    ServerJsonRpcMessage::response(ServerResult::from(CallToolResponse::from(result)), id)
}

fn is_plain_call(message: &ClientJsonRpcMessage, generation: &Generation) -> bool {
    let ClientJsonRpcMessage::Request(JsonRpcRequest { request, .. }) = message else {
        return false;
    };
    let ClientRequest::CallToolRequest(call) = request else {
        return false;
    };
    // rmcp keeps a request's `_meta` in its extensions, not in the params.
    is_plain_meta(request.get_meta())
        && call.params.input_responses.is_none()
        && call.params.request_state.is_none()
        && generation.answers_directly(&call.params.name)
}

/// `_meta` names protocol 2026-07-28 with every key that revision requires, and asks for no
/// progress.
fn is_plain_meta(meta: &RequestMetaObject) -> bool {
    meta.protocol_version() == Some(ProtocolVersion::V_2026_07_28)
        && meta
            .missing_required_keys(&ProtocolVersion::V_2026_07_28)
            .is_empty()
        && meta.get_progress_token().is_none()
}
