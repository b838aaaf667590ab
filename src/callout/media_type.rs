//! Media types from an upstream, validated before they go anywhere: a `Content-Type` becomes a
//! content block's `mimeType`, so it must be a media type (RFC 9110 section 8.3.1) and hold no
//! secret, or it is not used. An invalid one reads as `application/octet-stream`: the body then
//! goes back as base64, never as text that was not text.

use crate::policy::redact::Redactor;

/// Longest media type kept: real ones are a few dozen bytes.
pub const MAX_MEDIA_TYPE_LEN: usize = 256;

/// What an invalid or secret-bearing media type is read as.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// `type/subtype *( OWS ";" OWS parameter )`, a parameter a token, `=`, and a token or a
/// quoted string of visible ASCII.
fn is_media_type(s: &str) -> bool {
    let mut pieces = s.split(';');
    let Some((kind, sub)) = pieces.next().and_then(|e| e.trim().split_once('/')) else {
        return false;
    };
    is_token(kind)
        && is_token(sub)
        && pieces.all(|p| {
            let p = p.trim_matches([' ', '\t']);
            let Some((name, value)) = p.split_once('=') else {
                return false;
            };
            let quoted = value.len() >= 2
                && value.starts_with('"')
                && value.ends_with('"')
                && value[1..value.len() - 1]
                    .bytes()
                    .all(|b| b == b' ' || b == b'\t' || (0x21..=0x7e).contains(&b));
            is_token(name) && (is_token(value) || quoted)
        })
}

/// The media type to use for `raw`: itself when it is a media type within the length bound and
/// holds none of the target's secrets, else `application/octet-stream`. A result shows the
/// essence lowercased (`mimeType`), so the lowercased form is probed too: an upstream that
/// answers `image/TENANT#42` must not get `image/tenant#42` out of harpoon's own normalizing
/// (found by the tool_call fuzz target in CI).
pub fn validated(raw: &str, redactor: &Redactor) -> String {
    let holds_secret = |form: Vec<u8>| {
        let mut probe = form;
        redactor.bytes(&mut probe, false) > 0
    };
    if raw.len() <= MAX_MEDIA_TYPE_LEN
        && is_media_type(raw)
        && !holds_secret(raw.as_bytes().to_vec())
        && !holds_secret(raw.to_ascii_lowercase().into_bytes())
    {
        raw.to_owned()
    } else {
        OCTET_STREAM.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_media_types_without_secrets_pass() {
        let r = Redactor::new([b"s3cret-value".to_vec().into_boxed_slice()]);
        for ok in [
            "image/png",
            "application/json; charset=utf-8",
            "multipart/mixed; boundary=\"a b\"",
            "text/plain;format=flowed",
        ] {
            assert_eq!(validated(ok, &r), ok);
        }
        for bad in [
            "image/s3cret-value",
            "image/S3CRET-VALUE",
            "image/png; x=S3cret-Value",
            "image/png; x=s3cret-value",
            "image",
            "image/png x",
            "image/<script>",
            "image/png; x",
            "image/png; x=\"\n\"",
            "",
            &format!("image/{}", "a".repeat(300)),
        ] {
            assert_eq!(validated(bad, &r), OCTET_STREAM, "{bad:?}");
        }
    }
}
