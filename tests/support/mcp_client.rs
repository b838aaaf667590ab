//! A small MCP client for tests, written from the spec (not from harpoon's code): Streamable
//! HTTP in both eras (a 2025-11-25 session, and 2026-07-28 stateless requests with per-request
//! `_meta`), replies as JSON or SSE. The official Python SDK is run against harpoon by
//! tests/python/run.sh; this one lets `cargo test` look at the wire.

use serde_json::{Value, json};

pub const LEGACY: &str = "2025-11-25";
pub const MODERN: &str = "2026-07-28";

/// One HTTP exchange: status, headers of interest, and the JSON-RPC messages in the body.
#[derive(Debug)]
pub struct Exchange {
    pub status: u16,
    pub session: Option<String>,
    pub messages: Vec<Value>,
}

impl Exchange {
    /// The message answering request `id` (a result or an error).
    pub fn reply(&self, id: u64) -> &Value {
        self.messages
            .iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("no reply to {id} in {:?}", self.messages))
    }

    pub fn notifications(&self, method: &str) -> Vec<&Value> {
        self.messages
            .iter()
            .filter(|m| m["method"] == method)
            .collect()
    }
}

pub struct McpHttp {
    pub url: String,
    client: reqwest::Client,
    /// Extra headers (Authorization, Host, Origin) sent on every request.
    pub headers: Vec<(String, String)>,
    session: Option<String>,
    next_id: u64,
}

impl McpHttp {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            client: super::http(),
            headers: Vec::new(),
            session: None,
            next_id: 1,
        }
    }

    /// The session id of a legacy session.
    pub fn session(&self) -> Option<String> {
        self.session.clone()
    }

    /// A second client in the same legacy session (its own connection).
    pub fn join(url: &str, session: Option<String>) -> Self {
        let mut c = Self::new(url);
        c.session = session;
        c
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends a raw body with the given extra headers; parses JSON or SSE replies.
    pub async fn post_raw(&self, body: String, extra: &[(&str, &str)]) -> Exchange {
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some(s) = &self.session {
            req = req.header("mcp-session-id", s.as_str());
        }
        let resp = req.send().await.expect("http request");
        let status = resp.status().as_u16();
        let session = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let is_sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        let text = resp.text().await.unwrap_or_default();
        let messages = if is_sse {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                .collect()
        } else {
            serde_json::from_str::<Value>(&text)
                .map(|v| vec![v])
                .unwrap_or_default()
        };
        Exchange {
            status,
            session,
            messages,
        }
    }

    /// 2025-11-25: `initialize` then `notifications/initialized`; keeps the session id.
    pub async fn initialize_legacy(&mut self) -> Value {
        let id = self.id();
        let init = json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
            "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "harpoon-tests", "version": "1"}}});
        let ex = self.post_raw(init.to_string(), &[]).await;
        assert_eq!(ex.status, 200, "{ex:?}");
        self.session = ex.session.clone();
        let reply = ex.reply(id).clone();
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let ack = self
            .post_raw(note.to_string(), &[("mcp-protocol-version", LEGACY)])
            .await;
        assert_eq!(ack.status, 202);
        reply
    }

    /// A legacy request inside the session.
    pub async fn legacy(&mut self, method: &str, params: Value) -> (u64, Exchange) {
        let id = self.id();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        (
            id,
            self.post_raw(body.to_string(), &[("mcp-protocol-version", LEGACY)])
                .await,
        )
    }

    /// A 2026-07-28 stateless request: `_meta` in the params and the matching headers.
    pub async fn modern(&mut self, method: &str, mut params: Value) -> (u64, Exchange) {
        let id = self.id();
        let meta = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "harpoon-tests", "version": "1"},
        });
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match params.get_mut("_meta") {
            Some(Value::Object(m)) => m.extend(meta.as_object().cloned().unwrap_or_default()),
            _ => params["_meta"] = meta,
        }
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
        if let Some(n) = &name {
            headers.push(("mcp-name", n.as_str()));
        }
        (id, self.post_raw(body.to_string(), &headers).await)
    }

    /// `tools/call` in either era; returns the JSON-RPC reply message.
    pub async fn call(&mut self, era: &str, tool: &str, args: Value) -> Value {
        let params = json!({"name": tool, "arguments": args});
        let (id, ex) = if era == LEGACY {
            self.legacy("tools/call", params).await
        } else {
            self.modern("tools/call", params).await
        };
        ex.reply(id).clone()
    }
}
