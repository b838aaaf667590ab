//! Reading an OpenAPI document within bounds into an order-preserving tree. The order matters:
//! the allowlist lists routes as the document lists paths, so a reviewer can diff the two.
//! `serde_json::Value` sorts keys (the crate's maps are not order-preserving here), hence `Node`.

use super::error::ImportError;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Largest document read. GitHub's published document, one of the largest public ones, is
/// 13 MB as JSON; 32 MiB leaves room and refuses a 1 GB file before reading it.
pub const MAX_DOCUMENT_BYTES: u64 = 32 * 1024 * 1024;

/// Deepest nesting of a document. GitHub's is 21 levels deep; 64 leaves room for deeply
/// nested schemas and keeps the parser's recursion far from the stack's end.
pub const MAX_DOCUMENT_DEPTH: usize = 64;

/// Most YAML nodes in one document: a 32 MiB document has at most a few million.
const MAX_YAML_NODES: usize = 8_000_000;

/// Most YAML alias uses: anchors are rare in OpenAPI documents; each use can copy a subtree.
const MAX_YAML_ALIASES: usize = 10_000;

/// Most events replayed through aliases: bounds the work an alias bomb can ask for.
const MAX_YAML_REPLAYED_EVENTS: usize = 1_000_000;

/// A document value, with mappings in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    /// The value under `key`, when this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Node]> {
        match self {
            Node::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(String, Node)]> {
        match self {
            Node::Object(entries) => Some(entries),
            _ => None,
        }
    }

    /// A string under `key`, when there is one.
    pub fn str_at(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::as_str)
    }

    /// How deeply the value nests (a scalar is 0).
    pub fn depth(&self) -> usize {
        match self {
            Node::Array(items) => 1 + items.iter().map(Node::depth).max().unwrap_or(0),
            Node::Object(entries) => 1 + entries.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// The same value as JSON (key order is lost).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.clone()),
            Node::Array(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A JSON value as a node (object keys come sorted).
    pub fn from_json(value: &serde_json::Value) -> Node {
        use serde_json::Value;
        match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => Node::Number(n.clone()),
            Value::String(s) => Node::String(s.clone()),
            Value::Array(items) => Node::Array(items.iter().map(Node::from_json).collect()),
            Value::Object(map) => Node::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// The syntax a document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Json,
    Yaml,
}

impl Syntax {
    pub fn as_str(self) -> &'static str {
        match self {
            Syntax::Json => "JSON",
            Syntax::Yaml => "YAML",
        }
    }
}

/// Parses a document's bytes: JSON when it starts with `{` or `[`, YAML otherwise (YAML is a superset
/// of JSON, but the JSON parser is much faster on large documents).
pub fn parse(bytes: &[u8]) -> Result<Node, ImportError> {
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(ImportError::TooLarge {
            bytes: bytes.len() as u64,
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| ImportError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let syntax = if text.trim_start().starts_with(['{', '[']) {
        Syntax::Json
    } else {
        Syntax::Yaml
    };
    let parsed = match syntax {
        Syntax::Json => parse_json(text),
        Syntax::Yaml => parse_yaml(text),
    };
    parsed.map_err(|message| ImportError::Syntax { syntax, message })
}

fn parse_json(text: &str) -> Result<Node, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let node = NodeSeed { depth: 0 }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(node)
}

fn parse_yaml(text: &str) -> Result<Node, String> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DOCUMENT_DEPTH,
            max_nodes: MAX_YAML_NODES,
            max_aliases: MAX_YAML_ALIASES,
            max_anchors: MAX_YAML_ALIASES,
            max_recorded_anchor_events: MAX_YAML_REPLAYED_EVENTS,
            max_documents: 1,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_YAML_REPLAYED_EVENTS,
        },
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| e.to_string())
}

impl<'de> de::Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NodeSeed { depth: 0 }.deserialize(d)
    }
}

/// Builds a `Node`, refusing nesting past `MAX_DOCUMENT_DEPTH` and duplicate keys (a reader
/// and a tool could otherwise each take a different one of the two).
struct NodeSeed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        self.deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        // NaN and infinities (YAML's .nan, .inf) have no JSON form.
        Ok(serde_json::Number::from_f64(v).map_or(Node::Null, Node::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let depth = self.deeper::<A::Error>()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(NodeSeed { depth })? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let depth = self.deeper::<A::Error>()?;
        let mut entries: Vec<(String, Node)> = Vec::new();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<Key>()? {
            if !seen.insert(key.0.clone()) {
                return Err(de::Error::custom(format_args!(
                    "the key '{}' appears twice in one mapping",
                    key.0
                )));
            }
            let value = map.next_value_seed(NodeSeed { depth })?;
            entries.push((key.0, value));
        }
        Ok(Node::Object(entries))
    }
}

impl NodeSeed {
    fn deeper<E: de::Error>(&self) -> Result<usize, E> {
        if self.depth >= MAX_DOCUMENT_DEPTH {
            return Err(E::custom(format_args!(
                "the document nests deeper than {MAX_DOCUMENT_DEPTH} levels"
            )));
        }
        Ok(self.depth + 1)
    }
}

/// A mapping key: YAML allows scalars other than strings (`200:` under `responses`).
struct Key(String);

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }

    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(Key(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Key, E> {
        Ok(Key(v))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_unit<E>(self) -> Result<Key, E> {
        Ok(Key("null".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_document_order_and_reads_both_syntaxes() {
        let json = parse(br#"{"b": 1, "a": [true, null, "x"]}"#).unwrap();
        let yaml = parse(b"b: 1\na: [true, null, x]\n").unwrap();
        assert_eq!(json, yaml);
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(keys, ["b", "a"]);
    }

    #[test]
    fn yaml_integer_keys_become_strings() {
        let doc = parse(b"responses:\n  200: {description: ok}\n").unwrap();
        assert!(doc.get("responses").unwrap().get("200").is_some());
    }

    #[test]
    fn refuses_duplicate_keys_deep_nesting_and_large_input() {
        let dup = parse(br#"{"a": 1, "a": 2}"#).unwrap_err();
        assert!(dup.to_string().contains("'a' appears twice"), "{dup}");
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let err = parse(deep.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("deeper than 64"), "{err}");
        let deep_yaml = format!("a: {}{}", "[".repeat(100), "]".repeat(100));
        assert!(matches!(
            parse(deep_yaml.as_bytes()),
            Err(ImportError::Syntax {
                syntax: Syntax::Yaml,
                ..
            })
        ));
        let big = vec![b' '; MAX_DOCUMENT_BYTES as usize + 1];
        assert_eq!(
            parse(&big).unwrap_err(),
            ImportError::TooLarge {
                bytes: MAX_DOCUMENT_BYTES + 1,
                limit: MAX_DOCUMENT_BYTES
            }
        );
    }
}
