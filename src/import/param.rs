//! Path and query parameters: the type (so a model sends `7`, not `"7"`) and the `pattern` or
//! `enum` the document states. Nothing is invented: a parameter the document leaves open is
//! imported open, and `harpoon check` reports it.

use super::document::Node;
use super::error::ImportError;
use super::plan::ParamPlan;
use super::reference;
use super::text::trim_chars;
use super::version::Version;
use crate::policy::MAX_ENUM_VALUES;
use crate::policy::param::{MAX_PARAM_VALUE_BYTES, ParamSpec, ParamType, Pattern};

/// Longest parameter description kept, in characters.
pub const MAX_PARAM_DESCRIPTION_CHARS: usize = 256;

/// `format: uuid`, as the pattern it means (any case, as RFC 9562 reads them).
pub const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// A parameter's declaration, with a note for each constraint of the document it cannot keep.
pub fn translate(
    root: &Node,
    version: Version,
    param: &Node,
    name: &str,
    at: &str,
    notes: &mut Vec<String>,
) -> Result<ParamPlan, ImportError> {
    let schema = match version {
        // 2.0 writes type, format, enum and pattern on the parameter itself.
        Version::Swagger2 => param,
        _ => match param.get("schema") {
            Some(s) => reference::resolve(root, s, &format!("{at}/schema"))?.0,
            None => &Node::Null,
        },
    };
    let (kind, as_text) = kind_of(schema);
    if let Some(t) = as_text {
        notes.push(format!(
            "parameter '{name}': {t} is taken as one string; send it as the API expects it written"
        ));
    }
    let mut plan = ParamPlan {
        description: param
            .str_at("description")
            .map(|d| trim_chars(d, MAX_PARAM_DESCRIPTION_CHARS))
            .filter(|d| !d.is_empty()),
        kind,
        pattern: None,
        one_of: Vec::new(),
        required: param.get("required") == Some(&Node::Bool(true)),
    };
    if let Some(values) = schema.get("enum") {
        plan.one_of = enum_values(values, kind, name, notes);
    }
    if kind == ParamType::String && plan.one_of.is_empty() {
        plan.pattern = pattern(schema, name, notes);
    }
    for bound in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
        if let Some(v) = schema
            .get(bound)
            .filter(|v| !matches!(v, Node::Bool(false)))
        {
            let v = v.to_json();
            notes.push(format!(
                "parameter '{name}': {bound} {v} not enforced by harpoon; dropped"
            ));
        }
    }
    Ok(plan)
}

/// The type harpoon gives the parameter, and what the document said when that is not one of
/// harpoon's types (arrays and objects are sent as one string).
fn kind_of(schema: &Node) -> (ParamType, Option<String>) {
    let named: Vec<&str> = match schema.get("type") {
        Some(Node::String(t)) => vec![t.as_str()],
        Some(Node::Array(list)) => list
            .iter()
            .filter_map(Node::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => Vec::new(),
    };
    match named.as_slice() {
        [] => (ParamType::String, None),
        [one] => match ParamType::parse(one) {
            Some(k) => (k, None),
            None => (ParamType::String, Some(format!("type {one}"))),
        },
        many => (
            ParamType::String,
            Some(format!("type [{}]", many.join(", "))),
        ),
    }
}

fn enum_values(values: &Node, kind: ParamType, name: &str, notes: &mut Vec<String>) -> Vec<Node> {
    let probe = ParamSpec {
        description: None,
        kind,
        pattern: None,
        one_of: Vec::new(),
        required: true,
    };
    // null cannot be sent as a parameter; the parameter is left out instead.
    let list: Vec<&Node> = values
        .as_array()
        .unwrap_or_default()
        .iter()
        .filter(|v| **v != Node::Null)
        .collect();
    let fits = !list.is_empty()
        && list.len() <= MAX_ENUM_VALUES
        && list.iter().all(|v| probe.check(&v.to_json()).is_ok());
    if fits {
        return list.into_iter().cloned().collect();
    }
    notes.push(format!(
        "parameter '{name}': its enum does not fit harpoon (1 to {MAX_ENUM_VALUES} values of its type); dropped"
    ));
    Vec::new()
}

/// The pattern the schema states: `pattern`, else `format: uuid`, else a length pattern from
/// `minLength`/`maxLength`. A pattern harpoon would read differently is dropped with a note.
fn pattern(schema: &Node, name: &str, notes: &mut Vec<String>) -> Option<String> {
    let max = schema.get("maxLength").and_then(count);
    let min = schema.get("minLength").and_then(count);
    if let Some(p) = schema.str_at("pattern") {
        if let Err(why) = Pattern::parse(p) {
            notes.push(format!("parameter '{name}': {why}; dropped"));
            return None;
        }
        if max.is_some() || min.is_some() {
            notes.push(format!(
                "parameter '{name}': minLength/maxLength not enforced next to a pattern; dropped"
            ));
        }
        return Some(p.to_owned());
    }
    if schema.str_at("format") == Some("uuid") {
        return Some(UUID_PATTERN.to_owned());
    }
    if min.is_none() && max.is_none() {
        return None;
    }
    let min = min.unwrap_or(0);
    match max {
        // Every value is at most MAX_PARAM_VALUE_BYTES anyway; a longer bound adds nothing.
        Some(max) if max as usize <= MAX_PARAM_VALUE_BYTES && min <= max => {
            Some(format!("^[\\s\\S]{{{min},{max}}}$"))
        }
        None if min as usize <= MAX_PARAM_VALUE_BYTES && min > 0 => {
            Some(format!("^[\\s\\S]{{{min},}}$"))
        }
        _ => {
            notes.push(format!(
                "parameter '{name}': minLength/maxLength beyond harpoon's {MAX_PARAM_VALUE_BYTES}-byte values; dropped"
            ));
            None
        }
    }
}

fn count(n: &Node) -> Option<u64> {
    match n {
        Node::Number(n) => n.as_u64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::document::parse;

    fn plan(param: &str) -> (ParamPlan, Vec<String>) {
        let root = parse(b"{}").unwrap();
        let p = parse(param.as_bytes()).unwrap();
        let mut notes = Vec::new();
        let plan = translate(&root, Version::OpenApi30, &p, "x", "#/p", &mut notes).unwrap();
        (plan, notes)
    }

    #[test]
    fn keeps_type_enum_pattern_and_length() {
        let (p, notes) = plan(r#"{"schema": {"type": "integer", "maximum": 100}}"#);
        assert_eq!(p.kind, ParamType::Integer);
        assert_eq!(
            notes,
            ["parameter 'x': maximum 100 not enforced by harpoon; dropped"]
        );
        let (p, _) = plan(r#"{"schema": {"type": "string", "enum": ["a", "b", null]}}"#);
        assert_eq!(
            p.one_of,
            [Node::String("a".into()), Node::String("b".into())]
        );
        let (p, _) = plan(r#"{"schema": {"type": "string", "format": "uuid"}}"#);
        assert_eq!(p.pattern.as_deref(), Some(UUID_PATTERN));
        let (p, _) = plan(r#"{"schema": {"type": "string", "maxLength": 8}}"#);
        let pattern = p.pattern.unwrap();
        assert_eq!(pattern, "^[\\s\\S]{0,8}$");
        let compiled = Pattern::parse(&pattern).unwrap();
        assert!(compiled.is_match("12345678") && !compiled.is_match("123456789"));
        let (p, notes) = plan(r#"{"schema": {"type": "integer", "enum": ["1"]}}"#);
        assert!(p.one_of.is_empty());
        assert_eq!(notes.len(), 1, "{notes:?}");
        let (p, notes) = plan(r#"{"schema": {"type": "array", "items": {"type": "string"}}}"#);
        assert_eq!(p.kind, ParamType::String);
        assert!(
            notes[0].contains("type array is taken as one string"),
            "{notes:?}"
        );
    }
}
