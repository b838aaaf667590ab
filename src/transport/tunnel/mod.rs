//! The tunnel client (`harpoon tunnel`): dials out to OpenAI's tunnel service (or any service
//! that speaks its protocol, `harpoon edge` among them), long-polls it for commands, runs each
//! JSON-RPC message through the same MCP handler as `serve` (in process), and posts the answer
//! the protocol asks for: a response, progress as `jsonrpc_notify`, a `notify_ack`, a session
//! termination answer, or "unsupported channel". It only dials out: no inbound port is needed.
//!
//! - Backpressure: it polls only for as many commands as it has free slots.
//! - Once per request_id: a command it has already taken is never run again, whatever the edge
//!   sends; so retrying a reply post (which runs nothing) is always safe.
//! - Faults: backoff with jitter, `Retry-After` honoured up to a cap, commands past their
//!   `response_timeout` dropped, fail-fast with a clear log on 401/403.

use super::poll_protocol::{
    CommandError, MAX_POLL_BODY_BYTES, MAX_POLL_LIMIT, MIN_POLL_TIMEOUT_MS, PollAnswer,
    PolledCommand, parse_command,
};
use crate::service::HarpoonService;
use answer::run_command;

mod answer;
mod check;
mod egress;
mod in_flight;
mod service_client;
mod status;
pub use check::{CheckOutcome, check};
pub use egress::{Egress, EgressError, redact_userinfo};
use serde_json::Value;
pub use service_client::{ServiceClient, ServiceError, ServiceResponse};
pub use status::TunnelStatus;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Shortest and longest pause between failed polls.
pub const BACKOFF_MIN: Duration = Duration::from_millis(200);
pub const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Request ids remembered to refuse a second run: far more than can be in flight.
pub const REMEMBERED_REQUESTS: usize = 8192;
/// Time allowed to set up a connection to the edge.
pub const EDGE_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How a tunnel connects.
#[derive(Debug, Clone)]
pub struct TunnelOptions {
    /// The edge's base URL, e.g. `https://edge.example.com`.
    pub edge: url::Url,
    pub tunnel_id: String,
    pub token: String,
    /// Commands run at once; the tunnel asks for no more than it has room for.
    pub max_in_flight: usize,
    /// How long each poll may wait on the edge.
    pub poll_timeout: Duration,
    /// How long commands in flight get to finish after shutdown is asked for.
    pub drain_timeout: Duration,
    /// Sent as `OpenAI-Organization` on every request, for organization-backed tunnels.
    pub organization: Option<String>,
    /// CA roots, client certificate and proxy for the connection to the service only.
    pub egress: Egress,
}

/// Why a tunnel stopped on its own.
#[derive(Debug)]
pub enum TunnelError {
    /// 401/403: the service refused the key (`code` is the service's error code, when it gave
    /// one of the expected form). Retrying cannot help.
    Refused { status: u16, code: Option<String> },
    /// 404: the service has no such tunnel.
    UnknownTunnel,
    /// 400 on a poll: the service refuses the request itself (a malformed tunnel id).
    BadRequest,
    /// The client to the service could not be set up (TLS files, proxy).
    Egress(EgressError),
}

impl TunnelError {
    /// The fix for a refusal, in the operator's terms.
    pub fn fix(&self) -> &'static str {
        match self {
            TunnelError::Refused { code: Some(c), .. } if c.contains("organization") => {
                "give the tunnel's organization with --organization (organization-backed tunnels need it)"
            }
            TunnelError::Refused { .. } => {
                "set CONTROL_PLANE_API_KEY to a runtime API key of the tunnel's project with Tunnels Read and Use (Platform: API keys, permissions)"
            }
            TunnelError::UnknownTunnel => {
                "copy the tunnel id from the Platform's tunnel settings into --tunnel-id (and check the key's project owns it)"
            }
            TunnelError::BadRequest => {
                "give --tunnel-id as tunnel_ and 32 lowercase letters or digits"
            }
            TunnelError::Egress(_) => "fix the file or proxy named above",
        }
    }

    /// Whether the service refused (as opposed to the setup being unusable).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, TunnelError::Egress(_))
    }
}

impl std::fmt::Display for TunnelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TunnelError::Refused { status, code } => {
                write!(f, "the service refused the key (HTTP {status}")?;
                if let Some(c) = code {
                    write!(f, ", {c}")?;
                }
                write!(
                    f,
                    "): the key is wrong or lacks Tunnels Use on this tunnel; {}",
                    self.fix()
                )
            }
            TunnelError::UnknownTunnel => write!(
                f,
                "the service knows no such tunnel id (HTTP 404); {}",
                self.fix()
            ),
            TunnelError::BadRequest => write!(
                f,
                "the service refused the poll as malformed (HTTP 400); {}",
                self.fix()
            ),
            TunnelError::Egress(e) => write!(f, "the tunnel could not start: {e}"),
        }
    }
}

impl std::error::Error for TunnelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TunnelError::Egress(e) => Some(e),
            _ => None,
        }
    }
}

/// The service's error code from an error body (`{"error": {"code": ...}}`), read up to 64 KiB
/// and kept only when it is a plain code (`[a-z0-9_]`, at most 64): nothing else of the body
/// reaches a log.
async fn error_code(resp: ServiceResponse) -> Option<String> {
    let body = resp.body(64 * 1024).await.ok()?;
    let v: Value = serde_json::from_slice(&body).ok()?;
    let code = v
        .pointer("/error/code")
        .or_else(|| v.get("code"))?
        .as_str()?;
    ((1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
    .then(|| code.to_owned())
}

/// The refusal a poll answered 400, 401, 403 or 404 stands for.
async fn refusal(resp: ServiceResponse) -> TunnelError {
    match resp.status() {
        s @ (401 | 403) => TunnelError::Refused {
            status: s,
            code: error_code(resp).await,
        },
        404 => TunnelError::UnknownTunnel,
        _ => TunnelError::BadRequest,
    }
}

/// Request ids already taken, oldest first: the guard against running a request twice.
#[derive(Default)]
struct Taken {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Taken {
    /// True the first time an id is seen.
    fn first_time(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        self.set.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        while self.order.len() > REMEMBERED_REQUESTS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// Exponential backoff with full jitter.
struct Backoff {
    attempt: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let ceiling = BACKOFF_MIN
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(BACKOFF_MAX);
        self.attempt += 1;
        let span = ceiling.saturating_sub(BACKOFF_MIN).as_millis() as u64;
        BACKOFF_MIN + Duration::from_millis(if span == 0 { 0 } else { jitter() % span })
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }
}

fn jitter() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// `Retry-After` in either form, capped (`poll_protocol::retry_after`).
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    super::poll_protocol::retry_after(value, std::time::SystemTime::now())
}

/// What the service is told about this process: `X-Tunnel-MCP-Server-Info` v1. harpoon's
/// handler is in process and stateless, so `main` has no `proc_affinity`, and harpoon never
/// declares tunnel-client's own `harpoon` channel.
const SERVER_INFO: &str = r#"{"version":1,"channels":[{"name":"main"}]}"#;

/// 32 lowercase hex characters, fixed for the process: lets the service tell replicas apart.
fn instance_id() -> String {
    format!(
        "{:016x}{:016x}",
        jitter(),
        jitter().rotate_left(17) ^ u64::from(std::process::id())
    )
}

/// `{edge}/v1/tunnels/{tunnel_id}/{leaf}`, whatever path the edge URL has.
fn service_url(options: &TunnelOptions, leaf: &str) -> url::Url {
    let mut url = options.edge.clone();
    let path = format!(
        "{}/v1/tunnels/{}/{leaf}",
        url.path().trim_end_matches('/'),
        options.tunnel_id
    );
    url.set_path(&path);
    url.set_query(None);
    url
}

/// A service URL as the HTTP client takes it.
fn service_uri(url: &url::Url) -> Result<http::Uri, TunnelError> {
    url.as_str()
        .parse()
        .map_err(|e| TunnelError::Egress(EgressError::Service(url.clone(), format!("{e}"))))
}

struct Shared {
    service: HarpoonService,
    client: ServiceClient,
    /// Where replies go, made once: not parsed again for every reply.
    response_url: http::Uri,
    options: TunnelOptions,
    status: Arc<TunnelStatus>,
    taken: Mutex<Taken>,
    slots: Arc<Semaphore>,
    /// Calls in flight, so `notifications/cancelled` reaches the one it names.
    running: in_flight::InFlight,
}

/// The client for the service, with every request's fixed headers, the key among them (made
/// once, marked sensitive so it is never logged).
fn service_client(options: &TunnelOptions) -> Result<ServiceClient, TunnelError> {
    let mut headers = http::HeaderMap::new();
    let fixed = [
        ("accept", "application/json".to_owned()),
        (
            "user-agent",
            concat!("harpoon-tunnel/", env!("CARGO_PKG_VERSION")).to_owned(),
        ),
        ("x-tunnel-client-name", "harpoon-tunnel".to_owned()),
        (
            "x-tunnel-client-version",
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
        ("x-tunnel-client-instance-id", instance_id()),
        ("x-tunnel-mcp-server-info", SERVER_INFO.to_owned()),
    ];
    let organization = options
        .organization
        .as_ref()
        .map(|o| ("openai-organization", o.clone()));
    for (name, value) in fixed.into_iter().chain(organization) {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    // A key no header can carry is sent without: the service answers 401, and the tunnel
    // stops saying so (`harpoon tunnel` lets only `[0-9A-Za-z_-]` keys through in any case).
    if let Ok(mut v) = http::HeaderValue::from_str(&format!("Bearer {}", options.token)) {
        v.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, v);
    }
    egress::client(&options.egress, headers, EDGE_CONNECT_TIMEOUT).map_err(TunnelError::Egress)
}

/// Runs the tunnel until `shutdown` is cancelled (then lets commands in flight finish, up to
/// the drain timeout) or the edge refuses it for good.
pub async fn run(
    service: HarpoonService,
    options: TunnelOptions,
    status: Arc<TunnelStatus>,
    shutdown: CancellationToken,
) -> Result<(), TunnelError> {
    let client = service_client(&options)?;
    let response_url = service_uri(&service_url(&options, "response"))?;
    let shared = Arc::new(Shared {
        service,
        client,
        response_url,
        slots: Arc::new(Semaphore::new(options.max_in_flight.max(1))),
        options,
        status,
        taken: Mutex::default(),
        running: in_flight::InFlight::default(),
    });
    // The loop runs as a task of its own, on the runtime's workers with the commands it
    // starts, rather than on the thread that called `run` (`block_on`'s, outside the workers):
    // there, each poll answer cost a wake-up of that third thread and a hop back.
    let polling = {
        let (shared, shutdown) = (Arc::clone(&shared), shutdown.clone());
        tokio::spawn(async move { poll_loop(&shared, &shutdown).await })
    };
    let result = match polling.await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime shutting down cancels the task: there is nothing left to poll for.
        Err(_) => Ok(()),
    };
    shared.status.ready.store(false, Ordering::SeqCst);
    let all = u32::try_from(shared.options.max_in_flight.max(1)).unwrap_or(u32::MAX);
    let drained =
        tokio::time::timeout(shared.options.drain_timeout, shared.slots.acquire_many(all)).await;
    if drained.is_err() {
        tracing::warn!("drain timeout reached with commands still in flight");
    }
    result
}

async fn poll_loop(shared: &Arc<Shared>, shutdown: &CancellationToken) -> Result<(), TunnelError> {
    let o = &shared.options;
    let mut poll_url = service_url(o, "poll");
    let mut backoff = Backoff { attempt: 0 };
    // The first poll after (re)connecting returns at once, so readiness shows without waiting
    // out a long-poll.
    let mut quick = true;
    loop {
        // Backpressure: wait for room before asking for work.
        let room = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            permit = Arc::clone(&shared.slots).acquire_owned() => match permit { Ok(p) => p, Err(_) => return Ok(()) },
        };
        let limit = (shared.slots.available_permits() + 1).min(MAX_POLL_LIMIT);
        drop(room);
        let wait_ms = if quick {
            MIN_POLL_TIMEOUT_MS
        } else {
            (o.poll_timeout.as_millis() as u64).max(MIN_POLL_TIMEOUT_MS)
        };
        poll_url.set_query(Some(&format!("limit={limit}&timeout_ms={wait_ms}")));
        let uri = service_uri(&poll_url)?;
        let request = shared
            .client
            .get(uri, o.poll_timeout + Duration::from_secs(10));
        let sent = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            r = request => r,
        };
        // Deadlines are anchored here, when the answer's headers arrive, before the body.
        let received = Instant::now();
        let pause = match sent {
            Err(e) => {
                tracing::warn!(error = %e, "poll failed; backing off");
                Some(backoff.next())
            }
            Ok(resp) => match resp.status() {
                200 => match read_poll(resp).await {
                    Ok(commands) => {
                        backoff.reset();
                        mark_ok(shared);
                        quick = false;
                        for c in commands {
                            match c {
                                Ok(c) => dispatch(shared, c, received),
                                Err(e) => {
                                    shared.status.skipped.fetch_add(1, Ordering::Relaxed);
                                    tracing::warn!(error = %e, "skipped a command; the others run");
                                }
                            }
                        }
                        None
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "unreadable poll answer; backing off");
                        Some(backoff.next())
                    }
                },
                204 => {
                    backoff.reset();
                    mark_ok(shared);
                    quick = false;
                    None
                }
                400 | 401 | 403 | 404 => {
                    let stop = refusal(resp).await;
                    tracing::error!(tunnel = %o.tunnel_id, "stopping: {stop}");
                    return Err(stop);
                }
                s => {
                    let wait = retry_after(resp.headers())
                        .unwrap_or_default()
                        .max(backoff.next());
                    tracing::warn!(
                        status = s,
                        wait_ms = wait.as_millis() as u64,
                        "edge unavailable; backing off"
                    );
                    Some(wait)
                }
            },
        };
        if let Some(wait) = pause {
            quick = true;
            shared.status.ready.store(false, Ordering::SeqCst);
            shared.status.polls_failed.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

fn mark_ok(shared: &Shared) {
    shared.status.ready.store(true, Ordering::SeqCst);
    shared.status.polls_ok.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    shared.status.last_poll_ok.store(now, Ordering::Relaxed);
}

/// Reads a poll answer without ever holding more than the cap, and each of its commands.
async fn read_poll(
    resp: ServiceResponse,
) -> Result<Vec<Result<PolledCommand, CommandError>>, String> {
    let body = resp
        .body(MAX_POLL_BODY_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    let parsed: PollAnswer = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok(parsed.commands.into_iter().map(parse_command).collect())
}

/// Starts a command unless it expired or was taken before.
fn dispatch(shared: &Arc<Shared>, command: PolledCommand, received: Instant) {
    let deadline = command.response_timeout.map(|t| received + t);
    if deadline.is_some_and(|d| d <= Instant::now()) {
        shared.status.expired.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(request_id = %command.request_id, "dropped an expired command");
        return;
    }
    let first = shared
        .taken
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .first_time(&command.request_id);
    if !first {
        shared.status.duplicates.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(request_id = %command.request_id, "received a command again; it is not run twice");
        return;
    }
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let Ok(_slot) = Arc::clone(&shared.slots).acquire_owned().await else {
            return;
        };
        shared.status.commands.fetch_add(1, Ordering::Relaxed);
        // Boxed: the call's future (the engine's, the upstream's and the reply post's state)
        // is large, and a task that held it inline copied it whole when it was spawned and
        // again when it finished.
        let run = Box::pin(run_command(&shared, &command, deadline));
        match deadline {
            Some(d) => {
                if tokio::time::timeout_at(d, run).await.is_err() {
                    // Past its deadline nothing is posted: the service has given up on it.
                    shared.status.expired.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => run.await,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_taken_once() {
        let mut t = Taken::default();
        assert!(t.first_time("a"));
        assert!(!t.first_time("a"));
        for i in 0..REMEMBERED_REQUESTS {
            t.first_time(&i.to_string());
        }
        assert_eq!(t.set.len(), REMEMBERED_REQUESTS);
    }

    #[test]
    fn backoff_grows_within_its_bounds() {
        let mut b = Backoff { attempt: 0 };
        for _ in 0..50 {
            let d = b.next();
            assert!(d >= BACKOFF_MIN && d <= BACKOFF_MAX, "{d:?}");
        }
        b.reset();
        assert!(b.next() <= BACKOFF_MIN * 2);
    }
}
