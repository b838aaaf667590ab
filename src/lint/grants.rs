//! What each target grants, in plain words: which methods on which paths of which origin, with
//! which injected credentials (named, never shown). `check` prints it after the findings.

use super::rules::methods_text;
use crate::policy::limits::{Oversize, format_bytes};
use crate::policy::{Policy, QueryRule, Target};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Grant {
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub base_url: String,
    /// Which peer addresses may be dialled.
    pub network: String,
    pub routes: Vec<RouteGrant>,
    pub paths: Vec<PathGrant>,
    /// `Authorization from ${env:BILLING_TOKEN}`.
    pub injects: Vec<String>,
    pub caller_headers: Vec<String>,
    pub response_headers: Vec<String>,
    pub limits: String,
    pub redirects: u8,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteGrant {
    pub tool: String,
    pub method: String,
    pub path: String,
    /// `invoice_id ~ ^inv_[0-9a-z]{8,32}$`, `expand in ["lines","customer"]`, `id: any string`.
    pub params: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathGrant {
    pub methods: String,
    pub glob: String,
    pub query: String,
}

pub fn grants(policy: &Policy) -> Vec<Grant> {
    policy.targets().iter().map(grant).collect()
}

fn grant(t: &Target) -> Grant {
    let cidrs = t.network.allow_cidrs();
    let network = if cidrs.is_empty() {
        "public addresses only".to_owned()
    } else {
        let list: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
        format!("peer address in {}", list.join(", "))
    };
    Grant {
        label: t.label.to_string(),
        description: t.description.clone(),
        base_url: t.base_url().to_owned(),
        network,
        routes: t.routes.iter().map(route_grant).collect(),
        paths: t
            .paths
            .rules
            .iter()
            .map(|r| PathGrant {
                methods: methods_text(r.methods),
                glob: r.glob.as_str().to_owned(),
                query: match &r.query {
                    QueryRule::Deny => "no query parameters".into(),
                    QueryRule::Any => "any query parameter".into(),
                    QueryRule::Names(n) => format!("query: {}", n.join(", ")),
                },
            })
            .collect(),
        injects: t
            .injected
            .iter()
            .map(|h| {
                let refs = h.template.references();
                if refs.is_empty() {
                    format!("{} (inline value)", h.name)
                } else {
                    format!("{} from {}", h.name, refs.join(" + "))
                }
            })
            .collect(),
        caller_headers: t.caller_headers.iter().map(ToString::to_string).collect(),
        response_headers: t.response_headers.iter().map(ToString::to_string).collect(),
        limits: limits_text(t),
        redirects: t.redirects,
    }
}

fn route_grant(r: &crate::policy::Route) -> RouteGrant {
    let mut params = Vec::new();
    for (name, spec) in r.params.iter().chain(&r.query) {
        let place = if r.params.contains_key(name) {
            ""
        } else {
            "query "
        };
        let rule = if let Some(p) = &spec.pattern {
            format!("~ {}", p.as_str())
        } else if !spec.one_of.is_empty() {
            let vals: Vec<String> = spec.one_of.iter().map(ToString::to_string).collect();
            format!("in [{}]", vals.join(", "))
        } else {
            format!(": any {}", spec.kind.as_str())
        };
        let optional = if spec.required { "" } else { " (optional)" };
        params.push(format!("{place}{name} {rule}{optional}"));
    }
    RouteGrant {
        tool: r.tool.to_string(),
        method: r.method.to_string(),
        path: r.template.as_str().to_owned(),
        params,
        body: r.body.as_ref().map(|b| {
            let ct = b.content_type.to_str().unwrap_or("?");
            let schema = if b.schema.is_some() {
                ", schema-checked"
            } else {
                ", any content"
            };
            format!("{ct}{schema}")
        }),
    }
}

fn limits_text(t: &Target) -> String {
    let l = &t.limits;
    let rate = l.rate.map(|r| format!(", rate {r}")).unwrap_or_default();
    let oversize = match l.oversize {
        Oversize::Truncate => "truncated",
        Oversize::Error => "error",
    };
    format!(
        "request {}, response {} (then {oversize}), timeout {}ms, connect {}ms, concurrency {}{rate}",
        format_bytes(l.request_bytes),
        format_bytes(l.response_bytes),
        l.timeout.as_millis(),
        l.connect_timeout.as_millis(),
        l.concurrency
    )
}
