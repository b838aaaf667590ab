//! One operation becomes one route: name, method, path template, parameters, body and
//! description, or the reason it cannot be imported.

use super::document::Node;
use super::error::ImportError;
use super::naming::Names;
use super::param;
use super::plan::{BodyPlan, ParamPlan, RoutePlan};
use super::reference::{self, escape};
use super::schema::Translator;
use super::text::trim_chars;
use super::version::Version;
use crate::policy::RESERVED_ARGUMENTS;
use crate::policy::template::{PathTemplate, valid_param_name};
use crate::policy::types::Method;
use crate::policy::valid_query_name;

/// Longest tool description kept, in characters: summary and description together. A model
/// reads every tool's description on every turn; the API's full prose belongs in its docs.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// Most notes written above one route; the rest are counted.
pub const MAX_NOTES_PER_ROUTE: usize = 12;

/// What translating one operation needs from the whole import.
pub struct Context<'d> {
    pub root: &'d Node,
    pub version: Version,
    pub schemas: Translator<'d>,
    pub names: Names,
    /// Header names the target injects, lower case: a parameter for one of them is covered.
    pub injected: Vec<String>,
}

/// One operation of the document, as found under `paths`.
pub struct Operation<'d> {
    pub path: &'d str,
    pub item: &'d Node,
    pub method: Method,
    pub node: &'d Node,
    /// Where the operation stands (`#/paths/~1pets/get`).
    pub at: String,
}

impl Operation<'_> {
    pub fn id(&self) -> Option<&str> {
        self.node.str_at("operationId")
    }
}

/// The route for an operation, or (`Ok(Err(..))`) why it cannot be one.
pub fn translate<'d>(
    cx: &mut Context<'d>,
    op: &Operation<'d>,
) -> Result<Result<RoutePlan, String>, ImportError> {
    let params = parameters(cx.root, op)?;
    let mut notes = Vec::new();
    let query_names: Vec<&str> = params
        .iter()
        .filter(|(p, _)| p.str_at("in") == Some("query"))
        .filter_map(|(p, _)| p.str_at("name"))
        .collect();
    let (path, renamed) = match template(op.path, &query_names) {
        Ok(t) => t,
        Err(why) => return Ok(Err(why)),
    };
    let mut path_params: Vec<(String, ParamPlan)> = Vec::new();
    let mut query: Vec<(String, ParamPlan)> = Vec::new();
    let mut form = false;
    let mut body_param = None;
    for (p, at) in &params {
        let name = p.str_at("name").unwrap_or("");
        let required = p.get("required") == Some(&Node::Bool(true));
        match p.str_at("in").unwrap_or("") {
            "path" => {
                let Some((_, new)) = renamed.iter().find(|(orig, _)| orig == name) else {
                    notes.push(format!(
                        "path parameter '{name}' is not in the path; dropped"
                    ));
                    continue;
                };
                let mut plan = param::translate(cx.root, cx.version, p, new, at, &mut notes)?;
                plan.required = false;
                path_params.push((new.clone(), plan));
            }
            "query" => {
                let reserved = RESERVED_ARGUMENTS.contains(&name);
                if !valid_query_name(name) || reserved {
                    let why = if reserved {
                        "is one of harpoon's own argument names"
                    } else {
                        "is not a name harpoon accepts (letters, digits, '_', '-', '.', '[', ']')"
                    };
                    if required {
                        return Ok(Err(format!("required query parameter '{name}' {why}")));
                    }
                    notes.push(format!("query parameter '{name}' {why}; dropped"));
                    continue;
                }
                let plan = param::translate(cx.root, cx.version, p, name, at, &mut notes)?;
                query.push((name.to_owned(), plan));
            }
            place @ ("header" | "cookie") => {
                if place == "header" && cx.injected.contains(&name.to_ascii_lowercase()) {
                    continue;
                }
                if required {
                    return Ok(Err(format!(
                        "required {place} parameter '{name}' cannot be sent: a route takes no {place} arguments"
                    )));
                }
                notes.push(format!(
                    "{place} parameter '{name}' is not sent: a route takes no {place} arguments"
                ));
            }
            "body" => body_param = Some(*p),
            "formData" => form = true,
            other => notes.push(format!(
                "parameter '{name}' in '{other}' is not known; dropped"
            )),
        }
    }
    let body = match body(cx, op, body_param, form, &mut notes)? {
        Ok(b) => b,
        Err(why) => return Ok(Err(why)),
    };
    let name = cx.names.route_name(
        op.id(),
        op.method.as_str().to_ascii_lowercase().as_str(),
        op.path,
    );
    if notes.len() > MAX_NOTES_PER_ROUTE {
        let more = notes.len() - (MAX_NOTES_PER_ROUTE - 1);
        notes.truncate(MAX_NOTES_PER_ROUTE - 1);
        notes.push(format!("and {more} more notes like these"));
    }
    Ok(Ok(RoutePlan {
        notes,
        name,
        description: description(op),
        method: op.method.as_str(),
        path,
        params: path_params,
        query,
        body,
    }))
}

/// The operation's parameters with the path item's, each resolved; the operation's own win
/// (by name and place).
fn parameters<'d>(
    root: &'d Node,
    op: &Operation<'d>,
) -> Result<Vec<(&'d Node, String)>, ImportError> {
    let mut out: Vec<(&'d Node, String)> = Vec::new();
    let lists = [
        (
            op.item.get("parameters"),
            format!("#/paths/{}/parameters", escape(op.path)),
        ),
        (op.node.get("parameters"), format!("{}/parameters", op.at)),
    ];
    for (list, base) in lists {
        for (i, p) in list
            .and_then(Node::as_array)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let at = format!("{base}/{i}");
            let (resolved, _) = reference::resolve(root, p, &at)?;
            let key = (resolved.str_at("name"), resolved.str_at("in"));
            out.retain(|(q, _)| (q.str_at("name"), q.str_at("in")) != key);
            out.push((resolved, at));
        }
    }
    Ok(out)
}

/// The route path for an OpenAPI path, and each parameter's name in it (renamed where the
/// document's name cannot be a tool argument: `owner-name` becomes `owner_name`).
fn template(path: &str, query_names: &[&str]) -> Result<(String, Vec<(String, String)>), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("path '{path}' does not start with '/'"));
    };
    let mut out = String::new();
    let mut renamed: Vec<(String, String)> = Vec::new();
    let parts: Vec<&str> = rest.split('/').collect();
    for (i, segment) in parts.iter().enumerate() {
        out.push('/');
        if segment.is_empty() && i + 1 == parts.len() {
            break;
        }
        if let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
            && !inner.contains(['{', '}'])
        {
            let taken: Vec<&str> = renamed
                .iter()
                .map(|(_, n)| n.as_str())
                .chain(query_names.iter().copied())
                .collect();
            let name = param_name(inner, &taken);
            out.push('{');
            out.push_str(&name);
            out.push('}');
            renamed.push((inner.to_owned(), name));
            continue;
        }
        if segment.contains(['{', '}']) {
            return Err(format!(
                "path segment '{segment}' mixes text and a parameter; a route parameter fills a whole segment"
            ));
        }
        out.push_str(segment);
    }
    PathTemplate::parse(&out).map_err(|e| {
        let crate::policy::template::TemplateError::Syntax(m) = e;
        format!("path '{path}' cannot be a route path: it {m}")
    })?;
    Ok((out, renamed))
}

/// A valid, unused argument name for a path parameter.
fn param_name(original: &str, taken: &[&str]) -> String {
    let mut base: String = original
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(56)
        .collect();
    if !base.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        base.insert_str(0, "p_");
    }
    if RESERVED_ARGUMENTS.contains(&base.as_str()) {
        base.push_str("_param");
    }
    // `base` is a valid name of at most 58 bytes (62 for a short reserved word), and `taken`
    // holds the other parameters of one template (at most 512 in 1024 bytes): one of the first
    // `taken.len() + 1` candidates is free, and its suffix keeps it within 64 bytes. The search
    // is bounded whatever the names; should none pass, the duplicate or invalid name is refused
    // when the allowlist compiles, with its place, rather than searched for forever.
    std::iter::once(base.clone())
        .chain((2..).map(|n| format!("{base}_{n}")))
        .take(taken.len() + 1)
        .find(|name| !taken.contains(&name.as_str()) && valid_param_name(name))
        .unwrap_or(base)
}

/// The request body: JSON with its schema, another media type as a string the caller writes.
fn body<'d>(
    cx: &mut Context<'d>,
    op: &Operation<'d>,
    body_param: Option<&'d Node>,
    form: bool,
    notes: &mut Vec<String>,
) -> Result<Result<Option<BodyPlan>, String>, ImportError> {
    let found = match cx.version {
        Version::Swagger2 => swagger_body(cx, op, body_param, form)?,
        _ => openapi_body(cx, op)?,
    };
    let Some((media, schema_at, required)) = found else {
        return Ok(Ok(None));
    };
    if !op.method.allows_body() {
        notes.push(format!(
            "{} routes take no body; the request body is dropped",
            op.method
        ));
        return Ok(Ok(None));
    }
    let Some(media) = media else {
        let why = "its body has no media type harpoon can send (multipart and wildcards are not supported)";
        if required {
            return Ok(Err(why.to_owned()));
        }
        notes.push(format!("{why}; the optional body is dropped"));
        return Ok(Ok(None));
    };
    let schema = match schema_at {
        Some((schema, at)) if is_json(&media) => {
            let (translated, dropped) = cx.schemas.body(schema, &at)?;
            notes.extend(dropped.into_iter().map(|d| format!("body {d}")));
            Some(translated)
        }
        _ => {
            if !is_json(&media) {
                notes.push(format!(
                    "the {media} body is a string the caller writes; harpoon checks no schema on it"
                ));
            }
            None
        }
    };
    Ok(Ok(Some(BodyPlan {
        content_type: media,
        schema,
        required,
    })))
}

/// A body's media type (None when none can be sent), its schema and where it stands, and
/// whether it is required.
type FoundBody<'d> = Option<(Option<String>, Option<(&'d Node, String)>, bool)>;

fn openapi_body<'d>(cx: &Context<'d>, op: &Operation<'d>) -> Result<FoundBody<'d>, ImportError> {
    let Some(raw) = op.node.get("requestBody") else {
        return Ok(None);
    };
    let at = format!("{}/requestBody", op.at);
    let (body, _) = reference::resolve(cx.root, raw, &at)?;
    let required = body.get("required") == Some(&Node::Bool(true));
    let content = body
        .get("content")
        .and_then(Node::as_object)
        .unwrap_or_default();
    let usable: Vec<&(String, Node)> = content.iter().filter(|(m, _)| sendable(m)).collect();
    let chosen = usable
        .iter()
        .find(|(m, _)| is_json(m))
        .or_else(|| usable.first());
    let Some((media, entry)) = chosen else {
        return Ok(Some((None, None, required)));
    };
    let schema = entry
        .get("schema")
        .map(|s| (s, format!("{at}/content/{}/schema", escape(media))));
    Ok(Some((Some(media.trim().to_owned()), schema, required)))
}

fn swagger_body<'d>(
    cx: &Context<'d>,
    op: &Operation<'d>,
    body_param: Option<&'d Node>,
    form: bool,
) -> Result<FoundBody<'d>, ImportError> {
    let consumes: Vec<&str> = op
        .node
        .get("consumes")
        .or_else(|| cx.root.get("consumes"))
        .and_then(Node::as_array)
        .unwrap_or_default()
        .iter()
        .filter_map(Node::as_str)
        .collect();
    if let Some(p) = body_param {
        let media = consumes
            .iter()
            .find(|m| is_json(m))
            .or_else(|| consumes.iter().find(|m| sendable(m)))
            .map_or("application/json", |m| m);
        let required = p.get("required") == Some(&Node::Bool(true));
        let schema = p
            .get("schema")
            .map(|s| (s, format!("{}/parameters/body/schema", op.at)));
        return Ok(Some((Some(media.trim().to_owned()), schema, required)));
    }
    if form {
        let media = consumes
            .iter()
            .find(|m| m.starts_with("application/x-www-form-urlencoded"))
            .map(|m| (*m).to_owned())
            .or_else(|| {
                consumes
                    .is_empty()
                    .then(|| "application/x-www-form-urlencoded".to_owned())
            });
        return Ok(Some((media, None, true)));
    }
    Ok(None)
}

/// `application/json` and `*+json`.
fn is_json(media: &str) -> bool {
    let essence = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// A concrete media type harpoon can send as it is: not a wildcard, not multipart (whose
/// boundary the caller cannot choose), and a valid header value.
fn sendable(media: &str) -> bool {
    let essence = media.split(';').next().unwrap_or("").trim();
    let valid = essence
        .split_once('/')
        .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty() && !s.contains('/'));
    valid
        && !essence.contains('*')
        && !essence.to_ascii_lowercase().starts_with("multipart/")
        && media.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

fn description(op: &Operation<'_>) -> Option<String> {
    let summary = op
        .node
        .str_at("summary")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let detail = op
        .node
        .str_at("description")
        .map(str::trim)
        .filter(|s| !s.is_empty() && Some(*s) != summary);
    let text = match (summary, detail) {
        (Some(s), Some(d)) => format!("{s}\n\n{d}"),
        (Some(s), None) => s.to_owned(),
        (None, Some(d)) => d.to_owned(),
        (None, None) => return None,
    };
    Some(trim_chars(&text, MAX_DESCRIPTION_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_rename_parameters_and_refuse_partial_segments() {
        assert_eq!(
            template("/repos/{owner-name}/{body}/x/", &["owner_name"]).unwrap(),
            (
                "/repos/{owner_name_2}/{body_param}/x/".to_owned(),
                vec![
                    ("owner-name".to_owned(), "owner_name_2".to_owned()),
                    ("body".to_owned(), "body_param".to_owned())
                ]
            )
        );
        assert_eq!(
            template("/files/{name}.{ext}", &[]).unwrap_err(),
            "path segment '{name}.{ext}' mixes text and a parameter; a route parameter fills a whole segment"
        );
        assert!(
            template("/a b", &[])
                .unwrap_err()
                .starts_with("path '/a b' cannot be a route path")
        );
        assert_eq!(template("/", &[]).unwrap().0, "/");
    }

    /// However long the original and however many names are taken, the name found is free
    /// and valid. (Its search was once an unbounded loop, which a mutant of
    /// `valid_param_name` turned into a hang.)
    #[test]
    fn a_parameter_name_is_free_and_valid_whatever_is_taken() {
        let long = "9".repeat(200);
        let mut taken: Vec<String> = vec![format!("p_{}", "9".repeat(56))];
        taken.extend((2..600).map(|n| format!("p_{}_{n}", "9".repeat(56))));
        let taken: Vec<&str> = taken.iter().map(String::as_str).collect();
        let name = param_name(&long, &taken);
        assert!(valid_param_name(&name), "{name}");
        assert!(!taken.contains(&name.as_str()), "{name}");
        assert_eq!(name, format!("p_{}_600", "9".repeat(56)));
        assert_eq!(param_name("body", &["body_param"]), "body_param_2");
    }
}
