//! Newtypes for the values that matter to security. Each is made only through validation, so a
//! `Label` is always a valid label and an `Origin` is always a scheme, host and port.

use std::fmt;
use std::net::IpAddr;

/// The longest label: 64 characters, as in tunnel-client. A default tool name longer than 64
/// characters is shortened (`ToolName::for_route`).
pub const MAX_LABEL_LEN: usize = 64;

/// The longest route name: 63.
pub const MAX_ROUTE_NAME_LEN: usize = 63;

/// A target label: `^[a-z0-9][a-z0-9_-]{0,63}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(String);

impl Label {
    pub fn parse(s: &str) -> Result<Self, String> {
        valid_name(s, MAX_LABEL_LEN, true)
            .map(|()| Self(s.to_owned()))
            .map_err(|why| format!("label '{s}' {why}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Stands in for an invalid label while the rest of its target is checked for errors;
    /// a target compiled with it is always discarded.
    pub(crate) fn placeholder() -> Self {
        Self("invalid".to_owned())
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// FNV-1a, 32 bits: a stable hash (the same on every machine and release) for shortened names.
pub(crate) fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Lets maps keyed by `Label` be searched with a caller's `&str` without validating it first
/// (the derived `Hash` of a one-field newtype equals that of the field).
impl std::borrow::Borrow<str> for Label {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A route name: `^[a-z0-9][a-z0-9_-]{0,62}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteName(String);

impl RouteName {
    pub fn parse(s: &str) -> Result<Self, String> {
        valid_name(s, MAX_ROUTE_NAME_LEN, true)
            .map(|()| Self(s.to_owned()))
            .map_err(|why| format!("route name '{s}' {why}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A route tool's name: `<label>_<route>` by default, or the route's `tool:`. Every name harpoon
/// publishes matches `^[a-zA-Z0-9_-]{1,64}$`, the rule hosted clients hold tool names to (Claude
/// Desktop rejects the whole tool list for one name that fails it; OpenAI's API refuses names
/// outside `^[a-zA-Z0-9_-]+$`), which the MCP specification's wider rule (dots, 128) contains.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ToolName(String);

/// Longest tool name harpoon publishes: the most hosted clients accept.
pub const MAX_TOOL_NAME_LEN: usize = 64;

/// How a default name over `MAX_TOOL_NAME_LEN` is shortened: its first characters, `_`, and 8
/// hex digits of a hash of the whole name, so the short name is stable and distinct.
const SHORTENED_PREFIX_LEN: usize = MAX_TOOL_NAME_LEN - 9;

impl ToolName {
    /// The default name `<label>_<route>`, shortened deterministically when it is longer than
    /// 64 characters (`docs/allowlist.md` says how). A collision with another tool, or with one
    /// of harpoon's own, is refused at load.
    pub fn for_route(label: &Label, route: &RouteName) -> Self {
        let full = format!("{}_{}", label.0, route.0);
        if full.len() <= MAX_TOOL_NAME_LEN {
            return Self(full);
        }
        Self(format!(
            "{}_{:08x}",
            &full[..SHORTENED_PREFIX_LEN],
            fnv1a(full.as_bytes())
        ))
    }

    /// An explicit tool name: `^[a-zA-Z0-9_-]{1,64}$`, and not one of harpoon's own tools.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > MAX_TOOL_NAME_LEN {
            return Err(format!(
                "tool name '{s}' must be 1 to {MAX_TOOL_NAME_LEN} characters"
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        {
            return Err(format!(
                "tool name '{s}' may hold only letters, digits, '_' and '-' (hosted MCP clients refuse other names)"
            ));
        }
        if super::tool::BUILTIN_TOOLS.contains(&s) {
            return Err(format!("tool name '{s}' is one of harpoon's own tools"));
        }
        Ok(Self(s.to_owned()))
    }

    /// Whether this is the name of one of harpoon's own tools (a default name can be:
    /// label `list`, route `targets`).
    pub fn is_builtin(&self) -> bool {
        super::tool::BUILTIN_TOOLS.contains(&self.0.as_str())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for ToolName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

fn valid_name(s: &str, max: usize, dash: bool) -> Result<(), &'static str> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return Err("is empty");
    }
    if bytes.len() > max {
        return Err("is too long");
    }
    if !(bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit()) {
        return Err("must start with a lowercase letter or a digit");
    }
    let ok = bytes
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || (dash && b == b'-'));
    if ok {
        Ok(())
    } else {
        Err("may hold only lowercase letters, digits, '_' and '-'")
    }
}

/// The HTTP methods an allowlist may grant. CONNECT and TRACE are never grantable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

impl Method {
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
    ];

    /// Parses the exact upper-case spelling; anything else is refused, never guessed.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    /// Safe methods do not change state on the upstream (RFC 9110 9.2.1).
    pub fn is_read_only(self) -> bool {
        matches!(self, Method::Get | Method::Head | Method::Options)
    }

    /// Idempotent methods may be repeated with the same effect (RFC 9110 9.2.2).
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post | Method::Patch)
    }

    pub fn is_destructive(self) -> bool {
        self == Method::Delete
    }

    /// Whether a request of this method may carry a body.
    pub fn allows_body(self) -> bool {
        matches!(
            self,
            Method::Post | Method::Put | Method::Patch | Method::Delete
        )
    }

    pub fn to_http(self) -> http::Method {
        match self {
            Method::Get => http::Method::GET,
            Method::Head => http::Method::HEAD,
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Patch => http::Method::PATCH,
            Method::Delete => http::Method::DELETE,
            Method::Options => http::Method::OPTIONS,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of methods, as a bit set: membership is one AND.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MethodSet(u8);

impl MethodSet {
    pub fn insert(&mut self, m: Method) -> bool {
        let bit = 1 << (m as u8);
        let fresh = self.0 & bit == 0;
        self.0 |= bit;
        fresh
    }

    pub fn contains(self, m: Method) -> bool {
        self.0 & (1 << (m as u8)) != 0
    }

    pub fn is_superset(self, other: MethodSet) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: MethodSet) -> MethodSet {
        MethodSet(self.0 | other.0)
    }

    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Method> for MethodSet {
    fn from_iter<I: IntoIterator<Item = Method>>(iter: I) -> Self {
        let mut set = MethodSet::default();
        for m in iter {
            set.insert(m);
        }
        set
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A host as the allowlist names it: a lowercase DNS name or an IP literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Domain(String),
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
        }
    }
}

/// Scheme, host and port: the only place a target's requests may go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: Scheme,
    pub host: Host,
    pub port: u16,
}

impl Origin {
    pub fn default_port(&self) -> bool {
        matches!(
            (self.scheme, self.port),
            (Scheme::Http, 80) | (Scheme::Https, 443)
        )
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if !self.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// The base path every request of a target starts with: empty for the root, else `/a/b`
/// without a trailing slash. Made only by `compile` from a canonical `base_url`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BasePath(String);

impl BasePath {
    pub(crate) fn new_unchecked(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks `base_url` and splits it into origin and base path.
pub fn parse_base_url(
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
    if port == 0 {
        return fail(
            "base_url port 0 is not a port anything listens on".into(),
            "write the upstream's port, or leave it out for the scheme's default",
        );
    }
    check_raw_base_path(text)?;
    let base = url.path().trim_end_matches('/');
    Ok((
        Origin { scheme, host, port },
        BasePath::new_unchecked(base.to_owned()),
    ))
}

/// The url crate quietly resolves `..` and `.`; a base path that needed that is refused, so the
/// file says exactly what it grants.
pub(super) fn check_raw_base_path(text: &str) -> Result<(), (String, String)> {
    let after_scheme = text.split_once("://").map_or(text, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    let lower = path.to_ascii_lowercase();
    let bad = path.contains('\\')
        || path.contains("//")
        || ["%2e", "%2f", "%5c", "%00"]
            .iter()
            .any(|e| lower.contains(e))
        || path.split('/').any(|s| s == "." || s == "..");
    if bad {
        return Err((
            format!(
                "base_url path '{path}' holds dot segments, '//', backslashes or encoded separators"
            ),
            "write the canonical path, e.g. /api/v2".into(),
        ));
    }
    let bytes = path.as_bytes();
    let bad_escape = bytes.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if bad_escape {
        return Err((
            format!("base_url path '{path}' holds a '%' that is not followed by two hex digits"),
            "encode a literal '%' as %25, or fix the escape".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tool_names_are_what_hosted_clients_accept() {
        let label = Label::parse("billing").unwrap();
        let route = RouteName::parse("get_invoice").unwrap();
        assert_eq!(
            ToolName::for_route(&label, &route).as_str(),
            "billing_get_invoice"
        );
        let long_label = Label::parse(&"l".repeat(64)).unwrap();
        let long_route = RouteName::parse(&"r".repeat(63)).unwrap();
        let a = ToolName::for_route(&long_label, &long_route);
        assert_eq!(a.as_str().len(), MAX_TOOL_NAME_LEN);
        assert!(a.as_str().starts_with(&"l".repeat(55)));
        // The same input always gives the same name; another gives another.
        assert_eq!(a, ToolName::for_route(&long_label, &long_route));
        let other = RouteName::parse(&format!("{}s", "r".repeat(62))).unwrap();
        assert_ne!(a, ToolName::for_route(&long_label, &other));
        for name in [a.as_str(), "billing_get_invoice"] {
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            );
        }
        assert!(ToolName::parse("a.b").is_err());
        assert!(ToolName::parse(&"a".repeat(65)).is_err());
        assert!(ToolName::parse(&"a".repeat(64)).is_ok());
        assert!(
            ToolName::for_route(
                &Label::parse("list").unwrap(),
                &RouteName::parse("targets").unwrap()
            )
            .is_builtin()
        );
    }

    #[test]
    fn labels() {
        assert!(Label::parse("billing").is_ok());
        assert!(Label::parse("a-b_c9").is_ok());
        assert!(Label::parse(&"a".repeat(64)).is_ok());
        for bad in [
            "",
            "Billing",
            "-a",
            "_a",
            "a.b",
            "a b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(Label::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn methods_parse_exactly() {
        assert_eq!(Method::parse("GET"), Some(Method::Get));
        assert_eq!(Method::parse("get"), None);
        assert_eq!(Method::parse("TRACE"), None);
        assert_eq!(Method::parse("CONNECT"), None);
    }

    #[test]
    fn method_set() {
        let set: MethodSet = [Method::Get, Method::Post].into_iter().collect();
        assert!(set.contains(Method::Get) && set.contains(Method::Post));
        assert!(!set.contains(Method::Delete));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![Method::Get, Method::Post]
        );
    }
}
