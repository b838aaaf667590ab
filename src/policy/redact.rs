//! The one way a string or byte that came from an upstream reaches a result, a log line or a
//! metric: through a target's `Redactor`, after every decoding harpoon performs. Raw bodies and
//! header values are blanked byte for byte; text harpoon decodes (JSON, percent-encoding) is
//! blanked again once decoded; text kept for a message becomes `Redacted`, which only a
//! `Redactor` makes.

use super::secret::MIN_REDACTED_LEN;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// What a fully redacted string is replaced by when a secret shows only once it is decoded.
pub const WITHHELD: &str = "<withheld: it holds a secret>";

/// The resolved secrets of one target, as the bytes to blank wherever they appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// Each resolved reference value at least `MIN_REDACTED_LEN` bytes long (shorter strings
    /// occur in ordinary data).
    fragments: Arc<[Box<[u8]>]>,
}

/// Upstream text with every secret of its target blanked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Redactor {
    pub fn new(fragments: impl IntoIterator<Item = Box<[u8]>>) -> Self {
        let fragments: Vec<Box<[u8]>> = fragments
            .into_iter()
            .filter(|f| f.len() >= MIN_REDACTED_LEN)
            .collect();
        Self {
            fragments: fragments.into(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fragments.is_empty()
    }

    /// Overwrites every occurrence of a secret in `data` with `*`, byte for byte (so sizes stay
    /// true and JSON stays JSON); returns how many were found. `cut` says the data was cut at a
    /// size cap, so a trailing piece that is a secret's start is blanked too, however short.
    pub fn bytes(&self, data: &mut [u8], cut: bool) -> usize {
        let mut found = 0;
        for f in self.fragments.iter() {
            let mut start = 0;
            while let Some(at) = find(&data[start..], f) {
                let at = start + at;
                data[at..at + f.len()].fill(b'*');
                start = at + f.len();
                found += 1;
            }
            if cut {
                let longest = (1..f.len().min(data.len() + 1))
                    .rev()
                    .find(|&n| data.ends_with(&f[..n]));
                if let Some(n) = longest {
                    let end = data.len();
                    data[end - n..].fill(b'*');
                    found += 1;
                }
            }
        }
        found
    }

    /// `text` with each secret blanked. Should a secret still show once the text is
    /// percent-decoded (`%73ecret`), the whole text is withheld: positions in an encoded string
    /// do not map back one to one, and nothing of it is worth a secret.
    pub fn text(&self, text: &str) -> Redacted {
        let mut bytes = text.as_bytes().to_vec();
        self.bytes(&mut bytes, false);
        let mut decoded: Vec<u8> = percent_encoding::percent_decode(&bytes).collect();
        if self.bytes(&mut decoded, false) > 0 {
            return Redacted(WITHHELD.to_owned());
        }
        // Blanking writes ASCII '*' over whole matches, so UTF-8 stays UTF-8; should it not,
        // the lossy form keeps no secret either.
        Redacted(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Blanks secrets in every string of a decoded JSON value, keys included: a JSON body may
    /// spell a secret with `\u` escapes that only decoding reveals.
    pub fn json(&self, value: &mut Value) {
        if self.is_empty() {
            return;
        }
        match value {
            Value::String(s) => self.string(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            Value::Object(map) => {
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let Some(mut v) = map.remove(&key) else {
                        continue;
                    };
                    self.json(&mut v);
                    let mut k = key;
                    self.string(&mut k);
                    map.insert(k, v);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn string(&self, s: &mut String) {
        let mut bytes = std::mem::take(s).into_bytes();
        self.bytes(&mut bytes, false);
        // Blanking writes ASCII over whole matches of UTF-8 text, so this is UTF-8 again; the
        // lossy form, should it not be, keeps no secret either.
        *s = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    }
}

/// The first position of `needle` in `haystack`, scanning for its first byte.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let &first = needle.first()?;
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        match haystack[i..=haystack.len() - needle.len()]
            .iter()
            .position(|&b| b == first)
        {
            None => return None,
            Some(p) => {
                i += p;
                if &haystack[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redactor() -> Redactor {
        Redactor::new([b"s3cret-value".to_vec().into_boxed_slice()])
    }

    #[test]
    fn bytes_text_and_json_are_blanked() {
        let r = redactor();
        let mut b = b"a s3cret-value b".to_vec();
        assert_eq!(r.bytes(&mut b, false), 1);
        assert_eq!(b, b"a ************ b");
        let mut cut = b"x s3cr".to_vec();
        r.bytes(&mut cut, true);
        assert_eq!(cut, b"x ****");
        assert_eq!(r.text("?t=s3cret-value").as_str(), "?t=************");
        assert_eq!(r.text("?t=%73%33cret-value").as_str(), WITHHELD);
        assert_eq!(r.text("plain").as_str(), "plain");
        let mut v: Value =
            serde_json::from_str(r#"{"\u0073\u0033cret-value": ["\u0073\u0033cret-value", 1]}"#)
                .unwrap();
        r.json(&mut v);
        assert_eq!(v, json!({"************": ["************", 1]}));
    }

    /// A cap can cut a body so that all of it is a secret's start (a cap shorter than the
    /// secret); all of it is blanked. (Mutation testing found the whole-data case untested.)
    #[test]
    fn data_that_is_wholly_a_cut_secret_is_wholly_blanked() {
        let r = redactor();
        for len in 0..b"s3cret-value".len() {
            let mut cut = b"s3cret-value"[..len].to_vec();
            assert_eq!(r.bytes(&mut cut, true), usize::from(len > 0), "{len}");
            assert_eq!(cut, b"*".repeat(len), "{len}");
        }
    }

    #[test]
    fn find_agrees_with_a_naive_search() {
        let hay = b"aabaabaaab";
        for needle in [
            &b"a"[..],
            b"ab",
            b"aab",
            b"aaab",
            b"b",
            b"ba",
            hay,
            b"aabaabaaabX",
            b"",
        ] {
            let naive = (needle.len() <= hay.len() && !needle.is_empty())
                .then(|| hay.windows(needle.len()).position(|w| w == needle))
                .flatten();
            assert_eq!(find(hay, needle), naive, "{needle:?}");
        }
    }
}
