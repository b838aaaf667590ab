//! Compiling routes (typed tools) and `paths` rules (free-form access) of one target.

use super::access::compile_access;
use super::compiler::Compiler;
use super::model::{BodySpec, PathRule, PathRules, QueryRule, Route};
use super::param::{ParamSpec, ParamType, Pattern};
use super::path::PathGlob;
use super::request::{BODY_ARGUMENT, HEADERS_ARGUMENT};
use super::schema::BodySchema;
use super::template::{PathTemplate, TemplateError};
use super::types::{Label, Method, MethodSet, RouteName, ToolName};
use crate::config::raw::{RawBody, RawParam, RawPathRule, RawRoute};
use crate::config::{ErrorKind, Location};
use http::HeaderValue;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// Tool argument names that belong to harpoon, so no parameter may take them.
pub const RESERVED_ARGUMENTS: &[&str] = &[BODY_ARGUMENT, HEADERS_ARGUMENT];

/// Most values in one `enum`: a choice list, not a dictionary.
pub const MAX_ENUM_VALUES: usize = 256;

const METHOD_HINT: &str = "use one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, in upper case";

pub(super) fn compile_route(
    c: &mut Compiler,
    label: &Label,
    raw: &Spanned<RawRoute>,
    target_ctx: &str,
) -> Option<Route> {
    let r = &raw.value;
    let before = c.errors.len();
    let ctx = format!("{target_ctx} route '{}'", r.name.value);
    let name_at = c.loc(&r.name);
    let name = RouteName::parse(&r.name.value)
        .map_err(|m| {
            c.error(
                ErrorKind::Name,
                &name_at,
                target_ctx,
                m,
                "use lowercase letters, digits, '_' and '-', at most 63",
            )
        })
        .ok();
    let tool = match &r.tool {
        None => name.as_ref().and_then(|n| {
            let tool = ToolName::for_route(label, n);
            if tool.is_builtin() {
                c.error(
                    ErrorKind::Name,
                    &name_at,
                    &ctx,
                    format!("the default tool name '{tool}' is one of harpoon's own tools"),
                    "set 'tool' on this route to another name",
                );
                return None;
            }
            Some(tool)
        }),
        Some(t) => {
            let at = c.loc(t);
            ToolName::parse(&t.value)
                .map_err(|m| {
                    c.error(
                        ErrorKind::Name,
                        &at,
                        &ctx,
                        m,
                        "use letters, digits, '_' and '-', at most 64; or drop 'tool' to get '<label>_<route>'",
                    )
                })
                .ok()
        }
    };
    let method = parse_method(c, &r.method, &ctx);
    let path_at = c.loc(&r.path);
    let template = match PathTemplate::parse(&r.path.value) {
        Ok(t) => Some(t),
        Err(TemplateError::Syntax(m)) => {
            c.error(
                ErrorKind::Template,
                &path_at,
                &ctx,
                format!("path '{}' {m}", r.path.value),
                "",
            );
            None
        }
    };
    let mut params = BTreeMap::new();
    let mut param_locations = BTreeMap::new();
    if let Some(t) = &template {
        for p in t.params() {
            check_argument_name(c, p, &path_at, &ctx);
            params.insert(p.to_owned(), ParamSpec::free_path_param());
            param_locations.insert(p.to_owned(), path_at.clone());
        }
        for (pname, raw_param) in &r.params {
            let at = c.loc(raw_param);
            if !params.contains_key(pname) {
                let msg = format!(
                    "declares parameter '{pname}', which path '{}' does not use",
                    r.path.value
                );
                c.error(
                    ErrorKind::Param,
                    &at,
                    &ctx,
                    msg,
                    &format!("add '{{{pname}}}' to the path or remove the declaration"),
                );
                continue;
            }
            if let Some(spec) = compile_param(c, pname, &raw_param.value, true, &at, &ctx) {
                params.insert(pname.clone(), spec);
                param_locations.insert(pname.clone(), at);
            }
        }
    }
    let mut query = BTreeMap::new();
    for (qname, raw_param) in &r.query {
        let at = c.loc(raw_param);
        if !valid_query_name(qname) {
            let msg = format!("query parameter name '{qname}' is not valid");
            c.error(
                ErrorKind::Param,
                &at,
                &ctx,
                msg,
                "use letters, digits and '_', '-', '.', '[' or ']', at most 128",
            );
            continue;
        }
        if params.contains_key(qname) {
            let msg = format!("query parameter '{qname}' has the name of a path parameter");
            c.error(
                ErrorKind::Param,
                &at,
                &ctx,
                msg,
                "rename one: both become tool arguments",
            );
            continue;
        }
        check_argument_name(c, qname, &at, &ctx);
        if let Some(spec) = compile_param(c, qname, &raw_param.value, false, &at, &ctx) {
            query.insert(qname.clone(), spec);
            param_locations.insert(qname.clone(), at);
        }
    }
    let body = r
        .body
        .as_ref()
        .and_then(|b| compile_body(c, b, method, &ctx));
    let access = compile_access(c, r.access.as_ref(), &ctx);
    if c.errors.len() > before {
        return None;
    }
    Some(Route {
        tool: tool?,
        name: name?,
        description: r.description.clone(),
        method: method?,
        template: template?,
        params,
        query,
        body,
        access,
        location: name_at,
        param_locations,
    })
}

fn parse_method(c: &mut Compiler, raw: &Spanned<String>, ctx: &str) -> Option<Method> {
    let at = c.loc(raw);
    let m = Method::parse(&raw.value);
    if m.is_none() {
        let upper = raw.value.to_ascii_uppercase();
        let msg = if matches!(upper.as_str(), "TRACE" | "CONNECT") {
            format!("method '{}' can never be granted", raw.value)
        } else if Method::parse(&upper).is_some() {
            format!(
                "method '{}' must be written in upper case ('{upper}')",
                raw.value
            )
        } else {
            format!("method '{}' is not known", raw.value)
        };
        c.error(ErrorKind::Method, &at, ctx, msg, METHOD_HINT);
    }
    m
}

fn check_argument_name(c: &mut Compiler, name: &str, at: &Location, ctx: &str) {
    if RESERVED_ARGUMENTS.contains(&name) {
        let msg = format!("parameter name '{name}' is reserved for harpoon's own argument");
        c.error(ErrorKind::Param, at, ctx, msg, "rename the parameter");
    }
}

/// Query names: `^[A-Za-z0-9_.\-\[\]]{1,128}$`, enough for `page[size]` and `filter.name`.
pub fn valid_query_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']'))
}

fn compile_param(
    c: &mut Compiler,
    name: &str,
    raw: &RawParam,
    in_path: bool,
    at: &Location,
    ctx: &str,
) -> Option<ParamSpec> {
    let before = c.errors.len();
    let pctx = format!("{ctx} parameter '{name}'");
    let kind = match &raw.kind {
        None => ParamType::String,
        Some(k) => ParamType::parse(&k.value).unwrap_or_else(|| {
            let msg = format!("type '{}' is not known", k.value);
            c.error(
                ErrorKind::Param,
                at,
                &pctx,
                msg,
                "use string, integer, number or boolean",
            );
            ParamType::String
        }),
    };
    let pattern = raw.pattern.as_ref().and_then(|p| {
        if kind != ParamType::String {
            c.error(
                ErrorKind::Param,
                at,
                &pctx,
                "a pattern applies only to strings",
                "remove it or make the type string",
            );
            return None;
        }
        Pattern::parse(&p.value)
            .map_err(|m| c.error(ErrorKind::Param, at, &pctx, m, "fix the regular expression"))
            .ok()
    });
    let one_of = raw.one_of.clone().unwrap_or_default();
    if raw.one_of.as_ref().is_some_and(Vec::is_empty) || one_of.len() > MAX_ENUM_VALUES {
        let msg = format!("enum must list 1 to {MAX_ENUM_VALUES} values");
        c.error(ErrorKind::Param, at, &pctx, msg, "list the allowed values");
    }
    let probe = ParamSpec {
        description: None,
        kind,
        pattern: None,
        one_of: Vec::new(),
        required: true,
    };
    for v in &one_of {
        if let Err(why) = probe.check(v) {
            c.error(
                ErrorKind::Param,
                at,
                &pctx,
                format!("enum value {v} {why}"),
                "make every enum value match the type",
            );
        }
    }
    if in_path && raw.required == Some(false) {
        c.error(
            ErrorKind::Param,
            at,
            &pctx,
            "path parameters are always required",
            "remove 'required: false'",
        );
    }
    if c.errors.len() > before {
        return None;
    }
    Some(ParamSpec {
        description: raw.description.clone(),
        kind,
        pattern,
        one_of,
        required: in_path || raw.required.unwrap_or(false),
    })
}

fn compile_body(
    c: &mut Compiler,
    raw: &Spanned<RawBody>,
    method: Option<Method>,
    ctx: &str,
) -> Option<BodySpec> {
    let at = c.loc(raw);
    let b = &raw.value;
    if let Some(m) = method
        && !m.allows_body()
    {
        c.error(
            ErrorKind::Body,
            &at,
            ctx,
            format!("{m} routes take no body"),
            "remove 'body' or use POST, PUT, PATCH or DELETE",
        );
        return None;
    }
    let ct_at = c.loc(&b.content_type);
    let ct = b.content_type.value.trim();
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let valid_media = essence
        .split_once('/')
        .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty());
    let Ok(content_type) = HeaderValue::from_str(ct)
        .map_err(|_| ())
        .and_then(|v| if valid_media { Ok(v) } else { Err(()) })
    else {
        c.error(
            ErrorKind::Body,
            &ct_at,
            ctx,
            format!("content_type '{ct}' is not a media type"),
            "write e.g. application/json",
        );
        return None;
    };
    let json = essence == "application/json" || essence.ends_with("+json");
    let schema = match &b.schema {
        None => None,
        Some(s) => match BodySchema::compile(s) {
            Ok(schema) => Some(schema),
            Err(m) => {
                c.error(ErrorKind::Body, &at, ctx, format!("body schema {m}"), "");
                return None;
            }
        },
    };
    if !json
        && let Some(s) = &b.schema
        && s.get("type").and_then(|t| t.as_str()) != Some("string")
    {
        let msg =
            format!("a {essence} body is sent as text, so its schema must have 'type: string'");
        c.error(
            ErrorKind::Body,
            &at,
            ctx,
            msg,
            "use a JSON content type for structured bodies",
        );
        return None;
    }
    Some(BodySpec {
        content_type,
        json,
        schema,
        required: b.required.unwrap_or(true),
    })
}

pub(super) fn compile_path_rules(
    c: &mut Compiler,
    raw: &[Spanned<RawPathRule>],
    ctx: &str,
) -> PathRules {
    let mut rules = Vec::new();
    for r in raw {
        let at = c.loc(r);
        let glob_at = c.loc(&r.value.glob);
        let rctx = format!("{ctx} paths glob '{}'", r.value.glob.value);
        let methods = parse_methods(c, &r.value.methods, &at, &rctx);
        let glob = match PathGlob::parse(&r.value.glob.value) {
            Ok(g) => Some(g),
            Err(m) => {
                c.error(
                    ErrorKind::Glob,
                    &glob_at,
                    ctx,
                    format!("glob '{}' {m}", r.value.glob.value),
                    "",
                );
                None
            }
        };
        let query = compile_query_rule(c, r.value.query.as_deref(), &rctx);
        if let (Some(methods), Some(glob), Some(query)) = (methods, glob, query) {
            rules.push(PathRule {
                methods,
                glob,
                query,
                location: at,
            });
        }
    }
    PathRules::new(rules)
}

fn parse_methods(
    c: &mut Compiler,
    raw: &[Spanned<String>],
    at: &Location,
    ctx: &str,
) -> Option<MethodSet> {
    if raw.is_empty() {
        c.error(ErrorKind::Method, at, ctx, "lists no methods", METHOD_HINT);
        return None;
    }
    let mut set = MethodSet::default();
    let mut ok = true;
    for m in raw {
        match parse_method(c, m, ctx) {
            Some(method) if !set.insert(method) => {
                let mat = c.loc(m);
                c.error(
                    ErrorKind::Duplicate,
                    &mat,
                    ctx,
                    format!("method {method} is listed twice"),
                    "list it once",
                );
                ok = false;
            }
            Some(_) => {}
            None => ok = false,
        }
    }
    ok.then_some(set)
}

fn compile_query_rule(
    c: &mut Compiler,
    raw: Option<&[Spanned<String>]>,
    ctx: &str,
) -> Option<QueryRule> {
    let Some(raw) = raw else {
        return Some(QueryRule::Deny);
    };
    if raw.len() == 1 && raw[0].value == "*" {
        return Some(QueryRule::Any);
    }
    let mut names = Vec::new();
    for q in raw {
        if !valid_query_name(&q.value) {
            let at = c.loc(q);
            let msg = format!("query name '{}' is not valid", q.value);
            c.error(
                ErrorKind::Param,
                &at,
                ctx,
                msg,
                "use letters, digits and '_', '-', '.', '[' or ']'; or [\"*\"] alone for any name",
            );
            return None;
        }
        names.push(q.value.clone());
    }
    Some(QueryRule::Names(names))
}
