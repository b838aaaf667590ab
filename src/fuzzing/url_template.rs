//! URL building from templates.

use super::corpus::*;
use super::input::Input;
use super::reference;
use crate::policy::Target;
use crate::policy::target_url::{self, push_query_pair};
use crate::policy::template::{PathTemplate, Segment, check_value};

/// Template values stay in their one segment: `check_value` refuses exactly the empty value and
/// dot segments; the URL keeps the target's origin and base path, each parameter decodes back to
/// its value from exactly its segment, and the URL re-parses to itself. A raw path that did not
/// come from a template is refused or holds to the same.
pub fn url_template(data: &[u8]) {
    let mut inp = Input::new(data);
    let policy = base_policy();
    let index = inp.below(policy.targets().len());
    let target = &policy.targets()[index];
    assert_eq!(
        target.base_url(),
        BASES[index].1,
        "base URL of {}",
        BASES[index].0
    );
    let mut text = String::new();
    for i in 0..inp.below(5) {
        text.push('/');
        if inp.flip() {
            text.push_str(&format!("{{p{i}}}"));
        } else {
            text.push_str(inp.word(LITERALS));
        }
    }
    if text.is_empty() || inp.one_in(4) {
        text.push('/');
    }
    let template = PathTemplate::parse(&text).expect("generated templates are valid");
    let values: Vec<(String, String)> = template
        .params()
        .map(|p| (p.to_owned(), hostile_text(&mut inp)))
        .collect();
    for (_, v) in &values {
        let refused = v.is_empty() || reference::dot_segment(v);
        assert_eq!(check_value(v).is_err(), refused, "check_value({v:?})");
    }
    if values.iter().any(|(_, v)| check_value(v).is_err()) {
        return;
    }
    let value_of = |p: &str| {
        values
            .iter()
            .find(|(n, _)| n == p)
            .map_or("", |(_, v)| v.as_str())
    };
    let path = template.render(value_of);
    assert_eq!(path, reference::render(&template, &value_of), "{text}");
    let mut query = String::new();
    let mut pairs = Vec::new();
    for _ in 0..inp.below(4) {
        let (name, value) = (hostile_text(&mut inp), hostile_text(&mut inp));
        push_query_pair(&mut query, &name, &value);
        pairs.push(format!(
            "{}={}",
            reference::encode(&name),
            reference::encode(&value)
        ));
    }
    assert_eq!(query, pairs.join("&"));
    let url = target_url::build(target, &path, &query)
        .unwrap_or_else(|why| panic!("{text} with {values:?}: {why}"));
    let parsed = assert_stays(target, url.as_str(), &path, &query);
    let rel = &parsed.path()[target.base_path.as_str().len()..];
    let parts: Vec<&str> = rel[1..].split('/').collect();
    for (seg, part) in template.segments().iter().zip(&parts) {
        match seg {
            Segment::Literal(l) => assert_eq!(l, part),
            Segment::Param(p) => assert_eq!(
                reference::percent_decode(part),
                value_of(p).as_bytes(),
                "parameter {p} in {url}"
            ),
        }
    }
    let extra = usize::from(template.trailing_slash() || template.segments().is_empty());
    assert_eq!(parts.len(), template.segments().len() + extra, "{url}");
    // The last line of defence: whatever path reaches `build`, the URL stays.
    let raw = hostile_path(&mut inp);
    if let Ok(u) = target_url::build(target, &raw, "") {
        assert_stays(target, u.as_str(), &raw, "");
    }
}

/// A built URL parses to itself, on the target's origin, with exactly the checked path under the
/// base path and exactly the checked query.
pub(crate) fn assert_stays(target: &Target, url: &str, path: &str, query: &str) -> url::Url {
    let parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("{url:?} does not parse: {e}"));
    assert_eq!(parsed.as_str(), url, "the URL does not re-parse to itself");
    assert_eq!(parsed.scheme(), target.origin.scheme.as_str(), "{url}");
    assert!(
        same_host(&target.origin.host, &parsed),
        "{url} left the host"
    );
    assert_eq!(parsed.port_or_known_default(), Some(target.origin.port));
    assert!(
        parsed.username().is_empty() && parsed.password().is_none() && parsed.fragment().is_none()
    );
    assert_eq!(
        parsed.path(),
        format!("{}{path}", target.base_path.as_str())
    );
    assert_eq!(parsed.query().unwrap_or(""), query, "{url}");
    parsed
}
