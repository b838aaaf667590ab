//! `harpoon import openapi`: every example document of `@readme/oas-examples` and GitHub's
//! published document import without a panic, and every output loads and passes `harpoon
//! check` with no error; GitHub's tools are valid `tools/list` entries; small documents are
//! pinned by golden files (HARPOON_UPDATE_GOLDEN=1 rewrites them).
//!
//! The example documents are npm packages that `.ci/run` installs; the tests find them through
//! HARPOON_OPENAPI_CORPUS (the `node_modules` directory) and say so when it is unset.

use harpoon::catalog;
use harpoon::cli::check::{CheckArgs, DenyLevel, EXIT_INVALID, review};
use harpoon::config;
use harpoon::import::{self, ImportError, Options};
use harpoon::lint::Format;
use harpoon::policy::types::Method;
use harpoon::policy::{Policy, SecretMode};
use std::path::{Path, PathBuf};
use std::process::Command;

const CORPUS_VAR: &str = "HARPOON_OPENAPI_CORPUS";

fn corpus() -> Option<PathBuf> {
    match std::env::var_os(CORPUS_VAR) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            eprintln!(
                "SKIPPED: {CORPUS_VAR} is not set; `.ci/run` installs the OpenAPI example documents and sets it"
            );
            None
        }
    }
}

fn all_methods(source: &str) -> Options {
    let mut o = Options::new(source);
    o.methods = Method::ALL.to_vec();
    o
}

/// Imports, giving a base URL only when the document names none (the exact error says so).
fn import_any(bytes: &[u8], mut options: Options) -> Result<import::Imported, ImportError> {
    match import::import(bytes, &options) {
        Err(ImportError::NoBaseUrl { .. }) => {
            options.base_url = Some("https://api.example.com".into());
            import::import(bytes, &options)
        }
        other => other,
    }
}

/// `harpoon check` on the output: exit 0 or 1, never 2 (invalid).
fn check_passes(yaml: &str, what: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("imported.yaml");
    std::fs::write(&path, yaml).expect("write");
    let (report, code) = review(&CheckArgs {
        paths: vec![path],
        format: Format::Text,
        deny: DenyLevel::Error,
        resolve_secrets: false,
    });
    assert_ne!(
        code, EXIT_INVALID,
        "{what}: check refused the output:\n{report}"
    );
    assert!(
        !report.contains("error["),
        "{what}: check found errors:\n{report}"
    );
}

fn documents(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("json" | "yaml" | "yml")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_example_document_imports_and_passes_check() {
    let Some(corpus) = corpus() else { return };
    let root = corpus.join("@readme/oas-examples");
    let mut imported = 0;
    for version in ["2.0", "3.0", "3.1"] {
        for path in documents(&root.join(version)) {
            let bytes = std::fs::read(&path).expect("read");
            let name = path.display().to_string();
            for options in [Options::new(name.clone()), all_methods(&name)] {
                match import_any(&bytes, options) {
                    Ok(out) => {
                        check_passes(&out.yaml, &name);
                        imported += 1;
                    }
                    // A document with only writes has nothing to import read-only.
                    Err(ImportError::NothingImported { .. }) => {}
                    Err(e) => panic!("{name}: {e}"),
                }
            }
        }
    }
    assert!(
        imported > 100,
        "only {imported} imports: is the corpus there?"
    );
}

#[test]
fn github_imports_into_valid_tools() {
    let Some(corpus) = corpus() else { return };
    let path = corpus.join("@octokit/openapi/generated/api.github.com.json");
    let bytes = std::fs::read(&path).expect("read the GitHub document");
    let mut options = all_methods("api.github.com.json");
    options.label = Some("github".into());
    let out = import::import(&bytes, &options).expect("imports");
    assert!(out.tools > 1_000, "{} tools", out.tools);
    check_passes(&out.yaml, "github");
    let name: std::sync::Arc<str> = std::sync::Arc::from("github.yaml");
    let raw = config::parse(&name, out.yaml.as_bytes()).expect("parses");
    let policy = Policy::compile(&[config::LoadedFile { name, raw }], SecretMode::Validate)
        .expect("compiles");
    let tools = catalog::tools_list_json(&catalog::build(&policy));
    let list = tools["tools"].as_array().expect("tools");
    assert_eq!(list.len(), out.tools);
    for tool in list {
        let name = tool["name"].as_str().expect("name");
        assert!(
            !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "{name}"
        );
        jsonschema::meta::validate(&tool["inputSchema"])
            .unwrap_or_else(|e| panic!("{name}: inputSchema is not a valid JSON Schema: {e}"));
    }
}

#[test]
fn small_documents_match_their_golden_files() {
    let cases = [
        (
            "tests/fixtures/openapi/billing.yaml",
            vec![],
            "billing-readonly",
        ),
        (
            "tests/fixtures/openapi/billing.yaml",
            vec!["--methods", "GET,POST,DELETE", "--label", "billing"],
            "billing-writes",
        ),
    ];
    let mut rewritten = Vec::new();
    for (spec, args, golden) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_harpoon"))
            .args(["import", "openapi", spec])
            .args(&args)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{spec}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8(out.stdout).expect("utf-8");
        check_passes(&got, golden);
        let path = PathBuf::from(format!("tests/golden/import-{golden}.yaml"));
        if std::env::var_os("HARPOON_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).expect("write golden");
            rewritten.push(path.display().to_string());
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} is missing; run with HARPOON_UPDATE_GOLDEN=1",
                path.display()
            )
        });
        assert_eq!(got, want, "{} differs from its golden file", path.display());
    }
    assert!(
        rewritten.is_empty(),
        "rewrote {rewritten:?}; run again to check them"
    );
}

#[test]
fn bad_documents_get_clear_errors() {
    let opts = Options::new("t");
    let cases = [
        (
            r#"{"openapi": "3.0.0", "servers": [{"url": "https://a.example"}], "paths": {"/x": {"post": {"requestBody": {"$ref": "other.yaml#/B"}}}}}"#,
            ImportError::ExternalRef {
                at: "#/paths/~1x/post/requestBody".into(),
                reference: "other.yaml#/B".into(),
            },
        ),
        (
            r#"{"info": {"title": "x"}}"#,
            ImportError::NotOpenApi {
                found: "it has neither an 'openapi' nor a 'swagger' key".into(),
            },
        ),
        (
            r#"{"openapi": "3.0.0", "paths": {"/x": {"get": {}}}}"#,
            ImportError::NoBaseUrl {
                why: "the document has no servers".into(),
            },
        ),
    ];
    for (doc, want) in cases {
        let mut o = opts.clone();
        o.methods = Method::ALL.to_vec();
        assert_eq!(
            import::import(doc.as_bytes(), &o).unwrap_err(),
            want,
            "{doc}"
        );
    }
}
