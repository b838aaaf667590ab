//! One loaded policy and everything made from it: the engine that runs its calls, the tool
//! catalog clients list, and the access-token checker. A reload makes a new generation and
//! swaps it in whole, so no request ever sees the policy of one generation with the tools or
//! authorization of another; a call holds its generation until it ends.

use crate::auth::Authorizer;
use crate::catalog;
use crate::engine::Engine;
use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub struct Generation {
    engine: Arc<Engine>,
    authorizer: Option<Arc<Authorizer>>,
    tools: Vec<Tool>,
    by_name: HashMap<String, usize>,
    /// Per tool: whether its schema binds no argument to a request header (SEP-2243
    /// `x-mcp-header`), so a stateless call to it may skip rmcp's header checks
    /// (`mcp::direct_call`).
    headerless: Vec<bool>,
}

impl Generation {
    pub fn new(engine: Arc<Engine>, authorizer: Option<Arc<Authorizer>>) -> Self {
        let tools: Vec<Tool> = catalog::build(engine.policy())
            .into_iter()
            .map(to_rmcp_tool)
            .collect();
        let by_name = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.to_string(), i))
            .collect();
        let headerless = tools
            .iter()
            .map(|t| !object_binds_headers(&t.input_schema))
            .collect();
        Self {
            engine,
            authorizer,
            tools,
            by_name,
            headerless,
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn authorizer(&self) -> Option<&Arc<Authorizer>> {
        self.authorizer.as_ref()
    }

    /// Every tool, for a caller the policy does not narrow.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.by_name.get(name).map(|&i| &self.tools[i])
    }

    /// Whether a stateless `tools/call` of `name` may be answered without rmcp's per-request
    /// service: the tool exists and its schema binds no argument to a header.
    pub fn answers_directly(&self, name: &str) -> bool {
        self.by_name.get(name).is_some_and(|&i| self.headerless[i])
    }
}

/// Whether `schema` has an `x-mcp-header` key anywhere. harpoon's catalog writes none, but a
/// schema is data from the allowlist and an OpenAPI import, so this looks rather than assumes.
fn object_binds_headers(schema: &Map<String, Value>) -> bool {
    schema.contains_key("x-mcp-header") || schema.values().any(binds_headers)
}

fn binds_headers(value: &Value) -> bool {
    match value {
        Value::Object(m) => object_binds_headers(m),
        Value::Array(a) => a.iter().any(binds_headers),
        _ => false,
    }
}

/// The generation in service. Readers take the current one (an `Arc` clone under a lock held
/// for no more than that); a reload replaces it for every request that starts afterwards.
pub struct Current(RwLock<Arc<Generation>>);

impl Current {
    pub fn new(first: Generation) -> Self {
        Self(RwLock::new(Arc::new(first)))
    }

    pub fn get(&self) -> Arc<Generation> {
        Arc::clone(&self.0.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts `next` in service and returns the one it replaced.
    pub fn replace(&self, next: Generation) -> Arc<Generation> {
        let mut slot = self.0.write().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *slot, Arc::new(next))
    }
}

pub fn to_rmcp_tool(t: catalog::ToolDef) -> Tool {
    let a = t.annotations;
    Tool::new(t.name, t.description, Arc::new(t.input_schema))
        .with_raw_output_schema(Arc::new(t.output_schema))
        .with_annotations(
            ToolAnnotations::new()
                .read_only(a.read_only)
                .destructive(a.destructive)
                .idempotent(a.idempotent)
                .open_world(a.open_world),
        )
}
