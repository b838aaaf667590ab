//! Micro benchmark of what the edge and the tunnel do with each tunnelled call's JSON-RPC
//! message (issue 14): the edge queues the caller's body as a command, and the tunnel reads a
//! poll answer of such commands and hands each message to the MCP handler as text.
//!
//! Each is measured the way it is done (the message kept as the text it came as) and the way it
//! was done before (the message built into a `Value`, then written again as text), reproduced
//! here for comparison only.
//! Run: `cargo bench --bench tunnel_command`.

use criterion::{Criterion, criterion_group, criterion_main};
use harpoon::transport::poll_protocol::{
    Command, CommandType, JsonrpcHead, PollAnswer, PollResponse, parse_command,
};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::hint::black_box;

/// The request `benches/wrk_tunnel.sh` and the load benchmark send.
const BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bench_get_item","arguments":{"id":"1"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;

/// Commands per poll answer: what the tunnel received on average at concurrency 16.
const BATCH: usize = 6;

fn command(n: usize, jsonrpc: Box<RawValue>) -> Command {
    Command {
        request_id: format!("req_{n:032}"),
        shard_token: format!("shard_{n:032}"),
        command_type: CommandType::Jsonrpc,
        channel: Some("main".into()),
        created_at: Some("2026-12-07T15:00:00.000Z".into()),
        response_timeout: Some("30000ms".into()),
        headers: BTreeMap::from([("X-Request-Id".to_owned(), vec![format!("trace-{n}")])]),
        jsonrpc: Some(jsonrpc),
    }
}

/// A poll answer of `BATCH` commands, as the edge writes it.
fn poll_answer() -> Vec<u8> {
    let message: Box<RawValue> = serde_json::from_str(BODY).expect("JSON");
    let commands = (0..BATCH)
        .map(|n| serde_json::value::to_raw_value(&command(n, message.clone())).expect("JSON"))
        .collect();
    serde_json::to_vec(&PollResponse { commands }).expect("JSON")
}

fn bench_tunnel(c: &mut Criterion) {
    let answer = poll_answer();
    let mut group = c.benchmark_group("tunnel_poll_answer_of_6");
    group.bench_function("commands_kept_as_text", |b| {
        b.iter(|| {
            let read: PollAnswer = serde_json::from_slice(black_box(&answer)).expect("reads");
            for raw in read.commands {
                let command = parse_command(raw).expect("a command");
                let message = command.jsonrpc.expect("a message");
                black_box(JsonrpcHead::read(&message));
                black_box(message.get());
            }
        })
    });
    group.bench_function("before_commands_as_values", |b| {
        b.iter(|| {
            let read: Value = serde_json::from_slice(black_box(&answer)).expect("reads");
            for command in read["commands"].as_array().expect("commands") {
                let message = command["jsonrpc"].clone();
                black_box(message.get("method").and_then(Value::as_str));
                black_box(message.get("id"));
                black_box(message.to_string());
            }
        })
    });
    group.finish();
}

fn bench_edge(c: &mut Criterion) {
    let mut group = c.benchmark_group("edge_queue_one_call");
    group.bench_function("message_kept_as_text", |b| {
        b.iter(|| {
            let raw: &RawValue = serde_json::from_slice(black_box(BODY.as_bytes())).expect("JSON");
            let head = JsonrpcHead::read(raw);
            black_box(head);
            serde_json::value::to_raw_value(&command(1, raw.to_owned())).expect("JSON")
        })
    });
    group.bench_function("before_message_as_value", |b| {
        b.iter(|| {
            let message: Value = serde_json::from_slice(black_box(BODY.as_bytes())).expect("JSON");
            black_box(message.get("method").and_then(Value::as_str));
            black_box(message.get("id").cloned());
            let text = serde_json::value::to_raw_value(&message).expect("JSON");
            serde_json::value::to_raw_value(&command(1, text)).expect("JSON")
        })
    });
    group.finish();
}

criterion_group!(benches, bench_tunnel, bench_edge);
criterion_main!(benches);
