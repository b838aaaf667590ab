//! The JSON-RPC reply to a `tools/call` whose response body is text or binary, written while it
//! is sent, from the one copy of the body the call read.
//!
//! The result carries the body twice: once in `structuredContent` (the envelope's `body`, a
//! JSON string, or `body_base64`), and once in the text block, which is that envelope as JSON
//! text, so the body there is escaped twice. Built as values, a call cut at a 1 MiB cap held
//! the body, its string, the text block and the serialized reply at once: about 2 MiB per call
//! in flight at the peak. Here the reply is a list of pieces; the body's two renderings are
//! made a chunk at a time as the reply is sent, so a call holds the body and a chunk.
//!
//! Everything around the body (the JSON-RPC envelope, `resultType`, `isError`, the status and
//! headers) is serialized by rmcp and serde_json exactly as `mcp::result` would, with two
//! marker strings where the body's renderings go; escaping is serde_json's own, one character
//! at a time, so a text block written in chunks is the string `mcp::result` writes whole.
//! `tests/streamed_reply.rs` compares the two over bodies of every kind.

use super::result::{self, Body};
use crate::callout::BoundedResponse;
use crate::engine::Outcome;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_core::Stream;
use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, RequestId, ServerJsonRpcMessage, ServerResult,
};
use serde_json::Value;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Input bytes per chunk: small enough that a chunk and its escaping are a sliver of a
/// full-size body, large enough that a reply is a few hundred writes. A multiple of 3, so base64
/// chunks join without padding in between.
const CHUNK: usize = 48 * 1024;

/// Where the text block and `structuredContent` go in the serialized wrapper. A control
/// character makes them impossible in anything harpoon writes there; the request id, which a
/// client chooses, comes before both and is never searched (`rfind`).
const TEXT_MARK: &str = "\u{1}harpoon:text-block";
const STRUCTURED_MARK: &str = "\u{1}harpoon:structured-content";

/// A reply, as the pieces it is sent in.
pub struct StreamedReply {
    pieces: VecDeque<Piece>,
}

enum Piece {
    Fixed(Bytes),
    Body(BodyPiece),
}

/// The body's bytes from `at` on, rendered as a JSON string's contents (`escapes` 1:
/// `structuredContent`; 2: inside the text block) or as base64.
struct BodyPiece {
    body: Bytes,
    /// Where the rendered bytes end (a cut in the middle of a character is left out, as the
    /// envelope leaves it out).
    end: usize,
    at: usize,
    base64: bool,
    escapes: u8,
}

impl StreamedReply {
    /// The reply to request `id` that ended in `outcome`, when its body is text or binary
    /// with no content blocks of its own; otherwise the outcome comes back for `mcp::result`.
    pub fn for_outcome(id: &RequestId, outcome: Outcome) -> Result<Self, Outcome> {
        let Outcome::Response(r) = &outcome else {
            return Err(outcome);
        };
        if result::has_media_blocks(r) {
            return Err(outcome);
        }
        let (end, base64) = match result::body_form(r) {
            Body::Json(_) => return Err(outcome),
            Body::Text(t) => (t.len(), false),
            Body::Binary => (r.body.len(), true),
        };
        match Self::build(id, r, end, base64) {
            Some(reply) => Ok(reply),
            None => Err(outcome),
        }
    }

    fn build(id: &RequestId, r: &BoundedResponse, end: usize, base64: bool) -> Option<Self> {
        let mut wrapper = CallToolResult::structured(Value::Null);
        wrapper.content = vec![ContentBlock::text(TEXT_MARK)];
        wrapper.structured_content = Some(Value::String(STRUCTURED_MARK.to_owned()));
        if r.status >= 400 {
            wrapper.is_error = Some(true);
        }
        let message = ServerJsonRpcMessage::response(
            ServerResult::from(CallToolResponse::from(wrapper)),
            id.clone(),
        );
        let wrapper = serde_json::to_vec(&message).ok()?;
        let text_mark = serde_json::to_vec(TEXT_MARK).ok()?;
        let structured_mark = serde_json::to_vec(STRUCTURED_MARK).ok()?;
        let t = rfind(&wrapper, &text_mark)?;
        let s = rfind(&wrapper, &structured_mark)?;
        if t + text_mark.len() > s {
            return None;
        }
        // The envelope is `{"body":"` (or `body_base64`), the body, then the other fields:
        // serde_json orders an object's keys, and "body" comes first of them.
        let head = if base64 {
            "{\"body_base64\":\""
        } else {
            "{\"body\":\""
        };
        let others = serde_json::to_string(&result::envelope_without_body(r)).ok()?;
        let tail = format!("\",{}", others.strip_prefix('{')?);
        let body = |escapes| {
            Piece::Body(BodyPiece {
                body: r.body.clone(),
                end,
                at: 0,
                base64,
                escapes,
            })
        };
        let fixed = |b: &[u8]| Piece::Fixed(Bytes::copy_from_slice(b));
        let pieces = VecDeque::from([
            fixed(&wrapper[..t]),
            fixed(b"\""),
            fixed(escape(head).as_bytes()),
            body(2),
            fixed(escape(&tail).as_bytes()),
            fixed(b"\""),
            fixed(&wrapper[t + text_mark.len()..s]),
            fixed(head.as_bytes()),
            body(1),
            fixed(tail.as_bytes()),
            fixed(&wrapper[s + structured_mark.len()..]),
        ]);
        Some(Self { pieces })
    }

    /// The next bytes of the reply, `None` at its end.
    pub fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            match self.pieces.front_mut()? {
                Piece::Fixed(b) => {
                    let b = std::mem::take(b);
                    self.pieces.pop_front();
                    if !b.is_empty() {
                        return Some(b);
                    }
                }
                Piece::Body(p) => match p.next() {
                    Some(b) => return Some(b),
                    None => {
                        self.pieces.pop_front();
                    }
                },
            }
        }
    }

    /// The whole reply as text (the tunnel sends replies whole).
    pub fn into_string(mut self) -> String {
        let mut out = Vec::new();
        while let Some(b) = self.next_chunk() {
            out.extend_from_slice(&b);
        }
        // Every piece is serde_json or base64 output, or a slice of a `str`, cut at character
        // boundaries.
        String::from_utf8(out).unwrap_or_default()
    }
}

impl BodyPiece {
    fn next(&mut self) -> Option<Bytes> {
        if self.at >= self.end {
            return None;
        }
        let stop = (self.at + CHUNK).min(self.end);
        let window = &self.body[self.at..stop];
        let (rendered, taken) = if self.base64 {
            (STANDARD.encode(window), window.len())
        } else {
            // The body up to `end` is UTF-8 (`result::body_form` checked), and every chunk
            // starts on a character: a window can only end inside one, which waits for the
            // next chunk.
            let text = match std::str::from_utf8(window) {
                Ok(t) => t,
                Err(e) => std::str::from_utf8(&window[..e.valid_up_to()]).ok()?,
            };
            let once = escape(text);
            let rendered = if self.escapes == 2 {
                escape(&once)
            } else {
                once
            };
            (rendered, text.len())
        };
        if taken == 0 {
            return None;
        }
        self.at += taken;
        Some(Bytes::from(rendered))
    }
}

impl Stream for StreamedReply {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.next_chunk().map(Ok))
    }
}

/// `text` as the contents of a JSON string, escaped by serde_json.
fn escape(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned()
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}
