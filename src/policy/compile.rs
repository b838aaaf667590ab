//! Raw allowlists -> `Policy`. Every rule of the file format is checked here, every error is
//! collected (one run reports them all), and what comes out cannot be invalid.

use super::compile_route::{compile_path_rules, compile_route};
use super::headers;
use super::limits::{self, Limits, Oversize};
use super::model::{Dangerous, InjectedHeader, Policy, Target, TargetSpans};
use super::net::NetworkPolicy;
use super::secret::{InjectedValue, SecretMode, SecretTemplate};
use super::types::{BasePath, Host, Label, Origin, Scheme, ToolName};
use crate::config::raw::{RawAllowlist, RawHeaders, RawLimits, RawTarget};
use crate::config::{ConfigError, ConfigErrors, ErrorKind, LoadedFile, Location};
use http::HeaderName;
use ipnet::IpNet;
use serde_saphyr::Spanned;
use std::collections::HashMap;
use std::sync::Arc;

/// Collects errors while compiling one file.
pub(super) struct Compiler<'a> {
    pub file: Arc<str>,
    pub errors: &'a mut Vec<ConfigError>,
    secrets: SecretMode,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Compiler<'_> {
    pub fn loc<T>(&self, s: &Spanned<T>) -> Location {
        Location::from_yaml(&self.file, s.referenced)
    }

    pub fn error(
        &mut self,
        kind: ErrorKind,
        at: &Location,
        ctx: &str,
        msg: impl Into<String>,
        hint: &str,
    ) {
        self.errors.push(
            ConfigError::new(kind, at.clone(), msg)
                .context(ctx)
                .hint(hint),
        );
    }
}

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
        for file in files {
            let mut c = Compiler {
                file: Arc::clone(&file.name),
                errors: &mut errors,
                secrets,
                env,
            };
            compile_file(&mut c, &file.raw, &mut targets);
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
        injected,
        response_headers,
        limits,
        routes,
        paths,
        redirects,
        dangerous,
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

/// Checks `base_url` and splits it into origin and base path.
pub(super) fn parse_base_url(
    text: &str,
    allow_http: bool,
) -> Result<(Origin, BasePath), (String, String)> {
    let fail = |m: String, h: &str| Err((m, h.to_owned()));
    let url = match url::Url::parse(text) {
        Ok(u) => u,
        Err(e) => {
            return fail(
                format!("base_url '{text}' is not a URL ({e})"),
                "write e.g. https://api.internal.example/v1",
            );
        }
    };
    let scheme = match url.scheme() {
        "https" => Scheme::Https,
        "http" if allow_http => Scheme::Http,
        "http" => {
            return fail(
                format!("base_url '{text}' uses plaintext http"),
                "use https, or set 'dangerous: {allow_plaintext_http: true}' if the network is trusted",
            );
        }
        other => {
            return fail(
                format!("base_url scheme '{other}' is not http or https"),
                "use https",
            );
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return fail(
            "base_url holds user info".into(),
            "remove it; inject credentials with headers.inject and ${env:NAME}",
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return fail(
            "base_url holds a query or fragment".into(),
            "remove it; declare query parameters on routes",
        );
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => Host::Domain(d.to_ascii_lowercase()),
        Some(url::Host::Ipv4(a)) => Host::Ip(a.into()),
        Some(url::Host::Ipv6(a)) => Host::Ip(a.into()),
        None => {
            return fail(
                "base_url has no host".into(),
                "write e.g. https://api.internal.example",
            );
        }
    };
    let Some(port) = url.port_or_known_default() else {
        return fail("base_url has no port".into(), "add one");
    };
    check_raw_base_path(text)?;
    let base = url.path().trim_end_matches('/');
    Ok((
        Origin { scheme, host, port },
        BasePath::new_unchecked(base.to_owned()),
    ))
}

/// The url crate quietly resolves `..` and `.`; a base path that needed that is refused, so the
/// file says exactly what it grants.
fn check_raw_base_path(text: &str) -> Result<(), (String, String)> {
    let after_scheme = text.split_once("://").map_or(text, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    let lower = path.to_ascii_lowercase();
    let bad = path.contains('\\')
        || path.contains("//")
        || lower.contains("%2e")
        || lower.contains("%2f")
        || path.split('/').any(|s| s == "." || s == "..");
    if bad {
        return Err((
            format!(
                "base_url path '{path}' holds dot segments, '//', backslashes or encoded separators"
            ),
            "write the canonical path, e.g. /api/v2".into(),
        ));
    }
    Ok(())
}

fn compile_network(c: &mut Compiler, raw: &RawTarget, ctx: &str) -> (NetworkPolicy, Vec<Location>) {
    let mut nets = Vec::new();
    let mut spans = Vec::new();
    for cidr in raw.network.iter().flat_map(|n| &n.allow_cidrs) {
        let at = c.loc(cidr);
        match parse_cidr(&cidr.value) {
            Ok(net) => {
                nets.push(net);
                spans.push(at);
            }
            Err((m, h)) => c.error(ErrorKind::Network, &at, ctx, m, &h),
        }
    }
    (NetworkPolicy::new(nets), spans)
}

/// A CIDR (`10.20.0.0/16`) or a single address; host bits must be zero, so the file says
/// exactly which range it opens.
pub(super) fn parse_cidr(text: &str) -> Result<IpNet, (String, String)> {
    let net: IpNet = match text.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => match text.parse::<std::net::IpAddr>() {
            Ok(ip) => IpNet::from(ip),
            Err(_) => {
                return Err((
                    format!("'{text}' is not a CIDR"),
                    "write e.g. 10.20.0.0/16 or fd00:1::/64".into(),
                ));
            }
        },
    };
    if net.trunc() != net {
        return Err((
            format!("'{text}' has host bits set"),
            format!("write {}", net.trunc()),
        ));
    }
    Ok(net)
}

type HeaderParts = (Vec<HeaderName>, Vec<Location>, Vec<InjectedHeader>);

fn compile_headers(c: &mut Compiler, raw: Option<&RawHeaders>, ctx: &str) -> HeaderParts {
    let mut allow = Vec::new();
    let mut spans = Vec::new();
    let Some(raw) = raw else {
        return (allow, spans, Vec::new());
    };
    for h in &raw.allow {
        let at = c.loc(h);
        match headers::parse_name(&h.value) {
            Err(m) => c.error(ErrorKind::Header, &at, ctx, m, ""),
            Ok(name) if headers::is_forbidden_request_header(&name) => c.error(
                ErrorKind::Header,
                &at,
                ctx,
                format!("header '{}' can never be set by a caller", h.value),
                "remove it from headers.allow; hop-by-hop, routing and forwarding headers are always stripped",
            ),
            Ok(name) if allow.contains(&name) => {
                c.error(ErrorKind::Duplicate, &at, ctx, format!("header '{}' is listed twice", h.value), "list it once")
            }
            Ok(name) => {
                allow.push(name);
                spans.push(at);
            }
        }
    }
    let mut injected: Vec<InjectedHeader> = Vec::new();
    for (name_text, value) in &raw.inject {
        let at = c.loc(value);
        let name = match headers::parse_name(name_text) {
            Ok(n) => n,
            Err(m) => {
                c.error(ErrorKind::Header, &at, ctx, m, "");
                continue;
            }
        };
        if headers::is_forbidden_request_header(&name) {
            let msg = format!("header '{name_text}' cannot be injected");
            c.error(
                ErrorKind::Header,
                &at,
                ctx,
                msg,
                "remove it; hop-by-hop, routing and forwarding headers are set by harpoon or never",
            );
            continue;
        }
        if injected.iter().any(|h| h.name == name) {
            let msg =
                format!("header '{name_text}' is injected twice (names are case-insensitive)");
            c.error(ErrorKind::Duplicate, &at, ctx, msg, "keep one");
            continue;
        }
        if let Some(h) = compile_injected(c, name, name_text, &value.value, at, ctx) {
            injected.push(h);
        }
    }
    (allow, spans, injected)
}

fn compile_injected(
    c: &mut Compiler,
    name: HeaderName,
    written: &str,
    text: &str,
    at: Location,
    ctx: &str,
) -> Option<InjectedHeader> {
    let template = match SecretTemplate::parse(text) {
        Ok(t) => t,
        Err(m) => {
            c.error(
                ErrorKind::Secret,
                &at,
                ctx,
                format!("injected header '{written}' {m}"),
                "",
            );
            return None;
        }
    };
    let value = match c.secrets {
        SecretMode::Validate => InjectedValue::Unresolved,
        SecretMode::Resolve => match template.resolve(c.env) {
            Ok(s) => InjectedValue::Resolved(s),
            Err(m) => {
                let msg = format!("injected header '{written}': {m}");
                c.error(
                    ErrorKind::Secret,
                    &at,
                    ctx,
                    msg,
                    "provide the secret to harpoon's process",
                );
                return None;
            }
        },
    };
    Some(InjectedHeader {
        name,
        template,
        value,
        location: at,
    })
}

fn compile_response_headers(
    c: &mut Compiler,
    raw: Option<&[Spanned<String>]>,
    ctx: &str,
) -> Vec<HeaderName> {
    let Some(raw) = raw else {
        return headers::DEFAULT_RESPONSE_HEADERS
            .iter()
            .map(|h| HeaderName::from_static(h))
            .collect();
    };
    let mut out = Vec::new();
    for h in raw {
        let at = c.loc(h);
        match headers::parse_name(&h.value) {
            Err(m) => c.error(ErrorKind::Header, &at, ctx, m, ""),
            Ok(name) if headers::is_forbidden_response_header(&name) => c.error(
                ErrorKind::Header,
                &at,
                ctx,
                format!("response header '{}' is never returned", h.value),
                "remove it from response_headers; cookies and hop-by-hop headers never reach the caller",
            ),
            Ok(name) if out.contains(&name) => {
                c.error(ErrorKind::Duplicate, &at, ctx, format!("response header '{}' is listed twice", h.value), "list it once")
            }
            Ok(name) => out.push(name),
        }
    }
    out
}

fn compile_limits(c: &mut Compiler, raw: &RawLimits, ctx: &str) -> Limits {
    let mut limits = Limits::default();
    let bytes =
        |c: &mut Compiler, field: &Option<Spanned<String>>, key: &str, max: u64, out: &mut u64| {
            if let Some(v) = field {
                let at = c.loc(v);
                match limits::parse_bytes(&v.value) {
                    Ok(0) => c.error(
                        ErrorKind::Limit,
                        &at,
                        ctx,
                        format!("limits.{key} is 0"),
                        "give a positive size",
                    ),
                    Ok(n) if n > max => c.error(
                        ErrorKind::Limit,
                        &at,
                        ctx,
                        format!(
                            "limits.{key} {} is above the ceiling of {}",
                            v.value,
                            limits::format_bytes(max)
                        ),
                        "lower it",
                    ),
                    Ok(n) => *out = n,
                    Err(m) => c.error(ErrorKind::Limit, &at, ctx, format!("limits.{key}: {m}"), ""),
                }
            }
        };
    bytes(
        c,
        &raw.request_bytes,
        "request_bytes",
        limits::MAX_REQUEST_BYTES,
        &mut limits.request_bytes,
    );
    bytes(
        c,
        &raw.response_bytes,
        "response_bytes",
        limits::MAX_RESPONSE_BYTES,
        &mut limits.response_bytes,
    );
    let duration = |c: &mut Compiler,
                    field: &Option<Spanned<String>>,
                    key: &str,
                    out: &mut std::time::Duration| {
        if let Some(v) = field {
            let at = c.loc(v);
            match limits::parse_duration(&v.value) {
                Ok(d) if d > limits::MAX_TIMEOUT || d < limits::MIN_TIMEOUT => c.error(
                    ErrorKind::Limit,
                    &at,
                    ctx,
                    format!(
                        "limits.{key} {} is outside {}ms..{}s",
                        v.value,
                        limits::MIN_TIMEOUT.as_millis(),
                        limits::MAX_TIMEOUT.as_secs()
                    ),
                    "pick a value in that range",
                ),
                Ok(d) => *out = d,
                Err(m) => c.error(ErrorKind::Limit, &at, ctx, format!("limits.{key}: {m}"), ""),
            }
        }
    };
    duration(c, &raw.timeout, "timeout", &mut limits.timeout);
    duration(
        c,
        &raw.connect_timeout,
        "connect_timeout",
        &mut limits.connect_timeout,
    );
    limits.connect_timeout = limits.connect_timeout.min(limits.timeout);
    if let Some(v) = &raw.concurrency {
        let at = c.loc(v);
        if v.value == 0 || v.value > limits::MAX_CONCURRENCY {
            let msg = format!(
                "limits.concurrency {} is outside 1..{}",
                v.value,
                limits::MAX_CONCURRENCY
            );
            c.error(
                ErrorKind::Limit,
                &at,
                ctx,
                msg,
                "pick a value in that range",
            );
        } else {
            limits.concurrency = v.value;
        }
    }
    if let Some(v) = &raw.rate {
        let at = c.loc(v);
        match limits::parse_rate(&v.value) {
            Ok(r) if r.per_second() > limits::MAX_RATE_PER_SECOND => {
                let msg = format!(
                    "limits.rate {} is above the ceiling of {} per second",
                    v.value,
                    limits::MAX_RATE_PER_SECOND
                );
                c.error(ErrorKind::Limit, &at, ctx, msg, "lower it")
            }
            Ok(r) => limits.rate = Some(r),
            Err(m) => c.error(ErrorKind::Limit, &at, ctx, format!("limits.rate: {m}"), ""),
        }
    }
    if let Some(v) = &raw.oversize {
        let at = c.loc(v);
        match v.value.as_str() {
            "truncate" => limits.oversize = Oversize::Truncate,
            "error" => limits.oversize = Oversize::Error,
            other => c.error(
                ErrorKind::Limit,
                &at,
                ctx,
                format!("limits.oversize '{other}' is not truncate or error"),
                "write truncate or error",
            ),
        }
    }
    limits
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
