//! `harpoon check` as a user runs it: exit status, formats, and messages that name the place.

use crate::support::{INVALID_DIR, SHIPPED_DIR, VALID_DIR, yaml_files};
use std::process::{Command, Output};

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harpoon"))
        .arg("check")
        .args(args)
        // Secrets the fixtures reference must be unset for these runs, whatever the shell has.
        .env_remove("HARPOON_FIXTURE_UNSET")
        .output()
        .expect("harpoon runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn shipped_allowlists_pass_with_a_readable_review() {
    for path in yaml_files(SHIPPED_DIR) {
        let out = check(&[path.to_str().expect("utf-8 path")]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}:\n{stdout}{}",
            path.display(),
            text(&out.stderr)
        );
        assert!(stdout.contains("What these allowlists grant:"), "{stdout}");
        assert!(stdout.contains("0 error(s)"), "{stdout}");
    }
}

/// `# error[kind]: line:col: message` of a fixture: the kind, and the full text with its path.
fn stated(path: &std::path::Path) -> (String, String) {
    let line = crate::support::comment_line(path, 0, "# error[");
    let (kind, rest) = line.split_once("]: ").expect("'# error[kind]: text'");
    (kind.to_owned(), format!("{}:{rest}", path.display()))
}

/// `harpoon check` refuses every invalid fixture with exit 2 and exactly the error the fixture
/// states: its text (place and message) on stderr, and its kind, file, line and column in JSON.
#[test]
fn invalid_fixtures_exit_2_with_their_stated_error() {
    for path in yaml_files(INVALID_DIR) {
        let p = path.to_str().expect("utf-8 path");
        let (kind, text) = stated(&path);
        let out = check(&["--resolve-secrets", p]);
        let stderr = self::text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{p}: {stderr}");
        assert_eq!(
            stderr.lines().next().unwrap_or_default(),
            format!("error: {text}"),
            "{p}"
        );
        assert!(out.stdout.is_empty(), "text errors go to stderr only");
        let out = check(&["--resolve-secrets", "--format", "json", p]);
        assert_eq!(out.status.code(), Some(2), "{p}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let errors = report["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{p}: {report}");
        let e = &errors[0];
        assert_eq!(e["kind"], kind.as_str(), "{p}");
        assert_eq!(e["text"], text.as_str(), "{p}");
        assert_eq!(e["file"], p, "{p}");
        let place = format!("{p}:{}:{}:", e["line"], e["column"]);
        assert!(text.starts_with(&place), "{p}: {place} in {text}");
    }
}

#[test]
fn deny_level_sets_the_exit_status() {
    let inline = format!("{VALID_DIR}/lint-inline_secret.yaml");
    let wildcard = format!("{VALID_DIR}/lint-wildcard_segment.yaml");
    assert_eq!(
        check(&[&inline]).status.code(),
        Some(1),
        "an error-level finding fails by default"
    );
    assert_eq!(check(&["--deny", "never", &inline]).status.code(), Some(0));
    assert_eq!(
        check(&[&wildcard]).status.code(),
        Some(0),
        "a note passes by default"
    );
    assert_eq!(check(&["--deny", "note", &wildcard]).status.code(), Some(1));
    assert_eq!(
        check(&["--deny", "warning", &wildcard]).status.code(),
        Some(0)
    );
}

#[test]
fn json_output_carries_findings_and_grants() {
    let out = check(&["--format", "json", &format!("{SHIPPED_DIR}/billing.yaml")]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["valid"], true);
    assert_eq!(v["grants"][0]["label"], "billing");
    assert_eq!(v["grants"][0]["routes"][1]["tool"], "billing_create_refund");
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"write_non_idempotent"), "{codes:?}");
}

#[test]
fn json_output_reports_invalid_input_with_places() {
    let p = format!("{INVALID_DIR}/template-unclosed.yaml");
    let out = check(&["--format", "json", &p]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"][0]["kind"], "template");
    assert_eq!(v["errors"][0]["line"], 11);
    assert_eq!(v["errors"][0]["file"], p);
}

#[test]
fn sarif_output_is_sarif_2_1_0() {
    let out = check(&[
        "--format",
        "sarif",
        &format!("{VALID_DIR}/lint-inline_secret.yaml"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "harpoon");
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "inline_secret");
    assert_eq!(result["level"], "error");
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(7), Some(28))
    );
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(rules.contains(&"inline_secret") && rules.contains(&"invalid_allowlist"));
}

#[test]
fn a_directory_is_read_whole_and_labels_must_be_unique_across_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let body = std::fs::read_to_string(format!("{SHIPPED_DIR}/billing.yaml")).expect("read");
    std::fs::write(dir.path().join("a.yaml"), &body).expect("write");
    std::fs::write(dir.path().join("b.yml"), &body).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not an allowlist").expect("write");
    let out = check(&[dir.path().to_str().expect("utf-8")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("b.yml:") && stderr.contains("label 'billing' is already used at"),
        "{stderr}"
    );
}

#[test]
fn help_explains_the_exit_status() {
    let out = Command::new(env!("CARGO_BIN_EXE_harpoon"))
        .args(["check", "--help"])
        .output()
        .expect("runs");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Exit status: 0") && stdout.contains("--deny"),
        "{stdout}"
    );
}
