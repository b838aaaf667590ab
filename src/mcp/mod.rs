//! The MCP server handler (rmcp): tools only. `tools/list` shows the catalog, `tools/call` runs
//! the engine; prompts, resources and completions answer method-not-found. It serves both
//! protocol eras (2025-11-25 `initialize`, 2026-07-28 stateless) on every transport, and the
//! same handler runs over HTTP, stdio and the tunnel.

pub mod direct_call;
pub mod generation;
pub mod inprocess;
mod multipart;
pub mod result;
pub mod streamed_reply;

use crate::catalog;
use crate::engine::{Engine, Outcome};
use crate::policy::Caller;
use crate::progress::{NoProgress, Progress, Stage};
use generation::{Current, Generation, to_rmcp_tool};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestMethod,
    CompleteRequestParams, CompleteResult, Implementation, InitializeRequestParams,
    InitializeResult, JsonObject, ListPromptsRequestMethod, ListPromptsResult,
    ListResourceTemplatesRequestMethod, ListResourceTemplatesResult, ListResourcesRequestMethod,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{NotificationContext, Peer, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// What the server tells clients about itself.
pub const INSTRUCTIONS: &str = "harpoon exposes allowlisted REST APIs as tools. Each route tool \
calls one method on one path; call_target reaches free-form paths a target allows (see \
list_targets). Anything the allowlist does not grant is refused with a reason code and a \
message saying what is allowed.";

/// The result of a call that arrives while the server drains for shutdown.
pub(crate) fn shutting_down() -> CallToolResult {
    result::error_text(
        "shutting_down",
        "this harpoon instance is shutting down; retry the call",
    )
}

/// Counts calls in flight and refuses new ones while the server drains for shutdown.
#[derive(Default)]
pub struct CallTracker {
    in_flight: AtomicUsize,
    draining: AtomicBool,
    idle: Notify,
}

impl CallTracker {
    /// Stop taking new calls; calls in flight go on.
    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.idle.notify_waiters();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until no call is in flight.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }

    fn enter(self: &Arc<Self>) -> Option<InFlight> {
        if self.is_draining() {
            return None;
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Some(InFlight(Arc::clone(self)))
    }
}

struct InFlight(Arc<CallTracker>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

struct Inner {
    current: Current,
    tracker: Arc<CallTracker>,
    /// Peers of the sessions opened with `initialize` (2025-11-25 clients), told when the tool
    /// list changes. Closed ones are dropped whenever one is added or told.
    sessions: Mutex<Vec<Peer<RoleServer>>>,
}

/// The handler: cheap to clone (rmcp builds one per session or stateless request).
#[derive(Clone)]
pub struct McpHandler {
    inner: Arc<Inner>,
    /// Who calls when the transport named no caller: `Anonymous` (may use nothing once
    /// authorization is configured), or `Local` for stdio, whose caller started the process.
    default_caller: Caller,
}

impl McpHandler {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self::with_tracker(Generation::new(engine, None), Arc::default())
    }

    pub fn with_tracker(first: Generation, tracker: Arc<CallTracker>) -> Self {
        Self {
            inner: Arc::new(Inner {
                current: Current::new(first),
                tracker,
                sessions: Mutex::default(),
            }),
            default_caller: Caller::Anonymous,
        }
    }

    /// The generation new requests use.
    pub fn current(&self) -> Arc<Generation> {
        self.inner.current.get()
    }

    /// Serves `next` from now on: requests that start afterwards use it, calls in flight end on
    /// the generation they started with. Every open session is told the tool list changed;
    /// returns how many were told.
    pub async fn replace(&self, next: Generation) -> usize {
        self.inner.current.replace(next);
        let peers: Vec<Peer<RoleServer>> = {
            let mut sessions = self.sessions();
            sessions.retain(|p| !p.is_transport_closed());
            sessions.clone()
        };
        let mut told = 0;
        for peer in peers {
            if peer.notify_tool_list_changed().await.is_ok() {
                told += 1;
            }
        }
        told
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Vec<Peer<RoleServer>>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The same handler for a local transport (stdio): its caller is the program that started
    /// harpoon and is trusted with everything the allowlists grant, token or not.
    pub fn local(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            default_caller: Caller::Local,
        }
    }

    /// The caller of a request: the one its transport attached (HTTP: to the request's
    /// parts; in process: to the message), else this handler's default.
    fn caller(&self, context: &RequestContext<RoleServer>) -> Caller {
        if let Some(c) = context.extensions.get::<Caller>() {
            return c.clone();
        }
        context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<Caller>())
            .cloned()
            .unwrap_or_else(|| self.default_caller.clone())
    }

    /// Runs one `tools/call` on `engine` (the generation's the call was judged against) with no
    /// progress reports, for `caller` (the one the transport established; `None` is this
    /// handler's default caller), and returns its outcome; `None` while the server drains for
    /// shutdown. The stateless HTTP and tunnel paths that answer `tools/call` without rmcp's
    /// per-request service come here (`mcp::direct_call`); rmcp's `call_tool` does the same
    /// steps with progress.
    pub async fn call_directly(
        &self,
        engine: &Engine,
        caller: Option<Caller>,
        name: &str,
        arguments: Option<&JsonObject>,
        cancel: &CancellationToken,
    ) -> Option<Outcome> {
        let _in_flight = self.inner.tracker.enter()?;
        let caller = caller.unwrap_or_else(|| self.default_caller.clone());
        let outcome = engine
            .call_as(&caller, name, arguments, cancel, &NoProgress)
            .await;
        Some(outcome)
    }

    /// The engine call and its MCP result, on the generation in service when the call starts.
    async fn run_call(
        &self,
        caller: &Caller,
        name: &str,
        arguments: Option<&JsonObject>,
        cancel: &CancellationToken,
        progress: &dyn Progress,
    ) -> Result<CallToolResult, ErrorData> {
        let generation = self.current();
        let outcome = generation
            .engine()
            .call_as(caller, name, arguments, cancel, progress)
            .await;
        result::to_result(name, outcome)
    }

    /// The engine of the current generation.
    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(self.current().engine())
    }

    pub fn tracker(&self) -> &Arc<CallTracker> {
        &self.inner.tracker
    }
}

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("harpoon", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    /// A 2025-11-25 session is told when a reload changes the tools (`tools.listChanged`).
    /// 2026-07-28 requests are stateless and harpoon offers no subscriptions, so
    /// `server/discover` (which uses `get_info` as it is) does not claim it.
    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        let mut result = self.negotiate_initialize(&request)?;
        if let Some(tools) = result.capabilities.tools.as_mut() {
            tools.list_changed = Some(true);
        }
        Ok(result)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let generation = self.current();
        let policy = generation.engine().policy();
        let caller = self.caller(&context);
        if policy.authorization().is_none() || matches!(caller, Caller::Local) {
            return Ok(ListToolsResult::with_all_items(generation.tools().to_vec()));
        }
        let tools = catalog::build_for(policy, &caller)
            .into_iter()
            .map(to_rmcp_tool)
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.current().tool(name).cloned()
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let mut sessions = self.sessions();
        sessions.retain(|p| !p.is_transport_closed());
        sessions.push(context.peer);
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(_in_flight) = self.inner.tracker.enter() else {
            return Ok(shutting_down().into());
        };
        let forwarder = context
            .meta
            .get_progress_token()
            .map(|token| ProgressForwarder::start(context.peer.clone(), token));
        let progress: &dyn Progress = match &forwarder {
            Some(f) => f,
            None => &NoProgress,
        };
        let caller = self.caller(&context);
        let result = self
            .run_call(
                &caller,
                &request.name,
                request.arguments.as_ref(),
                &context.ct,
                progress,
            )
            .await;
        if let Some(f) = forwarder {
            f.finish().await;
        }
        result.map(Into::into)
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Err(ErrorData::method_not_found::<ListPromptsRequestMethod>())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Err(ErrorData::method_not_found::<ListResourcesRequestMethod>())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Err(ErrorData::method_not_found::<
            ListResourceTemplatesRequestMethod,
        >())
    }

    async fn complete(
        &self,
        _request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        Err(ErrorData::method_not_found::<CompleteRequestMethod>())
    }
}

/// Sends a call's stages to the client as progress notifications, in order, from one task:
/// 0 received, 1 permitted, 2 response headers, 3 body read.
struct ProgressForwarder {
    tx: mpsc::UnboundedSender<(f64, String)>,
    task: tokio::task::JoinHandle<()>,
}

/// The number of stages a call reports (total of the progress notifications).
const STAGES: f64 = 3.0;

impl ProgressForwarder {
    fn start(peer: Peer<RoleServer>, token: rmcp::model::ProgressToken) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<(f64, String)>();
        let _ = tx.send((0.0, "call received".into()));
        let task = tokio::spawn(async move {
            while let Some((progress, message)) = rx.recv().await {
                let param = ProgressNotificationParam::new(token.clone(), progress)
                    .with_total(STAGES)
                    .with_message(message);
                if peer.notify_progress(param).await.is_err() {
                    return;
                }
            }
        });
        Self { tx, task }
    }

    /// Waits until every notification is sent, so they all precede the result.
    async fn finish(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}

impl Progress for ProgressForwarder {
    fn report(&self, stage: Stage) {
        let note = match stage {
            Stage::Permitted => (1.0, "permitted; calling the upstream".to_owned()),
            Stage::Headers { status } => (2.0, format!("upstream answered {status}")),
            Stage::Body { bytes } => (3.0, format!("read {bytes} bytes")),
        };
        let _ = self.tx.send(note);
    }
}
