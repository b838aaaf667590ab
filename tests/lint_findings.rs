//! Every valid fixture produces exactly the findings its first comment lists, every finding code
//! has a fixture, and the shipped allowlists are valid and free of errors.

use crate::support::{SHIPPED_DIR, VALID_DIR, all_secrets, comment_line, yaml_files};
use harpoon::config;
use harpoon::lint::{self, Code, Severity};
use harpoon::policy::{Policy, SecretMode};
use std::collections::BTreeSet;
use std::path::Path;

fn findings(path: &Path) -> Vec<String> {
    let files = config::load(&[path.to_path_buf()]).unwrap_or_else(|e| panic!("{e}"));
    let policy = Policy::compile_with_env(&files, SecretMode::Resolve, &all_secrets)
        .unwrap_or_else(|e| panic!("{} must be valid: {e}", path.display()));
    lint::review(&policy)
        .iter()
        .map(|f| format!("{}@{}:{}", f.code.id(), f.location.line, f.location.column))
        .collect()
}

#[test]
fn every_valid_fixture_has_exactly_its_stated_findings() {
    for path in yaml_files(VALID_DIR) {
        let stated = comment_line(&path, 0, "# findings:");
        let want: Vec<String> = if stated == "none" {
            Vec::new()
        } else {
            stated.split_whitespace().map(str::to_owned).collect()
        };
        assert_eq!(findings(&path), want, "{}", path.display());
    }
}

#[test]
fn every_finding_code_has_a_fixture() {
    let mut seen = BTreeSet::new();
    for path in yaml_files(VALID_DIR) {
        for f in findings(&path) {
            seen.insert(f.split('@').next().unwrap_or_default().to_owned());
        }
    }
    for code in Code::ALL {
        assert!(
            seen.contains(code.id()),
            "no fixture produces the finding '{}'",
            code.id()
        );
    }
}

#[test]
fn shipped_allowlists_are_valid_and_have_no_error_findings() {
    for path in yaml_files(SHIPPED_DIR) {
        let files = config::load(std::slice::from_ref(&path)).unwrap_or_else(|e| panic!("{e}"));
        let policy = Policy::compile_with_env(&files, SecretMode::Resolve, &all_secrets)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let errors: Vec<_> = lint::review(&policy)
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn grants_name_injected_credentials_without_values() {
    let files = config::load(&[Path::new(SHIPPED_DIR).join("billing.yaml")]).expect("loads");
    let policy =
        Policy::compile_with_env(&files, SecretMode::Resolve, &all_secrets).expect("valid");
    let grants = lint::grants(&policy);
    assert_eq!(
        grants[0].injects,
        ["authorization from ${env:BILLING_TOKEN}"]
    );
    let text = serde_json::to_string(&grants).expect("serializes");
    assert!(
        !text.contains("test-secret-value"),
        "a secret leaked into the grants: {text}"
    );
}
