//! The base URL: `servers[0]` (3.x) with its variables at their defaults, or `schemes`, `host`
//! and `basePath` (2.0); `--base-url` overrides both. Plaintext http is kept, and flagged.

use super::document::Node;
use super::error::ImportError;
use super::version::Version;
use crate::policy::types::parse_base_url;

/// A base URL harpoon accepts, and whether it is plaintext http.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub url: String,
    pub plaintext: bool,
    /// Where it came from, for the file's header comment.
    pub source: &'static str,
}

/// The base URL of the API, checked as `base_url` will be.
pub fn base_url(
    root: &Node,
    version: Version,
    given: Option<&str>,
) -> Result<BaseUrl, ImportError> {
    let (url, source) = match given {
        Some(u) => (u.to_owned(), "--base-url"),
        None if version == Version::Swagger2 => (swagger_url(root)?, "host and basePath"),
        None => (server_url(root)?, "servers[0]"),
    };
    let url = url.trim_end_matches('/').to_owned();
    parse_base_url(&url, true).map_err(|(why, _)| ImportError::BadBaseUrl {
        url: url.clone(),
        why,
    })?;
    let plaintext = url.starts_with("http://");
    Ok(BaseUrl {
        url,
        plaintext,
        source,
    })
}

fn server_url(root: &Node) -> Result<String, ImportError> {
    let server = root
        .get("servers")
        .and_then(Node::as_array)
        .and_then(|s| s.first())
        .ok_or_else(|| ImportError::NoBaseUrl {
            why: "the document has no servers".into(),
        })?;
    let template = server.str_at("url").ok_or_else(|| ImportError::NoBaseUrl {
        why: "servers[0] has no url".into(),
    })?;
    let url = substitute(template, server.get("variables"))?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ImportError::NoBaseUrl {
            why: format!("servers[0].url '{url}' is not an absolute http(s) URL"),
        });
    }
    Ok(url)
}

/// Replaces each `{name}` with the default of server variable `name`.
fn substitute(template: &str, variables: Option<&Node>) -> Result<String, ImportError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Err(ImportError::NoBaseUrl {
                why: format!("servers[0].url '{template}' has an unclosed '{{'"),
            });
        };
        let name = &rest[open + 1..open + close];
        let value = variables
            .and_then(|v| v.get(name))
            .and_then(|v| v.get("default"))
            .and_then(|d| match d {
                Node::String(s) => Some(s.clone()),
                Node::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .ok_or_else(|| ImportError::NoBaseUrl {
                why: format!("servers[0].url variable '{name}' has no default"),
            })?;
        out.push_str(&value);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn swagger_url(root: &Node) -> Result<String, ImportError> {
    let host = root.str_at("host").ok_or_else(|| ImportError::NoBaseUrl {
        why: "the document has no host".into(),
    })?;
    let schemes: Vec<&str> = root
        .get("schemes")
        .and_then(Node::as_array)
        .map(|s| s.iter().filter_map(Node::as_str).collect())
        .unwrap_or_default();
    // https when the document allows it; the document's only scheme otherwise.
    let scheme = if schemes.is_empty() || schemes.contains(&"https") {
        "https"
    } else if schemes.contains(&"http") {
        "http"
    } else {
        return Err(ImportError::NoBaseUrl {
            why: format!("the document's schemes {schemes:?} hold neither https nor http"),
        });
    };
    let base_path = root.str_at("basePath").unwrap_or("");
    Ok(format!("{scheme}://{host}{base_path}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::document::parse;

    #[test]
    fn substitutes_server_variables_and_flags_http() {
        let doc = parse(
            br#"{"servers": [{"url": "http://{region}.example.com/{v}/",
                 "variables": {"region": {"default": "eu"}, "v": {"default": "v2"}}}]}"#,
        )
        .unwrap();
        let base = base_url(&doc, Version::OpenApi30, None).unwrap();
        assert_eq!(base.url, "http://eu.example.com/v2");
        assert!(base.plaintext);
        let given = base_url(&doc, Version::OpenApi30, Some("https://x.example")).unwrap();
        assert_eq!(given.url, "https://x.example");
        assert!(!given.plaintext);
    }

    #[test]
    fn a_relative_server_needs_base_url() {
        let doc = parse(br#"{"servers": [{"url": "/v1"}]}"#).unwrap();
        assert_eq!(
            base_url(&doc, Version::OpenApi31, None).unwrap_err(),
            ImportError::NoBaseUrl {
                why: "servers[0].url '/v1' is not an absolute http(s) URL".into()
            }
        );
    }
}
