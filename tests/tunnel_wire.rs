//! Wire fixtures: each message shape of the service protocol (`../shared/openai-tunnel-protocol.md`
//! §2.3 and §2.4), kept in tests/fixtures/tunnel/, read and written by harpoon and compared field
//! by field.

use harpoon::transport::poll_protocol::{
    Command, CommandType, PollAnswer, Reply, RespType, parse_command,
};
use serde_json::Value;
use std::time::Duration;

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(format!("tests/fixtures/tunnel/{name}")).expect("fixture")
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).expect("JSON")
}

#[test]
fn a_poll_answer_with_every_command_type_reads_as_the_contract_says() {
    let text = fixture_text("poll-every-command-type.json");
    let answer: PollAnswer = serde_json::from_str(&text).expect("answer");
    let commands: Vec<_> = answer
        .commands
        .iter()
        .map(|c| parse_command(c).expect("a valid command"))
        .collect();
    let kinds: Vec<_> = commands
        .iter()
        .map(|c| (c.kind, c.channel.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (CommandType::Jsonrpc, "main"),
            (CommandType::Jsonrpc, "main"),
            (CommandType::SessionTermination, "main"),
            (CommandType::OauthDiscovery, "main"),
            (CommandType::Jsonrpc, "harpoon"),
        ]
    );
    assert_eq!(commands[0].response_timeout, Some(Duration::from_secs(30)));
    assert_eq!(
        commands[4].response_timeout,
        Some(Duration::from_millis(4500))
    );
    assert_eq!(commands[1].response_timeout, None);
    assert_eq!(
        commands[0].header("x-request-id"),
        Some("connector-trace-1")
    );
    assert_eq!(commands[0].shard_token, "opaque-shard-token-a");
    assert!(commands[2].jsonrpc.is_none() && commands[3].jsonrpc.is_none());
    // What an edge writes reads back to the same JSON, field by field.
    // (An edge leaves an empty `headers` map out, which the contract allows.)
    for raw in &answer.commands {
        let typed: Command = serde_json::from_str(raw.get()).expect("an edge's command");
        let mut want: Value = serde_json::from_str(raw.get()).expect("JSON");
        if want["headers"].as_object().is_some_and(|h| h.is_empty()) {
            want.as_object_mut().expect("object").remove("headers");
        }
        assert_eq!(serde_json::to_value(&typed).expect("json"), want);
    }
}

#[test]
fn every_reply_kind_round_trips_field_by_field() {
    let Value::Array(replies) = fixture("replies.json") else {
        panic!("a list of replies");
    };
    let mut kinds = Vec::new();
    for raw in replies {
        let reply: Reply = serde_json::from_value(raw.clone()).expect("a reply");
        kinds.push(reply.resp_type);
        assert_eq!(serde_json::to_value(&reply).expect("json"), raw, "{raw}");
        let no_body = matches!(
            reply.resp_type,
            RespType::NotifyAck | RespType::SessionTerminationResponse
        );
        assert_eq!(reply.resp_json.is_none(), no_body, "{raw}");
    }
    for kind in [
        RespType::JsonrpcResponse,
        RespType::JsonrpcNotify,
        RespType::NotifyAck,
        RespType::SessionTerminationResponse,
        RespType::OauthDiscoveryResponse,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} has a fixture");
    }
    assert!(!RespType::JsonrpcNotify.is_terminal());
    assert!(RespType::NotifyAck.is_terminal());
}
