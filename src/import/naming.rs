//! Route names from operationIds: valid (`^[a-z0-9][a-z0-9_-]{0,62}$`), unique within the
//! target, and giving unique tool names (`<label>_<route>`, which the loader shortens past 64
//! characters). Deterministic: the same document gives the same names.

use crate::policy::types::{Label, MAX_ROUTE_NAME_LEN, RouteName, ToolName, fnv1a};
use std::collections::HashSet;

/// How a route name over `MAX_ROUTE_NAME_LEN` is shortened: its first characters, `_`, and 8
/// hex digits of the FNV-1a hash of the whole name (as the loader shortens tool names).
const SHORTENED_PREFIX_LEN: usize = MAX_ROUTE_NAME_LEN - 9;

/// Hands out route names, remembering those given.
pub struct Names {
    label: Label,
    routes: HashSet<String>,
    tools: HashSet<String>,
}

impl Names {
    pub fn new(label: Label) -> Self {
        Self {
            label,
            routes: HashSet::new(),
            tools: HashSet::new(),
        }
    }

    /// A name from the operationId, or from the method and path when there is none.
    pub fn route_name(&mut self, operation_id: Option<&str>, method: &str, path: &str) -> String {
        let base = match operation_id.map(snake).filter(|s| !s.is_empty()) {
            Some(s) => s,
            None => snake(&format!("{method} {}", path.replace(['{', '}'], ""))),
        };
        let base = if base.is_empty() {
            "op".to_owned()
        } else {
            base
        };
        let mut n = 1;
        loop {
            let candidate = if n == 1 {
                shorten(&base)
            } else {
                shorten(&format!("{base}_{n}"))
            };
            if self.take(&candidate) {
                return candidate;
            }
            n += 1;
        }
    }

    fn take(&mut self, route: &str) -> bool {
        let Ok(name) = RouteName::parse(route) else {
            return false;
        };
        let tool = ToolName::for_route(&self.label, &name);
        if tool.is_builtin() || self.routes.contains(route) || self.tools.contains(tool.as_str()) {
            return false;
        }
        self.routes.insert(route.to_owned());
        self.tools.insert(tool.as_str().to_owned());
        true
    }
}

/// `listPets` -> `list_pets`, `repos/get-content` -> `repos_get-content`: lower case, a `_`
/// where a word starts with a capital, `_` for anything else a route name cannot hold.
pub fn snake(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut prev: Option<char> = None;
    for c in text.chars() {
        let mapped = if c.is_ascii_uppercase() {
            if prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            c.to_ascii_lowercase()
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
            c
        } else {
            '_'
        };
        if mapped == '_' && out.ends_with('_') {
            prev = Some(c);
            continue;
        }
        out.push(mapped);
        prev = Some(c);
    }
    out.trim_matches(['_', '-']).to_owned()
}

fn shorten(name: &str) -> String {
    if name.len() <= MAX_ROUTE_NAME_LEN {
        return name.to_owned();
    }
    format!(
        "{}_{:08x}",
        name[..SHORTENED_PREFIX_LEN].trim_end_matches(['_', '-']),
        fnv1a(name.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_unique_and_stable() {
        let mut names = Names::new(Label::parse("pets").unwrap());
        assert_eq!(
            names.route_name(Some("listPets"), "get", "/pets"),
            "list_pets"
        );
        assert_eq!(
            names.route_name(Some("list_pets"), "get", "/x"),
            "list_pets_2"
        );
        assert_eq!(
            names.route_name(Some("repos/get-content"), "get", "/x"),
            "repos_get-content"
        );
        assert_eq!(
            names.route_name(None, "get", "/pets/{petId}/toys"),
            "get_pets_pet_id_toys"
        );
        assert_eq!(names.route_name(Some("___"), "get", "/"), "get");
        let long = "a".repeat(100);
        let short = names.route_name(Some(&long), "get", "/");
        assert_eq!(short.len(), MAX_ROUTE_NAME_LEN);
        assert!(RouteName::parse(&short).is_ok());
        assert_eq!(shorten(&long), short);
    }
}
