//! The tool catalog: what `tools/list` shows for a policy, and what `list_targets` answers.
//! One typed tool per route, plus `list_targets` and `call_target` (tunnel-client Harpoon's
//! names and argument shape) when a target declares `paths`: exactly the tools `Policy::tool`
//! resolves, since the catalog is built from it. URLs and injected headers never appear.

use crate::policy::request::CallTargetArgument;
use crate::policy::{
    CALL_TARGET, Caller, LIST_TARGETS, Method, MethodSet, Policy, QueryRule, Route, Target,
    ToolKind, UpstreamTool,
};
use serde_json::{Map, Value, json};

/// A tool definition, independent of the MCP library (the MCP layer converts it).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    pub input_schema: Map<String, Value>,
    pub output_schema: Map<String, Value>,
    pub annotations: Annotations,
}

/// MCP tool annotations (hints for clients; the allowlist is what enforces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

/// Every tool of the policy, in a stable order: `list_targets` and `call_target` first (as in
/// tunnel-client), then route tools sorted by name.
pub fn build(policy: &Policy) -> Vec<ToolDef> {
    build_for(policy, &Caller::Local)
}

/// The tools `caller` may use: route tools whose target's and route's `access` its token
/// satisfies, and `list_targets`/`call_target` when some target with `paths` is open to it
/// (`call_target`'s `label` then lists only those).
pub fn build_for(policy: &Policy, caller: &Caller) -> Vec<ToolDef> {
    let open = |t: &Target| !t.paths.is_empty() && policy.may_use(caller, t, None).is_ok();
    let any_open = policy.targets().iter().any(open);
    policy
        .tool_names()
        .filter_map(|name| policy.tool(name))
        .filter_map(|tool| match tool {
            ToolKind::ListTargets => any_open.then(list_targets_tool),
            ToolKind::Upstream(UpstreamTool::CallTarget) => {
                any_open.then(|| call_target_tool(policy, &open))
            }
            ToolKind::Upstream(UpstreamTool::Route { target, route }) => policy
                .may_use(caller, target, Some(route))
                .is_ok()
                .then(|| route_tool(target, route)),
        })
        .collect()
}

/// `list_targets`: the targets `call_target` can reach, what each grants, never a URL.
pub fn list_targets(policy: &Policy) -> Value {
    list_targets_for(policy, &Caller::Local)
}

/// The same, for the targets `caller` may use.
pub fn list_targets_for(policy: &Policy, caller: &Caller) -> Value {
    let targets: Vec<Value> = policy
        .targets()
        .iter()
        .filter(|t| !t.paths.is_empty() && policy.may_use(caller, t, None).is_ok())
        .map(|t| {
            let methods: Vec<&str> = t.paths.methods().iter().map(|m| m.as_str()).collect();
            let paths: Vec<Value> = t
                .paths
                .rules
                .iter()
                .map(|r| {
                    let methods: Vec<&str> = r.methods.iter().map(|m| m.as_str()).collect();
                    let query = match &r.query {
                        QueryRule::Deny => json!([]),
                        QueryRule::Any => json!(["*"]),
                        QueryRule::Names(n) => json!(n),
                    };
                    json!({"methods": methods, "glob": r.glob.as_str(), "query": query})
                })
                .collect();
            let mut entry =
                json!({"label": t.label.as_str(), "allowed_methods": methods, "paths": paths});
            if let Some(d) = &t.description {
                entry["description"] = json!(d);
            }
            let headers: Vec<&str> = t.caller_headers.iter().map(|h| h.as_str()).collect();
            if !headers.is_empty() {
                entry["headers"] = json!(headers);
            }
            entry
        })
        .collect();
    json!({ "targets": targets })
}

/// The JSON a `tools/list` answer carries (what `harpoon tools` prints).
pub fn tools_list_json(tools: &[ToolDef]) -> Value {
    let tools: Vec<Value> = tools
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "description": t.description,
                "inputSchema": t.input_schema,
                "outputSchema": t.output_schema,
                "annotations": {
                    "readOnlyHint": t.annotations.read_only,
                    "destructiveHint": t.annotations.destructive,
                    "idempotentHint": t.annotations.idempotent,
                    "openWorldHint": t.annotations.open_world,
                },
            })
        })
        .collect();
    json!({ "tools": tools })
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The output schema of every tool that calls an upstream.
pub fn response_schema() -> Map<String, Value> {
    object(json!({
        "type": "object",
        "properties": {
            "status": {"type": "integer", "description": "The upstream's HTTP status."},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}, "description": "The allowlisted response headers, lowercase names."},
            "body": {"description": "The response body: parsed JSON for JSON responses, else text."},
            "body_base64": {"type": "string", "description": "The response body, base64, when it is not text."},
            "body_bytes": {"type": "integer", "description": "Bytes of body returned."},
            "truncated": {"type": "boolean", "description": "Whether the body was cut at the target's response limit."},
            "full_bytes": {"type": "integer", "description": "The whole body's size when it was truncated and the size is known."},
        },
        "required": ["status", "headers", "body_bytes", "truncated"],
    }))
}

fn route_tool(target: &Target, route: &Route) -> ToolDef {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, spec) in &route.params {
        let mut schema = spec.json_schema();
        if schema.get("description").is_none() {
            schema["description"] = json!(format!(
                "Path parameter: fills one segment of {}",
                route.template.as_str()
            ));
        }
        properties.insert(name.clone(), schema);
        required.push(json!(name));
    }
    for (name, spec) in &route.query {
        let mut schema = spec.json_schema();
        if schema.get("description").is_none() {
            schema["description"] = json!("Query parameter");
        }
        properties.insert(name.clone(), schema);
        if spec.required {
            required.push(json!(name));
        }
    }
    if !target.caller_headers.is_empty() {
        properties.insert("headers".into(), headers_schema(target));
    }
    if let Some(body) = &route.body {
        let mut schema = match &body.schema {
            Some(s) => s.source().clone(),
            None if body.json => json!({}),
            None => json!({"type": "string"}),
        };
        if let Value::Object(m) = &mut schema
            && !m.contains_key("description")
        {
            let ct = body.content_type.to_str().unwrap_or("");
            m.insert(
                "description".into(),
                json!(format!("The request body, sent as {ct}")),
            );
        }
        properties.insert("body".into(), schema);
        if body.required {
            required.push(json!("body"));
        }
    }
    let mut input =
        json!({"type": "object", "properties": properties, "additionalProperties": false});
    if !required.is_empty() {
        input["required"] = Value::Array(required);
    }
    let what = format!(
        "{} {} on target '{}'",
        route.method,
        route.template.as_str(),
        target.label
    );
    let description = match (&route.description, &target.description) {
        (Some(d), _) => format!("{d} ({what})"),
        (None, Some(td)) => format!("{what}: {td}"),
        (None, None) => what,
    };
    ToolDef {
        name: route.tool.to_string(),
        description,
        input_schema: object(input),
        output_schema: response_schema(),
        annotations: annotations(
            std::iter::once(route.method).collect(),
            target.network.allow_cidrs().is_empty(),
        ),
    }
}

fn headers_schema(target: &Target) -> Value {
    let props: Map<String, Value> = target
        .caller_headers
        .iter()
        .map(|h| (h.as_str().to_owned(), json!({"type": "string"})))
        .collect();
    json!({
        "type": "object",
        "description": "Request headers; only these may be set.",
        "properties": props,
        "additionalProperties": false,
    })
}

/// GET/HEAD/OPTIONS read only; PUT/DELETE idempotent; DELETE destructive; open world when the
/// target may reach public addresses.
fn annotations(methods: MethodSet, open_world: bool) -> Annotations {
    let all = |f: fn(Method) -> bool| methods.iter().all(f);
    Annotations {
        read_only: all(Method::is_read_only),
        destructive: methods.iter().any(Method::is_destructive),
        idempotent: all(Method::is_idempotent),
        open_world,
    }
}

fn list_targets_tool() -> ToolDef {
    ToolDef {
        name: LIST_TARGETS.into(),
        description: "List the targets call_target can reach: their labels, descriptions, and which methods on which paths each allows.".into(),
        input_schema: object(json!({"type": "object", "properties": {}, "additionalProperties": false})),
        output_schema: object(json!({
            "type": "object",
            "properties": {"targets": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "description": {"type": "string"},
                    "allowed_methods": {"type": "array", "items": {"type": "string"}},
                    "paths": {"type": "array", "items": {"type": "object"}},
                    "headers": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["label", "allowed_methods", "paths"],
            }}},
            "required": ["targets"],
        })),
        annotations: Annotations { read_only: true, destructive: false, idempotent: true, open_world: false },
    }
}

fn call_target_tool(policy: &Policy, open: &dyn Fn(&Target) -> bool) -> ToolDef {
    let with_paths: Vec<&Target> = policy.targets().iter().filter(|t| open(t)).collect();
    let labels: Vec<&str> = with_paths.iter().map(|t| t.label.as_str()).collect();
    let methods = with_paths
        .iter()
        .fold(MethodSet::default(), |a, t| a.union(t.paths.methods()));
    let method_names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    let open_world = with_paths
        .iter()
        .any(|t| t.network.allow_cidrs().is_empty());
    let properties: Map<String, Value> = CallTargetArgument::ALL
        .into_iter()
        .map(|a| {
            (
                a.name().to_owned(),
                call_target_argument(a, &labels, &method_names),
            )
        })
        .collect();
    let input = json!({
        "type": "object",
        "properties": properties,
        "required": [CallTargetArgument::Label.name(), CallTargetArgument::Method.name()],
        "additionalProperties": false,
    });
    ToolDef {
        name: CALL_TARGET.into(),
        description: "Call an allowlisted HTTP target by label: a method on a path the target's allowlist grants. Anything else is refused with a reason. Use list_targets to see what is allowed.".into(),
        input_schema: object(input),
        output_schema: response_schema(),
        annotations: annotations(methods, open_world),
    }
}

/// The input schema of one `call_target` argument; the match is exhaustive, so an argument
/// parsing knows cannot go without a schema.
fn call_target_argument(a: CallTargetArgument, labels: &[&str], methods: &[&str]) -> Value {
    use CallTargetArgument as A;
    match a {
        A::Label => {
            json!({"type": "string", "enum": labels, "description": "The target's label (see list_targets)."})
        }
        A::Method => {
            json!({"type": "string", "enum": methods, "description": "HTTP method; the target's paths rules say which are allowed where."})
        }
        A::Path => {
            json!({"type": "string", "default": "/", "description": "Path relative to the target's base URL, e.g. /reports/daily. It must match one of the target's paths globs."})
        }
        A::Query => {
            json!({"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "array"]}, "description": "Query parameters; a list repeats the name. Only names the paths rule allows."})
        }
        A::Headers => {
            json!({"type": "object", "additionalProperties": {"type": "string"}, "description": "Request headers; only names the target allows."})
        }
        A::Body => {
            json!({"type": "string", "description": "The raw request body (POST, PUT, PATCH, DELETE)."})
        }
        A::TimeoutMs => {
            json!({"type": "integer", "minimum": 10, "description": "Lower the target's timeout for this call."})
        }
        A::MaxResponseBytes => {
            json!({"type": "integer", "minimum": 1, "description": "Lower the target's response limit for this call."})
        }
        A::FollowRedirects => {
            json!({"type": "boolean", "description": "false to return redirects as they are."})
        }
        A::MaxRedirects => {
            json!({"type": "integer", "minimum": 0, "description": "Lower the number of redirects followed."})
        }
    }
}
