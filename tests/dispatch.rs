//! Tool dispatch has one owner (`Policy::tool`): `harpoon explain` and a served `tools/call`
//! agree on every tool name of every shipped and fixture allowlist, and on names no allowlist
//! has. Agreeing means the same verdict (unknown, allowed or denied) and, for a denial, the same
//! reason code. Allowed calls go nowhere: the served side resolves no host name.

use crate::support::engine::StaticResolver;
use crate::support::{SHIPPED_DIR, VALID_DIR, all_secrets, yaml_files};
use harpoon::callout::OwnListeners;
use harpoon::cli::explain::{ExplainArgs, explain};
use harpoon::config;
use harpoon::policy::types::Host;
use harpoon::policy::{Policy, SecretMode};
use harpoon::service::{HarpoonService, ServiceOptions};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A verdict as both sides can state it.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    UnknownTool,
    Allowed,
    Denied(String),
}

/// Names no allowlist has, and the built-in names (which exist only with `paths`).
const OTHER_NAMES: &[&str] = &[
    "list_targets",
    "call_target",
    "nope",
    "billing_nope",
    "",
    ".",
];

fn explained(file: &Path, tool: &str, args: &Value) -> Verdict {
    let request = ExplainArgs {
        paths: vec![file.to_path_buf()],
        tool: tool.to_owned(),
        args: args.to_string(),
        json: true,
    };
    match explain(&request) {
        Err(message) if message.starts_with("there is no tool") => Verdict::UnknownTool,
        Err(message) => panic!("{}: explain {tool}: {message}", file.display()),
        Ok((text, _)) => {
            let report: Value = serde_json::from_str(&text).expect("explain --json");
            match report["decision"].as_str() {
                Some("allow") => Verdict::Allowed,
                Some("deny") => Verdict::Denied(report["reason"].as_str().expect("reason").into()),
                other => panic!("{tool}: decision {other:?}"),
            }
        }
    }
}

/// The reason codes a permitted call can end with when the upstream cannot be reached.
const AFTER_PERMIT: &[&str] = &["upstream_unreachable", "address_not_allowed"];

async fn served(service: &HarpoonService, tool: &str, args: &Value) -> Verdict {
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": args, "_meta": meta}});
    // `explain` answers for the local caller (it has no token), so serve does too.
    let reply = harpoon::mcp::inprocess::handle(
        service.handler().local(),
        &message.to_string(),
        CancellationToken::new(),
    )
    .await
    .expect("a request gets a reply");
    let reply: Value = serde_json::from_str(&reply).expect("json");
    if reply["error"]["code"] == -32602 {
        return Verdict::UnknownTool;
    }
    let result = &reply["result"];
    assert!(result.is_object(), "{tool}: {reply}");
    if result["isError"] != true {
        return Verdict::Allowed;
    }
    let text = result["content"][0]["text"].as_str().expect("text");
    let code = text.split(':').next().expect("code").to_owned();
    if AFTER_PERMIT.contains(&code.as_str()) {
        Verdict::Allowed
    } else {
        Verdict::Denied(code)
    }
}

/// A service for `policy` whose permitted calls go nowhere: host names resolve to nothing, and
/// every IP-literal origin counts as harpoon's own listener, which no call may reach. So a
/// permitted call ends `upstream_unreachable` or `address_not_allowed`, whatever runs on this
/// machine (a `serve --demo` on the demo's port, say).
fn unreachable_service(policy: &Arc<Policy>) -> HarpoonService {
    let own = OwnListeners::default();
    for t in policy.targets() {
        if let Host::Ip(ip) = t.origin.host {
            own.add(SocketAddr::new(ip, t.origin.port));
        }
    }
    let options = ServiceOptions {
        resolver: Arc::new(StaticResolver::default()),
        own_listeners: own,
        ..ServiceOptions::default()
    };
    HarpoonService::from_policy(Arc::clone(policy), options).expect("service")
}

/// Arguments to try on each tool: none, and a plausible `call_target` call.
fn argument_sets(policy: &Policy) -> Vec<Value> {
    let mut sets = vec![json!({})];
    if let Some(t) = policy.targets().iter().find(|t| !t.paths.is_empty()) {
        sets.push(json!({"label": t.label.as_str(), "method": "GET", "path": "/"}));
        let glob = t.paths.rules[0]
            .glob
            .as_str()
            .replace("**", "x")
            .replace('*', "x");
        sets.push(json!({"label": t.label.as_str(), "method": "GET", "path": glob}));
    }
    sets
}

#[tokio::test]
async fn explain_and_serve_agree_on_every_tool() {
    let mut files = yaml_files(SHIPPED_DIR);
    files.extend(yaml_files(VALID_DIR));
    let mut checked = 0;
    for file in &files {
        let loaded = config::load(std::slice::from_ref(file)).expect("loads");
        let policy = Policy::compile_with_env(&loaded, SecretMode::Resolve, &all_secrets)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let service = unreachable_service(&policy);
        let mut names: Vec<String> = policy.tool_names().map(str::to_owned).collect();
        names.extend(OTHER_NAMES.iter().map(|n| (*n).to_owned()));
        for name in &names {
            for args in argument_sets(&policy) {
                let want = explained(file, name, &args);
                let got = served(&service, name, &args).await;
                assert_eq!(got, want, "{}: tool {name:?} with {args}", file.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "only {checked} calls were compared");
}

/// The bug this owner fixed: with no target declaring `paths`, neither built-in tool exists, on
/// either side; with one, both do.
#[tokio::test]
async fn builtin_tools_exist_exactly_when_a_target_declares_paths() {
    let no_paths = PathBuf::from("tests/fixtures/allowlists/valid/clean.yaml");
    let loaded = config::load(std::slice::from_ref(&no_paths)).expect("loads");
    let policy = Policy::compile_with_env(&loaded, SecretMode::Resolve, &all_secrets).expect("ok");
    assert!(!policy.has_free_paths(), "clean.yaml declares no paths");
    let service = HarpoonService::from_policy(policy, ServiceOptions::default()).expect("service");
    for builtin in ["list_targets", "call_target"] {
        assert_eq!(
            explained(&no_paths, builtin, &json!({})),
            Verdict::UnknownTool
        );
        assert_eq!(
            served(&service, builtin, &json!({})).await,
            Verdict::UnknownTool
        );
    }
}
