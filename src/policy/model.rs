//! The compiled policy: what every target grants, in validated types. It is immutable and
//! shared (`Arc<Policy>`) by every call; only `compile` builds one.

use super::access::Access;
use super::authorization::AuthorizationPolicy;
use super::headers;
use super::limits::Limits;
use super::net::NetworkPolicy;
use super::param::ParamSpec;
use super::path::{NormalizedPath, PathGlob};
use super::redact::{Redacted, Redactor};
use super::schema::BodySchema;
use super::secret::{InjectedValue, SecretTemplate};
use super::template::PathTemplate;
use super::types::{BasePath, Label, Method, MethodSet, Origin, RouteName, ToolName};
use crate::config::Location;
use globset::{GlobSet, GlobSetBuilder};
use http::{HeaderName, HeaderValue};
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// Every target of every loaded file, and indexes for the per-call lookups.
#[derive(Debug)]
pub struct Policy {
    pub(super) targets: Vec<Target>,
    pub(super) by_label: HashMap<Label, usize>,
    /// Route tool name -> (target index, route index), for the per-call lookup.
    pub(super) tools: HashMap<ToolName, (usize, usize)>,
    /// The same routes sorted by tool name, so tool lists are stable.
    pub(super) tool_order: Vec<(usize, usize)>,
    /// Files the policy came from, in load order.
    pub(super) files: Vec<String>,
    /// Who may call, when a file has an `authorization` section; `None`: every caller may use
    /// everything.
    pub(super) authorization: Option<AuthorizationPolicy>,
}

impl Policy {
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    pub fn target(&self, label: &str) -> Option<&Target> {
        // Lookups by &str avoid building a Label for unknown input.
        self.targets.get(*self.by_label.get(label)?)
    }

    /// A route tool by name, with its target.
    pub fn route_tool(&self, name: &str) -> Option<(&Target, &Route)> {
        let &(t, r) = self.tools.get(name)?;
        let target = &self.targets[t];
        Some((target, &target.routes[r]))
    }

    /// All route tools, sorted by name.
    pub fn route_tools(&self) -> impl Iterator<Item = (&Target, &Route)> {
        self.tool_order.iter().map(|&(t, r)| {
            let target = &self.targets[t];
            (target, &target.routes[r])
        })
    }

    /// Whether any target can be reached through `call_target`.
    pub fn has_free_paths(&self) -> bool {
        self.targets.iter().any(|t| !t.paths.is_empty())
    }

    pub fn files(&self) -> &[String] {
        &self.files
    }

    pub fn route_count(&self) -> usize {
        self.tools.len()
    }

    pub fn authorization(&self) -> Option<&AuthorizationPolicy> {
        self.authorization.as_ref()
    }
}

/// One labeled upstream.
#[derive(Debug)]
pub struct Target {
    /// Position in `Policy::targets`: per-target runtime state (clients, limiters) is indexed
    /// by it.
    pub(super) index: usize,
    pub label: Label,
    pub description: Option<String>,
    pub origin: Origin,
    pub base_path: BasePath,
    /// `origin + base_path`, computed once: every request URL starts with it.
    pub(super) base_url: String,
    /// The same, parsed once by the WHATWG parser: built URLs are checked against it.
    pub(super) base: url::Url,
    pub network: NetworkPolicy,
    /// Headers a caller may set (lowercase names).
    pub caller_headers: Vec<HeaderName>,
    /// Headers the server sets, overriding any caller value.
    pub injected: Vec<InjectedHeader>,
    /// The resolved secrets of `injected`, blanked out of everything an upstream sends back.
    pub redactor: Redactor,
    /// Upstream headers returned to the caller.
    pub response_headers: Vec<HeaderName>,
    pub limits: Limits,
    pub routes: Vec<Route>,
    pub paths: PathRules,
    /// How many redirects may be followed; 0 returns a 3xx as it is.
    pub redirects: u8,
    pub dangerous: Dangerous,
    /// What a caller's token must carry to use any tool of this target.
    pub access: Option<Access>,
    /// Where the target starts (its label).
    pub location: Location,
    pub(crate) spans: TargetSpans,
}

impl Target {
    pub fn index(&self) -> usize {
        self.index
    }

    pub fn may_set_header(&self, name: &HeaderName) -> bool {
        self.caller_headers.contains(name) && !headers::is_forbidden_request_header(name)
    }

    pub fn returns_header(&self, name: &HeaderName) -> bool {
        self.response_headers.contains(name) && !headers::is_forbidden_response_header(name)
    }

    /// Blanks every resolved secret of this target out of `data`; returns how many were found.
    /// `cut` says the data was cut at a size cap, so a secret's start at its end is blanked too.
    pub fn redact_secrets(&self, data: &mut [u8], cut: bool) -> usize {
        self.redactor.bytes(data, cut)
    }

    /// Upstream text for a message, with this target's secrets blanked (`Redactor::text`).
    pub fn redact_text(&self, text: &str) -> Redacted {
        self.redactor.text(text)
    }

    /// Whether `name` is injected (so a caller value for it is dropped).
    pub fn injects(&self, name: &HeaderName) -> bool {
        self.injected.iter().any(|h| h.name == *name)
    }

    /// The URL prefix of every request: origin and base path, e.g. `https://h:8443/api/v2`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

/// Locations of target parts that findings point at.
#[derive(Debug, Clone)]
pub(crate) struct TargetSpans {
    pub base_url: Location,
    pub allow_cidrs: Vec<Location>,
    pub caller_headers: Vec<Location>,
    pub limits: Option<Location>,
    pub dangerous: Option<Location>,
    pub redirects: Option<Location>,
}

/// A header the server sets on every request of a target.
#[derive(Debug, Clone)]
pub struct InjectedHeader {
    pub name: HeaderName,
    pub template: SecretTemplate,
    pub value: InjectedValue,
    pub location: Location,
}

/// A route: one typed tool, one method, one path template.
#[derive(Debug)]
pub struct Route {
    pub name: RouteName,
    pub tool: ToolName,
    pub description: Option<String>,
    pub method: Method,
    pub template: PathTemplate,
    /// Every template parameter, declared or not (an undeclared one is any string).
    pub params: BTreeMap<String, ParamSpec>,
    pub query: BTreeMap<String, ParamSpec>,
    pub body: Option<BodySpec>,
    /// What a caller's token must carry to use this route, on top of the target's `access`.
    pub access: Option<Access>,
    pub location: Location,
    /// Where each declared parameter is written; undeclared ones point at the path.
    pub(crate) param_locations: BTreeMap<String, Location>,
}

/// A route's request body.
#[derive(Debug, Clone)]
pub struct BodySpec {
    pub content_type: HeaderValue,
    /// JSON content types take any JSON value; others take a string.
    pub json: bool,
    pub schema: Option<BodySchema>,
    pub required: bool,
}

/// Which query parameters a `paths` rule lets a caller send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryRule {
    /// None (the default).
    Deny,
    /// Any name (`query: ["*"]`).
    Any,
    /// These names.
    Names(Vec<String>),
}

impl QueryRule {
    pub fn allows(&self, name: &str) -> bool {
        match self {
            QueryRule::Deny => false,
            QueryRule::Any => true,
            QueryRule::Names(names) => names.iter().any(|n| n == name),
        }
    }
}

/// One `paths` entry.
#[derive(Debug, Clone)]
pub struct PathRule {
    pub methods: MethodSet,
    pub glob: PathGlob,
    pub query: QueryRule,
    pub location: Location,
}

/// A target's `paths` rules, with one `GlobSet` so a path is matched against all of them in
/// one pass. The set is built on first use: start-up stays fast with thousands of targets.
#[derive(Debug, Clone, Default)]
pub struct PathRules {
    pub rules: Vec<PathRule>,
    set: OnceLock<GlobSet>,
}

impl PathRules {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn new(rules: Vec<PathRule>) -> Self {
        Self {
            rules,
            set: OnceLock::new(),
        }
    }

    /// The rules whose glob matches `path`, in file order, matched in one pass. Should the set
    /// fail to build (a size limit), it matches nothing: requests are refused, never let by.
    pub fn matching(&self, path: &NormalizedPath) -> impl Iterator<Item = &PathRule> {
        let set = self.set.get_or_init(|| {
            let mut builder = GlobSetBuilder::new();
            for r in &self.rules {
                builder.add(r.glob.glob().clone());
            }
            builder.build().unwrap_or_else(|_| GlobSet::empty())
        });
        set.matches(path.as_str())
            .into_iter()
            .map(move |i| &self.rules[i])
    }

    /// Every method some rule grants.
    pub fn methods(&self) -> MethodSet {
        self.rules
            .iter()
            .fold(MethodSet::default(), |acc, r| acc.union(r.methods))
    }
}

/// The opt-outs a target has switched on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dangerous {
    pub allow_plaintext_http: bool,
}
