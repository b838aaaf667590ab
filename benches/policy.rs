//! Micro benchmarks of the policy: compiling allowlists, and deciding one call (argument
//! parsing, checks, URL building and its re-parse) at 10, 1,000 and 10,000 routes.
//! Run: `cargo bench --bench policy`. Figures go to docs/performance.md.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use harpoon::config;
use harpoon::policy::{CallRequest, Decision, Policy, SecretMode, ToolKind, UpstreamTool, decide};
use serde_json::json;
use std::hint::black_box;
use std::sync::Arc;

const SIZES: [usize; 3] = [10, 1_000, 10_000];

fn compile(yaml: &str) -> Arc<Policy> {
    let name: Arc<str> = Arc::from("bench.yaml");
    let raw = config::parse(&name, yaml.as_bytes()).expect("parses");
    Policy::compile(&[config::LoadedFile { name, raw }], SecretMode::Validate).expect("compiles")
}

fn bench_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    for n in SIZES {
        let yaml = harpoon::synthetic::allowlist_yaml(n, 1, "http://127.0.0.1:9");
        group.throughput(Throughput::Bytes(yaml.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &yaml, |b, yaml| {
            b.iter(|| compile(black_box(yaml)))
        });
    }
    group.finish();
}

/// The tool `name` resolves to, as the engine resolves it before parsing (timed with the rest).
fn upstream<'p>(policy: &'p Policy, name: &str) -> UpstreamTool<'p> {
    match policy.tool(name) {
        Some(ToolKind::Upstream(t)) => t,
        other => panic!("{name} is not an upstream tool: {other:?}"),
    }
}

fn bench_decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    for n in SIZES {
        let policy = compile(&harpoon::synthetic::allowlist_yaml(
            n,
            1,
            "http://127.0.0.1:9",
        ));
        let tool = format!("t{}_r0", n / 2);
        let route_args = json!({"id": "123456"});
        let route_args = route_args.as_object().expect("object");
        let label = format!("t{}", n / 2);
        let target_args = json!({"label": label, "method": "GET", "path": "/reports/daily", "headers": {"Accept": "application/json"}});
        let target_args = target_args.as_object().expect("object");
        group.bench_function(BenchmarkId::new("route", n), |b| {
            b.iter(|| {
                let request =
                    CallRequest::parse(upstream(&policy, black_box(&tool)), Some(route_args))
                        .expect("parses");
                match decide(&policy, &request) {
                    Decision::Allow(p) => black_box(p.url().as_str().len()),
                    Decision::Deny(r) => panic!("{r:?}"),
                }
            })
        });
        group.bench_function(BenchmarkId::new("call_target", n), |b| {
            b.iter(|| {
                let request = CallRequest::parse(
                    upstream(&policy, "call_target"),
                    Some(black_box(target_args)),
                )
                .expect("parses");
                match decide(&policy, &request) {
                    Decision::Allow(p) => black_box(p.url().as_str().len()),
                    Decision::Deny(r) => panic!("{r:?}"),
                }
            })
        });
        let denied = json!({"label": label, "method": "GET", "path": "/reports/../admin"});
        let denied = denied.as_object().expect("object");
        group.bench_function(BenchmarkId::new("denied", n), |b| {
            b.iter(|| {
                let request =
                    CallRequest::parse(upstream(&policy, "call_target"), Some(black_box(denied)))
                        .expect("parses");
                black_box(matches!(decide(&policy, &request), Decision::Deny(_)))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_compile, bench_decide);
criterion_main!(benches);
