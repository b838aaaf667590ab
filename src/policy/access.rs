//! Who may use a target or a route: the scopes and claims a caller's token must carry
//! (`access:`), and the caller itself. With no `authorization` section every caller may use
//! everything (today's behaviour); with one, a caller is granted exactly what its token carries.

use super::compiler::Compiler;
use super::model::{Policy, Route, Target};
use crate::config::ErrorKind;
use crate::config::raw::RawAccess;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Most scopes one `access` may require: a longer list is a mistake, not a policy.
pub const MAX_ACCESS_SCOPES: usize = 32;

/// What a token must carry to use a target or a route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Every one of these scopes (RFC 6749 scope tokens).
    pub scopes: Vec<String>,
    /// Claim name -> the value it must have (or contain, when the claim is an array).
    pub claims: BTreeMap<String, String>,
}

/// Who is calling, as the transport established it.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The process that started harpoon (stdio, an embedding program): trusted with everything
    /// the allowlists grant, as a local program is.
    Local,
    /// A remote caller with no valid token. With authorization configured it may use nothing.
    Anonymous,
    /// A remote caller with a validated access token.
    Token(Arc<TokenCaller>),
}

/// What a validated access token says about its bearer. The token itself is never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCaller {
    /// `iss`.
    pub issuer: String,
    /// `sub`, when the token has one.
    pub subject: Option<String>,
    /// `client_id` (RFC 9068) or `azp`, when the token has one.
    pub client_id: Option<String>,
    /// `scope` (space-separated) or `scp` (array).
    pub scopes: BTreeSet<String>,
    /// The token's other string claims (and string arrays), for `access.claims`.
    pub claims: BTreeMap<String, Vec<String>>,
}

/// Why a caller may not use a tool: what it lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDenial {
    /// Every scope the tool needs (the token must ask for all of them).
    pub needed: Vec<String>,
    /// The required claims the token does not carry, by name.
    pub claims: Vec<String>,
}

impl Access {
    fn check(&self, caller: &Caller, denial: &mut AccessDenial) {
        let token = match caller {
            Caller::Local => return,
            Caller::Anonymous => None,
            Caller::Token(t) => Some(t),
        };
        for s in &self.scopes {
            if !denial.needed.contains(s) {
                denial.needed.push(s.clone());
            }
        }
        for (name, value) in &self.claims {
            let has = token.is_some_and(|t| t.claims.get(name).is_some_and(|v| v.contains(value)));
            if !has {
                denial.claims.push(name.clone());
            }
        }
    }
}

impl Policy {
    /// Whether `caller` may use `target` (and `route`, for a route tool). `Ok` when no
    /// authorization is configured, or the caller is local, or its token carries every scope
    /// and claim of the target's and the route's `access`.
    pub fn may_use(
        &self,
        caller: &Caller,
        target: &Target,
        route: Option<&Route>,
    ) -> Result<(), AccessDenial> {
        if self.authorization.is_none() || matches!(caller, Caller::Local) {
            return Ok(());
        }
        let mut denial = AccessDenial {
            needed: Vec::new(),
            claims: Vec::new(),
        };
        let accesses = [
            target.access.as_ref(),
            route.and_then(|r| r.access.as_ref()),
        ];
        for access in accesses.into_iter().flatten() {
            access.check(caller, &mut denial);
        }
        let scopes_ok = match caller {
            Caller::Local => true,
            Caller::Anonymous => false,
            Caller::Token(t) => denial.needed.iter().all(|s| t.scopes.contains(s)),
        };
        if scopes_ok && denial.claims.is_empty() {
            Ok(())
        } else {
            Err(denial)
        }
    }

    /// Every scope some `access` names, sorted: the resource metadata's `scopes_supported`.
    pub fn scopes_supported(&self) -> Vec<String> {
        let mut all = BTreeSet::new();
        for t in &self.targets {
            let routes = t.routes.iter().filter_map(|r| r.access.as_ref());
            for a in t.access.iter().chain(routes) {
                all.extend(a.scopes.iter().cloned());
            }
        }
        all.into_iter().collect()
    }
}

/// A scope token: RFC 6749 §3.3 allows printable ASCII except space, `"` and `\`.
fn valid_scope(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

pub(super) fn compile_access(
    c: &mut Compiler,
    raw: Option<&Spanned<RawAccess>>,
    ctx: &str,
) -> Option<Access> {
    let raw = raw?;
    let at = c.loc(raw);
    let raw = &raw.value;
    let mut access = Access::default();
    if raw.scopes.len() > MAX_ACCESS_SCOPES {
        let msg = format!(
            "access names {} scopes, above the ceiling of {MAX_ACCESS_SCOPES}",
            raw.scopes.len()
        );
        c.error(ErrorKind::Authorization, &at, ctx, msg, "name fewer scopes");
    }
    for s in &raw.scopes {
        if valid_scope(&s.value) {
            if !access.scopes.contains(&s.value) {
                access.scopes.push(s.value.clone());
            }
        } else {
            let at = c.loc(s);
            let msg = format!("access scope '{}' is not a scope token", s.value);
            let hint = "use printable ASCII without spaces, '\"' or '\\', at most 128 characters";
            c.error(ErrorKind::Authorization, &at, ctx, msg, hint);
        }
    }
    for (name, value) in &raw.claims {
        if name.is_empty() || value.value.is_empty() {
            let at = c.loc(value);
            let msg = format!("access claim '{name}' has an empty name or value");
            c.error(
                ErrorKind::Authorization,
                &at,
                ctx,
                msg,
                "name a claim and its value",
            );
        } else {
            access.claims.insert(name.clone(), value.value.clone());
        }
    }
    if raw.scopes.is_empty() && raw.claims.is_empty() {
        let msg = "access requires no scope and no claim";
        let hint = "name the scopes a caller needs, or remove 'access'";
        c.error(ErrorKind::Authorization, &at, ctx, msg, hint);
    }
    (access.scopes.len() + access.claims.len() > 0).then_some(access)
}
