//! Request body schemas: a subset of JSON Schema 2020-12 that harpoon enforces itself. A keyword
//! outside the subset is refused when the allowlist is compiled, so a schema never claims a
//! constraint that is not checked.

use super::param::Pattern;
use serde_json::{Map, Value};

/// Deepest schema nesting accepted: real request bodies are a few levels deep.
pub const MAX_SCHEMA_DEPTH: usize = 16;

/// Deepest body value accepted, whatever the schema says.
pub const MAX_BODY_DEPTH: usize = 64;

/// Keywords that only describe: kept in the tool schema, not checked.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "examples",
    "format",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// Keywords that harpoon checks.
const CHECKED: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl JsonType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "null" => Self::Null,
            "boolean" => Self::Boolean,
            "integer" => Self::Integer,
            "number" => Self::Number,
            "string" => Self::String,
            "array" => Self::Array,
            "object" => Self::Object,
            _ => return None,
        })
    }

    fn of(v: &Value) -> Self {
        match v {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => Self::Integer,
            Value::Number(_) => Self::Number,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        }
    }

    fn accepts(self, actual: JsonType) -> bool {
        self == actual || (self == Self::Number && actual == Self::Integer)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Boolean => "boolean",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::String => "string",
            Self::Array => "array",
            Self::Object => "object",
        }
    }
}

/// A compiled schema node.
#[derive(Debug, Clone, Default)]
pub struct BodySchema {
    types: Vec<JsonType>,
    properties: Vec<(String, BodySchema)>,
    required: Vec<String>,
    /// `None`: any extra property; `Some(None)`: none allowed; `Some(Some(s))`: each matches s.
    additional: Option<Option<Box<BodySchema>>>,
    items: Option<Box<BodySchema>>,
    one_of: Option<Vec<Value>>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<Pattern>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    source: Value,
}

impl BodySchema {
    /// Compiles a schema; the error names the JSON pointer of the offending keyword.
    pub fn compile(schema: &Value) -> Result<Self, String> {
        compile_at(schema, "#", 0)
    }

    /// The schema as written, for the tool's inputSchema.
    pub fn source(&self) -> &Value {
        &self.source
    }

    /// Checks a body; the error names the place in the body (`body.lines[2].amount`).
    pub fn validate(&self, value: &Value) -> Result<(), String> {
        self.validate_at(value, "body", 0)
    }

    fn validate_at(&self, v: &Value, at: &str, depth: usize) -> Result<(), String> {
        if depth > MAX_BODY_DEPTH {
            return Err(format!("{at}: nests deeper than {MAX_BODY_DEPTH} levels"));
        }
        let actual = JsonType::of(v);
        if !self.types.is_empty() && !self.types.iter().any(|t| t.accepts(actual)) {
            let want: Vec<&str> = self.types.iter().map(|t| t.name()).collect();
            return Err(format!(
                "{at}: must be {}, not {}",
                want.join(" or "),
                actual.name()
            ));
        }
        if let Some(allowed) = &self.one_of
            && !allowed.contains(v)
        {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            return Err(format!("{at}: must be one of {}", list.join(", ")));
        }
        match v {
            Value::String(s) => self.check_string(s, at),
            Value::Number(n) => self.check_number(n.as_f64().unwrap_or(f64::NAN), at),
            Value::Array(items) => self.check_array(items, at, depth),
            Value::Object(map) => self.check_object(map, at, depth),
            Value::Null | Value::Bool(_) => Ok(()),
        }
    }

    fn check_string(&self, s: &str, at: &str) -> Result<(), String> {
        let len = s.chars().count() as u64;
        if self.min_length.is_some_and(|m| len < m) {
            return Err(format!(
                "{at}: is shorter than {} characters",
                self.min_length.unwrap_or(0)
            ));
        }
        if self.max_length.is_some_and(|m| len > m) {
            return Err(format!(
                "{at}: is longer than {} characters",
                self.max_length.unwrap_or(0)
            ));
        }
        if let Some(p) = &self.pattern
            && !p.is_match(s)
        {
            return Err(format!("{at}: does not match the pattern {}", p.as_str()));
        }
        Ok(())
    }

    fn check_number(&self, n: f64, at: &str) -> Result<(), String> {
        let fail = |what: &str, bound: f64| Err(format!("{at}: must be {what} {bound}"));
        if let Some(b) = self.minimum
            && n < b
        {
            return fail("at least", b);
        }
        if let Some(b) = self.maximum
            && n > b
        {
            return fail("at most", b);
        }
        if let Some(b) = self.exclusive_minimum
            && n <= b
        {
            return fail("more than", b);
        }
        if let Some(b) = self.exclusive_maximum
            && n >= b
        {
            return fail("less than", b);
        }
        Ok(())
    }

    fn check_array(&self, items: &[Value], at: &str, depth: usize) -> Result<(), String> {
        let n = items.len() as u64;
        if self.min_items.is_some_and(|m| n < m) {
            return Err(format!(
                "{at}: has fewer than {} items",
                self.min_items.unwrap_or(0)
            ));
        }
        if self.max_items.is_some_and(|m| n > m) {
            return Err(format!(
                "{at}: has more than {} items",
                self.max_items.unwrap_or(0)
            ));
        }
        if let Some(schema) = &self.items {
            for (i, item) in items.iter().enumerate() {
                schema.validate_at(item, &format!("{at}[{i}]"), depth + 1)?;
            }
        }
        Ok(())
    }

    fn check_object(&self, map: &Map<String, Value>, at: &str, depth: usize) -> Result<(), String> {
        for name in &self.required {
            if !map.contains_key(name) {
                return Err(format!("{at}: is missing the required property '{name}'"));
            }
        }
        let n = map.len() as u64;
        if self.min_properties.is_some_and(|m| n < m) {
            return Err(format!(
                "{at}: has fewer than {} properties",
                self.min_properties.unwrap_or(0)
            ));
        }
        if self.max_properties.is_some_and(|m| n > m) {
            return Err(format!(
                "{at}: has more than {} properties",
                self.max_properties.unwrap_or(0)
            ));
        }
        for (key, value) in map {
            let place = format!("{at}.{key}");
            match self.properties.iter().find(|(k, _)| k == key) {
                Some((_, schema)) => schema.validate_at(value, &place, depth + 1)?,
                None => match &self.additional {
                    Some(None) => {
                        return Err(format!(
                            "{at}: has the property '{key}', which the schema does not allow"
                        ));
                    }
                    Some(Some(schema)) => schema.validate_at(value, &place, depth + 1)?,
                    None => {}
                },
            }
        }
        Ok(())
    }
}

fn compile_at(schema: &Value, at: &str, depth: usize) -> Result<BodySchema, String> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err(format!("{at}: nests deeper than {MAX_SCHEMA_DEPTH} levels"));
    }
    let Value::Object(map) = schema else {
        return Err(format!("{at}: a schema must be a mapping"));
    };
    let mut out = BodySchema {
        source: schema.clone(),
        ..BodySchema::default()
    };
    for (key, value) in map {
        let place = format!("{at}/{key}");
        if ANNOTATIONS.contains(&key.as_str()) {
            continue;
        }
        if !CHECKED.contains(&key.as_str()) {
            return Err(format!(
                "{place}: the keyword '{key}' is not supported; harpoon checks only {} and refuses what it cannot enforce",
                CHECKED.join(", ")
            ));
        }
        compile_keyword(&mut out, key, value, &place, depth)?;
    }
    Ok(out)
}

fn compile_keyword(
    out: &mut BodySchema,
    key: &str,
    value: &Value,
    place: &str,
    depth: usize,
) -> Result<(), String> {
    let count = || {
        value
            .as_u64()
            .ok_or_else(|| format!("{place}: must be a non-negative integer"))
    };
    let number = || {
        value
            .as_f64()
            .ok_or_else(|| format!("{place}: must be a number"))
    };
    match key {
        "type" => out.types = compile_types(value, place)?,
        "properties" => {
            let Value::Object(props) = value else {
                return Err(format!("{place}: must be a mapping of property schemas"));
            };
            for (name, sub) in props {
                out.properties.push((
                    name.clone(),
                    compile_at(sub, &format!("{place}/{name}"), depth + 1)?,
                ));
            }
        }
        "required" => {
            let names = value
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| format!("{place}: must be a list of property names"))?;
            out.required = names;
        }
        "additionalProperties" => {
            out.additional = match value {
                Value::Bool(true) => None,
                Value::Bool(false) => Some(None),
                sub => Some(Some(Box::new(compile_at(sub, place, depth + 1)?))),
            };
        }
        "items" => out.items = Some(Box::new(compile_at(value, place, depth + 1)?)),
        "enum" => {
            let list = value
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| format!("{place}: must be a non-empty list"))?;
            out.one_of = Some(list.clone());
        }
        "const" => out.one_of = Some(vec![value.clone()]),
        "minLength" => out.min_length = Some(count()?),
        "maxLength" => out.max_length = Some(count()?),
        "pattern" => {
            let text = value
                .as_str()
                .ok_or_else(|| format!("{place}: must be a string"))?;
            out.pattern = Some(Pattern::parse(text).map_err(|e| format!("{place}: {e}"))?);
        }
        "minimum" => out.minimum = Some(number()?),
        "maximum" => out.maximum = Some(number()?),
        "exclusiveMinimum" => out.exclusive_minimum = Some(number()?),
        "exclusiveMaximum" => out.exclusive_maximum = Some(number()?),
        "minItems" => out.min_items = Some(count()?),
        "maxItems" => out.max_items = Some(count()?),
        "minProperties" => out.min_properties = Some(count()?),
        "maxProperties" => out.max_properties = Some(count()?),
        // `compile_at` passes only keywords from `CHECKED`, and each is handled above.
        _ => {}
    }
    Ok(())
}

fn compile_types(value: &Value, place: &str) -> Result<Vec<JsonType>, String> {
    let names: Vec<&str> = match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        return Err(format!("{place}: must be a type name or a list of them"));
    }
    names
        .into_iter()
        .map(|n| {
            JsonType::parse(n).ok_or_else(|| {
                format!("{place}: '{n}' is not a JSON type; use null, boolean, integer, number, string, array or object")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> BodySchema {
        BodySchema::compile(&v).unwrap()
    }

    #[test]
    fn validates_objects() {
        let s = schema(json!({
            "type": "object",
            "required": ["amount"],
            "properties": {
                "amount": {"type": "integer", "minimum": 1},
                "reason": {"type": "string", "maxLength": 10, "enum": ["dup", "fraud"]}
            },
            "additionalProperties": false
        }));
        assert_eq!(s.validate(&json!({"amount": 5})), Ok(()));
        assert_eq!(
            s.validate(&json!({})),
            Err("body: is missing the required property 'amount'".into())
        );
        assert_eq!(
            s.validate(&json!({"amount": 0})),
            Err("body.amount: must be at least 1".into())
        );
        assert_eq!(
            s.validate(&json!({"amount": "5"})),
            Err("body.amount: must be integer, not string".into())
        );
        assert_eq!(
            s.validate(&json!({"amount": 5, "x": 1})),
            Err("body: has the property 'x', which the schema does not allow".into())
        );
        assert_eq!(
            s.validate(&json!({"amount": 5, "reason": "other"})),
            Err("body.reason: must be one of \"dup\", \"fraud\"".into())
        );
        assert_eq!(
            s.validate(&json!([])),
            Err("body: must be object, not array".into())
        );
    }

    #[test]
    fn validates_arrays_and_numbers() {
        let s = schema(
            json!({"type": "array", "maxItems": 2, "items": {"type": "number", "exclusiveMaximum": 10}}),
        );
        assert_eq!(s.validate(&json!([1, 2.5])), Ok(()));
        assert_eq!(
            s.validate(&json!([1, 2, 3])),
            Err("body: has more than 2 items".into())
        );
        assert_eq!(
            s.validate(&json!([10])),
            Err("body[0]: must be less than 10".into())
        );
        let any_extra = schema(json!({"type": "object", "additionalProperties": true}));
        assert_eq!(any_extra.validate(&json!({"x": 1})), Ok(()));
        let typed_extra =
            schema(json!({"type": "object", "additionalProperties": {"type": "string"}}));
        assert_eq!(
            typed_extra.validate(&json!({"x": 1})),
            Err("body.x: must be string, not integer".into())
        );
    }

    #[test]
    fn refuses_unsupported_keywords() {
        let e = BodySchema::compile(&json!({"type": "object", "properties": {"a": {"oneOf": []}}}))
            .unwrap_err();
        assert!(
            e.starts_with("#/properties/a/oneOf: the keyword 'oneOf' is not supported"),
            "{e}"
        );
        assert!(
            BodySchema::compile(&json!({"type": "thing"}))
                .unwrap_err()
                .contains("not a JSON type")
        );
        assert!(
            BodySchema::compile(&json!({"$ref": "#/x"}))
                .unwrap_err()
                .contains("'$ref'")
        );
        assert!(
            BodySchema::compile(&json!("object"))
                .unwrap_err()
                .contains("must be a mapping")
        );
        let mut deep = json!({"type": "string"});
        for _ in 0..20 {
            deep = json!({"items": deep});
        }
        assert!(
            BodySchema::compile(&deep)
                .unwrap_err()
                .contains("nests deeper")
        );
    }
}
