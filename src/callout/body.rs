//! Reading a response within bounds: only allowlisted headers, and a body read as a stream that
//! is never buffered past its cap. Content-encoding is never decoded (harpoon asks for
//! `identity`), so a compression bomb stays its compressed size.

use super::error::{CallError, Phase};
use super::failure::{FailureStage, NetworkFailure};
use crate::policy::Target;
use crate::policy::limits::Oversize;
use crate::policy::redact::Redactor;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
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
    /// The validated media type (`media_type::validated`), when the upstream sent one.
    pub content_type: Option<String>,
    pub redirects: u8,
    /// The target's secrets, so what harpoon decodes from the body later (JSON, multipart) is
    /// blanked again once decoded.
    pub redactor: Redactor,
}

/// The response headers a caller may see: the target's allowlist only, values capped, secrets
/// blanked.
pub fn filter_response_headers(
    target: &Target,
    headers: &http::HeaderMap,
) -> Vec<(String, String)> {
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
        target.redact_secrets(&mut bytes, false);
        if bytes.len() > MAX_RETURNED_HEADER_VALUE {
            // `joined` is text: cut at a character boundary, so the value stays within its
            // bound and a prefix of the header (no U+FFFD for half a character).
            let mut cut = MAX_RETURNED_HEADER_VALUE;
            while cut > 0 && bytes[cut] & 0xC0 == 0x80 {
                cut -= 1;
            }
            bytes.truncate(cut);
            target.redact_secrets(&mut bytes, true);
        }
        let value = String::from_utf8_lossy(&bytes).into_owned();
        out.push((name.as_str().to_owned(), value));
    }
    out
}

/// A body being collected under a cap: what `read_body` feeds chunks into, kept free of I/O so
/// the bound can be tested and fuzzed on its own.
#[derive(Debug)]
pub struct BodyCap {
    buf: BytesMut,
    cap: usize,
    truncated: bool,
}

impl BodyCap {
    /// `declared` (a Content-Length) only sizes the first allocation, never past the cap.
    pub fn new(limit: u64, declared: Option<u64>) -> Self {
        let cap = usize::try_from(limit).unwrap_or(usize::MAX);
        let first = declared.map_or(8 * 1024, |n| usize::try_from(n).unwrap_or(cap).min(cap));
        Self {
            buf: BytesMut::with_capacity(first.min(cap)),
            cap,
            truncated: false,
        }
    }

    /// Adds a chunk; returns false once the cap is reached (the rest is not kept, and reading
    /// should stop).
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        let room = self.cap - self.buf.len();
        if chunk.len() > room {
            self.buf.extend_from_slice(&chunk[..room]);
            self.truncated = true;
            return false;
        }
        self.buf.extend_from_slice(chunk);
        true
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The collected bytes, with `target`'s secrets blanked out (and a secret's start, if the
    /// cap cut the rest of it away).
    pub fn finish(mut self, target: &Target) -> (Bytes, bool) {
        target.redact_secrets(&mut self.buf, self.truncated);
        (self.buf.freeze(), self.truncated)
    }
}

/// Reads the body up to `limit` bytes before `deadline`. Past the limit, reading stops (the
/// connection is dropped, not drained) and the target's `oversize` rule decides the outcome.
/// Any secret of the target that the upstream echoes back is blanked out.
pub(super) async fn read_body(
    target: &Target,
    response: http::Response<Incoming>,
    limit: u64,
    oversize: Oversize,
    deadline: Instant,
    timeout: Duration,
) -> Result<(Bytes, Option<u64>, bool), CallError> {
    // hyper takes the length from `Content-Length` (none for a chunked body).
    let declared = response.body().size_hint().exact();
    let mut response = response.into_body();
    let too_large = CallError::ResponseTooLarge {
        limit,
        size: declared,
    };
    if oversize == Oversize::Error && declared.is_some_and(|n| n > limit) {
        return Err(too_large);
    }
    let mut body = BodyCap::new(limit, declared);
    loop {
        let frame = tokio::time::timeout_at(deadline, response.frame())
            .await
            .map_err(|_| CallError::Timeout {
                phase: Phase::Body,
                after: timeout,
            })?
            .transpose()
            .map_err(|e| {
                CallError::Upstream(NetworkFailure::new(FailureStage::Body, &e)).redacted(target)
            })?;
        let Some(frame) = frame else {
            let size = body.len() as u64;
            let (bytes, _) = body.finish(target);
            return Ok((bytes, Some(size), false));
        };
        // Trailers carry no body bytes.
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        if !body.push(&chunk) {
            if oversize == Oversize::Error {
                return Err(too_large);
            }
            let (bytes, truncated) = body.finish(target);
            return Ok((bytes, declared, truncated));
        }
    }
}
