//! Security schemes become `headers.inject` entries that reference an environment variable:
//! the file never holds a secret, and `serve` refuses to start until the variable is set. A
//! key sent in the query or a cookie cannot be imported: harpoon injects headers only.

use super::document::Node;
use super::version::Version;
use crate::policy::headers::{is_forbidden_request_header, parse_name};

/// What the import injects, and what it could not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Injection {
    /// Header name and value (`${env:NAME}` references only), in order of first use.
    pub headers: Vec<(String, String)>,
    /// One line per scheme not imported, and why.
    pub refused: Vec<String>,
}

/// The schemes one operation needs, as names: the first alternative of its `security` (or the
/// document's) whose schemes can all be injected, else the first alternative.
pub fn operation_schemes(root: &Node, version: Version, operation: &Node) -> Vec<String> {
    let requirement = operation.get("security").or_else(|| root.get("security"));
    let Some(alternatives) = requirement.and_then(Node::as_array) else {
        return Vec::new();
    };
    let names = |alt: &Node| -> Vec<String> {
        alt.as_object()
            .unwrap_or_default()
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    };
    alternatives
        .iter()
        .find(|alt| {
            names(alt)
                .iter()
                .all(|n| header_for(root, version, n, "x").is_ok())
        })
        .or_else(|| alternatives.first())
        .map(names)
        .unwrap_or_default()
}

/// The injected headers for the schemes used, in the order given (duplicates ignored).
pub fn inject(root: &Node, version: Version, used: &[String], label: &str) -> Injection {
    let mut out = Injection::default();
    let prefix = env_prefix(label);
    for name in used {
        match header_for(root, version, name, &prefix) {
            Ok((header, value)) => {
                if let Some((_, existing)) = out
                    .headers
                    .iter()
                    .find(|(h, _)| h.eq_ignore_ascii_case(&header))
                {
                    if *existing != value {
                        out.refused.push(format!(
                            "security scheme '{name}' would set {header} too; the first scheme's value is kept"
                        ));
                    }
                    continue;
                }
                out.headers.push((header, value));
            }
            Err(why) => {
                let line = format!("security scheme '{name}' is not imported: {why}");
                if !out.refused.contains(&line) {
                    out.refused.push(line);
                }
            }
        }
    }
    out
}

/// The header a scheme sets, with its value referencing an environment variable.
fn header_for(
    root: &Node,
    version: Version,
    name: &str,
    prefix: &str,
) -> Result<(String, String), String> {
    let schemes = match version {
        Version::Swagger2 => root.get("securityDefinitions"),
        _ => root
            .get("components")
            .and_then(|c| c.get("securitySchemes")),
    };
    let scheme = schemes
        .and_then(|s| s.get(name))
        .ok_or_else(|| "the document does not define it".to_owned())?;
    let kind = scheme.str_at("type").unwrap_or("");
    let bearer = || {
        Ok((
            "Authorization".to_owned(),
            format!("Bearer ${{env:{prefix}_TOKEN}}"),
        ))
    };
    match kind {
        "http" => match scheme
            .str_at("scheme")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("bearer") => bearer(),
            Some("basic") => Ok((
                "Authorization".to_owned(),
                format!("Basic ${{env:{prefix}_BASIC}}"),
            )),
            other => Err(format!(
                "http scheme '{}' is not one harpoon can inject (bearer or basic)",
                other.unwrap_or("")
            )),
        },
        "basic" => Ok((
            "Authorization".to_owned(),
            format!("Basic ${{env:{prefix}_BASIC}}"),
        )),
        "oauth2" | "openIdConnect" => bearer(),
        "apiKey" => match scheme.str_at("in") {
            Some("header") => {
                let header = scheme.str_at("name").unwrap_or("");
                let parsed = parse_name(header)?;
                if is_forbidden_request_header(&parsed) {
                    return Err(format!("harpoon never sends the header '{header}'"));
                }
                Ok((
                    header.to_owned(),
                    format!("${{env:{prefix}_{}}}", env_word(header)),
                ))
            }
            Some(place @ ("query" | "cookie")) => Err(format!(
                "its key goes in the {place}, and harpoon injects headers only; calls go without it"
            )),
            other => Err(format!(
                "its key goes in '{}', which harpoon cannot inject",
                other.unwrap_or("")
            )),
        },
        other => Err(format!("type '{other}' is not one harpoon can inject")),
    }
}

/// `billing` -> `BILLING`, `my-api` -> `MY_API`; a leading digit gets a `_` so the name is a
/// valid `${env:NAME}`.
pub fn env_prefix(label: &str) -> String {
    let word = env_word(label);
    if word.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{word}")
    } else {
        word
    }
}

fn env_word(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::document::parse;

    #[test]
    fn schemes_become_env_references_and_query_keys_are_refused() {
        let doc = parse(
            br#"{"security": [{"q": []}, {"bearer": [], "key": []}],
                 "components": {"securitySchemes": {
                   "bearer": {"type": "http", "scheme": "bearer"},
                   "key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                   "q": {"type": "apiKey", "in": "query", "name": "api_key"}}}}"#,
        )
        .unwrap();
        let used = operation_schemes(&doc, Version::OpenApi30, &Node::Object(Vec::new()));
        assert_eq!(used, ["bearer", "key"]);
        let mut all = used.clone();
        all.push("q".into());
        let got = inject(&doc, Version::OpenApi30, &all, "9-pets");
        assert_eq!(
            got.headers,
            [
                ("Authorization".into(), "Bearer ${env:_9_PETS_TOKEN}".into()),
                ("X-Api-Key".into(), "${env:_9_PETS_X_API_KEY}".into())
            ]
        );
        assert_eq!(
            got.refused,
            [
                "security scheme 'q' is not imported: its key goes in the query, and harpoon injects headers only; calls go without it"
            ]
        );
    }
}
