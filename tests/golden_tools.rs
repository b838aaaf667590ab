//! `tools/list` of the shipped allowlists is pinned by golden files; `harpoon tools` prints
//! exactly them. Run with HARPOON_UPDATE_GOLDEN=1 to rewrite them after a deliberate change.

use crate::support::{SHIPPED_DIR, yaml_files};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `allowlists/billing.yaml` -> `tools-billing.json`; `conformance/allowlist.yaml` ->
/// `tools-conformance.json`.
fn golden_path(allowlist: &Path) -> PathBuf {
    let stem = allowlist
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("name");
    let name = if stem == "allowlist" {
        allowlist
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .expect("dir")
    } else {
        stem
    };
    PathBuf::from(format!("tests/golden/tools-{name}.json"))
}

#[test]
fn tools_list_matches_the_golden_files() {
    let mut files = yaml_files(SHIPPED_DIR);
    files.push(PathBuf::from("conformance/allowlist.yaml"));
    let mut rewritten = Vec::new();
    for allowlist in files {
        let out = Command::new(env!("CARGO_BIN_EXE_harpoon"))
            .arg("tools")
            .arg(&allowlist)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}: {}",
            allowlist.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8(out.stdout).expect("utf-8");
        let golden = golden_path(&allowlist);
        if std::env::var_os("HARPOON_UPDATE_GOLDEN").is_some() {
            // Writing the file and then comparing it with itself would prove nothing: the run
            // that rewrites the goldens fails, and the next run checks them.
            std::fs::write(&golden, &got).expect("write golden");
            rewritten.push(golden.display().to_string());
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
            panic!(
                "{} is missing; run with HARPOON_UPDATE_GOLDEN=1",
                golden.display()
            )
        });
        assert_eq!(
            got,
            want,
            "{} changed; review the diff, then HARPOON_UPDATE_GOLDEN=1",
            golden.display()
        );
        assert!(
            !got.contains("internal.example:") && !got.contains("${env:"),
            "a URL or secret reference leaked into {}",
            golden.display()
        );
    }
    assert!(
        rewritten.is_empty(),
        "rewrote {}; review the diff, then run again without HARPOON_UPDATE_GOLDEN",
        rewritten.join(", ")
    );
}

#[test]
fn the_published_result_schema_is_what_tools_declare() {
    let text = std::fs::read_to_string("schemas/tool-result.v1.json").expect("schema file");
    let mut published: serde_json::Value = serde_json::from_str(&text).expect("json");
    let object = published.as_object_mut().expect("object");
    for meta in ["$schema", "$id", "title"] {
        object.remove(meta);
    }
    let declared = serde_json::Value::Object(harpoon::catalog::response_schema());
    assert_eq!(
        published, declared,
        "schemas/tool-result.v1.json is out of date"
    );
}

/// The golden files are what the MCP handler really sends on `tools/list` (in both protocol
/// eras), not only what `harpoon tools` prints with its own serializer.
#[tokio::test]
async fn the_handler_sends_the_golden_tools() {
    use serde_json::{Value, json};
    let mut files = yaml_files(SHIPPED_DIR);
    files.push(PathBuf::from("conformance/allowlist.yaml"));
    for allowlist in files {
        let loaded = harpoon::config::load(std::slice::from_ref(&allowlist)).expect("loads");
        let policy = harpoon::policy::Policy::compile_with_env(
            &loaded,
            harpoon::policy::SecretMode::Resolve,
            &crate::support::all_secrets,
        )
        .expect("compiles");
        let service =
            harpoon::service::HarpoonService::from_policy(policy, Default::default()).expect("ok");
        let golden: Value = serde_json::from_str(
            &std::fs::read_to_string(golden_path(&allowlist)).expect("golden"),
        )
        .expect("json");
        let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
        let list =
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}});
        let reply = service
            .handle_message(&list.to_string(), Default::default())
            .await
            .expect("reply");
        let reply: Value = serde_json::from_str(&reply).expect("json");
        assert_eq!(
            reply["result"]["tools"],
            golden["tools"],
            "{}: the handler's tools/list differs from its golden file",
            allowlist.display()
        );
    }
}
