//! `harpoon import openapi` on GitHub's published document (~1,200 operations, 13 MB of JSON):
//! the read-only import and the import of every method. The document comes from the npm package
//! `@octokit/openapi` that `.ci/run` installs; set HARPOON_OPENAPI_CORPUS to its
//! `node_modules` directory. Figures and the peak-memory command are in docs/performance.md.

use criterion::{Criterion, criterion_group, criterion_main};
use harpoon::import::{self, Options};
use harpoon::policy::types::Method;
use std::path::PathBuf;

fn github(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("HARPOON_OPENAPI_CORPUS") else {
        eprintln!(
            "SKIPPED: set HARPOON_OPENAPI_CORPUS to the node_modules holding @octokit/openapi"
        );
        return;
    };
    let path = PathBuf::from(dir).join("@octokit/openapi/generated/api.github.com.json");
    let bytes = std::fs::read(&path).expect("read the GitHub document");
    let mut group = c.benchmark_group("import_github");
    group.sample_size(10);
    let read_only = Options::new("api.github.com.json");
    group.bench_function("read_only", |b| {
        b.iter(|| import::import(&bytes, &read_only).expect("imports"))
    });
    let mut all = Options::new("api.github.com.json");
    all.methods = Method::ALL.to_vec();
    group.bench_function("all_methods", |b| {
        b.iter(|| import::import(&bytes, &all).expect("imports"))
    });
    group.finish();
}

criterion_group!(benches, github);
criterion_main!(benches);
