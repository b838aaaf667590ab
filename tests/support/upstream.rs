//! A programmable HTTP/1.1 upstream on 127.0.0.1 for tests: it records every connection and
//! request it sees and answers each request with what the test's handler says, including
//! misbehaviour (endless bodies, stalls, resets, huge headers). It runs as a task of the test's
//! runtime, so it stops when the test ends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest request head the upstream reads.
const MAX_HEAD: usize = 64 * 1024;

/// A request as it reached the upstream.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub method: String,
    /// The request target exactly as sent (path and query).
    pub target: String,
    /// Lowercase names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the upstream does with a request.
pub enum Reply {
    /// A complete response.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Headers, then body bytes forever (until the client goes away or 30 s pass).
    StreamForever,
    /// Headers announcing a body, then nothing (for 30 s).
    StallAfterHeaders,
    /// Nothing at all (for 30 s): the client waits for the first byte.
    StallBeforeHeaders,
    /// Close the connection at once, without a response.
    Reset,
    /// Headers, half a body, then close.
    ResetMidBody,
    /// A response with this many extra header lines.
    HugeHeaders(usize),
    /// A complete 200 response, sent after a delay.
    Slow(Duration, String),
    /// Nothing, until the client closes the connection (or 30 s pass); the close is counted
    /// and announced (`Upstream::closed`).
    StallUntilClosed,
}

impl Reply {
    pub fn ok(body: &str) -> Self {
        Reply::Respond {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Reply::Respond {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn redirect(status: u16, location: &str) -> Self {
        Reply::Respond {
            status,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
        }
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A running upstream.
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    events: Arc<Events>,
}

/// What tests wait on instead of sleeping: a request arrived; a stalled connection was closed
/// by its client.
#[derive(Default)]
struct Events {
    requested: tokio::sync::Notify,
    closed: tokio::sync::Notify,
    closes: AtomicUsize,
}

impl Upstream {
    /// Starts an upstream on 127.0.0.1 that answers with `handler`.
    pub async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let up = Upstream {
            addr,
            connections: Arc::default(),
            seen: Arc::default(),
            events: Arc::default(),
        };
        let handler: Handler = Arc::new(handler);
        let (connections, seen) = (Arc::clone(&up.connections), Arc::clone(&up.seen));
        let events = Arc::clone(&up.events);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(
                    stream,
                    Arc::clone(&handler),
                    Arc::clone(&seen),
                    Arc::clone(&events),
                ));
            }
        });
        up
    }

    /// An upstream that answers 200 "canary" and exists to prove nothing reached it.
    pub async fn canary() -> Self {
        Self::start(|_| Reply::ok("canary")).await
    }

    /// An upstream that answers every request with a JSON echo of what it saw.
    pub async fn echo() -> Self {
        Self::start(|s| {
            Reply::json(200, serde_json::json!({
                "method": s.method, "target": s.target,
                "headers": s.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect::<Vec<_>>(),
                "body": String::from_utf8_lossy(&s.body),
            }))
        })
        .await
    }

    /// Waits until a request has arrived (each arrival lets one wait through).
    pub async fn request_arrived(&self) {
        self.events.requested.notified().await;
    }

    /// Waits until a client has closed a `StallUntilClosed` connection.
    pub async fn connection_closed(&self) {
        self.events.closed.notified().await;
    }

    /// How many `StallUntilClosed` connections their clients closed.
    pub fn closes(&self) -> usize {
        self.events.closes.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Connections plus requests: zero proves nothing reached this upstream.
    pub fn hits(&self) -> usize {
        self.connections() + self.requests().len()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }
}

/// How long a stalling reply holds its connection: past any timeout a test sets.
const HOLD: Duration = Duration::from_secs(30);

async fn serve(
    mut stream: TcpStream,
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
    events: Arc<Events>,
) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    seen.lock().expect("lock").push(request.clone());
    events.requested.notify_one();
    let reply = handler(&request);
    if matches!(reply, Reply::StallUntilClosed) {
        let mut byte = [0u8; 1];
        // A read of 0 bytes (or an error) is the client going away.
        if let Ok(Ok(_)) = tokio::time::timeout(HOLD, stream.read(&mut byte)).await {
            events.closes.fetch_add(1, Ordering::SeqCst);
            events.closed.notify_one();
        }
        return;
    }
    let _ = write_reply(&mut stream, reply).await;
}

async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length.min(16 * 1024 * 1024) {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        method,
        target,
        headers,
        body,
    })
}

async fn write_reply(stream: &mut TcpStream, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Respond {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (n, v) in headers {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await
        }
        Reply::StreamForever => {
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\n\r\n").await?;
            let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, "x".repeat(16 * 1024));
            let until = tokio::time::Instant::now() + HOLD;
            while tokio::time::Instant::now() < until {
                stream.write_all(chunk.as_bytes()).await?;
            }
            Ok(())
        }
        Reply::StallAfterHeaders => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial")
                .await?;
            tokio::time::sleep(HOLD).await;
            Ok(())
        }
        Reply::StallBeforeHeaders => {
            tokio::time::sleep(HOLD).await;
            Ok(())
        }
        Reply::Reset | Reply::StallUntilClosed => Ok(()),
        Reply::ResetMidBody => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\nonly-this-much")
                .await?;
            stream.shutdown().await
        }
        Reply::Slow(delay, body) => {
            tokio::time::sleep(delay).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await
        }
        Reply::HugeHeaders(n) => {
            let mut head = String::from("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n");
            for i in 0..n {
                head.push_str(&format!("x-filler-{i}: {}\r\n", "v".repeat(64)));
            }
            head.push_str("\r\nok");
            stream.write_all(head.as_bytes()).await
        }
    }
}
