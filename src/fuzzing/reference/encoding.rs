//! Percent-encoding and template rendering, written from RFC 3986.

use crate::policy::template::{PathTemplate, Segment};

/// Percent-encodes every byte but ASCII letters, digits, `-`, `_` and `~`.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'~' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` triplets; anything else stays as it is.
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The segments of a path, each percent-decoded.
pub fn decoded_segments(path: &str) -> Vec<Vec<u8>> {
    path.split('/').map(percent_decode).collect()
}

pub fn render<'a>(t: &PathTemplate, value: &dyn Fn(&str) -> &'a str) -> String {
    let mut out = String::new();
    for s in t.segments() {
        out.push('/');
        match s {
            Segment::Literal(l) => out.push_str(l),
            Segment::Param(p) => out.push_str(&encode(value(p))),
        }
    }
    if t.trailing_slash() || t.segments().is_empty() {
        out.push('/');
    }
    out
}

pub(crate) fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// RFC 3986 sub-delims, `:` and `@`: characters a segment holds as they are, and which mean
/// something else when percent-encoded.
pub(crate) fn literal_reserved(b: u8) -> bool {
    b"!$&'()*+,;=:@".contains(&b)
}
