//! `harpoon import openapi`: an allowlist from an OpenAPI document (3.0, 3.1 or Swagger 2.0,
//! JSON or YAML), read-only unless asked, that `harpoon check` then reviews like any other.
//!
//! One step a file: [`document`] reads the document within bounds, [`version`] says which
//! OpenAPI it is, [`server`] finds the base URL, [`security`] turns schemes into injected
//! headers, [`operation`] makes each operation a route (with [`param`], [`schema`] for bodies,
//! [`reference`] for `$ref`s and [`naming`] for names), and [`yaml`] writes the [`plan`]. The
//! written file is then loaded and compiled like any allowlist before it is returned, so an
//! import never hands out a file `serve` would refuse.

pub mod document;
pub mod error;
pub mod naming;
pub mod operation;
pub mod param;
pub mod plan;
pub mod reference;
pub mod schema;
pub mod security;
pub mod server;
pub mod text;
pub mod version;
pub mod yaml;

pub use error::ImportError;

use crate::config::load::MAX_FILE_BYTES;
use crate::policy::types::{Label, Method};
use crate::policy::{Policy, SecretMode};
use document::Node;
use operation::{Context, Operation};
use plan::Plan;
use reference::escape;
use std::sync::Arc;
use version::Version;

/// The methods imported when `--methods` is not given: reads only.
pub const DEFAULT_METHODS: [Method; 2] = [Method::Get, Method::Head];

/// Longest label derived from the document's title (`--label` may be up to 64): short enough
/// that `<label>_<route>` tool names keep most of the route name.
pub const MAX_DERIVED_LABEL_LEN: usize = 24;

/// What to import, and from where.
#[derive(Debug, Clone)]
pub struct Options {
    /// What the header comment calls the document (its path, or `-`).
    pub source: String,
    pub label: Option<String>,
    pub base_url: Option<String>,
    pub methods: Vec<Method>,
    pub tags: Vec<String>,
    pub operations: Vec<String>,
    pub exclude_operations: Vec<String>,
}

impl Options {
    /// The defaults: read-only, every operation, label from the title, base URL from the
    /// document.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            label: None,
            base_url: None,
            methods: DEFAULT_METHODS.to_vec(),
            tags: Vec::new(),
            operations: Vec::new(),
            exclude_operations: Vec::new(),
        }
    }
}

/// An import's result: the allowlist text and what it holds.
#[derive(Debug, Clone)]
pub struct Imported {
    pub yaml: String,
    pub label: String,
    /// Routes written: each is one tool.
    pub tools: usize,
    /// Operations left out (each listed at the end of the file).
    pub excluded: usize,
    /// Things the person running the import should know now (schemes not imported, http).
    pub warnings: Vec<String>,
}

/// Imports a document's bytes.
pub fn import(bytes: &[u8], options: &Options) -> Result<Imported, ImportError> {
    let root = document::parse(bytes)?;
    let version = Version::detect(&root)?;
    let label = label(&root, options)?;
    let base = server::base_url(&root, version, options.base_url.as_deref())?;
    let operations = operations(&root)?;
    for id in options.operations.iter().chain(&options.exclude_operations) {
        if !operations.iter().any(|op| op.id() == Some(id.as_str())) {
            return Err(ImportError::UnknownOperation { id: id.clone() });
        }
    }
    let (selected, mut excluded): (Vec<&Operation<'_>>, Vec<String>) = {
        let mut selected = Vec::new();
        let mut excluded = Vec::new();
        for op in &operations {
            match selection(op, options) {
                Ok(()) => selected.push(op),
                Err(why) => excluded.push(left_out(op, &why)),
            }
        }
        (selected, excluded)
    };
    let mut used = Vec::new();
    for op in &selected {
        for scheme in security::operation_schemes(&root, version, op.node) {
            if !used.contains(&scheme) {
                used.push(scheme);
            }
        }
    }
    let injection = security::inject(&root, version, &used, label.as_str());
    let mut cx = Context {
        root: &root,
        version,
        schemas: schema::Translator::new(&root, version),
        names: naming::Names::new(label.clone()),
        injected: injection
            .headers
            .iter()
            .map(|(h, _)| h.to_ascii_lowercase())
            .collect(),
    };
    let mut routes = Vec::new();
    for op in &selected {
        match operation::translate(&mut cx, op)? {
            Ok(route) => routes.push(route),
            Err(why) => excluded.push(left_out(op, &why)),
        }
    }
    if routes.is_empty() {
        return Err(ImportError::NothingImported {
            operations: operations.len(),
        });
    }
    let mut warnings = injection.refused.clone();
    let mut base_url_notes = vec![format!("base_url from {}", base.source)];
    if base.plaintext {
        let flag = "plaintext http: requests and injected credentials cross the network unencrypted; use https if the API offers it".to_owned();
        warnings.push(flag.clone());
        base_url_notes.push(flag);
    }
    let plan = Plan {
        header: header(&root, version, options, routes.len(), excluded.len()),
        label: label.as_str().to_owned(),
        description: root
            .get("info")
            .and_then(|i| i.str_at("title"))
            .map(|t| text::trim_chars(t, operation::MAX_DESCRIPTION_CHARS))
            .filter(|t| !t.is_empty()),
        base_url: base.url,
        base_url_notes,
        plaintext: base.plaintext,
        inject: injection.headers,
        security_notes: injection.refused,
        routes,
        excluded,
    };
    let yaml = yaml::write(&plan);
    self_check(&yaml)?;
    Ok(Imported {
        yaml,
        label: plan.label,
        tools: plan.routes.len(),
        excluded: plan.excluded.len(),
        warnings,
    })
}

/// `--label`, or one derived from `info.title` (`Swagger Petstore` -> `swagger-petstore`).
fn label(root: &Node, options: &Options) -> Result<Label, ImportError> {
    if let Some(given) = &options.label {
        return Label::parse(given).map_err(|why| ImportError::BadLabel { why });
    }
    let title = root
        .get("info")
        .and_then(|i| i.str_at("title"))
        .unwrap_or("");
    let mut derived = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            derived.push(c.to_ascii_lowercase());
        } else if !derived.is_empty() && !derived.ends_with('-') {
            derived.push('-');
        }
    }
    if derived.len() > MAX_DERIVED_LABEL_LEN {
        // Cut at a word boundary when there is one: `support-for-different`, not `...-se`.
        let cut = derived[..=MAX_DERIVED_LABEL_LEN]
            .rfind('-')
            .unwrap_or(MAX_DERIVED_LABEL_LEN);
        derived.truncate(cut);
    }
    let derived = derived.trim_end_matches('-');
    let derived = if derived.is_empty() { "api" } else { derived };
    Label::parse(derived).map_err(|why| ImportError::BadLabel { why })
}

/// Every operation under `paths`, in document order.
fn operations(root: &Node) -> Result<Vec<Operation<'_>>, ImportError> {
    let mut out = Vec::new();
    let paths = root
        .get("paths")
        .and_then(Node::as_object)
        .unwrap_or_default();
    for (path, raw_item) in paths {
        let at = format!("#/paths/{}", escape(path));
        let (item, _) = reference::resolve(root, raw_item, &at)?;
        for (key, node) in item.as_object().unwrap_or_default() {
            let upper = key.to_ascii_uppercase();
            let method = match upper.as_str() {
                "TRACE" => None,
                _ => match Method::parse(&upper) {
                    Some(m) => Some(m),
                    None => continue,
                },
            };
            let op_at = format!("{at}/{key}");
            let Some(method) = method else {
                // TRACE is never granted; it is listed with the operations left out.
                out.push(Operation {
                    path,
                    item,
                    method: Method::Options,
                    node,
                    at: op_at,
                });
                continue;
            };
            out.push(Operation {
                path,
                item,
                method,
                node,
                at: op_at,
            });
        }
    }
    Ok(out)
}

/// Whether the options select an operation, or why not.
fn selection(op: &Operation<'_>, options: &Options) -> Result<(), String> {
    if op.at.ends_with("/trace") {
        return Err("TRACE can never be granted".into());
    }
    let id = op.id();
    if id.is_some_and(|id| options.exclude_operations.iter().any(|e| e == id)) {
        return Err("left out by --exclude-operation".into());
    }
    if !options.operations.is_empty() {
        return if id.is_some_and(|id| options.operations.iter().any(|o| o == id)) {
            Ok(())
        } else {
            Err("not named by --operation".into())
        };
    }
    if !options.methods.contains(&op.method) {
        return Err(format!(
            "{} is not among the methods imported (GET and HEAD unless --methods names others)",
            op.method
        ));
    }
    if !options.tags.is_empty() {
        let tags: Vec<&str> = op
            .node
            .get("tags")
            .and_then(Node::as_array)
            .unwrap_or_default()
            .iter()
            .filter_map(Node::as_str)
            .collect();
        if !options.tags.iter().any(|t| tags.contains(&t.as_str())) {
            return Err("no tag named by --tag".into());
        }
    }
    Ok(())
}

fn left_out(op: &Operation<'_>, why: &str) -> String {
    let method = if op.at.ends_with("/trace") {
        "TRACE"
    } else {
        op.method.as_str()
    };
    match op.id() {
        Some(id) => format!("{method} {} ({id}): {why}", op.path),
        None => format!("{method} {}: {why}", op.path),
    }
}

fn header(
    root: &Node,
    version: Version,
    options: &Options,
    tools: usize,
    excluded: usize,
) -> Vec<String> {
    let info = root.get("info");
    let title = info.and_then(|i| i.str_at("title")).unwrap_or("untitled");
    let api_version = info
        .and_then(|i| i.get("version"))
        .map(|v| match v {
            Node::String(s) => s.clone(),
            other => yaml::flow(other),
        })
        .unwrap_or_else(|| "unversioned".into());
    let mut args = Vec::new();
    if let Some(l) = &options.label {
        args.push(format!("--label {l}"));
    }
    if let Some(b) = &options.base_url {
        args.push(format!("--base-url {b}"));
    }
    let methods: Vec<&str> = options.methods.iter().map(|m| m.as_str()).collect();
    args.push(format!("--methods {}", methods.join(",")));
    args.extend(options.tags.iter().map(|t| format!("--tag {t}")));
    args.extend(
        options
            .operations
            .iter()
            .map(|o| format!("--operation {o}")),
    );
    args.extend(
        options
            .exclude_operations
            .iter()
            .map(|o| format!("--exclude-operation {o}")),
    );
    vec![
        String::new(),
        format!(
            "Imported by `harpoon import openapi` from {}: {} {} ({}).",
            text::trim_chars(&options.source, 200),
            text::trim_chars(title, 200),
            text::trim_chars(&api_version, 64),
            version.as_str()
        ),
        format!("Options: {}", args.join(" ")),
        format!(
            "{tools} tools; {excluded} operations left out (listed at the end). Review every route, then run `harpoon check` on this file."
        ),
    ]
}

/// Loads and compiles the written file as `check` and `serve` would (secrets are not read).
fn self_check(yaml: &str) -> Result<(), ImportError> {
    if yaml.len() as u64 > MAX_FILE_BYTES {
        return Err(ImportError::OutputTooLarge {
            bytes: yaml.len() as u64,
            limit: MAX_FILE_BYTES,
        });
    }
    let name: Arc<str> = Arc::from("imported allowlist");
    let raw =
        crate::config::parse(&name, yaml.as_bytes()).map_err(|e| ImportError::OutputRefused {
            errors: e.to_string(),
        })?;
    let file = crate::config::LoadedFile { name, raw };
    Policy::compile(std::slice::from_ref(&file), SecretMode::Validate)
        .map(|_| ())
        .map_err(|e| ImportError::OutputRefused {
            errors: e.to_string(),
        })
}
