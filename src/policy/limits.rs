//! Per-target limits: their defaults, their hard ceilings, and the human units they are written
//! in (`16KiB`, `5s`, `20/s`). Every default is safe to leave alone.

use super::compiler::Compiler;
use crate::config::ErrorKind;
use crate::config::raw::RawLimits;
use serde_saphyr::Spanned;

use std::time::Duration;

/// Default request body cap. Tool arguments are small JSON; 64 KiB covers real payloads.
pub const DEFAULT_REQUEST_BYTES: u64 = 64 * 1024;
/// No request body may exceed this, whatever the file says: MCP messages are capped at 4 MiB
/// by the HTTP transport, and a body is part of one.
pub const MAX_REQUEST_BYTES: u64 = 4 * 1024 * 1024;

/// Default response body cap: large enough for a page of JSON, small enough for a model's
/// context and for memory at full concurrency.
pub const DEFAULT_RESPONSE_BYTES: u64 = 1024 * 1024;
/// Ceiling on the response cap: concurrency x cap bounds memory, so both have ceilings.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Default total time for one upstream call, first byte to last.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// A call may not take longer than this: MCP clients give up around a few minutes.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// Shortest accepted timeout: below this, real networks fail spuriously.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(10);

/// Default time to set up a TCP (and TLS) connection: a healthy internal network does it in
/// milliseconds, so seconds mean something is wrong.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Default calls in flight per target, so one slow upstream cannot hold every worker.
pub const DEFAULT_CONCURRENCY: u32 = 16;
/// Ceiling on calls in flight per target.
pub const MAX_CONCURRENCY: u32 = 1024;

/// Ceiling on a rate, in calls per second.
pub const MAX_RATE_PER_SECOND: f64 = 100_000.0;

/// Ceiling on redirects a target may follow.
pub const MAX_REDIRECTS: u8 = 10;

/// What to do when a response body is larger than `response_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Oversize {
    /// Return the first `response_bytes` bytes and `truncated: true` (the default: the model
    /// still sees the start of the answer).
    #[default]
    Truncate,
    /// Return an `isError` result with reason `response_too_large`.
    Error,
}

/// A rate: `calls` per `per`. Enforced as a token bucket of `calls` tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub calls: u32,
    pub per: Duration,
}

impl Rate {
    pub fn per_second(self) -> f64 {
        f64::from(self.calls) / self.per.as_secs_f64()
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "m",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.calls)
    }
}

/// `16 KiB`, `1 MiB`, `1500 B`: exact sizes in the largest binary unit that divides them.
pub fn format_bytes(n: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} B")
}

/// A target's limits, each within its ceiling.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub concurrency: u32,
    /// `None`: no rate limit; concurrency still bounds the load.
    pub rate: Option<Rate>,
    pub oversize: Oversize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_bytes: DEFAULT_REQUEST_BYTES,
            response_bytes: DEFAULT_RESPONSE_BYTES,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            concurrency: DEFAULT_CONCURRENCY,
            rate: None,
            oversize: Oversize::Truncate,
        }
    }
}

/// Parses `16KiB`, `1MiB`, `2MB`, `512B` or a bare number of bytes.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a size; write e.g. 16KiB, 1MiB or 4096"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1024,
        "MiB" => 1024 * 1024,
        "GiB" => 1024 * 1024 * 1024,
        "KB" | "kB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        other => {
            return Err(format!(
                "'{other}' is not a size unit; use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// Parses `250ms`, `5s`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a duration; write e.g. 500ms, 5s or 2m"))?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => n
            .checked_mul(60)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("'{s}' is too long")),
        "" => Err(format!("'{s}' has no unit; write e.g. {n}s or {n}ms")),
        other => Err(format!("'{other}' is not a duration unit; use ms, s or m")),
    }
}

/// Parses `20/s`, `600/m`, `1000/h`.
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    let s = s.trim();
    let (calls, per) = s
        .split_once('/')
        .ok_or_else(|| format!("'{s}' is not a rate; write e.g. 20/s or 600/m"))?;
    let calls: u32 = calls
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a rate; write e.g. 20/s or 600/m"))?;
    if calls == 0 {
        return Err(format!("'{s}' allows no calls; remove the target instead"));
    }
    let per = match per.trim() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        other => return Err(format!("'{other}' is not a rate period; use s, m or h")),
    };
    Ok(Rate { calls, per })
}

pub(super) fn compile_limits(c: &mut Compiler, raw: &RawLimits, ctx: &str) -> Limits {
    let mut limits = Limits::default();
    let bytes =
        |c: &mut Compiler, field: &Option<Spanned<String>>, key: &str, max: u64, out: &mut u64| {
            if let Some(v) = field {
                let at = c.loc(v);
                match parse_bytes(&v.value) {
                    Ok(0) => c.error(
                        ErrorKind::Limit,
                        &at,
                        ctx,
                        format!("limits.{key} is 0"),
                        "give a positive size",
                    ),
                    Ok(n) if n > max => c.error(
                        ErrorKind::Limit,
                        &at,
                        ctx,
                        format!(
                            "limits.{key} {} is above the ceiling of {}",
                            v.value,
                            format_bytes(max)
                        ),
                        "lower it",
                    ),
                    Ok(n) => *out = n,
                    Err(m) => c.error(ErrorKind::Limit, &at, ctx, format!("limits.{key}: {m}"), ""),
                }
            }
        };
    bytes(
        c,
        &raw.request_bytes,
        "request_bytes",
        MAX_REQUEST_BYTES,
        &mut limits.request_bytes,
    );
    bytes(
        c,
        &raw.response_bytes,
        "response_bytes",
        MAX_RESPONSE_BYTES,
        &mut limits.response_bytes,
    );
    let duration = |c: &mut Compiler,
                    field: &Option<Spanned<String>>,
                    key: &str,
                    out: &mut std::time::Duration| {
        if let Some(v) = field {
            let at = c.loc(v);
            match parse_duration(&v.value) {
                Ok(d) if d > MAX_TIMEOUT || d < MIN_TIMEOUT => c.error(
                    ErrorKind::Limit,
                    &at,
                    ctx,
                    format!(
                        "limits.{key} {} is outside {}ms..{}s",
                        v.value,
                        MIN_TIMEOUT.as_millis(),
                        MAX_TIMEOUT.as_secs()
                    ),
                    "pick a value in that range",
                ),
                Ok(d) => *out = d,
                Err(m) => c.error(ErrorKind::Limit, &at, ctx, format!("limits.{key}: {m}"), ""),
            }
        }
    };
    duration(c, &raw.timeout, "timeout", &mut limits.timeout);
    duration(
        c,
        &raw.connect_timeout,
        "connect_timeout",
        &mut limits.connect_timeout,
    );
    limits.connect_timeout = limits.connect_timeout.min(limits.timeout);
    if let Some(v) = &raw.concurrency {
        let at = c.loc(v);
        if v.value == 0 || v.value > MAX_CONCURRENCY {
            let msg = format!(
                "limits.concurrency {} is outside 1..{}",
                v.value, MAX_CONCURRENCY
            );
            c.error(
                ErrorKind::Limit,
                &at,
                ctx,
                msg,
                "pick a value in that range",
            );
        } else {
            limits.concurrency = v.value;
        }
    }
    if let Some(v) = &raw.rate {
        let at = c.loc(v);
        match parse_rate(&v.value) {
            Ok(r) if r.per_second() > MAX_RATE_PER_SECOND => {
                let msg = format!(
                    "limits.rate {} is above the ceiling of {} per second",
                    v.value, MAX_RATE_PER_SECOND
                );
                c.error(ErrorKind::Limit, &at, ctx, msg, "lower it")
            }
            Ok(r) => limits.rate = Some(r),
            Err(m) => c.error(ErrorKind::Limit, &at, ctx, format!("limits.rate: {m}"), ""),
        }
    }
    if let Some(v) = &raw.oversize {
        let at = c.loc(v);
        match v.value.as_str() {
            "truncate" => limits.oversize = Oversize::Truncate,
            "error" => limits.oversize = Oversize::Error,
            other => c.error(
                ErrorKind::Limit,
                &at,
                ctx,
                format!("limits.oversize '{other}' is not truncate or error"),
                "write truncate or error",
            ),
        }
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("16KiB"), Ok(16 * 1024));
        assert_eq!(parse_bytes("1MiB"), Ok(1024 * 1024));
        assert_eq!(parse_bytes("2MB"), Ok(2_000_000));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("10 KiB"), Ok(10 * 1024));
        assert!(
            parse_bytes("16kib")
                .unwrap_err()
                .contains("not a size unit")
        );
        assert!(parse_bytes("KiB").unwrap_err().contains("not a size"));
        assert!(parse_bytes("99999999999999999999GiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
        assert!(
            parse_duration("5h")
                .unwrap_err()
                .contains("not a duration unit")
        );
    }

    #[test]
    fn rates() {
        assert_eq!(
            parse_rate("20/s"),
            Ok(Rate {
                calls: 20,
                per: Duration::from_secs(1)
            })
        );
        assert!((parse_rate("600/m").unwrap().per_second() - 10.0).abs() < 1e-9);
        assert!(parse_rate("0/s").unwrap_err().contains("allows no calls"));
        assert!(parse_rate("20").unwrap_err().contains("not a rate"));
    }
}
