//! Caller paths: their canonical form and dot segments (RFC 3986 section 6.2.2).

use super::*;
use crate::fuzzing::input::Input;

/// The canonical form of a caller's path (RFC 3986 section 6.2.2: unreserved characters
/// decoded, other triplets upper case, anything else a segment cannot hold encoded), or
/// `None` when the path is one docs/allowlist.md says is refused: not absolute, too long, a
/// dot segment (see [`dot_segment`]), an empty segment, a backslash,
/// `?`, `#`, a control character, an encoded `/`, `\`, NUL or `%`, or a bad `%`. The
/// 2048-byte bound holds for the caller's spelling and for the canonical form alike.
pub fn canonical_path(path: &str) -> Option<String> {
    if path.len() > 2048 || !path.starts_with('/') {
        return None;
    }
    let raw: Vec<&str> = path[1..].split('/').collect();
    let mut out = String::new();
    for (i, seg) in raw.iter().enumerate() {
        let mut canon = String::new();
        let b = seg.as_bytes();
        let mut j = 0;
        while j < b.len() {
            let c = b[j];
            if c == b'%' {
                let hex = std::str::from_utf8(b.get(j + 1..j + 3)?).ok()?;
                if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                    return None;
                }
                let d = u8::from_str_radix(hex, 16).ok()?;
                if d < 0x20 || d == 0x7f || b"/\\%".contains(&d) {
                    return None;
                }
                if unreserved(d) {
                    canon.push(d as char);
                } else {
                    canon.push_str(&format!("%{d:02X}"));
                }
                j += 3;
                continue;
            }
            if c < 0x20 || c == 0x7f || b"\\?#".contains(&c) {
                return None;
            }
            if unreserved(c) || literal_reserved(c) {
                canon.push(c as char);
            } else {
                canon.push_str(&format!("%{c:02X}"));
            }
            j += 1;
        }
        if dot_segment(&canon) {
            return None;
        }
        let last = i + 1 == raw.len();
        if canon.is_empty() && !last {
            return None;
        }
        out.push('/');
        out.push_str(&canon);
    }
    (out.len() <= 2048).then_some(out)
}

/// A segment that some upstream resolves as `.` or `..`: the part before the first `;` (or
/// `%3B`, for servers that decode first) is `.` or `..`. Tomcat, Jetty and Spring strip `;`
/// path parameters before they resolve dot segments.
pub fn dot_segment(seg: &str) -> bool {
    let lower = seg.to_ascii_lowercase();
    let end = [lower.find(';'), lower.find("%3b")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(seg.len());
    matches!(&seg[..end], "." | "..")
}

/// Another spelling of the same path: unreserved characters and characters a segment cannot
/// hold may be written encoded or not, and hex digits in either case. Sub-delims keep their
/// form: encoding one changes what the path means (RFC 3986 section 2.2).
pub fn respell(path: &str, inp: &mut Input) -> String {
    let mut out = String::new();
    let b = path.as_bytes();
    let enc = |out: &mut String, d: u8, lower: bool| {
        let t = format!("%{d:02X}");
        out.push_str(&if lower { t.to_lowercase() } else { t });
    };
    let mut j = 0;
    while j < b.len() {
        let c = b[j];
        if c == b'%' && j + 2 < b.len() && b[j + 1..j + 3].iter().all(u8::is_ascii_hexdigit) {
            let d = percent_decode(&path[j..j + 3])[0];
            if unreserved(d) && inp.flip() {
                out.push(d as char);
            } else {
                enc(&mut out, d, inp.flip());
            }
            j += 3;
            continue;
        }
        let len = path[j..].chars().next().map_or(1, char::len_utf8);
        let plain_ascii = len == 1 && (literal_reserved(c) || b"/%".contains(&c));
        if !plain_ascii && c >= 0x20 && c != 0x7f && inp.flip() {
            for &d in &b[j..j + len] {
                enc(&mut out, d, inp.flip());
            }
        } else {
            out.push_str(&path[j..j + len]);
        }
        j += len;
    }
    out
}
