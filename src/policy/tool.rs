//! Which tools a policy has: the one place a tool name is resolved. Parsing, `decide`, the
//! engine, `harpoon explain` and the catalog all ask `Policy::tool`, so they cannot disagree on
//! whether a tool exists.

use super::model::{Policy, Route, Target};

/// `list_targets`: what `call_target` can reach (tunnel-client Harpoon's name).
pub const LIST_TARGETS: &str = "list_targets";
/// `call_target`: free-form access to a target's `paths` (tunnel-client Harpoon's name).
pub const CALL_TARGET: &str = "call_target";
/// harpoon's own tools, which no route may take as its name.
pub const BUILTIN_TOOLS: [&str; 2] = [LIST_TARGETS, CALL_TARGET];

/// What a tool name stands for in a policy.
#[derive(Debug, Clone, Copy)]
pub enum ToolKind<'p> {
    /// `list_targets`: answered from the policy, no upstream request.
    ListTargets,
    /// A tool that sends an upstream request.
    Upstream(UpstreamTool<'p>),
}

/// A tool that sends an upstream request once `decide` allows it.
#[derive(Debug, Clone, Copy)]
pub enum UpstreamTool<'p> {
    /// `call_target`, over the targets that declare `paths`.
    CallTarget,
    /// One route of one target.
    Route {
        target: &'p Target,
        route: &'p Route,
    },
}

impl Policy {
    /// The tool called `name`, if this policy has it. `list_targets` and `call_target` exist
    /// only when some target declares `paths`, exactly as `tools/list` shows them.
    pub fn tool(&self, name: &str) -> Option<ToolKind<'_>> {
        match name {
            LIST_TARGETS if self.has_free_paths() => Some(ToolKind::ListTargets),
            CALL_TARGET if self.has_free_paths() => {
                Some(ToolKind::Upstream(UpstreamTool::CallTarget))
            }
            _ => self
                .route_tool(name)
                .map(|(target, route)| ToolKind::Upstream(UpstreamTool::Route { target, route })),
        }
    }

    /// The names of every tool, in `tools/list` order: the built-in tools first (when any target
    /// declares `paths`), then route tools sorted by name.
    pub fn tool_names(&self) -> impl Iterator<Item = &str> {
        let builtin = if self.has_free_paths() {
            &BUILTIN_TOOLS[..]
        } else {
            &[]
        };
        builtin
            .iter()
            .copied()
            .chain(self.route_tools().map(|(_, r)| r.tool.as_str()))
    }
}
