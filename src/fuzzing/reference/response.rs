//! Secret redaction and the response headers a caller sees.

use crate::fuzzing::corpus::{SECRET_TENANT, SECRET_TOKEN};

/// Every occurrence of a secret blanked byte for byte; and when `cut` (the data was cut at
/// a cap), the longest end of the data that is a secret's start, however short.
pub fn redact_cut(data: &[u8], cut: bool) -> Vec<u8> {
    let mut out = redact(data);
    for s in [SECRET_TOKEN, SECRET_TENANT] {
        let start = (1..s.len())
            .rev()
            .find(|&n| out.ends_with(&s.as_bytes()[..n]));
        if let (true, Some(n)) = (cut, start) {
            let end = out.len();
            out[end - n..].fill(b'*');
        }
    }
    out
}

/// Every occurrence of a secret, blanked byte for byte.
pub fn redact(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    for s in [SECRET_TOKEN, SECRET_TENANT] {
        let s = s.as_bytes();
        let mut i = 0;
        while i + s.len() <= data.len() {
            if &data[i..i + s.len()] == s {
                out[i..i + s.len()].fill(b'*');
                i += s.len();
            } else {
                i += 1;
            }
        }
    }
    out
}

/// The response headers of the base policy's targets (Content-Type, ETag, X-Trace): each
/// one's values joined, secrets blanked, cut to 8 KiB on a character boundary (and the
/// start of a secret at the cut blanked).
pub fn response_headers(map: &http::HeaderMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in map.keys() {
        if !["content-type", "etag", "x-trace"].contains(&name.as_str()) {
            continue;
        }
        let joined: Vec<String> = map
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let mut value = joined.join(", ");
        let cut = value.len() > 8 * 1024;
        while value.len() > 8 * 1024 {
            value.pop();
        }
        let redacted = redact_cut(value.as_bytes(), cut);
        let value = String::from_utf8(redacted).expect("secrets are ASCII");
        out.push((name.as_str().to_owned(), value));
    }
    out
}
