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
            std::fs::write(&golden, &got).expect("write golden");
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
