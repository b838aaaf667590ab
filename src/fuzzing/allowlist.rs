//! Allowlist parsing: any bytes -> a Policy or errors that each carry a location.

use super::corpus::*;
use crate::config::{self, ConfigError, LoadedFile};
use crate::policy::{Policy, SecretMode};
use std::sync::Arc;

/// Any bytes as an allowlist file: a policy whose every part holds together, or errors that
/// each name a place in the file. Never a panic; a hang is caught by the fuzzer's timeout.
pub fn allowlist(data: &[u8]) {
    let name: Arc<str> = Arc::from("<fuzz>");
    let raw = match config::parse(&name, data) {
        Ok(raw) => raw,
        Err(e) => return assert_located(&e),
    };
    let file = LoadedFile { name, raw };
    // Validate, not Resolve: a fuzzed `${file:/dev/stdin}` must not be read.
    match Policy::compile_with_env(&[file], SecretMode::Validate, &|_| None) {
        Ok(policy) => check_policy(&policy),
        Err(errors) => {
            assert!(errors.iter().next().is_some(), "an empty error list");
            errors.iter().for_each(assert_located);
        }
    }
}

pub(crate) fn assert_located(e: &ConfigError) {
    let Some(at) = &e.location else {
        panic!("an allowlist error without a location: {e}");
    };
    assert!(
        at.line >= 1 && at.column >= 1,
        "an allowlist error at {at}: {e}"
    );
    assert!(!e.message.is_empty(), "an error without a message: {e:?}");
}

/// What a compiled policy promises: each base URL parses back to its origin and base path, and
/// every route is reachable as its tool. The catalog and the review run on it without panicking.
pub(crate) fn check_policy(policy: &Policy) {
    for t in policy.targets() {
        let url = url::Url::parse(t.base_url()).expect("a compiled base_url parses");
        assert_eq!(url.scheme(), t.origin.scheme.as_str(), "{}", t.base_url());
        assert_eq!(url.port_or_known_default(), Some(t.origin.port));
        assert!(same_host(&t.origin.host, &url), "{}", t.base_url());
        assert_eq!(url.path().trim_end_matches('/'), t.base_path.as_str());
        assert!(url.username().is_empty() && url.password().is_none());
        assert!(url.query().is_none() && url.fragment().is_none());
        for r in &t.routes {
            let (rt, rr) = policy
                .route_tool(r.tool.as_str())
                .expect("every route is a tool");
            assert!(std::ptr::eq(rt, t) && std::ptr::eq(rr, r), "{}", r.tool);
        }
    }
    let builtins = if policy.has_free_paths() { 2 } else { 0 };
    assert_eq!(
        crate::catalog::build(policy).len(),
        policy.route_count() + builtins
    );
    let _ = crate::lint::review(policy);
    let _ = crate::lint::grants(policy);
}
