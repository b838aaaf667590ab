//! Route path templates: `/invoices/{invoice_id}/lines`. A `{param}` fills exactly one whole
//! segment; literal segments hold only characters that need no encoding. Rendering encodes
//! every value with an empty safe set, so no value can add a segment, a dot segment, a query
//! or anything else that would move the request.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::fmt::Write as _;

/// Longest template: long enough for any real REST path, short enough to bound rendering.
pub const MAX_TEMPLATE_LEN: usize = 1024;

/// Every byte but ASCII letters, digits, `-`, `_` and `~` is encoded. `.` is encoded too, so
/// no value can ever be read as a dot segment by any upstream's normalization.
pub const PARAM_VALUE_ENCODE_SET: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
}

/// A parsed template. Only `PathTemplate::parse` makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    segments: Vec<Segment>,
    trailing_slash: bool,
    text: String,
}

/// Why a template or a value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The template text is malformed; the message says how to fix it.
    Syntax(String),
}

impl PathTemplate {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let err = |m: String| Err(TemplateError::Syntax(m));
        if text.len() > MAX_TEMPLATE_LEN {
            return err(format!(
                "is longer than {MAX_TEMPLATE_LEN} characters; shorten it"
            ));
        }
        let Some(rest) = text.strip_prefix('/') else {
            return err(
                "must start with '/'; write it relative to base_url, e.g. '/items/{id}'".into(),
            );
        };
        if let Some(c) = text.chars().find(|c| matches!(c, '?' | '#')) {
            return err(format!(
                "holds '{c}'; declare query parameters under 'query:' and drop fragments"
            ));
        }
        let mut segments = Vec::new();
        let mut trailing_slash = false;
        if !rest.is_empty() {
            let parts: Vec<&str> = rest.split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                let last = i + 1 == parts.len();
                if part.is_empty() && last {
                    trailing_slash = true;
                    break;
                }
                segments.push(parse_segment(part)?);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for s in &segments {
            if let Segment::Param(name) = s
                && !seen.insert(name.as_str())
            {
                return err(format!(
                    "uses '{{{name}}}' twice; give each parameter its own name"
                ));
            }
        }
        Ok(Self {
            segments,
            trailing_slash,
            text: text.to_owned(),
        })
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parameter names, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(p) => Some(p.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Renders the path with each value encoded into its one segment. `value` gives the raw
    /// (unencoded) value of a parameter; values must already be checked by `check_value`.
    pub fn render<'a>(&self, mut value: impl FnMut(&str) -> &'a str) -> String {
        let mut out = String::with_capacity(self.text.len() + 32);
        for s in &self.segments {
            out.push('/');
            match s {
                Segment::Literal(l) => out.push_str(l),
                Segment::Param(p) => {
                    let _ = write!(
                        out,
                        "{}",
                        utf8_percent_encode(value(p), PARAM_VALUE_ENCODE_SET)
                    );
                }
            }
        }
        if self.trailing_slash || self.segments.is_empty() {
            out.push('/');
        }
        out
    }

    /// Whether a normalized path (relative to the base path) is one this template renders, each
    /// parameter segment passing its declaration: how a redirect hop is granted to a route.
    pub fn matches(
        &self,
        path: &str,
        params: &std::collections::BTreeMap<String, super::param::ParamSpec>,
    ) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let rest = if self.trailing_slash || self.segments.is_empty() {
            match rest.strip_suffix('/') {
                Some(r) => r,
                None if rest.is_empty() => rest,
                None => return false,
            }
        } else {
            rest
        };
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        parts.len() == self.segments.len()
            && self
                .segments
                .iter()
                .zip(parts)
                .all(|(seg, part)| match seg {
                    Segment::Literal(l) => l == part,
                    Segment::Param(p) => {
                        let decoded =
                            percent_encoding::percent_decode_str(part).decode_utf8_lossy();
                        check_value(&decoded).is_ok()
                            && params
                                .get(p)
                                .is_some_and(|spec| spec.check_text(&decoded).is_ok())
                    }
                })
    }

    /// Whether two templates match the same requests (same literals, params in the same
    /// places), whatever the parameter names.
    pub fn same_shape(&self, other: &PathTemplate) -> bool {
        self.trailing_slash == other.trailing_slash
            && self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Param(_), Segment::Param(_)) => true,
                    _ => false,
                })
    }
}

/// A value may fill a segment unless it is empty, or a dot segment (`.`, `..`, or one of them
/// followed by `;` parameters, which some servers strip before resolving): those would vanish
/// or climb once an upstream decodes and normalizes the path.
pub fn check_value(value: &str) -> Result<(), ValueError> {
    if value.is_empty() {
        return Err(ValueError::Empty);
    }
    if super::path::is_dot_segment(value) {
        return Err(ValueError::DotSegment);
    }
    Ok(())
}

/// Why a value cannot fill a path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueError {
    Empty,
    DotSegment,
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ValueError::Empty => "is empty",
            ValueError::DotSegment => "is a dot segment",
        })
    }
}

impl std::error::Error for ValueError {}

fn parse_segment(part: &str) -> Result<Segment, TemplateError> {
    let err = |m: String| Err(TemplateError::Syntax(m));
    if part.is_empty() {
        return err("has an empty segment ('//'); remove the extra '/'".into());
    }
    if part == "." || part == ".." {
        return err(format!("has a '{part}' segment; write the path without it"));
    }
    if let Some(inner) = part.strip_prefix('{') {
        let Some(name) = inner.strip_suffix('}') else {
            return if inner.contains('}') {
                err(format!(
                    "segment '{part}' mixes a parameter with text; a {{param}} must fill a whole segment"
                ))
            } else {
                err(format!(
                    "segment '{part}' has an unclosed '{{'; close it as '{{{inner}}}'"
                ))
            };
        };
        if !valid_param_name(name) {
            return err(format!(
                "parameter '{{{name}}}' is not a valid name; use letters, digits and '_', starting with a letter or '_'"
            ));
        }
        return Ok(Segment::Param(name.to_owned()));
    }
    if part.contains('{') || part.contains('}') {
        return err(format!(
            "segment '{part}' mixes a parameter with text; a {{param}} must fill a whole segment"
        ));
    }
    if let Some(c) = part.chars().find(|&c| !is_literal_char(c)) {
        return err(format!(
            "segment '{part}' holds {c:?}, which would need encoding; write only letters, digits and -._~!$&'()*+,;=:@"
        ));
    }
    Ok(Segment::Literal(part.to_owned()))
}

/// RFC 3986 `pchar` without `%`: characters that stand for themselves in a path segment.
fn is_literal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@".contains(c)
}

/// Parameter names: `^[A-Za-z_][A-Za-z0-9_]{0,63}$`.
pub fn valid_param_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(t: &str) -> String {
        match PathTemplate::parse(t) {
            Err(TemplateError::Syntax(m)) => m,
            Ok(_) => panic!("{t} must be refused"),
        }
    }

    #[test]
    fn parses_params_and_literals() {
        let t = PathTemplate::parse("/invoices/{invoice_id}/lines").unwrap();
        assert_eq!(
            t.segments(),
            &[
                Segment::Literal("invoices".into()),
                Segment::Param("invoice_id".into()),
                Segment::Literal("lines".into())
            ]
        );
        assert_eq!(t.params().collect::<Vec<_>>(), vec!["invoice_id"]);
        assert!(!t.trailing_slash());
        assert!(PathTemplate::parse("/items/").unwrap().trailing_slash());
        assert!(PathTemplate::parse("/").unwrap().segments().is_empty());
    }

    #[test]
    fn refuses_malformed_templates() {
        assert!(syntax("/inv/{id").contains("unclosed '{'"));
        assert!(syntax("/inv/id}").contains("mixes a parameter"));
        assert!(syntax("/inv-{id}").contains("whole segment"));
        assert!(syntax("/{id}.json").contains("whole segment"));
        assert!(syntax("inv").contains("must start with '/'"));
        assert!(syntax("/a//b").contains("empty segment"));
        assert!(syntax("/a/../b").contains("'..' segment"));
        assert!(syntax("/a/./b").contains("'.' segment"));
        assert!(syntax("/a?x=1").contains("'?'"));
        assert!(syntax("/a/{x}/{x}").contains("twice"));
        assert!(syntax("/a%2Fb").contains("need encoding"));
        assert!(syntax("/a b").contains("need encoding"));
        assert!(syntax("/{9x}").contains("not a valid name"));
    }

    /// (Mutation testing found the edge untested.)
    #[test]
    fn a_template_of_the_longest_length_is_accepted_and_one_more_is_not() {
        let longest = format!("/{}", "a".repeat(MAX_TEMPLATE_LEN - 1));
        assert!(PathTemplate::parse(&longest).is_ok());
        assert!(syntax(&format!("{longest}a")).contains("longer than 1024"));
    }

    #[test]
    fn values_stay_in_their_segment() {
        let t = PathTemplate::parse("/invoices/{id}").unwrap();
        let cases = [
            ("inv_1", "/invoices/inv_1"),
            ("a/b", "/invoices/a%2Fb"),
            ("../admin", "/invoices/%2E%2E%2Fadmin"),
            ("a.b", "/invoices/a%2Eb"),
            ("x?y#z", "/invoices/x%3Fy%23z"),
            ("%2e", "/invoices/%252e"),
            ("a\\b", "/invoices/a%5Cb"),
            ("é", "/invoices/%C3%A9"),
            ("-_~", "/invoices/-_~"),
        ];
        for (value, want) in cases {
            assert_eq!(t.render(|_| value), want, "value {value:?}");
        }
    }

    #[test]
    fn dot_and_empty_values_are_refused() {
        assert_eq!(check_value(""), Err(ValueError::Empty));
        assert_eq!(check_value("."), Err(ValueError::DotSegment));
        assert_eq!(check_value(".."), Err(ValueError::DotSegment));
        assert_eq!(check_value("..."), Ok(()));
        assert_eq!(check_value("..;x"), Err(ValueError::DotSegment));
        assert_eq!(check_value(".;"), Err(ValueError::DotSegment));
        assert_eq!(check_value("a;b"), Ok(()));
    }
}
