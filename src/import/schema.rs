//! Request body schemas: an OpenAPI schema translated into the JSON Schema subset harpoon
//! enforces (`policy::schema`). Local `$ref`s are resolved, `allOf` is merged, cycles are cut,
//! and every constraint harpoon cannot enforce is dropped with a note. Each step only ever
//! makes the schema accept more, never less: the upstream still checks what harpoon cannot, and
//! a call the API would take is never refused here.

use super::document::Node;
use super::error::ImportError;
use super::reference::{self, escape};
use super::text::trim_chars;
use super::version::Version;
use crate::policy::param::Pattern;
use crate::policy::schema::MAX_SCHEMA_DEPTH;

/// Most schema nodes written for one body. Larger schemas are cut to "any value" below this:
/// a tool's input schema is read by a model on every turn, and a file by a reviewer.
pub const MAX_BODY_SCHEMA_NODES: usize = 1_000;

/// Most schema nodes written for all bodies of one import, so that importing every write of a
/// large API (GitHub's 580) stays far below the 8 MiB an allowlist file may be.
pub const MAX_TOTAL_SCHEMA_NODES: usize = 40_000;

/// Deepest `default`, `examples`, `enum` or `const` value kept: deeper ones are dropped, since
/// the file's YAML nesting is bounded too (`config::load::MAX_YAML_DEPTH`).
pub const MAX_VALUE_DEPTH: usize = 4;

/// Longest property description kept, in characters; longer ones are cut with an ellipsis.
pub const MAX_SCHEMA_DESCRIPTION_CHARS: usize = 256;

/// Keywords that constrain nothing and are dropped without a note.
const IGNORED: &[&str] = &[
    "example",
    "xml",
    "externalDocs",
    "discriminator",
    "$schema",
    "$id",
    "$anchor",
    "$defs",
    "definitions",
    "contentMediaType",
    "contentEncoding",
];

const COUNTS: &[&str] = &[
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
];

const NUMBERS: &[&str] = &["minimum", "maximum"];

const TYPES: &[&str] = &[
    "null", "boolean", "integer", "number", "string", "array", "object",
];

/// Translates schemas within the budgets, collecting notes for the route's comment.
pub struct Translator<'d> {
    root: &'d Node,
    version: Version,
    /// Nodes left for the whole import.
    total_left: usize,
    /// Nodes left for the body being translated.
    body_left: usize,
    /// The references being expanded, to cut cycles.
    expanding: Vec<&'d str>,
    notes: Vec<String>,
}

impl<'d> Translator<'d> {
    pub fn new(root: &'d Node, version: Version) -> Self {
        Self {
            root,
            version,
            total_left: MAX_TOTAL_SCHEMA_NODES,
            body_left: 0,
            expanding: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// One body's schema, and the notes on what was dropped. `at` names where it stands.
    pub fn body(&mut self, schema: &'d Node, at: &str) -> Result<(Node, Vec<String>), ImportError> {
        self.body_left = MAX_BODY_SCHEMA_NODES;
        self.notes.clear();
        let out = self.translate(schema, at, "#", 0)?;
        Ok((out, std::mem::take(&mut self.notes)))
    }

    fn note(&mut self, text: String) {
        self.notes.push(text);
    }

    /// `at` is where the schema stands in the document (for errors), `place` where it stands
    /// in the body schema (for notes).
    fn translate(
        &mut self,
        schema: &'d Node,
        at: &str,
        place: &str,
        depth: usize,
    ) -> Result<Node, ImportError> {
        if let Some(r) = schema.str_at("$ref") {
            if self.expanding.contains(&r) {
                self.note(format!(
                    "{place}: cycle through {r} cut; any value is accepted there"
                ));
                return Ok(Node::Object(Vec::new()));
            }
            let target = reference::lookup(self.root, r, at)?;
            self.expanding.push(r);
            let out = self.translate(target, r, place, depth);
            self.expanding.pop();
            return out;
        }
        if depth > MAX_SCHEMA_DEPTH {
            self.note(format!(
                "{place}: nests deeper than {MAX_SCHEMA_DEPTH} levels; cut, any value is accepted there"
            ));
            return Ok(Node::Object(Vec::new()));
        }
        if self.body_left == 0 || self.total_left == 0 {
            self.note(format!(
                "{place}: the schema is larger than the import writes; cut, any value is accepted there"
            ));
            return Ok(Node::Object(Vec::new()));
        }
        self.body_left -= 1;
        self.total_left -= 1;
        let Some(entries) = schema.as_object() else {
            if schema.as_bool() != Some(true) {
                self.note(format!(
                    "{place}: schema {} is not a mapping; any value is accepted there",
                    short(schema)
                ));
            }
            return Ok(Node::Object(Vec::new()));
        };
        let mut out: Vec<(String, Node)> = Vec::new();
        let mut dropped: Vec<&str> = Vec::new();
        let mut all_of = None;
        for (key, value) in entries {
            let kept = match key.as_str() {
                "allOf" => {
                    all_of = Some(value);
                    None
                }
                "type" => types(value),
                "properties" => Some(self.properties(value, at, place, depth)?),
                "required" => value
                    .as_array()
                    .filter(|names| names.iter().all(|n| n.as_str().is_some()))
                    .map(|_| value.clone()),
                "additionalProperties" => match value {
                    Node::Bool(_) => Some(value.clone()),
                    Node::Object(_) => Some(self.translate(
                        value,
                        &format!("{at}/additionalProperties"),
                        &format!("{place}/additionalProperties"),
                        depth + 1,
                    )?),
                    _ => None,
                },
                "items" => match value {
                    Node::Object(_) => Some(self.translate(
                        value,
                        &format!("{at}/items"),
                        &format!("{place}/items"),
                        depth + 1,
                    )?),
                    _ => None,
                },
                "enum" => value
                    .as_array()
                    .filter(|v| !v.is_empty() && value.depth() <= MAX_VALUE_DEPTH)
                    .map(|_| value.clone()),
                "const" | "default" => (value.depth() < MAX_VALUE_DEPTH).then(|| value.clone()),
                "examples" => value
                    .as_array()
                    .filter(|_| value.depth() <= MAX_VALUE_DEPTH)
                    .map(|_| value.clone()),
                "pattern" => value
                    .as_str()
                    .filter(|p| Pattern::parse(p).is_ok())
                    .map(|_| value.clone()),
                "exclusiveMinimum" | "exclusiveMaximum" => match value {
                    Node::Number(_) => Some(value.clone()),
                    // 2.0 and 3.0: a flag on minimum/maximum, converted below.
                    Node::Bool(_) => None,
                    _ => None,
                },
                "title" | "format" | "$comment" => value.as_str().map(|_| value.clone()),
                "description" => value
                    .as_str()
                    .map(|d| Node::String(trim_chars(d, MAX_SCHEMA_DESCRIPTION_CHARS))),
                "deprecated" | "readOnly" | "writeOnly" => value.as_bool().map(Node::Bool),
                "nullable" => None,
                k if COUNTS.contains(&k) => match value {
                    Node::Number(n) if n.is_u64() => Some(value.clone()),
                    _ => None,
                },
                k if NUMBERS.contains(&k) => match value {
                    Node::Number(_) => Some(value.clone()),
                    _ => None,
                },
                k if IGNORED.contains(&k) || k.starts_with("x-") => continue,
                _ => {
                    dropped.push(key);
                    continue;
                }
            };
            match kept {
                Some(v) => out.push((key.clone(), v)),
                None if matches!(key.as_str(), "allOf" | "nullable")
                    || (key.starts_with("exclusiveM") && value.as_bool().is_some()) => {}
                None => dropped.push(key),
            }
        }
        if !dropped.is_empty() {
            self.note(format!(
                "{place}: {} not enforced by harpoon; dropped",
                dropped.join(", ")
            ));
        }
        self.exclusive_flags(entries, &mut out);
        if self.version != Version::OpenApi31 && schema.get("nullable") == Some(&Node::Bool(true)) {
            nullable(&mut out);
        }
        if let Some(parts) = all_of {
            self.merge_all_of(parts, at, place, depth, &mut out)?;
        }
        Ok(Node::Object(out))
    }

    fn properties(
        &mut self,
        value: &'d Node,
        at: &str,
        place: &str,
        depth: usize,
    ) -> Result<Node, ImportError> {
        let Some(props) = value.as_object() else {
            return Ok(Node::Object(Vec::new()));
        };
        let mut out = Vec::with_capacity(props.len());
        for (name, sub) in props {
            let token = escape(name);
            let schema = self.translate(
                sub,
                &format!("{at}/properties/{token}"),
                &format!("{place}/properties/{token}"),
                depth + 1,
            )?;
            out.push((name.clone(), schema));
        }
        Ok(Node::Object(out))
    }

    /// 2.0 and 3.0 write `exclusiveMinimum: true` next to `minimum`; JSON Schema writes the
    /// bound itself. Without a bound the flag says nothing.
    fn exclusive_flags(&self, entries: &[(String, Node)], out: &mut Vec<(String, Node)>) {
        for (flag, bound) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            let on = entries
                .iter()
                .any(|(k, v)| k == flag && v == &Node::Bool(true));
            if !on {
                continue;
            }
            if let Some(i) = out.iter().position(|(k, _)| k == bound) {
                let (_, value) = out.remove(i);
                out.push((flag.to_owned(), value));
            }
        }
    }

    /// `allOf` is merged into the schema: the parts' properties join its own (the first
    /// definition of a name wins), `required` lists are joined, and any other keyword a part
    /// has is taken when the schema lacks it. A part's `additionalProperties` is left out: the
    /// merged properties would count as additional to it.
    fn merge_all_of(
        &mut self,
        parts: &'d Node,
        at: &str,
        place: &str,
        depth: usize,
        out: &mut Vec<(String, Node)>,
    ) -> Result<(), ImportError> {
        let Some(parts) = parts.as_array() else {
            return Ok(());
        };
        for (i, part) in parts.iter().enumerate() {
            let translated = self.translate(
                part,
                &format!("{at}/allOf/{i}"),
                &format!("{place}/allOf/{i}"),
                depth,
            )?;
            let Node::Object(entries) = translated else {
                continue;
            };
            for (key, value) in entries {
                merge_keyword(out, key, value);
            }
        }
        Ok(())
    }
}

fn merge_keyword(out: &mut Vec<(String, Node)>, key: String, value: Node) {
    let existing = out.iter().position(|(k, _)| *k == key);
    match (key.as_str(), existing) {
        ("additionalProperties", _) => {}
        (_, None) => out.push((key, value)),
        ("properties", Some(i)) => {
            if let (Node::Object(mine), Node::Object(theirs)) = (&mut out[i].1, value) {
                for (name, schema) in theirs {
                    if !mine.iter().any(|(k, _)| *k == name) {
                        mine.push((name, schema));
                    }
                }
            }
        }
        ("required", Some(i)) => {
            if let (Node::Array(mine), Node::Array(theirs)) = (&mut out[i].1, value) {
                for name in theirs {
                    if !mine.contains(&name) {
                        mine.push(name);
                    }
                }
            }
        }
        _ => {}
    }
}

/// `type` when it names only JSON Schema types (2.0's `file` does not).
fn types(value: &Node) -> Option<Node> {
    let known = |n: &Node| n.as_str().is_some_and(|t| TYPES.contains(&t));
    match value {
        Node::String(_) if known(value) => Some(value.clone()),
        Node::Array(list) if !list.is_empty() && list.iter().all(known) => Some(value.clone()),
        _ => None,
    }
}

/// 3.0's `nullable: true`: null is accepted too.
fn nullable(out: &mut [(String, Node)]) {
    for (key, value) in out.iter_mut() {
        match (key.as_str(), &mut *value) {
            ("type", Node::String(t)) => {
                *value = Node::Array(vec![Node::String(t.clone()), Node::String("null".into())]);
            }
            ("type", Node::Array(list)) | ("enum", Node::Array(list)) => {
                let null = if key == "type" {
                    Node::String("null".into())
                } else {
                    Node::Null
                };
                if !list.contains(&null) {
                    list.push(null);
                }
            }
            _ => {}
        }
    }
}

/// A short rendering of a value for a note.
fn short(value: &Node) -> String {
    trim_chars(&value.to_json().to_string(), 40)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::document::parse;
    use crate::policy::schema::BodySchema;

    fn translate(doc: &str, schema: &str) -> (serde_json::Value, Vec<String>) {
        let root = parse(doc.as_bytes()).unwrap();
        let schema = parse(format!(r#"{{"$ref": "{schema}"}}"#).as_bytes()).unwrap();
        let mut t = Translator::new(&root, Version::OpenApi30);
        let (out, notes) = t.body(&schema, "#/x").unwrap();
        let json = out.to_json();
        BodySchema::compile(&json).expect("harpoon compiles every translated schema");
        (json, notes)
    }

    #[test]
    fn resolves_merges_and_cuts_cycles() {
        let doc = r##"{"s": {
            "Node": {"type": "object", "properties": {"next": {"$ref": "#/s/Node"}}},
            "Pet": {"allOf": [{"$ref": "#/s/Named"}, {"type": "object", "required": ["age"],
                    "additionalProperties": false, "properties": {"age": {"type": "integer",
                    "minimum": 0, "exclusiveMinimum": true, "nullable": true}}}],
                    "required": ["name"]},
            "Named": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string",
                      "oneOf": [{"maxLength": 3}], "pattern": "(?i)x"}}}}}"##;
        let (node, notes) = translate(doc, "#/s/Node");
        assert_eq!(
            node,
            serde_json::json!({"type": "object", "properties": {"next": {}}})
        );
        assert_eq!(
            notes,
            ["#/properties/next: cycle through #/s/Node cut; any value is accepted there"]
        );
        let (pet, notes) = translate(doc, "#/s/Pet");
        assert_eq!(
            pet,
            serde_json::json!({"required": ["name", "age"], "type": "object", "properties": {
                "name": {"type": "string"},
                "age": {"type": ["integer", "null"], "exclusiveMinimum": 0}}})
        );
        assert_eq!(
            notes,
            ["#/allOf/0/properties/name: oneOf, pattern not enforced by harpoon; dropped"]
        );
    }
}
