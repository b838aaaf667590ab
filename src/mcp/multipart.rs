//! A bounded `multipart/mixed` reader (RFC 2046): an upstream answer made of parts becomes one
//! MCP content block per part. It only reads the (already bounded) body; malformed input gives
//! `None`, never a panic.

/// Most parts read from one body.
pub const MAX_PARTS: usize = 32;
/// Longest header block of one part.
pub const MAX_PART_HEADERS: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub content_type: Option<String>,
    pub content_location: Option<String>,
    pub body: &'a [u8],
}

/// The boundary parameter of a multipart content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut pieces = content_type.split(';');
    let essence = pieces.next()?.trim().to_ascii_lowercase();
    if !essence.starts_with("multipart/") {
        return None;
    }
    pieces.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        (!v.is_empty() && v.len() <= 70).then(|| v.to_owned())
    })
}

/// Splits `body` into parts, or `None` if it is not well-formed multipart.
pub fn parse<'a>(content_type: &str, body: &'a [u8]) -> Option<Vec<Part<'a>>> {
    let b = boundary(content_type)?;
    let delimiter = format!("--{b}");
    let next_delimiter = format!("\r\n--{b}");
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        // A part may have no headers at all: then the blank line comes first.
        let (head, after) = if let Some(body) = rest.strip_prefix(b"\r\n") {
            (&rest[..0], body)
        } else {
            let i = find(&rest[..rest.len().min(MAX_PART_HEADERS + 4)], b"\r\n\r\n")?;
            (&rest[..i], &rest[i + 4..])
        };
        let end = find(after, next_delimiter.as_bytes())?;
        let headers = std::str::from_utf8(head).ok()?;
        let field = |name: &str| {
            headers.split("\r\n").find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        parts.push(Part {
            content_type: field("content-type"),
            content_location: field("content-location"),
            body: &after[..end],
        });
        if parts.len() > MAX_PARTS {
            return None;
        }
        rest = &after[end + next_delimiter.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/mixed; boundary=\"xyz\"";

    #[test]
    fn reads_parts_with_their_headers() {
        let body = b"preamble\r\n--xyz\r\nContent-Type: text/plain\r\n\r\nhello\r\n--xyz\r\nContent-Type: image/png\r\nContent-Location: test://img\r\n\r\n\x89PNG\r\n--xyz--\r\n";
        let parts = parse(CT, body).expect("parses");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].content_type.as_deref(), Some("text/plain"));
        assert_eq!(parts[0].body, b"hello");
        assert_eq!(parts[1].content_location.as_deref(), Some("test://img"));
        assert_eq!(parts[1].body, b"\x89PNG");
    }

    #[test]
    fn malformed_bodies_give_none() {
        for body in [
            &b""[..],
            b"--xyz",
            b"--xyz\r\nContent-Type: x\r\n\r\nno end",
            b"--abc\r\n\r\nx\r\n--abc--",
        ] {
            assert_eq!(parse(CT, body), None, "{body:?}");
        }
        assert_eq!(boundary("text/plain; boundary=x"), None);
        assert_eq!(boundary("multipart/mixed"), None);
    }

    #[test]
    fn too_many_parts_are_refused() {
        let mut body = Vec::new();
        for _ in 0..40 {
            body.extend_from_slice(b"--xyz\r\n\r\nx\r\n");
        }
        body.extend_from_slice(b"--xyz--");
        assert_eq!(parse(CT, &body), None);
    }
}
