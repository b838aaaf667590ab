//! `CallRequest::parse`: MCP tool arguments into a typed, bounded request. It checks shape and
//! size only; whether the request is granted is `decide`'s job. A bad argument is an error that
//! names the argument and says why, which becomes an `isError` result the model can act on.
//! Which tool a name stands for is `Policy::tool`'s job, done once before parsing.

use super::model::{Route, Target};
use super::tool::{LIST_TARGETS, UpstreamTool};
use serde_json::{Map, Value};

/// Most arguments in one call: routes declare a handful.
pub const MAX_ARGUMENTS: usize = 256;
/// Most caller headers in one call.
pub const MAX_HEADERS: usize = 64;
/// Longest caller header value.
pub const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;
/// Most query parameters in one `call_target` call.
pub const MAX_QUERY_PARAMS: usize = 128;
/// Longest query value.
pub const MAX_QUERY_VALUE_BYTES: usize = 2048;

/// The argument of a route tool that carries caller headers.
pub const HEADERS_ARGUMENT: &str = "headers";
/// The argument of a route tool that carries the request body.
pub const BODY_ARGUMENT: &str = "body";

/// A parsed call of a tool that sends an upstream request. It borrows the policy's route and
/// the arguments: decisions cost no copy of them.
#[derive(Debug, Clone)]
pub enum CallRequest<'p, 'a> {
    /// A route tool: its parameter values, caller headers and body, not yet checked against
    /// the route.
    Route(RouteCall<'p, 'a>),
    /// `call_target`: free-form access to a target's `paths`.
    Target(TargetCall),
}

#[derive(Debug, Clone)]
pub struct RouteCall<'p, 'a> {
    pub target: &'p Target,
    pub route: &'p Route,
    args: &'a Map<String, Value>,
    pub headers: Vec<(String, String)>,
    pub body: Option<&'a Value>,
}

impl<'a> RouteCall<'_, 'a> {
    /// Names of the parameter arguments (everything but `headers` and `body`).
    pub fn value_names(&self) -> impl Iterator<Item = &'a String> {
        self.args
            .keys()
            .filter(|k| k.as_str() != HEADERS_ARGUMENT && k.as_str() != BODY_ARGUMENT)
    }

    pub fn value(&self, name: &str) -> Option<&'a Value> {
        match name {
            HEADERS_ARGUMENT | BODY_ARGUMENT => None,
            _ => self.args.get(name),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetCall {
    pub label: String,
    pub method: String,
    /// Relative to the target's base URL; `/` when absent.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// tunnel-client's per-call knobs. Each can only narrow the target's limits.
    pub narrow: Narrowing,
}

/// Per-call narrowing of a target's limits (never widening).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Narrowing {
    pub timeout_ms: Option<u64>,
    pub max_response_bytes: Option<u64>,
    pub follow_redirects: Option<bool>,
    pub max_redirects: Option<u64>,
}

/// The arguments of `call_target`: the one list that parsing and the tool's input schema
/// (`catalog`) both go by, so neither can know an argument the other does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallTargetArgument {
    Label,
    Method,
    Path,
    Query,
    Headers,
    Body,
    TimeoutMs,
    MaxResponseBytes,
    FollowRedirects,
    MaxRedirects,
}

impl CallTargetArgument {
    /// Every argument, in the order the input schema lists them.
    pub const ALL: [Self; 10] = [
        Self::Label,
        Self::Method,
        Self::Path,
        Self::Query,
        Self::Headers,
        Self::Body,
        Self::TimeoutMs,
        Self::MaxResponseBytes,
        Self::FollowRedirects,
        Self::MaxRedirects,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Label => "label",
            Self::Method => "method",
            Self::Path => "path",
            Self::Query => "query",
            Self::Headers => "headers",
            Self::Body => "body",
            Self::TimeoutMs => "timeout_ms",
            Self::MaxResponseBytes => "max_response_bytes",
            Self::FollowRedirects => "follow_redirects",
            Self::MaxRedirects => "max_redirects",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// Which argument is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentError {
    pub argument: String,
    pub message: String,
}

impl ArgumentError {
    pub(crate) fn new(argument: &str, message: impl Into<String>) -> Self {
        Self {
            argument: argument.to_owned(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ArgumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "argument '{}' {}", self.argument, self.message)
    }
}

impl std::error::Error for ArgumentError {}

/// The arguments of a call that has none.
static NO_ARGUMENTS: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

/// Checks the arguments of `list_targets`, which takes none. Missing arguments count as an
/// empty object, as MCP clients may omit them.
pub fn check_list_targets(arguments: Option<&Map<String, Value>>) -> Result<(), ArgumentError> {
    match arguments.and_then(|a| a.keys().next()) {
        Some(k) => Err(ArgumentError::new(
            k,
            format!("is not an argument of {LIST_TARGETS}, which takes none"),
        )),
        None => Ok(()),
    }
}

impl<'p, 'a> CallRequest<'p, 'a> {
    /// Parses the arguments of `tool` (resolved by `Policy::tool`). Missing arguments count as
    /// an empty object, as MCP clients may omit them.
    pub fn parse(
        tool: UpstreamTool<'p>,
        arguments: Option<&'a Map<String, Value>>,
    ) -> Result<Self, ArgumentError> {
        let args = arguments.unwrap_or(&NO_ARGUMENTS);
        if args.len() > MAX_ARGUMENTS {
            return Err(ArgumentError::new(
                "*",
                format!("count {} is above {MAX_ARGUMENTS}", args.len()),
            ));
        }
        match tool {
            UpstreamTool::CallTarget => parse_call_target(args).map(CallRequest::Target),
            UpstreamTool::Route { target, route } => {
                let headers = match args.get(HEADERS_ARGUMENT) {
                    Some(h) => parse_headers(h)?,
                    None => Vec::new(),
                };
                Ok(CallRequest::Route(RouteCall {
                    target,
                    route,
                    args,
                    headers,
                    body: args.get(BODY_ARGUMENT),
                }))
            }
        }
    }
}

fn parse_call_target(args: &Map<String, Value>) -> Result<TargetCall, ArgumentError> {
    use CallTargetArgument as A;
    if let Some(k) = args.keys().find(|k| A::from_name(k).is_none()) {
        let names: Vec<&str> = A::ALL.iter().map(|a| a.name()).collect();
        return Err(ArgumentError::new(
            k,
            format!(
                "is not an argument of {}; use {}",
                super::tool::CALL_TARGET,
                names.join(", ")
            ),
        ));
    }
    let get = |a: A| match args.get(a.name()) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v),
    };
    let string = |a: A, max: usize| -> Result<Option<String>, ArgumentError> {
        match get(a) {
            None => Ok(None),
            Some(Value::String(s)) if s.len() <= max => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(ArgumentError::new(
                a.name(),
                format!("is longer than {max} bytes"),
            )),
            Some(_) => Err(ArgumentError::new(a.name(), "must be a string")),
        }
    };
    let required = |a: A, max: usize| {
        string(a, max)?.ok_or_else(|| ArgumentError::new(a.name(), "is required"))
    };
    let label = required(A::Label, super::types::MAX_LABEL_LEN)?;
    let method = required(A::Method, 16)?;
    let path = string(A::Path, super::path::MAX_PATH_LEN)?.unwrap_or_else(|| "/".to_owned());
    let query = get(A::Query)
        .map(parse_query)
        .transpose()?
        .unwrap_or_default();
    let headers = get(A::Headers)
        .map(parse_headers)
        .transpose()?
        .unwrap_or_default();
    let body = match get(A::Body) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ArgumentError::new(
                A::Body.name(),
                "must be a string (the raw request body)",
            ));
        }
    };
    let uint = |a: A| -> Result<Option<u64>, ArgumentError> {
        get(a)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| ArgumentError::new(a.name(), "must be a non-negative integer"))
            })
            .transpose()
    };
    let follow_redirects = match get(A::FollowRedirects) {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(ArgumentError::new(
                A::FollowRedirects.name(),
                "must be true or false",
            ));
        }
    };
    Ok(TargetCall {
        label,
        method,
        path,
        query,
        headers,
        body,
        narrow: Narrowing {
            timeout_ms: uint(A::TimeoutMs)?,
            max_response_bytes: uint(A::MaxResponseBytes)?,
            follow_redirects,
            max_redirects: uint(A::MaxRedirects)?,
        },
    })
}

/// `{"Name": "value"}`: one string value per header.
fn parse_headers(v: &Value) -> Result<Vec<(String, String)>, ArgumentError> {
    let Value::Object(map) = v else {
        return Err(ArgumentError::new(
            "headers",
            "must be an object of header names to string values",
        ));
    };
    if map.len() > MAX_HEADERS {
        return Err(ArgumentError::new(
            "headers",
            format!("holds more than {MAX_HEADERS} headers"),
        ));
    }
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) if s.len() <= MAX_HEADER_VALUE_BYTES => Ok((k.clone(), s.clone())),
            Value::String(_) => Err(ArgumentError::new(
                &format!("headers.{k}"),
                format!("is longer than {MAX_HEADER_VALUE_BYTES} bytes"),
            )),
            _ => Err(ArgumentError::new(
                &format!("headers.{k}"),
                "must be a string",
            )),
        })
        .collect()
}

/// `{"name": "value" | number | bool | [scalars]}`: arrays repeat the name.
fn parse_query(v: &Value) -> Result<Vec<(String, String)>, ArgumentError> {
    let Value::Object(map) = v else {
        return Err(ArgumentError::new(
            "query",
            "must be an object of parameter names to values",
        ));
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for item in items {
            let text = match item {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(ArgumentError::new(
                        &format!("query.{k}"),
                        "must be a string, number, boolean or a list of them",
                    ));
                }
            };
            if text.len() > MAX_QUERY_VALUE_BYTES {
                return Err(ArgumentError::new(
                    &format!("query.{k}"),
                    format!("is longer than {MAX_QUERY_VALUE_BYTES} bytes"),
                ));
            }
            out.push((k.clone(), text));
        }
    }
    if out.len() > MAX_QUERY_PARAMS {
        return Err(ArgumentError::new(
            "query",
            format!("holds more than {MAX_QUERY_PARAMS} values"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_target(args: Value) -> Result<TargetCall, ArgumentError> {
        let args: &'static Value = Box::leak(Box::new(args));
        match CallRequest::parse(UpstreamTool::CallTarget, args.as_object())? {
            CallRequest::Target(t) => Ok(t),
            CallRequest::Route(_) => panic!("call_target parses as a target call"),
        }
    }

    #[test]
    fn call_target_shape() {
        let t = parse_target(json!({"label": "b", "method": "GET", "query": {"a": [1, "x"], "b": true}, "max_redirects": 0})).unwrap();
        assert_eq!(t.path, "/");
        assert_eq!(
            t.query,
            vec![
                ("a".into(), "1".into()),
                ("a".into(), "x".into()),
                ("b".into(), "true".into())
            ]
        );
        assert_eq!(t.narrow.max_redirects, Some(0));
    }

    #[test]
    fn every_call_target_argument_has_one_name() {
        for a in CallTargetArgument::ALL {
            assert_eq!(CallTargetArgument::from_name(a.name()), Some(a));
        }
        assert_eq!(CallTargetArgument::from_name("url"), None);
    }

    #[test]
    fn bad_arguments_name_the_argument() {
        let cases = [
            (
                json!({"method": "GET"}),
                ArgumentError::new("label", "is required"),
            ),
            (
                json!({"label": 1, "method": "GET"}),
                ArgumentError::new("label", "must be a string"),
            ),
            (
                json!({"label": "a", "method": "GET", "url": "http://x"}),
                ArgumentError::new(
                    "url",
                    "is not an argument of call_target; use label, method, path, query, headers, body, timeout_ms, max_response_bytes, follow_redirects, max_redirects",
                ),
            ),
            (
                json!({"label": "a", "method": "GET", "headers": ["x"]}),
                ArgumentError::new(
                    "headers",
                    "must be an object of header names to string values",
                ),
            ),
            (
                json!({"label": "a", "method": "GET", "headers": {"X": 1}}),
                ArgumentError::new("headers.X", "must be a string"),
            ),
            (
                json!({"label": "a", "method": "GET", "body": {"a": 1}}),
                ArgumentError::new("body", "must be a string (the raw request body)"),
            ),
            (
                json!({"label": "a", "method": "GET", "query": {"q": {"x": 1}}}),
                ArgumentError::new(
                    "query.q",
                    "must be a string, number, boolean or a list of them",
                ),
            ),
            (
                json!({"label": "a", "method": "GET", "timeout_ms": -1}),
                ArgumentError::new("timeout_ms", "must be a non-negative integer"),
            ),
        ];
        for (args, want) in cases {
            assert_eq!(parse_target(args.clone()).unwrap_err(), want, "{args}");
        }
        let one: Map<String, Value> = [("x".to_owned(), json!(1))].into_iter().collect();
        assert_eq!(
            check_list_targets(Some(&one)),
            Err(ArgumentError::new(
                "x",
                "is not an argument of list_targets, which takes none"
            ))
        );
        assert_eq!(check_list_targets(None), Ok(()));
    }
}
