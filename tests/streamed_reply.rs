//! A reply written in pieces from one copy of the body (`mcp::streamed_reply`) is the reply
//! `mcp::result` builds as values: the same JSON, and a text block that is the same string, for
//! bodies of every kind (escapes, control characters, non-ASCII cut mid-character, binary,
//! empty, chunk-sized and larger, error statuses, cut responses); and the forms it does not
//! take (JSON, images, multipart) are handed back.

use bytes::Bytes;
use harpoon::callout::BoundedResponse;
use harpoon::engine::Outcome;
use harpoon::mcp::result::to_result;
use harpoon::mcp::streamed_reply::StreamedReply;
use proptest::prelude::*;
use rmcp::model::{CallToolResponse, RequestId, ServerJsonRpcMessage, ServerResult};
use serde_json::Value;
use std::sync::Arc;

fn response(status: u16, ct: &str, body: &[u8], truncated: bool) -> BoundedResponse {
    BoundedResponse {
        status,
        headers: vec![
            ("content-type".into(), ct.into()),
            ("etag".into(), "\"v1\"".into()),
        ],
        body: Bytes::copy_from_slice(body),
        full_size: Some(body.len() as u64 + u64::from(truncated) * 1000),
        truncated,
        content_type: Some(ct.into()),
        redirects: 0,
        redactor: Default::default(),
    }
}

/// The reply the value path gives.
fn by_values(id: &RequestId, r: BoundedResponse) -> Value {
    let result = to_result("t", Outcome::Response(r)).expect("a result");
    let message = ServerJsonRpcMessage::response(
        ServerResult::from(CallToolResponse::from(result)),
        id.clone(),
    );
    serde_json::to_value(&message).expect("serializes")
}

fn streamed(id: &RequestId, r: BoundedResponse) -> Option<String> {
    StreamedReply::for_outcome(id, Outcome::Response(r))
        .ok()
        .map(StreamedReply::into_string)
}

fn assert_same(id: &RequestId, r: BoundedResponse) {
    let expected = by_values(id, r.clone());
    let text = streamed(id, r).expect("a text or binary body is streamed");
    let got: Value = serde_json::from_str(&text).expect("the streamed reply is JSON");
    assert_eq!(got, expected);
    // The text block is the same string, not only the same JSON.
    assert_eq!(
        got["result"]["content"][0]["text"].as_str(),
        expected["result"]["content"][0]["text"].as_str()
    );
}

#[test]
fn streamed_replies_equal_the_value_replies() {
    let id = RequestId::Number(7);
    let big: String = "ab\"c\\d\n\u{1}é€𝄞".repeat(20_000);
    let cases: Vec<BoundedResponse> = vec![
        response(200, "text/plain", b"hello", false),
        response(200, "text/plain", b"", false),
        response(
            200,
            "text/plain",
            b"quote \" backslash \\ nl \n tab \t nul \0 del \x7f",
            false,
        ),
        response(200, "text/plain; charset=utf-8", big.as_bytes(), false),
        response(200, "text/html", &vec![b'x'; 48 * 1024], false),
        response(200, "text/html", &vec![b'x'; 48 * 1024 + 1], true),
        // Cut in the middle of a 4-byte character: the character is left out.
        response(200, "text/plain", &"ab𝄞".as_bytes()[..4], true),
        response(
            200,
            "application/octet-stream",
            &(0..=255u8).collect::<Vec<_>>(),
            false,
        ),
        response(200, "application/octet-stream", &vec![0xfe; 100_001], true),
        // Not UTF-8 in a text type: binary.
        response(200, "text/plain", b"\xff\xfe", false),
        // A cut JSON body is text.
        response(200, "application/json", b"{\"a\": [1, 2", true),
        response(404, "text/plain", b"not found", false),
        response(500, "application/problem+xml", b"<error/>", false),
    ];
    for r in cases {
        assert_same(&id, r);
    }
    let text_id = RequestId::String(Arc::from("\u{1}harpoon:text-block"));
    assert_same(
        &text_id,
        response(200, "text/plain", b"an id like the marker", false),
    );
    assert_same(
        &RequestId::String(Arc::from("\"}]")),
        response(200, "text/plain", b"x", false),
    );
}

#[test]
fn json_and_media_bodies_are_handed_back() {
    let id = RequestId::Number(1);
    for r in [
        response(200, "application/json", b"{\"a\": 1}", false),
        response(200, "image/png", b"\x89PNG", false),
        response(200, "audio/wav", b"RIFF", false),
        response(200, "multipart/mixed; boundary=b", b"--b--", false),
    ] {
        assert!(streamed(&id, r).is_none());
    }
    // A cut image has no block of its own: it is streamed as base64.
    assert!(streamed(&id, response(200, "image/png", b"\x89PNG", true)).is_some());
    let denied = StreamedReply::for_outcome(&id, Outcome::UnknownTool);
    assert!(matches!(denied, Err(Outcome::UnknownTool)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_text_or_bytes_stream_the_same(
        body in prop::collection::vec(any::<u8>(), 0..200_000),
        text in "(\\PC|[\\x00-\\x1f\"\\\\])*",
        cut in any::<bool>(),
        at in any::<prop::sample::Index>(),
        id in any::<i64>(),
    ) {
        let id = RequestId::Number(id);
        assert_same(&id, response(200, "application/octet-stream", &body, cut));
        assert_same(&id, response(200, "text/plain", text.as_bytes(), cut));
        // A cut anywhere, even inside a character.
        let bytes = text.as_bytes();
        let end = if bytes.is_empty() { 0 } else { at.index(bytes.len() + 1) };
        assert_same(&id, response(200, "text/plain", &bytes[..end], true));
    }
}
