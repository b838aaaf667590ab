//! The policy: what the allowlists grant, compiled into types that cannot be invalid, and the
//! rules every call is decided by.

pub mod access;
pub mod authorization;
pub mod compile;
mod compile_route;
mod compiler;
pub mod decide;
pub mod deny;
mod ecma_regex;
pub mod headers;
pub mod hop;
pub mod limits;
pub mod model;
pub mod net;
pub mod param;
pub mod path;
pub mod redact;
pub mod request;
pub mod schema;
pub mod secret;
pub mod target_url;
pub mod template;
pub mod tool;
pub mod types;

pub use access::{Access, AccessDenial, Caller, TokenCaller};
pub use authorization::{Algorithm, AuthorizationPolicy, Introspection, Issuer};
pub use compile_route::{MAX_ENUM_VALUES, RESERVED_ARGUMENTS, valid_query_name};
pub use decide::{CallLimits, Decision, Permit, decide};
pub use deny::DenyReason;
pub use hop::{HopError, decide_hop};
pub use model::{
    BodySpec, Dangerous, InjectedHeader, PathRule, PathRules, Policy, QueryRule, Route, Target,
};
pub use request::{ArgumentError, CallRequest};
pub use secret::SecretMode;
pub use tool::{CALL_TARGET, LIST_TARGETS, ToolKind, UpstreamTool};
pub use types::{Label, Method, MethodSet, Origin, ToolName};
