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
    pub fn validate(&self, value: &Value) -> Result<(), SchemaViolation> {
        self.validate_at(value, "body", 0)
    }

    fn validate_at(&self, v: &Value, at: &str, depth: usize) -> Result<(), SchemaViolation> {
        let fail = |rule: SchemaRule| {
            Err(SchemaViolation {
                at: at.to_owned(),
                rule,
            })
        };
        if depth > MAX_BODY_DEPTH {
            return fail(SchemaRule::TooDeep {
                limit: MAX_BODY_DEPTH,
            });
        }
        let actual = JsonType::of(v);
        if !self.types.is_empty() && !self.types.iter().any(|t| t.accepts(actual)) {
            return fail(SchemaRule::WrongType {
                want: self.types.iter().map(|t| t.name()).collect(),
                got: actual.name(),
            });
        }
        if let Some(allowed) = &self.one_of
            && !allowed.contains(v)
        {
            return fail(SchemaRule::NotOneOf(allowed.clone()));
        }
        let rule = match v {
            Value::String(s) => self.check_string(s),
            Value::Number(n) => self.check_number(n.as_f64().unwrap_or(f64::NAN)),
            Value::Array(items) => return self.check_array(items, at, depth),
            Value::Object(map) => return self.check_object(map, at, depth),
            Value::Null | Value::Bool(_) => None,
        };
        match rule {
            Some(rule) => fail(rule),
            None => Ok(()),
        }
    }

    fn check_string(&self, s: &str) -> Option<SchemaRule> {
        let len = s.chars().count() as u64;
        if let Some(m) = self.min_length.filter(|&m| len < m) {
            return Some(SchemaRule::Shorter(m));
        }
        if let Some(m) = self.max_length.filter(|&m| len > m) {
            return Some(SchemaRule::Longer(m));
        }
        if let Some(p) = &self.pattern
            && !p.is_match(s)
        {
            return Some(SchemaRule::NoMatch(p.as_str().to_owned()));
        }
        None
    }

    fn check_number(&self, n: f64) -> Option<SchemaRule> {
        let out = |relation: Relation, bound: f64| {
            Some(SchemaRule::OutOfRange {
                relation,
                bound: bound.to_string(),
            })
        };
        if let Some(b) = self.minimum.filter(|&b| n < b) {
            return out(Relation::AtLeast, b);
        }
        if let Some(b) = self.maximum.filter(|&b| n > b) {
            return out(Relation::AtMost, b);
        }
        if let Some(b) = self.exclusive_minimum.filter(|&b| n <= b) {
            return out(Relation::MoreThan, b);
        }
        if let Some(b) = self.exclusive_maximum.filter(|&b| n >= b) {
            return out(Relation::LessThan, b);
        }
        None
    }

    fn check_array(&self, items: &[Value], at: &str, depth: usize) -> Result<(), SchemaViolation> {
        let n = items.len() as u64;
        let fail = |rule| {
            Err(SchemaViolation {
                at: at.to_owned(),
                rule,
            })
        };
        if let Some(m) = self.min_items.filter(|&m| n < m) {
            return fail(SchemaRule::FewerItems(m));
        }
        if let Some(m) = self.max_items.filter(|&m| n > m) {
            return fail(SchemaRule::MoreItems(m));
        }
        if let Some(schema) = &self.items {
            for (i, item) in items.iter().enumerate() {
                schema.validate_at(item, &format!("{at}[{i}]"), depth + 1)?;
            }
        }
        Ok(())
    }

    fn check_object(
        &self,
        map: &Map<String, Value>,
        at: &str,
        depth: usize,
    ) -> Result<(), SchemaViolation> {
        let fail = |rule| {
            Err(SchemaViolation {
                at: at.to_owned(),
                rule,
            })
        };
        if let Some(name) = self.required.iter().find(|n| !map.contains_key(*n)) {
            return fail(SchemaRule::MissingProperty(name.clone()));
        }
        let n = map.len() as u64;
        if let Some(m) = self.min_properties.filter(|&m| n < m) {
            return fail(SchemaRule::FewerProperties(m));
        }
        if let Some(m) = self.max_properties.filter(|&m| n > m) {
            return fail(SchemaRule::MoreProperties(m));
        }
        for (key, value) in map {
            let place = format!("{at}.{key}");
            match self.properties.iter().find(|(k, _)| k == key) {
                Some((_, schema)) => schema.validate_at(value, &place, depth + 1)?,
                None => match &self.additional {
                    Some(None) => return fail(SchemaRule::UnknownProperty(key.clone())),
                    Some(Some(schema)) => schema.validate_at(value, &place, depth + 1)?,
                    None => {}
                },
            }
        }
        Ok(())
    }
}

/// Where in a body a schema rule failed, and which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// The place in the body: `body`, `body.lines[2].amount`.
    pub at: String,
    pub rule: SchemaRule,
}

/// The schema rule a body broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaRule {
    TooDeep {
        limit: usize,
    },
    WrongType {
        want: Vec<&'static str>,
        got: &'static str,
    },
    NotOneOf(Vec<Value>),
    Shorter(u64),
    Longer(u64),
    NoMatch(String),
    /// A number outside a bound (the bound as the schema writes it).
    OutOfRange {
        relation: Relation,
        bound: String,
    },
    FewerItems(u64),
    MoreItems(u64),
    MissingProperty(String),
    FewerProperties(u64),
    MoreProperties(u64),
    UnknownProperty(String),
}

/// How a number must stand to a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    AtLeast,
    AtMost,
    MoreThan,
    LessThan,
}

impl std::fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = &self.at;
        match &self.rule {
            SchemaRule::TooDeep { limit } => write!(f, "{at}: nests deeper than {limit} levels"),
            SchemaRule::WrongType { want, got } => {
                write!(f, "{at}: must be {}, not {got}", want.join(" or "))
            }
            SchemaRule::NotOneOf(values) => {
                let list: Vec<String> = values.iter().map(Value::to_string).collect();
                write!(f, "{at}: must be one of {}", list.join(", "))
            }
            SchemaRule::Shorter(m) => write!(f, "{at}: is shorter than {m} characters"),
            SchemaRule::Longer(m) => write!(f, "{at}: is longer than {m} characters"),
            SchemaRule::NoMatch(p) => write!(f, "{at}: does not match the pattern {p}"),
            SchemaRule::OutOfRange { relation, bound } => {
                let what = match relation {
                    Relation::AtLeast => "at least",
                    Relation::AtMost => "at most",
                    Relation::MoreThan => "more than",
                    Relation::LessThan => "less than",
                };
                write!(f, "{at}: must be {what} {bound}")
            }
            SchemaRule::FewerItems(m) => write!(f, "{at}: has fewer than {m} items"),
            SchemaRule::MoreItems(m) => write!(f, "{at}: has more than {m} items"),
            SchemaRule::MissingProperty(name) => {
                write!(f, "{at}: is missing the required property '{name}'")
            }
            SchemaRule::FewerProperties(m) => write!(f, "{at}: has fewer than {m} properties"),
            SchemaRule::MoreProperties(m) => write!(f, "{at}: has more than {m} properties"),
            SchemaRule::UnknownProperty(key) => write!(
                f,
                "{at}: has the property '{key}', which the schema does not allow"
            ),
        }
    }
}

impl std::error::Error for SchemaViolation {}

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

    /// The message a violation shows the model.
    fn msg(r: Result<(), SchemaViolation>) -> Result<(), String> {
        r.map_err(|e| e.to_string())
    }
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
            msg(s.validate(&json!({}))),
            Err("body: is missing the required property 'amount'".into())
        );
        assert_eq!(
            msg(s.validate(&json!({"amount": 0}))),
            Err("body.amount: must be at least 1".into())
        );
        assert_eq!(
            msg(s.validate(&json!({"amount": "5"}))),
            Err("body.amount: must be integer, not string".into())
        );
        assert_eq!(
            msg(s.validate(&json!({"amount": 5, "x": 1}))),
            Err("body: has the property 'x', which the schema does not allow".into())
        );
        assert_eq!(
            msg(s.validate(&json!({"amount": 5, "reason": "other"}))),
            Err("body.reason: must be one of \"dup\", \"fraud\"".into())
        );
        assert_eq!(
            msg(s.validate(&json!([]))),
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
            msg(s.validate(&json!([1, 2, 3]))),
            Err("body: has more than 2 items".into())
        );
        assert_eq!(
            msg(s.validate(&json!([10]))),
            Err("body[0]: must be less than 10".into())
        );
        let any_extra = schema(json!({"type": "object", "additionalProperties": true}));
        assert_eq!(any_extra.validate(&json!({"x": 1})), Ok(()));
        let typed_extra =
            schema(json!({"type": "object", "additionalProperties": {"type": "string"}}));
        assert_eq!(
            msg(typed_extra.validate(&json!({"x": 1}))),
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
