//! Writing the plan as allowlist YAML, by hand so the output is exactly what a reviewer should
//! read: every string from the document double-quoted and escaped (a title such as `yes`, `1e3`
//! or `*x` cannot turn into another value), every comment on one line, arrays in flow style.

use super::document::Node;
use super::plan::{BodyPlan, ParamPlan, Plan, RoutePlan};
use super::text::{needs_escape, one_line};
use std::fmt::Write;

/// The editor modeline: the schema as it sits next to harpoon's shipped allowlists.
pub const SCHEMA_LINE: &str = "# yaml-language-server: $schema=../schemas/allowlist.v1.json";

pub fn write(plan: &Plan) -> String {
    let mut out = String::with_capacity(4096 + plan.routes.len() * 512);
    out.push_str(SCHEMA_LINE);
    out.push('\n');
    for line in &plan.header {
        comment(&mut out, 0, line);
    }
    out.push_str("version: 1\ntargets:\n");
    let _ = writeln!(out, "  - label: {}", quote(&plan.label));
    if let Some(d) = &plan.description {
        let _ = writeln!(out, "    description: {}", quote(d));
    }
    for line in &plan.base_url_notes {
        comment(&mut out, 4, line);
    }
    let _ = writeln!(out, "    base_url: {}", quote(&plan.base_url));
    if plan.plaintext {
        out.push_str("    dangerous:\n      allow_plaintext_http: true\n");
    }
    for line in &plan.security_notes {
        comment(&mut out, 4, line);
    }
    if !plan.inject.is_empty() {
        out.push_str("    headers:\n      inject:\n");
        for (name, value) in &plan.inject {
            let _ = writeln!(out, "        {}: {}", quote(name), quote(value));
        }
    }
    out.push_str("    routes:\n");
    for route in &plan.routes {
        write_route(&mut out, route);
    }
    if !plan.excluded.is_empty() {
        out.push_str("#\n");
        comment(
            &mut out,
            0,
            &format!("Left out ({} operations):", plan.excluded.len()),
        );
        for line in &plan.excluded {
            comment(&mut out, 0, &format!("- {line}"));
        }
    }
    out
}

fn write_route(out: &mut String, r: &RoutePlan) {
    for note in &r.notes {
        comment(out, 6, &format!("note: {note}"));
    }
    let _ = writeln!(out, "      - name: {}", quote(&r.name));
    if let Some(d) = &r.description {
        let _ = writeln!(out, "        description: {}", quote(d));
    }
    let _ = writeln!(out, "        method: {}", r.method);
    let _ = writeln!(out, "        path: {}", quote(&r.path));
    for (key, list) in [("params", &r.params), ("query", &r.query)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "        {key}:");
        for (name, p) in list {
            write_param(out, name, p);
        }
    }
    if let Some(b) = &r.body {
        write_body(out, b);
    }
}

fn write_param(out: &mut String, name: &str, p: &ParamPlan) {
    let _ = writeln!(out, "          {}:", quote(name));
    if let Some(d) = &p.description {
        let _ = writeln!(out, "            description: {}", quote(d));
    }
    let _ = writeln!(out, "            type: {}", p.kind.as_str());
    if let Some(pattern) = &p.pattern {
        let _ = writeln!(out, "            pattern: {}", quote(pattern));
    }
    if !p.one_of.is_empty() {
        let _ = writeln!(
            out,
            "            enum: {}",
            flow(&Node::Array(p.one_of.clone()))
        );
    }
    if p.required {
        out.push_str("            required: true\n");
    }
}

fn write_body(out: &mut String, b: &BodyPlan) {
    out.push_str("        body:\n");
    let _ = writeln!(out, "          content_type: {}", quote(&b.content_type));
    if !b.required {
        out.push_str("          required: false\n");
    }
    if let Some(schema) = &b.schema {
        out.push_str("          schema:");
        block(out, schema, 12);
    }
}

/// A value after `key:`: mappings as indented blocks, everything else on the same line.
fn block(out: &mut String, node: &Node, indent: usize) {
    match node {
        Node::Object(entries) if !entries.is_empty() => {
            out.push('\n');
            for (key, value) in entries {
                let _ = write!(out, "{:indent$}{}:", "", quote(key));
                block(out, value, indent + 2);
            }
        }
        other => {
            out.push(' ');
            out.push_str(&flow(other));
            out.push('\n');
        }
    }
}

/// A value in flow style: JSON's shape, with YAML's escaping.
pub fn flow(node: &Node) -> String {
    match node {
        Node::Null => "null".to_owned(),
        Node::Bool(b) => b.to_string(),
        Node::Number(n) => n.to_string(),
        Node::String(s) => quote(s),
        Node::Array(items) => {
            let parts: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", parts.join(", "))
        }
        Node::Object(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", quote(k), flow(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// A YAML double-quoted scalar: `"` and `\` escaped, and every character that is not
/// printable in YAML (controls, line separators, the byte-order mark) as an escape.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn comment(out: &mut String, indent: usize, text: &str) {
    let text = one_line(text);
    let text = text.trim_end();
    if text.is_empty() {
        let _ = writeln!(out, "{:indent$}#", "");
    } else {
        let _ = writeln!(out, "{:indent$}# {text}", "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings_read_back_as_written() {
        let tricky = [
            "yes",
            "no",
            "null",
            "~",
            "1e3",
            "0x10",
            "*alias",
            "&anchor",
            "!tag",
            "- item",
            "a: b",
            "# not a comment",
            "'single'",
            "\"double\"",
            "back\\slash",
            "line\nbreak",
            "\u{85}nel",
            "\u{2028}ls",
            "\u{feff}bom",
            "\u{7f}del",
            "tab\there",
            "ünïcödé 🙂",
            "{braces}",
            "[brackets]",
            "%percent",
            "@at",
            "`tick",
            "",
        ];
        for s in tricky {
            let yaml = format!("k: {}\n", quote(s));
            let back: std::collections::BTreeMap<String, String> =
                serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(back["k"], s, "{yaml}");
        }
    }

    #[test]
    fn comments_stay_on_one_line() {
        let mut out = String::new();
        comment(&mut out, 2, "a\nb: injected\r\u{2028}c");
        assert_eq!(out, "  # a b: injected  c\n");
    }
}
