//! Micro benchmarks of response handling per MiB: bounding a streamed body (with the secret
//! redaction scan), and turning a response into the MCP result (envelope, JSON text).
//! Run: `cargo bench --bench response`.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use harpoon::callout::{BodyCap, BoundedResponse};
use harpoon::config;
use harpoon::policy::{Policy, SecretMode};
use std::hint::black_box;
use std::sync::Arc;

const MIB: usize = 1024 * 1024;

fn target_policy() -> Arc<Policy> {
    let yaml = "version: 1\ntargets:\n  - label: t\n    base_url: https://api.example.com/\n    \
                headers: { inject: { Authorization: \"Bearer ${env:TOKEN}\" } }\n    paths: [{ methods: [GET], glob: \"/*\" }]\n";
    let name: Arc<str> = Arc::from("bench.yaml");
    let raw = config::parse(&name, yaml.as_bytes()).expect("parses");
    Policy::compile_with_env(
        &[config::LoadedFile { name, raw }],
        SecretMode::Resolve,
        &|_| Some("s3cret-token-0123456789".into()),
    )
    .expect("compiles")
}

fn bench_bounding(c: &mut Criterion) {
    let policy = target_policy();
    let target = &policy.targets()[0];
    let chunk = vec![b'a'; 16 * 1024];
    let mut group = c.benchmark_group("bound");
    group.throughput(Throughput::Bytes(MIB as u64));
    group.bench_function("1MiB_in_16KiB_chunks_with_redaction", |b| {
        b.iter(|| {
            let mut cap = BodyCap::new(MIB as u64, None);
            for _ in 0..64 {
                cap.push(black_box(&chunk));
            }
            black_box(cap.finish(target))
        })
    });
    group.bench_function("2MiB_cut_at_1MiB", |b| {
        b.iter(|| {
            let mut cap = BodyCap::new(MIB as u64, None);
            for _ in 0..128 {
                if !cap.push(black_box(&chunk)) {
                    break;
                }
            }
            black_box(cap.finish(target))
        })
    });
    group.finish();
}

fn response(content_type: &str, body: Vec<u8>) -> BoundedResponse {
    BoundedResponse {
        status: 200,
        headers: vec![("content-type".into(), content_type.into())],
        full_size: Some(body.len() as u64),
        body: Bytes::from(body),
        truncated: false,
        content_type: Some(content_type.into()),
        redirects: 0,
        redactor: Default::default(),
    }
}

fn bench_results(c: &mut Criterion) {
    let json_body = format!(
        "[{}]",
        vec![r#"{"id":1234,"name":"widget","quantity":12}"#; MIB / 44].join(",")
    );
    let json = response("application/json", json_body.into_bytes());
    let text = response("text/plain", vec![b'x'; MIB]);
    let binary = response("application/octet-stream", vec![0xA5; MIB]);
    let mut group = c.benchmark_group("result");
    group.throughput(Throughput::Bytes(MIB as u64));
    group.sample_size(20);
    for (name, r) in [
        ("json_1MiB", &json),
        ("text_1MiB", &text),
        ("binary_1MiB", &binary),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let result = harpoon::mcp::result::to_result(
                    "t_x",
                    harpoon::engine::Outcome::Response(black_box(r).clone()),
                );
                black_box(result.map(|r| r.content.len()))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_bounding, bench_results);
criterion_main!(benches);
