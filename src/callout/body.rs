//! Reading a response within bounds: only allowlisted headers, and a body read as a stream that
//! is never buffered past its cap. Content-encoding is never decoded (harpoon asks for
//! `identity`), so a compression bomb stays its compressed size.

use super::error::{CallError, Phase};
use crate::policy::Target;
use crate::policy::limits::Oversize;
use bytes::{Bytes, BytesMut};
use std::time::Duration;
use tokio::time::Instant;

/// Longest response header value returned; longer ones are cut (they are for a model to read).
pub const MAX_RETURNED_HEADER_VALUE: usize = 8 * 1024;

/// A response as a caller may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedResponse {
    pub status: u16,
    /// Allowlisted headers only, lowercase names, repeated values joined with ", ".
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The full body size when known (Content-Length, or the whole body was read).
    pub full_size: Option<u64>,
    pub truncated: bool,
    pub content_type: Option<String>,
    pub redirects: u8,
}

pub(super) fn filter_headers(target: &Target, headers: &http::HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for name in headers.keys() {
        if !target.returns_header(name) {
            continue;
        }
        let joined = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        let mut bytes = joined.into_bytes();
        target.redact_secrets(&mut bytes);
        let mut value = String::from_utf8_lossy(&bytes).into_owned();
        if value.len() > MAX_RETURNED_HEADER_VALUE {
            let mut cut = MAX_RETURNED_HEADER_VALUE;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
        }
        out.push((name.as_str().to_owned(), value));
    }
    out
}

/// Reads the body up to `limit` bytes before `deadline`. Past the limit, reading stops (the
/// connection is dropped, not drained) and the target's `oversize` rule decides the outcome.
/// Any secret of the target that the upstream echoes back is blanked out.
pub(super) async fn read_body(
    target: &Target,
    mut response: reqwest::Response,
    limit: u64,
    oversize: Oversize,
    deadline: Instant,
    timeout: Duration,
) -> Result<(Bytes, Option<u64>, bool), CallError> {
    let declared = response.content_length();
    if oversize == Oversize::Error && declared.is_some_and(|n| n > limit) {
        return Err(CallError::ResponseTooLarge {
            limit,
            size: declared,
        });
    }
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut buf = BytesMut::with_capacity(declared.map_or(8 * 1024, |n| n.min(limit) as usize));
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .map_err(|_| CallError::Timeout {
                phase: Phase::Body,
                after: timeout,
            })?
            .map_err(|e| CallError::Upstream(format!("the body broke off: {}", root_cause(&e))))?;
        let Some(chunk) = chunk else {
            let size = buf.len() as u64;
            target.redact_secrets(&mut buf);
            return Ok((buf.freeze(), Some(size), false));
        };
        if buf.len() + chunk.len() > cap {
            if oversize == Oversize::Error {
                return Err(CallError::ResponseTooLarge {
                    limit,
                    size: declared,
                });
            }
            let room = cap - buf.len();
            buf.extend_from_slice(&chunk[..room]);
            target.redact_secrets(&mut buf);
            return Ok((buf.freeze(), declared, true));
        }
        buf.extend_from_slice(&chunk);
    }
}

/// The innermost error of a chain, which says what really happened ("connection reset").
pub(super) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
