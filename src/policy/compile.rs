//! Raw allowlists -> `Policy`. Every rule of the file format is checked here, every error is
//! collected (one run reports them all), and what comes out cannot be invalid.

use super::access::compile_access;
use super::authorization::{AuthorizationPolicy, compile_authorization};
use super::compile_route::{compile_path_rules, compile_route};
use super::compiler::Compiler;
use super::headers::{compile_headers, compile_response_headers};
use super::limits::compile_limits;
use super::limits::{self};
use super::model::{Dangerous, Policy, Target, TargetSpans};
use super::net::compile_network;
use super::redact::Redactor;
use super::secret::InjectedValue;
use super::secret::SecretMode;
use super::types::parse_base_url;
use super::types::{Label, ToolName};
use crate::config::raw::{RawAllowlist, RawTarget};
use crate::config::{ConfigError, ConfigErrors, ErrorKind, LoadedFile, Location};
use std::collections::HashMap;
use std::sync::Arc;

impl Policy {
    /// Compiles loaded files, reading secrets from the process environment when `secrets` is
    /// `Resolve`.
    pub fn compile(files: &[LoadedFile], secrets: SecretMode) -> Result<Arc<Policy>, ConfigErrors> {
        Self::compile_with_env(files, secrets, &|name| std::env::var(name).ok())
    }

    /// Like `compile`, with the environment injected (tests, embedding).
    pub fn compile_with_env(
        files: &[LoadedFile],
        secrets: SecretMode,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<Policy>, ConfigErrors> {
        let mut errors = Vec::new();
        let mut targets = Vec::new();
        let mut authorization: Option<AuthorizationPolicy> = None;
        for file in files {
            let mut c = Compiler {
                file: Arc::clone(&file.name),
                errors: &mut errors,
                secrets,
                env,
            };
            compile_file(&mut c, &file.raw, &mut targets);
            if let Some(raw) = &file.raw.authorization {
                let at = c.loc(raw);
                match &authorization {
                    Some(first) => c.error(
                        ErrorKind::Duplicate,
                        &at,
                        "",
                        format!("authorization is already declared at {}", first.location),
                        "keep one authorization section across all loaded files",
                    ),
                    None => authorization = compile_authorization(&mut c, raw),
                }
            }
        }
        let by_label = index_labels(&targets, &mut errors);
        let tools = index_tools(&targets, &by_label, &mut errors);
        if !errors.is_empty() {
            return Err(ConfigErrors::from_vec(errors));
        }
        let mut tool_order: Vec<(&ToolName, (usize, usize))> =
            tools.iter().map(|(k, v)| (k, *v)).collect();
        tool_order.sort_by(|a, b| a.0.cmp(b.0));
        let tool_order = tool_order.into_iter().map(|(_, v)| v).collect();
        Ok(Arc::new(Policy {
            targets,
            by_label,
            tool_order,
            tools,
            files: files.iter().map(|f| f.name.to_string()).collect(),
            authorization,
        }))
    }
}

fn compile_file(c: &mut Compiler, raw: &RawAllowlist, out: &mut Vec<Target>) {
    if raw.version.value != 1 {
        let at = c.loc(&raw.version);
        c.error(
            ErrorKind::Version,
            &at,
            "",
            format!("version {} is not supported", raw.version.value),
            "write 'version: 1'",
        );
        return;
    }
    if raw.targets.is_empty() {
        let at = Location::file_start(&c.file);
        c.error(
            ErrorKind::Empty,
            &at,
            "",
            "file declares no targets",
            "add a target or remove the file",
        );
    }
    for t in &raw.targets {
        if let Some(mut target) = compile_target(c, t) {
            target.index = out.len();
            out.push(target);
        }
    }
}

/// Labels are unique across all files; the error points at the second use.
fn index_labels(targets: &[Target], errors: &mut Vec<ConfigError>) -> HashMap<Label, usize> {
    let mut by_label: HashMap<Label, usize> = HashMap::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        if let Some(&first) = by_label.get(&t.label) {
            errors.push(
                ConfigError::new(
                    ErrorKind::Duplicate,
                    t.location.clone(),
                    format!(
                        "label '{}' is already used at {}",
                        t.label, targets[first].location
                    ),
                )
                .hint("labels are unique across all loaded files; rename one"),
            );
        } else {
            by_label.insert(t.label.clone(), i);
        }
    }
    by_label
}

/// Tool names are unique across all files (an explicit `tool:` can collide with another).
/// Targets whose label is a duplicate are skipped: their label error already says it all.
fn index_tools(
    targets: &[Target],
    by_label: &HashMap<Label, usize>,
    errors: &mut Vec<ConfigError>,
) -> HashMap<ToolName, (usize, usize)> {
    let mut tools: HashMap<ToolName, (usize, usize)> = HashMap::new();
    for (t, target) in targets.iter().enumerate() {
        if by_label.get(&target.label) != Some(&t) {
            continue;
        }
        for (r, route) in target.routes.iter().enumerate() {
            if let Some(&(ft, fr)) = tools.get(&route.tool) {
                let first = &targets[ft].routes[fr].location;
                errors.push(
                    ConfigError::new(
                        ErrorKind::Duplicate,
                        route.location.clone(),
                        format!("tool name '{}' is already used at {first}", route.tool),
                    )
                    .context(format!(
                        "target '{}' route '{}'",
                        target.label,
                        route.name.as_str()
                    ))
                    .hint(
                        "tool names are unique across all loaded files; change 'tool' on one route",
                    ),
                );
            } else {
                tools.insert(route.tool.clone(), (t, r));
            }
        }
    }
    tools
}

fn compile_target(c: &mut Compiler, raw: &RawTarget) -> Option<Target> {
    let errors_before = c.errors.len();
    let label_at = c.loc(&raw.label);
    let ctx = format!("target '{}'", raw.label.value);
    let label = Label::parse(&raw.label.value)
        .map_err(|m| {
            c.error(ErrorKind::Name, &label_at, "", m, "use lowercase letters, digits, '_' and '-', at most 64, starting with a letter or digit")
        })
        .ok();
    let dangerous = Dangerous {
        allow_plaintext_http: raw
            .dangerous
            .as_ref()
            .and_then(|d| d.value.allow_plaintext_http.as_ref())
            .is_some_and(|b| b.value),
    };
    let base_url_at = c.loc(&raw.base_url);
    let origin = parse_base_url(&raw.base_url.value, dangerous.allow_plaintext_http)
        .map_err(|(m, h)| c.error(ErrorKind::BaseUrl, &base_url_at, &ctx, m, &h))
        .ok();
    let (network, cidr_spans) = compile_network(c, raw, &ctx);
    let (caller_headers, header_spans, injected) = compile_headers(c, raw.headers.as_ref(), &ctx);
    let response_headers = compile_response_headers(c, raw.response_headers.as_deref(), &ctx);
    let limits = raw
        .limits
        .as_ref()
        .map(|l| compile_limits(c, &l.value, &ctx))
        .unwrap_or_default();
    let redirects = compile_redirects(c, raw, &ctx);
    // Routes of a target with a bad label are still compiled, to report their errors too;
    // the target itself is then discarded.
    let label_for_tools = label.clone().unwrap_or_else(Label::placeholder);
    let mut routes = Vec::new();
    let mut seen_routes: HashMap<String, Location> = HashMap::new();
    for r in &raw.routes {
        let at = c.loc(&r.value.name);
        if let Some(first) = seen_routes.get(&r.value.name.value) {
            let msg = format!(
                "route name '{}' is already used at {first}",
                r.value.name.value
            );
            c.error(
                ErrorKind::Duplicate,
                &at,
                &ctx,
                msg,
                "route names are unique within a target; rename one",
            );
            continue;
        }
        seen_routes.insert(r.value.name.value.clone(), at);
        if let Some(route) = compile_route(c, &label_for_tools, r, &ctx) {
            routes.push(route);
        }
    }
    let paths = compile_path_rules(c, &raw.paths, &ctx);
    let access = compile_access(c, raw.access.as_ref(), &ctx);
    if raw.routes.is_empty() && raw.paths.is_empty() {
        c.error(
            ErrorKind::Empty,
            &label_at,
            &ctx,
            "grants nothing",
            "add 'routes' (typed tools) or 'paths' (reached through call_target)",
        );
    }
    if c.errors.len() > errors_before {
        return None;
    }
    let (origin, base_path) = origin?;
    let base_url = format!("{origin}{}", base_path.as_str());
    let Ok(base) = url::Url::parse(&base_url) else {
        c.error(
            ErrorKind::BaseUrl,
            &base_url_at,
            &ctx,
            format!("base_url '{base_url}' does not parse back"),
            "",
        );
        return None;
    };
    Some(Target {
        index: 0,
        label: label?,
        description: raw.description.clone(),
        base,
        base_url,
        origin,
        base_path,
        network,
        caller_headers,
        redactor: Redactor::new(injected.iter().flat_map(|h| {
            match &h.value {
                InjectedValue::Resolved(secret) => secret
                    .fragments()
                    .map(|f| f.to_vec().into_boxed_slice())
                    .collect::<Vec<_>>(),
                InjectedValue::Unresolved => Vec::new(),
            }
        })),
        injected,
        response_headers,
        limits,
        routes,
        paths,
        redirects,
        dangerous,
        access,
        location: label_at,
        spans: TargetSpans {
            base_url: base_url_at,
            allow_cidrs: cidr_spans,
            caller_headers: header_spans,
            limits: raw.limits.as_ref().map(|l| c.loc(l)),
            dangerous: raw.dangerous.as_ref().map(|d| c.loc(d)),
            redirects: raw.redirects.as_ref().map(|r| c.loc(r)),
        },
    })
}

fn compile_redirects(c: &mut Compiler, raw: &RawTarget, ctx: &str) -> u8 {
    let Some(r) = &raw.redirects else { return 0 };
    if r.value > u32::from(limits::MAX_REDIRECTS) {
        let at = c.loc(r);
        let msg = format!(
            "redirects {} is above the ceiling of {}",
            r.value,
            limits::MAX_REDIRECTS
        );
        c.error(ErrorKind::Limit, &at, ctx, msg, "lower it");
        return 0;
    }
    r.value as u8
}
