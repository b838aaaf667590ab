//! `CallRequest::parse`: MCP tool arguments into a typed, bounded request. It checks shape and
//! size only; whether the request is granted is `decide`'s job. A bad argument is an error that
//! names the argument and says why, which becomes an `isError` result the model can act on.

use serde_json::{Map, Value};

/// The tool that lists targets reachable through `call_target`.
pub const LIST_TARGETS: &str = "list_targets";
/// The free-form tool, compatible with tunnel-client's Harpoon.
pub const CALL_TARGET: &str = "call_target";

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

/// A parsed tool call. It borrows the arguments: decisions cost no copy of them.
#[derive(Debug, Clone, PartialEq)]
pub enum CallRequest<'a> {
    ListTargets,
    /// A route tool: its parameter values, caller headers and body, not yet checked against
    /// the route.
    Route(RouteCall<'a>),
    /// `call_target`: free-form access to a target's `paths`.
    Target(TargetCall),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteCall<'a> {
    pub tool: &'a str,
    args: &'a Map<String, Value>,
    pub headers: Vec<(String, String)>,
    pub body: Option<&'a Value>,
}

impl<'a> RouteCall<'a> {
    /// Names of the parameter arguments (everything but `headers` and `body`).
    pub fn value_names(&self) -> impl Iterator<Item = &'a String> {
        self.args
            .keys()
            .filter(|k| k.as_str() != "headers" && k.as_str() != "body")
    }

    pub fn value(&self, name: &str) -> Option<&'a Value> {
        match name {
            "headers" | "body" => None,
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

/// Which argument is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentError {
    pub argument: String,
    pub message: String,
}

impl ArgumentError {
    fn new(argument: &str, message: impl Into<String>) -> Self {
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

const CALL_TARGET_ARGUMENTS: &[&str] = &[
    "label",
    "method",
    "path",
    "query",
    "headers",
    "body",
    "timeout_ms",
    "max_response_bytes",
    "follow_redirects",
    "max_redirects",
];

/// The arguments of a call that has none.
static NO_ARGUMENTS: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> CallRequest<'a> {
    /// Parses the arguments of tool `name`. Missing arguments count as an empty object, as MCP
    /// clients may omit them.
    pub fn parse(
        name: &'a str,
        arguments: Option<&'a Map<String, Value>>,
    ) -> Result<Self, ArgumentError> {
        let args = arguments.unwrap_or(&NO_ARGUMENTS);
        if args.len() > MAX_ARGUMENTS {
            return Err(ArgumentError::new(
                "*",
                format!("count {} is above {MAX_ARGUMENTS}", args.len()),
            ));
        }
        match name {
            LIST_TARGETS => {
                if let Some(k) = args.keys().next() {
                    return Err(ArgumentError::new(
                        k,
                        "is not an argument of list_targets, which takes none",
                    ));
                }
                Ok(CallRequest::ListTargets)
            }
            CALL_TARGET => parse_call_target(args).map(CallRequest::Target),
            tool => {
                let headers = match args.get("headers") {
                    Some(h) => parse_headers(h)?,
                    None => Vec::new(),
                };
                Ok(CallRequest::Route(RouteCall {
                    tool,
                    args,
                    headers,
                    body: args.get("body"),
                }))
            }
        }
    }
}

fn parse_call_target(args: &Map<String, Value>) -> Result<TargetCall, ArgumentError> {
    let known = |k: &str| {
        matches!(
            k,
            "label"
                | "method"
                | "path"
                | "query"
                | "headers"
                | "body"
                | "timeout_ms"
                | "max_response_bytes"
                | "follow_redirects"
                | "max_redirects"
        )
    };
    if let Some(k) = args.keys().find(|k| !known(k)) {
        return Err(ArgumentError::new(
            k,
            format!(
                "is not an argument of call_target; use {}",
                CALL_TARGET_ARGUMENTS.join(", ")
            ),
        ));
    }
    let string = |name: &str, max: usize| -> Result<Option<String>, ArgumentError> {
        match args.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() <= max => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(ArgumentError::new(
                name,
                format!("is longer than {max} bytes"),
            )),
            Some(_) => Err(ArgumentError::new(name, "must be a string")),
        }
    };
    let label = string("label", 64)?.ok_or_else(|| ArgumentError::new("label", "is required"))?;
    let method =
        string("method", 16)?.ok_or_else(|| ArgumentError::new("method", "is required"))?;
    let path = string("path", super::path::MAX_PATH_LEN)?.unwrap_or_else(|| "/".to_owned());
    let query = match args.get("query") {
        None | Some(Value::Null) => Vec::new(),
        Some(q) => parse_query(q)?,
    };
    let headers = match args.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(h) => parse_headers(h)?,
    };
    let body = match args.get("body") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ArgumentError::new(
                "body",
                "must be a string (the raw request body)",
            ));
        }
    };
    let uint = |name: &str| -> Result<Option<u64>, ArgumentError> {
        match args.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| ArgumentError::new(name, "must be a non-negative integer")),
        }
    };
    let follow_redirects = match args.get("follow_redirects") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(ArgumentError::new(
                "follow_redirects",
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
            timeout_ms: uint("timeout_ms")?,
            max_response_bytes: uint("max_response_bytes")?,
            follow_redirects,
            max_redirects: uint("max_redirects")?,
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

    fn parse(name: &str, args: Value) -> Result<CallRequest<'static>, ArgumentError> {
        let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
        let args: &'static Value = Box::leak(Box::new(args));
        CallRequest::parse(name, args.as_object())
    }

    #[test]
    fn route_arguments_split_headers_and_body() {
        let r = parse(
            "billing.get",
            json!({"id": "x", "headers": {"Accept": "a"}, "body": {"k": 1}}),
        )
        .unwrap();
        let CallRequest::Route(r) = r else {
            panic!("route")
        };
        assert_eq!(r.value_names().collect::<Vec<_>>(), ["id"]);
        assert_eq!(r.value("id"), Some(&json!("x")));
        assert_eq!(r.headers, vec![("Accept".to_owned(), "a".to_owned())]);
        assert_eq!(r.body, Some(&json!({"k": 1})));
        assert!(matches!(
            CallRequest::parse("t.x", None),
            Ok(CallRequest::Route(_))
        ));
    }

    #[test]
    fn call_target_shape() {
        let r = parse("call_target", json!({"label": "b", "method": "GET", "query": {"a": [1, "x"], "b": true}, "max_redirects": 0})).unwrap();
        let CallRequest::Target(t) = r else {
            panic!("target")
        };
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
    fn bad_arguments_name_the_argument() {
        let cases = [
            (json!({"method": "GET"}), "argument 'label' is required"),
            (
                json!({"label": 1, "method": "GET"}),
                "argument 'label' must be a string",
            ),
            (
                json!({"label": "a", "method": "GET", "url": "http://x"}),
                "argument 'url' is not an argument of call_target",
            ),
            (
                json!({"label": "a", "method": "GET", "headers": ["x"]}),
                "argument 'headers' must be an object",
            ),
            (
                json!({"label": "a", "method": "GET", "headers": {"X": 1}}),
                "argument 'headers.X' must be a string",
            ),
            (
                json!({"label": "a", "method": "GET", "body": {"a": 1}}),
                "argument 'body' must be a string",
            ),
            (
                json!({"label": "a", "method": "GET", "query": {"q": {"x": 1}}}),
                "argument 'query.q' must be a string",
            ),
            (
                json!({"label": "a", "method": "GET", "timeout_ms": -1}),
                "argument 'timeout_ms' must be a non-negative integer",
            ),
        ];
        for (args, want) in cases {
            let e = parse("call_target", args.clone()).unwrap_err().to_string();
            assert!(e.starts_with(want), "{args}: {e}");
        }
        assert!(
            parse("list_targets", json!({"x": 1}))
                .unwrap_err()
                .to_string()
                .contains("takes none")
        );
    }
}
