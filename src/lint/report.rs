//! Rendering a review: readable text, JSON for scripts, SARIF 2.1.0 for code-scanning UIs.

use super::{Code, Finding, Grant, Severity};
use crate::config::ConfigErrors;
use serde_json::{Value, json};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

/// What a review found: either the input was unusable, or a policy with findings.
pub enum Outcome<'a> {
    Invalid(&'a ConfigErrors),
    Reviewed {
        files: &'a [String],
        findings: &'a [Finding],
        grants: &'a [Grant],
    },
}

pub fn render(format: Format, outcome: &Outcome) -> String {
    match format {
        Format::Text => text(outcome),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&json_value(outcome)).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Sarif => {
            let mut s = serde_json::to_string_pretty(&sarif(outcome)).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}

fn text(outcome: &Outcome) -> String {
    let mut out = String::new();
    match outcome {
        Outcome::Invalid(errors) => {
            let _ = writeln!(out, "{errors}");
            let _ = writeln!(
                out,
                "{} error(s); the allowlists were not loaded",
                errors.len()
            );
        }
        Outcome::Reviewed {
            files,
            findings,
            grants,
        } => {
            for f in *findings {
                let _ = writeln!(
                    out,
                    "{}[{}]: {}: {}",
                    f.severity.as_str(),
                    f.code.id(),
                    f.location,
                    f.message
                );
                if !f.hint.is_empty() {
                    let _ = writeln!(out, "    hint: {}", f.hint);
                }
            }
            if !findings.is_empty() {
                out.push('\n');
            }
            text_grants(&mut out, grants);
            let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
            let routes: usize = grants.iter().map(|g| g.routes.len()).sum();
            let paths: usize = grants.iter().map(|g| g.paths.len()).sum();
            let _ = writeln!(
                out,
                "{} file(s), {} target(s), {routes} route(s), {paths} path rule(s): {} error(s), {} warning(s), {} note(s)",
                files.len(),
                grants.len(),
                count(Severity::Error),
                count(Severity::Warning),
                count(Severity::Note),
            );
        }
    }
    out
}

fn text_grants(out: &mut String, grants: &[Grant]) {
    if grants.is_empty() {
        return;
    }
    let _ = writeln!(out, "What these allowlists grant:");
    for g in grants {
        let _ = writeln!(out);
        match &g.description {
            Some(d) => _ = writeln!(out, "target {}: {d}", g.label),
            None => _ = writeln!(out, "target {}", g.label),
        }
        let _ = writeln!(out, "  base url          {}", g.base_url);
        let _ = writeln!(out, "  network           {}", g.network);
        for r in &g.routes {
            let _ = writeln!(out, "  tool {:<28} {} {}", r.tool, r.method, r.path);
            for p in &r.params {
                let _ = writeln!(out, "      {p}");
            }
            if let Some(b) = &r.body {
                let _ = writeln!(out, "      body {b}");
            }
        }
        for p in &g.paths {
            let _ = writeln!(
                out,
                "  call_target       {} {} ({})",
                p.methods, p.glob, p.query
            );
        }
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        let _ = writeln!(out, "  injects           {}", list(&g.injects));
        let _ = writeln!(out, "  callers may set   {}", list(&g.caller_headers));
        let _ = writeln!(out, "  returns headers   {}", list(&g.response_headers));
        let _ = writeln!(out, "  limits            {}", g.limits);
        let redirects = match g.redirects {
            0 => "not followed (3xx returned as is)".to_owned(),
            n => format!("up to {n}, same origin only"),
        };
        let _ = writeln!(out, "  redirects         {redirects}");
    }
    out.push('\n');
}

fn json_value(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Invalid(errors) => json!({
            "valid": false,
            "errors": errors.iter().map(|e| json!({
                "file": e.location.as_ref().map(|l| l.file.to_string())
                    .or_else(|| e.path.as_ref().map(|p| p.display().to_string())),
                "line": e.location.as_ref().map(|l| l.line),
                "column": e.location.as_ref().map(|l| l.column),
                "kind": e.kind.as_str(),
                "context": e.context,
                "message": e.message,
                "hint": e.hint,
                "text": e.to_string(),
            })).collect::<Vec<_>>(),
        }),
        Outcome::Reviewed {
            files,
            findings,
            grants,
        } => json!({
            "valid": true,
            "files": files,
            "findings": findings.iter().map(|f| json!({
                "code": f.code.id(),
                "severity": f.severity,
                "file": f.location.file.to_string(),
                "line": f.location.line,
                "column": f.location.column,
                "target": f.target,
                "message": f.message,
                "hint": f.hint,
            })).collect::<Vec<_>>(),
            "grants": grants,
        }),
    }
}

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn sarif(outcome: &Outcome) -> Value {
    let mut rules: Vec<Value> = Code::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.id(),
                "shortDescription": {"text": c.title()},
                "defaultConfiguration": {"level": c.severity().as_str()},
            })
        })
        .collect();
    rules.push(json!({
        "id": "invalid_allowlist",
        "shortDescription": {"text": "the allowlist is not valid and would not load"},
        "defaultConfiguration": {"level": "error"},
    }));
    let results: Vec<Value> = match outcome {
        Outcome::Invalid(errors) => errors
            .iter()
            .map(|e| {
                let (file, line, col) = match (&e.location, &e.path) {
                    (Some(l), _) => (l.file.to_string(), l.line, l.column),
                    (None, Some(p)) => (p.display().to_string(), 1, 1),
                    (None, None) => ("<unknown>".to_owned(), 1, 1),
                };
                sarif_result(
                    "invalid_allowlist",
                    "error",
                    &e.to_string(),
                    &file,
                    line,
                    col,
                )
            })
            .collect(),
        Outcome::Reviewed { findings, .. } => findings
            .iter()
            .map(|f| {
                let text = if f.hint.is_empty() {
                    f.message.clone()
                } else {
                    format!("{} (hint: {})", f.message, f.hint)
                };
                sarif_result(
                    f.code.id(),
                    f.severity.as_str(),
                    &text,
                    &f.location.file,
                    f.location.line,
                    f.location.column,
                )
            })
            .collect(),
    };
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "harpoon",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

fn sarif_result(rule: &str, level: &str, text: &str, file: &str, line: u64, col: u64) -> Value {
    json!({
        "ruleId": rule,
        "level": level,
        "message": {"text": text},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": file},
            "region": {"startLine": line.max(1), "startColumn": col.max(1)},
        }}],
    })
}
