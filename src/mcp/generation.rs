//! One loaded policy and everything made from it: the engine that runs its calls, the tool
//! catalog clients list, and the access-token checker. A reload makes a new generation and
//! swaps it in whole, so no request ever sees the policy of one generation with the tools or
//! authorization of another; a call holds its generation until it ends.

use crate::auth::Authorizer;
use crate::catalog;
use crate::engine::Engine;
use rmcp::model::{Tool, ToolAnnotations};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub struct Generation {
    engine: Arc<Engine>,
    authorizer: Option<Arc<Authorizer>>,
    tools: Vec<Tool>,
    by_name: HashMap<String, usize>,
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
        Self {
            engine,
            authorizer,
            tools,
            by_name,
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
