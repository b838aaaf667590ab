//! Header filtering and response bounding.

use super::corpus::*;
use super::generators::*;
use super::input::Input;
use super::reference;
use crate::callout::BodyCap;
use crate::policy::decide::caller_headers;

#[rustfmt::skip] // A word list reads best as a paragraph.
pub(crate) const RESPONSE_HEADER_NAMES: &[&str] = &[
    "content-type", "etag", "x-trace", "set-cookie", "set-cookie2", "connection", "keep-alive",
    "transfer-encoding", "upgrade", "trailer", "te", "proxy-authenticate", "x-internal-host",
    "location", "www-authenticate",
];

/// Nothing outside the allowlists passes, in either direction; no header value and no body
/// exceeds its bound; no injected secret comes back, whole or cut at a bound.
pub fn headers_body(data: &[u8]) {
    let mut inp = Input::new(data);
    let policy = base_policy();
    let target = inp.pick(policy.targets());
    // Caller headers, against the reference rule.
    let given: Vec<(String, String)> = (0..inp.below(5))
        .map(|_| {
            let name = if inp.one_in(6) {
                inp.text()
            } else {
                inp.pick(HEADER_NAMES).to_string()
            };
            (name, hostile_text(&mut inp))
        })
        .collect();
    let got = caller_headers(target, &given).ok().map(|v| {
        v.iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect::<Vec<_>>()
    });
    let allow = ["accept", "x-request-id", "if-none-match"];
    let inject = ["authorization", "x-tenant"];
    assert_eq!(
        got,
        reference::caller_headers(&allow, &inject, &given),
        "{given:?}"
    );
    // Response headers.
    let mut map = http::HeaderMap::new();
    for _ in 0..inp.below(6) {
        let name = http::HeaderName::from_static(inp.word(RESPONSE_HEADER_NAMES));
        let value = response_bytes(&mut inp);
        if let Ok(v) = http::HeaderValue::from_bytes(&value) {
            map.append(name, v);
        }
    }
    let out = crate::callout::filter_response_headers(target, &map);
    for (name, value) in &out {
        assert!(value.len() <= 8 * 1024, "{name}: {} bytes", value.len());
    }
    assert_eq!(out, reference::response_headers(&map), "{map:?}");
    // The body cap, fed chunk by chunk as `read_body` does.
    let limit = 1 + inp.below(64 * 1024) as u64;
    let declared = inp.flip().then(|| u64::from(inp.u32()));
    let mut cap = BodyCap::new(limit, declared);
    let mut sent = Vec::new();
    for _ in 0..inp.below(6) {
        let chunk = response_bytes(&mut inp);
        let chunk = chunk.repeat(1 + inp.below(50));
        sent.extend_from_slice(&chunk);
        if !cap.push(&chunk) {
            break;
        }
    }
    let (body, truncated) = cap.finish(target);
    let limit = limit as usize;
    assert!(
        body.len() <= limit,
        "{} bytes past a {limit}-byte cap",
        body.len()
    );
    assert_eq!(truncated, sent.len() > limit);
    assert_eq!(body.len(), sent.len().min(limit));
    for secret in [SECRET_TOKEN, SECRET_TENANT] {
        assert!(!contains(&body, secret.as_bytes()), "{secret} came back");
    }
    assert_eq!(
        &body[..],
        &reference::redact_cut(&sent[..body.len()], truncated)[..],
        "the body is not the redacted prefix"
    );
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
