//! The load generator: each worker holds one keep-alive HTTP/1.1 connection, writes one
//! prepared request on it over and over and reads each answer whole, as wrk does. Its own cost
//! per call is then a write and a read whatever the row: a general HTTP client (reqwest) spends
//! more on a POST with a body than on a GET, and that difference counted against harpoon's
//! latency and not against the direct GET's.

use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest answer read (the memory run's are cut at 1 MiB and wrapped in JSON).
const MAX_ANSWER: usize = 8 * 1024 * 1024;

/// One request the generator sends, ready to write, and how to tell it worked.
#[derive(Clone)]
pub struct Call {
    to: SocketAddr,
    request: Arc<[u8]>,
    /// What a successful answer's body contains, beyond a 200 status.
    expect: Option<&'static [u8]>,
}

/// What the result of a call that reached the upstream and got its 200 carries.
const UPSTREAM_OK: &[u8] = b"\"status\":200";

impl Call {
    /// A GET of `path` at `to`.
    pub fn get(to: SocketAddr, path: &str) -> Call {
        Call {
            to,
            request: format!("GET {path} HTTP/1.1\r\nhost: {to}\r\n\r\n")
                .into_bytes()
                .into(),
            expect: None,
        }
    }

    /// A stateless 2026-07-28 `tools/call` of `tool` with `args`, posted to `path` at `to`.
    /// Every call has id 1: a stateless call has no session whose ids must differ.
    pub fn mcp(to: SocketAddr, path: &str, tool: &str, args: serde_json::Value) -> Call {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}})
        .to_string();
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: {to}\r\ncontent-type: application/json\r\n\
             accept: application/json, text/event-stream\r\nmcp-protocol-version: 2026-07-28\r\n\
             mcp-method: tools/call\r\nmcp-name: {tool}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        Call {
            to,
            request: request.into_bytes().into(),
            expect: Some(UPSTREAM_OK),
        }
    }
}

impl Call {
    /// The same request, taken as worked on any 200 whatever its body: for the floor, which
    /// answers with the upstream's body rather than an MCP result.
    pub fn any_ok_answer(self) -> Call {
        Call {
            expect: None,
            ..self
        }
    }
}

/// A keep-alive connection and the buffer its answers are read into.
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    /// A chunked answer's body, put together.
    body: Vec<u8>,
}

impl Connection {
    async fn open(to: SocketAddr) -> Result<Connection, String> {
        let stream = TcpStream::connect(to)
            .await
            .map_err(|e| format!("connecting to {to}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Connection {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            body: Vec::new(),
        })
    }

    /// Sends `request` and reads its answer: the status, the body, and whether the server
    /// keeps the connection open.
    async fn exchange(&mut self, request: &[u8]) -> Result<(u16, &[u8], bool), String> {
        self.stream
            .write_all(request)
            .await
            .map_err(|e| e.to_string())?;
        self.buf.clear();
        self.body.clear();
        let head_end = loop {
            self.read_some().await?;
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|e| e.to_string())?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no status line")?;
        let header = |wanted: &str| {
            head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case(wanted)
                    .then(|| value.trim().to_ascii_lowercase())
            })
        };
        let keep_alive = header("connection").is_none_or(|v| v != "close");
        let length = header("content-length").and_then(|v| v.parse::<usize>().ok());
        match length {
            Some(length) => {
                if head_end + length > MAX_ANSWER {
                    return Err(format!(
                        "an answer of {length} bytes, over the generator's bound"
                    ));
                }
                while self.buf.len() < head_end + length {
                    self.read_some().await?;
                }
                if self.buf.len() > head_end + length {
                    return Err("bytes after the answer".into());
                }
                Ok((status, &self.buf[head_end..], keep_alive))
            }
            None if header("transfer-encoding").as_deref() == Some("chunked") => {
                self.read_chunks(head_end).await?;
                Ok((status, &self.body, keep_alive))
            }
            None => Err("an answer with neither Content-Length nor chunks".into()),
        }
    }

    /// Reads a chunked body that starts at `at` in the buffer into `self.body`.
    async fn read_chunks(&mut self, mut at: usize) -> Result<(), String> {
        loop {
            let line_end = loop {
                if let Some(n) = self.buf[at..].windows(2).position(|w| w == b"\r\n") {
                    break at + n;
                }
                self.read_some().await?;
            };
            let size_text =
                std::str::from_utf8(&self.buf[at..line_end]).map_err(|e| e.to_string())?;
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|e| format!("a chunk size {size_text:?}: {e}"))?;
            let data = line_end + 2;
            while self.buf.len() < data + size + 2 {
                self.read_some().await?;
            }
            if size == 0 {
                return if self.buf.len() == data + 2 {
                    Ok(())
                } else {
                    Err("trailers or bytes after the answer".into())
                };
            }
            self.body.extend_from_slice(&self.buf[data..data + size]);
            at = data + size + 2;
        }
    }

    async fn read_some(&mut self) -> Result<(), String> {
        if self.buf.len() >= MAX_ANSWER {
            return Err("an answer over the generator's bound".into());
        }
        self.buf.reserve(16 * 1024);
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) => Err("the connection closed".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// One call on `connection` (opened first when there is none; dropped after an error, so the
/// next call starts clean): whether it worked.
pub async fn once(connection: &mut Option<Connection>, call: &Call) -> bool {
    if connection.is_none() {
        *connection = Connection::open(call.to).await.ok();
    }
    let Some(open) = connection.as_mut() else {
        return false;
    };
    match open.exchange(&call.request).await {
        Ok((status, body, keep_alive)) => {
            let worked = status == 200
                && call
                    .expect
                    .is_none_or(|e| body.windows(e.len()).any(|w| w == e));
            if !keep_alive {
                *connection = None;
            }
            worked
        }
        Err(_) => {
            *connection = None;
            false
        }
    }
}

/// Figures of one row.
pub struct Figures {
    pub calls_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub errors: u64,
}

/// The calls of one row, gathered over one or more slices of time.
#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    driven: Duration,
    errors: u64,
}

impl Sample {
    fn figures(mut self) -> Figures {
        self.latencies.sort();
        let all = &self.latencies;
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Figures {
            calls_per_second: all.len() as f64 / self.driven.as_secs_f64().max(1e-9),
            p50: pct(0.50),
            p99: pct(0.99),
            errors: self.errors,
        }
    }
}

/// Calls `call` for a short while on one connection, to fill pools and caches.
async fn warm_up(call: &Call) {
    let mut connection = None;
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        once(&mut connection, call).await;
    }
}

/// `concurrency` workers calling `call` for `slice`, their calls added to `sample`.
async fn drive_slice(sample: &mut Sample, call: &Call, concurrency: usize, slice: Duration) {
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + slice;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (call, errors) = (call.clone(), Arc::clone(&errors));
            tokio::spawn(async move {
                let mut connection = None;
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if !once(&mut connection, &call).await {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    for w in workers {
        sample.latencies.extend(w.await.expect("worker"));
    }
    sample.driven += started.elapsed();
    sample.errors += errors.load(Ordering::Relaxed);
}

/// `concurrency` workers calling `call` for `phase`, after a short warm-up.
pub async fn drive(call: &Call, concurrency: usize, phase: Duration) -> Figures {
    warm_up(call).await;
    let mut sample = Sample::default();
    drive_slice(&mut sample, call, concurrency, phase).await;
    sample.figures()
}

/// Several rows compared in one run: `phase` is cut into slices of about a second and the
/// rows take turns, one slice each, so that a drift of the machine during the run (another
/// process waking, the host's load) falls on every row alike instead of on whichever row ran
/// last. Each row is called for `phase` in all; the figures come back in the order of `calls`.
pub async fn drive_in_turns(calls: &[&Call], concurrency: usize, phase: Duration) -> Vec<Figures> {
    for call in calls {
        warm_up(call).await;
    }
    let slices = phase.as_secs().max(1);
    let slice = phase / slices as u32;
    let mut samples: Vec<Sample> = calls.iter().map(|_| Sample::default()).collect();
    for _ in 0..slices {
        for (sample, call) in samples.iter_mut().zip(calls) {
            drive_slice(sample, call, concurrency, slice).await;
        }
    }
    samples.into_iter().map(Sample::figures).collect()
}
