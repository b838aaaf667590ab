//! Every invalid fixture fails with exactly the error its first comment states, and every error
//! kind that a file can produce has a fixture.

use crate::support::{INVALID_DIR, comment_line, no_secrets, yaml_files};
use harpoon::config::{self, ConfigErrors};
use harpoon::policy::{Policy, SecretMode};
use std::collections::BTreeSet;
use std::path::Path;

fn compile(path: &Path) -> Result<(), ConfigErrors> {
    let files = config::load(&[path.to_path_buf()])?;
    Policy::compile_with_env(&files, SecretMode::Resolve, &no_secrets).map(|_| ())
}

/// `# error[kind]: line:col: message` -> (kind, full expected text with the path in front).
fn expectation(path: &Path) -> (String, String) {
    let line = comment_line(path, 0, "# error[");
    let (kind, rest) = line.split_once("]: ").expect("'# error[kind]: text'");
    (kind.to_owned(), format!("{}:{rest}", path.display()))
}

#[test]
fn every_invalid_fixture_fails_with_its_stated_error() {
    for path in yaml_files(INVALID_DIR) {
        let (kind, text) = expectation(&path);
        let errors = compile(&path).expect_err(&format!("{} must be refused", path.display()));
        assert_eq!(
            errors.len(),
            1,
            "{}: exactly one error expected, got:\n{errors}",
            path.display()
        );
        let error = errors.first().expect("one error");
        assert_eq!(error.kind.as_str(), kind, "{}", path.display());
        assert_eq!(error.to_string(), text, "{}", path.display());
    }
}

#[test]
fn every_file_level_error_kind_has_a_fixture() {
    let covered: BTreeSet<String> = yaml_files(INVALID_DIR)
        .iter()
        .map(|p| expectation(p).0)
        .collect();
    // The file-system kinds (io, too_large, no_files) come from the file system, not a file's
    // content: tests/hostile_files.rs covers them.
    let kinds = harpoon::config::ErrorKind::ALL
        .iter()
        .filter(|k| !k.is_file_system())
        .map(|k| k.as_str());
    for kind in kinds {
        assert!(
            covered.contains(kind),
            "no invalid fixture produces a '{kind}' error"
        );
    }
}

#[test]
fn all_errors_of_a_load_are_reported_together() {
    let paths: Vec<_> = [
        "base-url-http.yaml",
        "limit-unit.yaml",
        "syntax-bad-yaml.yaml",
    ]
    .iter()
    .map(|f| Path::new(INVALID_DIR).join(f))
    .collect();
    let errors = config::load(&paths)
        .and_then(|f| Policy::compile_with_env(&f, SecretMode::Resolve, &no_secrets))
        .expect_err("invalid");
    // The YAML error stops the load before compiling, so the parse error is reported alone...
    assert_eq!(errors.len(), 1);
    assert_eq!(errors.first().map(|e| e.kind.as_str()), Some("syntax"));
    // ...and two files that parse have all their compile errors reported at once.
    let errors = config::load(&paths[..2])
        .and_then(|f| Policy::compile_with_env(&f, SecretMode::Resolve, &no_secrets))
        .expect_err("invalid");
    let kinds: Vec<_> = errors.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["base_url", "limit"]);
}

#[test]
fn a_secret_error_names_the_reference_never_the_value() {
    let path = Path::new(INVALID_DIR).join("secret-unset.yaml");
    let files = config::load(&[path]).expect("parses");
    let set_but_bad =
        |name: &str| (name == "HARPOON_FIXTURE_UNSET").then(|| "tok\r\nen-v4lue".to_owned());
    let errors =
        Policy::compile_with_env(&files, SecretMode::Resolve, &set_but_bad).expect_err("bad value");
    let text = errors.to_string();
    assert!(text.contains("${env:HARPOON_FIXTURE_UNSET}"), "{text}");
    assert!(text.contains("line break"), "{text}");
    assert!(!text.contains("v4lue"), "the secret leaked into: {text}");
}

#[test]
fn validate_mode_checks_references_without_reading_them() {
    let path = Path::new(INVALID_DIR).join("secret-unset.yaml");
    let files = config::load(&[path]).expect("parses");
    let policy = Policy::compile_with_env(&files, SecretMode::Validate, &no_secrets)
        .expect("valid without secrets");
    let injected = &policy.targets()[0].injected[0];
    assert_eq!(
        injected.value,
        harpoon::policy::secret::InjectedValue::Unresolved
    );
    assert_eq!(
        injected.template.references(),
        ["${env:HARPOON_FIXTURE_UNSET}"]
    );
}
