//! schemas/allowlist.v1.json and the parser agree: every valid fixture and shipped allowlist
//! validates; every invalid fixture gets the verdict its second comment states (the schema
//! cannot see every error, e.g. an unset secret, and says so per fixture).

use crate::support::{INVALID_DIR, SHIPPED_DIR, VALID_DIR, comment_line, yaml_files};
use harpoon::policy::{Label, Method};
use serde_json::Value;
use std::path::Path;

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string("schemas/allowlist.v1.json").expect("schema file");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::draft202012::new(&schema).expect("schema compiles")
}

fn verdict(v: &jsonschema::Validator, path: &Path) -> &'static str {
    let bytes = std::fs::read(path).expect("read");
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return "unparsable";
    };
    match serde_saphyr::from_str::<Value>(text) {
        Err(_) => "unparsable",
        Ok(doc) if v.is_valid(&doc) => "valid",
        Ok(_) => "invalid",
    }
}

#[test]
fn valid_files_validate() {
    let v = validator();
    for path in yaml_files(VALID_DIR)
        .into_iter()
        .chain(yaml_files(SHIPPED_DIR))
    {
        assert_eq!(verdict(&v, &path), "valid", "{}", path.display());
    }
}

#[test]
fn invalid_fixtures_get_their_stated_schema_verdict() {
    let v = validator();
    let mut detected = 0;
    let mut mismatches = Vec::new();
    for path in yaml_files(INVALID_DIR) {
        let stated = comment_line(&path, 1, "# schema:");
        let got = verdict(&v, &path);
        if got != stated {
            mismatches.push(format!("{}: stated {stated}, got {got}", path.display()));
        }
        detected += usize::from(got != "valid");
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    assert!(
        detected >= 30,
        "the schema should catch most errors, caught {detected}"
    );
}

#[test]
fn schema_methods_and_label_rule_match_the_parser() {
    let text = std::fs::read_to_string("schemas/allowlist.v1.json").expect("schema file");
    let schema: Value = serde_json::from_str(&text).expect("json");
    let methods: Vec<&str> = schema["$defs"]["route"]["properties"]["method"]["enum"]
        .as_array()
        .expect("method enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let ours: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
    assert_eq!(methods, ours);
    let pattern = schema["$defs"]["target"]["properties"]["label"]["pattern"]
        .as_str()
        .expect("label pattern");
    let re = regex::Regex::new(pattern).expect("compiles");
    for label in [
        "billing",
        "a",
        "a-b_c",
        "9x",
        "Billing",
        "-a",
        "a.b",
        "",
        &"a".repeat(64),
        &"a".repeat(65),
    ] {
        assert_eq!(
            re.is_match(label),
            Label::parse(label).is_ok(),
            "label {label:?}"
        );
    }
}
