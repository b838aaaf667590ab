//! The layout holds as docs/architecture.md says: no module imports one that imports it back,
//! and no source file grows past ~600 lines unless its header says why it is one concept.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("reads src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The top-level module a file under `src/` belongs to (`src/policy/net.rs` -> `policy`).
fn top_module(path: &Path) -> Option<String> {
    let rel = path.strip_prefix("src").ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// Top-level module -> the top-level modules its code names as `crate::<module>`.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(Path::new("src")) {
        let Some(module) = top_module(&file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("reads");
        let entry = deps.entry(module.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                entry.insert(name);
            }
        }
    }
    deps
}

/// A cycle through `start`, if there is one: the path back to it.
fn cycle_from(deps: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in deps.get(&at).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

#[test]
fn module_dependencies_have_no_cycle() {
    let deps = dependencies();
    assert!(
        deps.len() >= 12,
        "only {} top-level modules were read",
        deps.len()
    );
    assert!(
        deps["engine"].contains("callout") && deps["mcp"].contains("engine"),
        "the reader finds imports: {deps:?}"
    );
    for module in deps.keys() {
        if let Some(cycle) = cycle_from(&deps, module) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

/// Longest file before its header must say why it stays one.
const LONG_FILE_LINES: usize = 620;

#[test]
fn long_files_say_why_they_are_one_concept() {
    for file in rust_files(Path::new("src")) {
        let text = std::fs::read_to_string(&file).expect("reads");
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            text.lines().count() <= LONG_FILE_LINES || header.contains("One concept"),
            "{} has {} lines and no header saying why it is one concept; split it",
            file.display(),
            text.lines().count()
        );
    }
}
