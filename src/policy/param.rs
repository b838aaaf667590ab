//! Path and query parameter declarations: a type, an optional pattern and an optional enum.
//! A value is checked against its declaration before it is encoded into a URL.

use super::template::ValueError;
use regex::{Regex, RegexBuilder};
use serde_json::{Value, json};
use std::sync::OnceLock;

/// Longest parameter value: identifiers and filters, not documents.
pub const MAX_PARAM_VALUE_BYTES: usize = 1024;

/// Compiled-size cap of a pattern, so a careless pattern cannot blow up memory; the regex
/// crate matches in linear time, so patterns cannot be made to backtrack.
pub const MAX_PATTERN_SIZE: usize = 1024 * 1024;

/// Longest pattern text: identifiers and formats, not grammars.
pub const MAX_PATTERN_LEN: usize = 1024;

/// Deepest nesting of groups and repetitions in a pattern.
pub const MAX_PATTERN_NEST: u32 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
}

impl ParamType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "string" => Some(Self::String),
            "integer" => Some(Self::Integer),
            "number" => Some(Self::Number),
            "boolean" => Some(Self::Boolean),
            _ => None,
        }
    }

    /// "a string", "an integer": for messages.
    pub fn with_article(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Integer => "an integer",
            Self::Number => "a number",
            Self::Boolean => "a boolean",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
        }
    }
}

/// A pattern with the text it was written as (for schemas and messages). Its syntax is checked
/// when the allowlist is compiled; the matcher is built on first use, so loading 10,000 routes
/// does not build 10,000 automata up front.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    /// The same pattern for the regex crate, with its ECMA-262 meaning (`ecma_regex`).
    rust: String,
    regex: OnceLock<Option<Regex>>,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_PATTERN_LEN {
            return Err(format!(
                "pattern is longer than {MAX_PATTERN_LEN} characters"
            ));
        }
        let rust = super::ecma_regex::to_rust(text).map_err(|e| {
            format!(
                "pattern '{text}' would match differently here than JSON Schema says; {}",
                e.hint()
            )
        })?;
        regex_syntax::ParserBuilder::new()
            .nest_limit(MAX_PATTERN_NEST)
            .build()
            .parse(&rust)
            .map_err(|e| {
                format!(
                    "pattern '{text}' does not compile: {}",
                    first_line(&e.to_string())
                )
            })?;
        Ok(Self {
            text: text.to_owned(),
            rust,
            regex: OnceLock::new(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// JSON Schema semantics: the pattern may match anywhere unless it is anchored. A pattern
    /// whose automaton exceeds the size cap matches nothing: the value is refused, never let by.
    pub fn is_match(&self, s: &str) -> bool {
        self.regex
            .get_or_init(|| {
                RegexBuilder::new(&self.rust)
                    .size_limit(MAX_PATTERN_SIZE)
                    .build()
                    .ok()
            })
            .as_ref()
            .is_some_and(|r| r.is_match(s))
    }

    pub fn is_anchored(&self) -> bool {
        self.text.starts_with('^') && self.text.ends_with('$') && !self.text.ends_with("\\$")
    }
}

/// The regex crate's message ends with the line that says what is wrong.
fn first_line(s: &str) -> &str {
    let last = s
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim();
    last.strip_prefix("error: ").unwrap_or(last)
}

/// Why a parameter value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    Required,
    WrongType(ParamType),
    TooLong {
        limit: usize,
    },
    /// Not one of the declared `enum` values (these).
    NotOneOf(Vec<Value>),
    NoMatch {
        pattern: String,
    },
    /// The value cannot fill a path segment.
    Segment(ValueError),
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamError::Required => f.write_str("is required"),
            ParamError::WrongType(kind) => write!(f, "must be {}", kind.with_article()),
            ParamError::TooLong { limit } => write!(f, "is longer than {limit} bytes"),
            ParamError::NotOneOf(values) => {
                let allowed: Vec<String> = values.iter().map(Value::to_string).collect();
                write!(f, "must be one of {}", allowed.join(", "))
            }
            ParamError::NoMatch { pattern } => write!(f, "does not match the pattern {pattern}"),
            ParamError::Segment(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ParamError {}

/// A declared parameter.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    pub description: Option<String>,
    pub kind: ParamType,
    pub pattern: Option<Pattern>,
    pub one_of: Vec<Value>,
    pub required: bool,
}

impl ParamSpec {
    /// An undeclared path parameter: any non-empty string (which `check` reports).
    pub fn free_path_param() -> Self {
        Self {
            description: None,
            kind: ParamType::String,
            pattern: None,
            one_of: Vec::new(),
            required: true,
        }
    }

    /// Whether any value of the type is accepted.
    pub fn is_unconstrained(&self) -> bool {
        self.pattern.is_none() && self.one_of.is_empty() && self.kind == ParamType::String
    }

    /// Checks a caller's value and gives the text to encode, or why it is refused.
    pub fn check(&self, value: &Value) -> Result<String, ParamError> {
        let text = match (self.kind, value) {
            (ParamType::String, Value::String(s)) => s.clone(),
            (ParamType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
            (ParamType::Number, Value::Number(n)) => n.to_string(),
            (ParamType::Boolean, Value::Bool(b)) => b.to_string(),
            _ => return Err(ParamError::WrongType(self.kind)),
        };
        if text.len() > MAX_PARAM_VALUE_BYTES {
            return Err(ParamError::TooLong {
                limit: MAX_PARAM_VALUE_BYTES,
            });
        }
        if !self.one_of.is_empty() && !self.one_of.contains(value) {
            return Err(ParamError::NotOneOf(self.one_of.clone()));
        }
        if let Some(p) = &self.pattern
            && !p.is_match(&text)
        {
            return Err(ParamError::NoMatch {
                pattern: p.as_str().to_owned(),
            });
        }
        Ok(text)
    }

    /// Checks a value that arrived as text (a path segment or query value of a redirect
    /// target): it must be the text a caller's value of the declared type would be sent as.
    pub fn check_text(&self, text: &str) -> Result<(), ParamError> {
        let wrong = ParamError::WrongType(self.kind);
        let value = match self.kind {
            ParamType::String => Value::String(text.to_owned()),
            ParamType::Integer | ParamType::Number => match serde_json::from_str::<Value>(text) {
                Ok(v @ Value::Number(_)) => v,
                _ => return Err(wrong),
            },
            ParamType::Boolean => match text {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(wrong),
            },
        };
        match self.check(&value)? {
            sent if sent == text => Ok(()),
            _ => Err(wrong),
        }
    }

    /// The JSON Schema of the parameter, for the tool's inputSchema.
    pub fn json_schema(&self) -> Value {
        let mut schema = json!({ "type": self.kind.as_str() });
        if let Some(d) = &self.description {
            schema["description"] = json!(d);
        }
        if let Some(p) = &self.pattern {
            schema["pattern"] = json!(p.as_str());
        }
        if !self.one_of.is_empty() {
            schema["enum"] = Value::Array(self.one_of.clone());
        }
        if self.kind == ParamType::String {
            schema["maxLength"] = json!(MAX_PARAM_VALUE_BYTES);
        }
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: ParamType, pattern: Option<&str>, one_of: Vec<Value>) -> ParamSpec {
        ParamSpec {
            description: None,
            kind,
            pattern: pattern.map(|p| Pattern::parse(p).unwrap()),
            one_of,
            required: true,
        }
    }

    #[test]
    fn checks_types_patterns_and_enums() {
        let id = spec(ParamType::String, Some("^inv_[0-9a-z]{8,32}$"), vec![]);
        assert_eq!(id.check(&json!("inv_12345678")), Ok("inv_12345678".into()));
        assert_eq!(
            id.check(&json!("inv_1/../x")),
            Err(ParamError::NoMatch {
                pattern: "^inv_[0-9a-z]{8,32}$".into()
            })
        );
        assert_eq!(
            id.check(&json!(5)),
            Err(ParamError::WrongType(ParamType::String))
        );
        let n = spec(ParamType::Integer, None, vec![]);
        assert_eq!(n.check(&json!(42)), Ok("42".into()));
        assert_eq!(
            n.check(&json!(4.5)),
            Err(ParamError::WrongType(ParamType::Integer))
        );
        let e = spec(
            ParamType::String,
            None,
            vec![json!("lines"), json!("customer")],
        );
        assert_eq!(e.check(&json!("lines")), Ok("lines".into()));
        assert_eq!(
            e.check(&json!("x")),
            Err(ParamError::NotOneOf(vec![
                json!("lines"),
                json!("customer")
            ]))
        );
        let long = "a".repeat(MAX_PARAM_VALUE_BYTES + 1);
        assert_eq!(
            spec(ParamType::String, None, vec![]).check(&json!(long)),
            Err(ParamError::TooLong {
                limit: MAX_PARAM_VALUE_BYTES
            })
        );
    }

    #[test]
    fn anchoring_is_detected() {
        assert!(Pattern::parse("^a$").unwrap().is_anchored());
        assert!(!Pattern::parse("a").unwrap().is_anchored());
        assert!(!Pattern::parse("^a").unwrap().is_anchored());
        assert!(
            Pattern::parse("(")
                .unwrap_err()
                .contains("does not compile")
        );
    }
}
