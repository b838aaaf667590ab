//! The allowlist an import writes, before it is written: one target, its routes, and the
//! comments that tell a reviewer what was left out and why.

use super::document::Node;
use crate::policy::param::ParamType;

/// One target and what the reviewer should read about it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Comment lines at the top of the file (source, versions, options).
    pub header: Vec<String>,
    pub label: String,
    pub description: Option<String>,
    pub base_url: String,
    /// Comment lines above `base_url` (where it came from; plaintext http).
    pub base_url_notes: Vec<String>,
    pub plaintext: bool,
    /// `headers.inject`, in document order.
    pub inject: Vec<(String, String)>,
    /// Comment lines above `headers` (schemes not imported, and why).
    pub security_notes: Vec<String>,
    pub routes: Vec<RoutePlan>,
    /// Comment lines at the end: each operation left out, and why.
    pub excluded: Vec<String>,
}

/// One route: one operation.
#[derive(Debug, Clone)]
pub struct RoutePlan {
    /// Comment lines above the route (what was dropped from the operation).
    pub notes: Vec<String>,
    pub name: String,
    pub description: Option<String>,
    pub method: &'static str,
    pub path: String,
    pub params: Vec<(String, ParamPlan)>,
    pub query: Vec<(String, ParamPlan)>,
    pub body: Option<BodyPlan>,
}

/// A path or query parameter declaration.
#[derive(Debug, Clone)]
pub struct ParamPlan {
    pub description: Option<String>,
    pub kind: ParamType,
    pub pattern: Option<String>,
    pub one_of: Vec<Node>,
    /// Query parameters only: written when true.
    pub required: bool,
}

#[derive(Debug, Clone)]
pub struct BodyPlan {
    pub content_type: String,
    pub schema: Option<Node>,
    pub required: bool,
}
