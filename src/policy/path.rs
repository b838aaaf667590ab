//! Free-form paths (the `path` argument of `call_target`) and the `paths` globs they must
//! match. A path is normalized first; anything that could make one spelling mean two things
//! upstream (dot segments, encoded dots, slashes or backslashes, `//`, double encoding,
//! control characters) is refused rather than repaired, and what is matched is exactly what
//! is sent.

use globset::{Glob, GlobBuilder, GlobMatcher};
use std::sync::OnceLock;

/// Longest path a caller may send: far above real REST paths, low enough to bound matching.
pub const MAX_PATH_LEN: usize = 2048;

/// Longest glob an allowlist may hold.
pub const MAX_GLOB_LEN: usize = 512;

/// Why a caller's path was refused. Each reason is also a message for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    TooLong,
    NotAbsolute,
    ControlCharacter,
    Backslash,
    QueryOrFragment,
    EmptySegment,
    DotSegment,
    EncodedSeparator,
    DoubleEncoding,
    BadEncoding,
}

impl PathError {
    pub fn message(self) -> &'static str {
        match self {
            PathError::TooLong => "path is longer than 2048 bytes (as sent, or once normalized)",
            PathError::NotAbsolute => "path must start with '/'",
            PathError::ControlCharacter => "path holds a control character",
            PathError::Backslash => "path holds a backslash",
            PathError::QueryOrFragment => "path holds '?' or '#'; pass query parameters in 'query'",
            PathError::EmptySegment => "path holds an empty segment ('//')",
            PathError::DotSegment => "path holds a '.' or '..' segment (plain or encoded)",
            PathError::EncodedSeparator => "path holds an encoded '/', '\\' or NUL",
            PathError::DoubleEncoding => "path holds an encoded '%' (double encoding)",
            PathError::BadEncoding => "path holds a '%' that is not followed by two hex digits",
        }
    }
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for PathError {}

/// A path in canonical form: starts with '/', no dot or empty segments, percent-encoding
/// normalized (unreserved characters decoded, other triplets upper-case, characters outside
/// RFC 3986 `pchar` encoded). Only `normalize` makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPath(String);

impl NormalizedPath {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Normalizes a caller's path, or says why it is refused.
pub fn normalize(path: &str) -> Result<NormalizedPath, PathError> {
    if path.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong);
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len() + 8);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            0x00..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
            b'\\' => return Err(PathError::Backslash),
            b'?' | b'#' => return Err(PathError::QueryOrFragment),
            b'%' => {
                let decoded = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| Some(hex(h[0])? << 4 | hex(h[1])?))
                    .ok_or(PathError::BadEncoding)?;
                match decoded {
                    b'/' | b'\\' | 0 => return Err(PathError::EncodedSeparator),
                    b'%' => return Err(PathError::DoubleEncoding),
                    0x01..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
                    c if is_unreserved(c) => out.push(c as char),
                    c => push_encoded(&mut out, c),
                }
                i += 3;
                continue;
            }
            c if c.is_ascii() && is_pchar(c) || c == b'/' => out.push(c as char),
            c => push_encoded(&mut out, c),
        }
        i += 1;
    }
    let inner = &out[1..];
    let mut parts = inner.split('/').peekable();
    while let Some(seg) = parts.next() {
        let last = parts.peek().is_none();
        if seg.is_empty() && !(last || inner.is_empty()) {
            return Err(PathError::EmptySegment);
        }
        if is_dot_segment(seg) {
            return Err(PathError::DotSegment);
        }
    }
    // Encoding can triple a path: the bound holds for what is matched and sent too, and keeps
    // a normalized path its own normal form.
    if out.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong);
    }
    Ok(NormalizedPath(out))
}

/// A segment that some upstream resolves as `.` or `..`: plain, or followed by `;` path
/// parameters, which Tomcat, Jetty and Spring strip before they resolve dot segments (so
/// `..;x` climbs there). `%3B` counts as `;`, for servers that decode first.
pub fn is_dot_segment(seg: &str) -> bool {
    let b = seg.as_bytes();
    let params = (0..b.len()).find(|&i| {
        b[i] == b';'
            || (b[i] == b'%'
                && b.get(i + 1) == Some(&b'3')
                && matches!(b.get(i + 2), Some(b'B' | b'b')))
    });
    matches!(&b[..params.unwrap_or(b.len())], b"." | b"..")
}

/// Whether one more percent-decoding of `text` gives something that would change the path to a
/// server or proxy that decodes twice (IIS, some gateways and frameworks): a dot segment, a
/// `/`, a `\` or a control character. A value `%2e%2e` is sent encoded as `%252e%252e`, which
/// such an upstream turns back into `..`.
pub fn decodes_to_traversal(text: &str) -> bool {
    if !text.contains('%') {
        return false;
    }
    let b = text.as_bytes();
    let mut decoded = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                decoded.push(h * 16 + l);
                i += 3;
            }
            (c, _, _) => {
                decoded.push(c);
                i += 1;
            }
        }
    }
    decoded
        .iter()
        .any(|&c| matches!(c, b'/' | b'\\' | 0x00..=0x1f | 0x7f))
        || is_dot_segment(&String::from_utf8_lossy(&decoded))
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn push_encoded(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[(b >> 4) as usize] as char);
    out.push(HEX[(b & 15) as usize] as char);
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 `pchar` minus `%` (which is handled as a triplet).
fn is_pchar(c: u8) -> bool {
    is_unreserved(c)
        || matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

/// A parsed `paths` glob. `*` and `?` never match '/'; `**` matches across segments. The
/// matcher is built on first use (targets match through their `GlobSet`; this one serves
/// reviews and tests).
#[derive(Debug, Clone)]
pub struct PathGlob {
    text: String,
    glob: Glob,
    matcher: OnceLock<GlobMatcher>,
}

impl PathGlob {
    /// Parses a glob, refusing anything that could not match a normalized path as written or
    /// that hides a separator in a class.
    pub fn parse(text: &str) -> Result<Self, String> {
        Ok(Self {
            text: text.to_owned(),
            glob: build_glob(text)?,
            matcher: OnceLock::new(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn glob(&self) -> &Glob {
        &self.glob
    }

    fn matcher(&self) -> &GlobMatcher {
        self.matcher.get_or_init(|| self.glob.compile_matcher())
    }

    pub fn is_match(&self, path: &NormalizedPath) -> bool {
        self.matcher().is_match(path.as_str())
    }

    /// Whether the glob text itself, read as a path, is matched: used to find rules that an
    /// earlier, broader rule shadows.
    pub fn matches_text_of(&self, other: &PathGlob) -> bool {
        self.matcher().is_match(other.as_str())
    }
}

/// Builds a globset `Glob` with our rules; the `GlobSet` of a target is built from these.
pub fn build_glob(text: &str) -> Result<Glob, String> {
    if text.len() > MAX_GLOB_LEN {
        return Err(format!(
            "is longer than {MAX_GLOB_LEN} characters; shorten it"
        ));
    }
    if !text.starts_with('/') {
        return Err("must start with '/'; write it relative to base_url, e.g. '/reports/*'".into());
    }
    if let Some(c) = text.chars().find(|&c| !is_glob_char(c)) {
        return Err(format!(
            "holds {c:?}; globs may hold letters, digits, -._~!$&'()+,;=:@ and the glob characters * ? [ ] {{ }}"
        ));
    }
    if text.contains("[!") || text.contains("[^") {
        return Err(
            "uses a negated class ('[!...]'), which could match '/'; list the characters instead"
                .into(),
        );
    }
    if class_can_match_slash(text) {
        return Err("has '/' inside a class; a class matches one character of one segment".into());
    }
    for seg in text[1..].split('/') {
        if is_dot_segment(seg) {
            return Err(format!("has a '{seg}' segment; write the path without it"));
        }
    }
    if text.contains("//") {
        return Err("has an empty segment ('//'); remove the extra '/'".into());
    }
    GlobBuilder::new(&non_empty_stars(text))
        .literal_separator(true)
        .backslash_escape(false)
        .empty_alternates(false)
        .build()
        .map_err(|e| format!("is not a valid glob: {}", e.kind()))
}

/// A segment of stars alone (`*`, `***`, but not `**`, which spans segments) matches one
/// non-empty segment: `/public/*` grants `/public/x`, never `/public/` (an empty last segment,
/// often a directory listing). globset's `*` matches the empty string, so such a segment is
/// compiled as `?*`: one character, then any. (Found for `***` by the `path_glob` fuzz target.)
fn non_empty_stars(text: &str) -> String {
    text.split('/')
        .map(|seg| {
            if !seg.is_empty() && seg != "**" && seg.bytes().all(|b| b == b'*') {
                "?*"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a `[...]` class holds '/' itself or in a range (`[.-0]` spans it): such a class
/// would let one glob character match across segments.
fn class_can_match_slash(glob: &str) -> bool {
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '[' {
            i += 1;
            continue;
        }
        let (ranges, end) = class_ranges(&chars[i + 1..]);
        if ranges.iter().any(|&(lo, hi)| lo <= '/' && '/' <= hi) {
            return true;
        }
        i += 1 + end;
    }
    false
}

/// The ranges of a class whose text starts at `class` (just after its `[`), read as globset
/// reads them, and how many characters the class takes up to and including its `]`. It follows
/// globset's parser exactly, chained ranges included: in `[(-----@]` each `-X` moves the end of
/// the last range, so the class is `(` to `@`, which holds `/`. Reading it any other way would
/// let a class the check thinks is safe match across segments.
fn class_ranges(class: &[char]) -> (Vec<(char, char)>, usize) {
    let mut ranges: Vec<(char, char)> = Vec::new();
    let mut in_range = false;
    let mut first = true;
    let mut k = 0;
    while let Some(&c) = class.get(k) {
        k += 1;
        match c {
            ']' if !first => return (close(ranges, in_range), k),
            '-' if !first && in_range => {
                if let Some(last) = ranges.last_mut() {
                    last.1 = '-';
                }
                in_range = false;
            }
            '-' if !first => in_range = true,
            c => {
                match ranges.last_mut() {
                    Some(last) if in_range => last.1 = c,
                    _ => ranges.push((c, c)),
                }
                in_range = false;
            }
        }
        first = false;
    }
    // Unclosed: globset refuses the glob; report what was read.
    (close(ranges, in_range), k)
}

/// A `-` left open at the end of a class is a literal `-`.
fn close(mut ranges: Vec<(char, char)>, in_range: bool) -> Vec<(char, char)> {
    if in_range {
        ranges.push(('-', '-'));
    }
    ranges
}

fn is_glob_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()+,;=:@/*?[]{}".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> Result<String, PathError> {
        normalize(p).map(|p| p.0)
    }

    #[test]
    fn normalizes_encoding() {
        assert_eq!(n("/reports/daily"), Ok("/reports/daily".into()));
        assert_eq!(n("/reports/%61bc"), Ok("/reports/abc".into()));
        assert_eq!(n("/a%3ab"), Ok("/a%3Ab".into()));
        assert_eq!(n("/my report"), Ok("/my%20report".into()));
        assert_eq!(n("/é"), Ok("/%C3%A9".into()));
        assert_eq!(n("/"), Ok("/".into()));
        assert_eq!(n("/a/"), Ok("/a/".into()));
    }

    #[test]
    fn refuses_what_could_widen_a_match() {
        let table = [
            ("/a/../b", PathError::DotSegment),
            ("/a/./b", PathError::DotSegment),
            ("/a/%2e%2e/b", PathError::DotSegment),
            ("/a/.%2E/b", PathError::DotSegment),
            ("/a/..;/b", PathError::DotSegment),
            ("/a/..;jsessionid=1/b", PathError::DotSegment),
            ("/a/.;x/b", PathError::DotSegment),
            ("/a/..%3b/b", PathError::DotSegment),
            ("/..", PathError::DotSegment),
            ("/a//b", PathError::EmptySegment),
            ("//evil.example/x", PathError::EmptySegment),
            ("/a%2fb", PathError::EncodedSeparator),
            ("/a%5cb", PathError::EncodedSeparator),
            ("/a%00", PathError::EncodedSeparator),
            ("/a%252e%252e", PathError::DoubleEncoding),
            ("/a\\b", PathError::Backslash),
            ("/a\r\nHost: x", PathError::ControlCharacter),
            ("/a%0d%0a", PathError::ControlCharacter),
            ("/a?x=1", PathError::QueryOrFragment),
            ("/a#f", PathError::QueryOrFragment),
            ("/a%zz", PathError::BadEncoding),
            ("/a%4", PathError::BadEncoding),
            ("a/b", PathError::NotAbsolute),
            ("http://evil/", PathError::NotAbsolute),
        ];
        for (input, want) in table {
            assert_eq!(n(input), Err(want), "{input:?}");
        }
        assert_eq!(
            n(&format!("/{}", "a".repeat(MAX_PATH_LEN))),
            Err(PathError::TooLong)
        );
    }

    /// The bound is on both the path as sent and the path once normalized: `%61` shrinks to
    /// `a` and `é` grows to `%C3%A9`, so each side of the bound is reached by both.
    #[test]
    fn a_path_of_the_longest_length_is_accepted_and_one_more_is_not() {
        let longest = format!("/{}", "a".repeat(MAX_PATH_LEN - 1));
        assert_eq!(n(&longest), Ok(longest.clone()));
        assert_eq!(n(&format!("{longest}a")), Err(PathError::TooLong));
        // Too long as sent, though it would normalize to a third of the bound.
        let shrinking = format!("/{}", "%61".repeat(MAX_PATH_LEN / 3 + 1));
        assert!(shrinking.len() > MAX_PATH_LEN);
        assert_eq!(n(&shrinking), Err(PathError::TooLong));
        // Short as sent, too long once encoded.
        let growing = format!("/{}", "é".repeat(MAX_PATH_LEN / 6 + 1));
        assert!(growing.len() <= MAX_PATH_LEN);
        assert_eq!(n(&growing), Err(PathError::TooLong));
        let fits = format!(
            "/{}{}",
            "é".repeat(341),
            "a".repeat(MAX_PATH_LEN - 1 - 341 * 6)
        );
        assert_eq!(n(&fits).map(|p| p.len()), Ok(MAX_PATH_LEN));
    }

    #[test]
    fn a_glob_of_the_longest_length_is_accepted_and_one_more_is_not() {
        let longest = format!("/{}", "a".repeat(MAX_GLOB_LEN - 1));
        assert!(build_glob(&longest).is_ok());
        for over in [1, MAX_GLOB_LEN] {
            assert_eq!(
                build_glob(&format!("{longest}{}", "a".repeat(over))).err(),
                Some(format!(
                    "is longer than {MAX_GLOB_LEN} characters; shorten it"
                ))
            );
        }
    }

    #[test]
    fn normalization_is_idempotent() {
        for p in ["/a%3ab", "/my report/é", "/x/%7e", "/a/b/"] {
            let once = n(p).unwrap();
            assert_eq!(n(&once), Ok(once.clone()), "{p}");
        }
    }

    #[test]
    fn double_decoding_is_caught() {
        for bad in [
            "%2e%2e", "%2E.", ".%2e", "%2e", "a%2fb", "%5c", "%00", "%0d%0a", "%2e%2e;x",
        ] {
            assert!(decodes_to_traversal(bad), "{bad}");
        }
        for ok in ["abc", "100%", "%41%42", "%2ex", "a.b", "%zz", "..x"] {
            assert!(!decodes_to_traversal(ok), "{ok}");
        }
    }

    #[test]
    fn globs_keep_to_their_segments() {
        let g = PathGlob::parse("/reports/*").unwrap();
        let m = |p: &str| g.is_match(&normalize(p).unwrap());
        assert!(m("/reports/daily"));
        assert!(!m("/reports/daily/secret"));
        assert!(!m("/reports"));
        assert!(!m("/reports/a/"));
        // A lone `*` is one non-empty segment: the empty last segment is not granted.
        assert!(!m("/reports/"));
        assert!(m("/reports/x"));
        let mid = PathGlob::parse("/a/*/c").unwrap();
        assert!(mid.is_match(&normalize("/a/b/c").unwrap()));
        let stars = PathGlob::parse("/reports/*********").unwrap();
        assert!(!stars.is_match(&normalize("/reports/").unwrap()));
        assert!(stars.is_match(&normalize("/reports/x").unwrap()));
        let part = PathGlob::parse("/files/*.json").unwrap();
        assert!(part.is_match(&normalize("/files/a.json").unwrap()));
        let deep = PathGlob::parse("/reports/**").unwrap();
        assert!(deep.is_match(&normalize("/reports/a/b/c").unwrap()));
        let q = PathGlob::parse("/files/?").unwrap();
        assert!(!q.is_match(&NormalizedPath("/files//".into())));
        let class = PathGlob::parse("/v[12]/x").unwrap();
        assert!(class.is_match(&normalize("/v1/x").unwrap()));
    }

    #[test]
    fn refuses_risky_globs() {
        assert!(
            build_glob("reports/*")
                .unwrap_err()
                .contains("start with '/'")
        );
        assert!(build_glob("/a/../b").unwrap_err().contains("'..' segment"));
        assert!(build_glob("/a//b").unwrap_err().contains("empty segment"));
        assert!(build_glob("/a/[!x]").unwrap_err().contains("negated class"));
        assert!(build_glob("/a/[/]").unwrap_err().contains("inside a class"));
        for class in ["/x[a/b]y", "/a[.-0]b", "/r/[+-0]", "/r/[]/]"] {
            assert!(
                build_glob(class).unwrap_err().contains("inside a class"),
                "{class}"
            );
        }
        assert!(build_glob("/v[0-9]/x").is_ok());
        assert!(build_glob("/v[a-z_-]/x").is_ok());
        assert!(build_glob("/a\\*").unwrap_err().contains("holds '\\\\'"));
        assert!(build_glob("/a%2F*").unwrap_err().contains("holds '%'"));
        assert!(
            build_glob("/a/{b")
                .unwrap_err()
                .contains("not a valid glob")
        );
    }
}
