//! The one way a string that came from an upstream reaches a result, a log line or a metric:
//! as `Redacted`, which only `Target::redact_text` makes, with every resolved secret of that
//! target blanked, in the text as it is and in its percent-decoded form.

use super::model::Target;
use std::fmt;

/// What a fully redacted string is replaced by when a secret shows only once it is decoded.
pub const WITHHELD: &str = "<withheld: it holds a secret>";

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

impl Target {
    /// `text` with each secret blanked byte for byte. Should a secret still show once the text
    /// is percent-decoded (`%73ecret`), the whole text is withheld: positions in an encoded
    /// string do not map back one to one, and nothing of it is worth a secret.
    pub fn redact_text(&self, text: &str) -> Redacted {
        let mut bytes = text.as_bytes().to_vec();
        self.redact_secrets(&mut bytes, false);
        let mut decoded = percent_encoding::percent_decode(&bytes).collect::<Vec<u8>>();
        if self.redact_secrets(&mut decoded, false) > 0 {
            return Redacted(WITHHELD.to_owned());
        }
        // Blanking writes ASCII '*' over whole matches of ASCII or UTF-8 secrets, so the bytes
        // stay UTF-8; should they not, the lossy form keeps no secret either.
        Redacted(String::from_utf8_lossy(&bytes).into_owned())
    }
}
