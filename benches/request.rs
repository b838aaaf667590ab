//! Micro benchmark of reading a `tools/call` request body, the way the direct path finds a
//! call: `DirectCall::read` (one exact shape), against rmcp's message type and then
//! `DirectCall::take`, the long way every body took before (issue 14).
//! Run: `cargo bench --bench request`.

use criterion::{Criterion, criterion_group, criterion_main};
use harpoon::config;
use harpoon::mcp::direct_call::DirectCall;
use harpoon::policy::{Policy, SecretMode};
use harpoon::service::{HarpoonService, ServiceOptions};
use rmcp::model::ClientJsonRpcMessage;
use std::hint::black_box;
use std::sync::Arc;

/// The request `benches/wrk_compare.sh` and the load benchmark send.
const BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bench_get_item","arguments":{"id":"1"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;

fn policy() -> Arc<Policy> {
    let yaml = "version: 1\ntargets:\n  - label: bench\n    base_url: https://api.example.com/api\n    \
                routes:\n      - { name: get_item, method: GET, path: \"/items/{id}\", params: { id: { pattern: \"^[0-9]{1,9}$\" } } }\n";
    let name: Arc<str> = Arc::from("bench.yaml");
    let raw = config::parse(&name, yaml.as_bytes()).expect("parses");
    Policy::compile_with_env(
        &[config::LoadedFile { name, raw }],
        SecretMode::Resolve,
        &|_| None,
    )
    .expect("compiles")
}

fn bench_read(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // The service's HTTP clients need a runtime to be made in.
    let _entered = runtime.enter();
    let service =
        HarpoonService::from_policy(policy(), ServiceOptions::default()).expect("a service");
    let handler = service.handler();
    assert!(DirectCall::read(BODY.as_bytes(), &handler).is_some());
    let mut group = c.benchmark_group("tools_call_request");
    group.bench_function("read", |b| {
        b.iter(|| DirectCall::read(black_box(BODY.as_bytes()), &handler))
    });
    group.bench_function("rmcp_message_then_take", |b| {
        b.iter(|| {
            let message: ClientJsonRpcMessage =
                serde_json::from_slice(black_box(BODY.as_bytes())).expect("parses");
            DirectCall::take(message, &handler).ok()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_read);
criterion_main!(benches);
