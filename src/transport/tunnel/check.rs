//! `harpoon tunnel --check`: one short poll (`limit=1`, `timeout_ms=1`) that says whether the
//! service accepts the key, the tunnel id and the organization, and the fix when it does not.
//!
//! A check runs nothing. Should the poll hand it a command, the command is answered at once
//! with 503 "not run" (of its own answer type), so the connector sees a retryable failure
//! instead of waiting out its timeout; the service does not redeliver a command it handed out.

use super::answer::{json_content_type, send_reply};
use super::{
    TunnelError, TunnelOptions, refusal, retry_after, service_client, service_uri, service_url,
};
use crate::transport::poll_protocol::{
    CommandType, JsonrpcHead, MAX_POLL_BODY_BYTES, PollAnswer, PolledCommand, Reply, RespType,
    parse_command, raw_json,
};
use serde_json::json;
use std::time::Duration;

/// How long the check's one request may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// What the check found.
#[derive(Debug)]
pub enum CheckOutcome {
    /// The poll was accepted: the key, the tunnel id and the organization (if any) are good.
    /// `not_run` commands came with it and were answered 503 without running.
    Accepted { not_run: usize },
    /// The service refused: the error says which part and its fix.
    Refused(TunnelError),
    /// No verdict: the service was unreachable or busy (status, or the transport error).
    Unavailable(String),
}

/// The answer to a command the check received and did not run.
fn not_run(command: &PolledCommand) -> Option<Reply> {
    let message = "harpoon tunnel --check received this command and did not run it; retry";
    let mut reply = Reply {
        request_id: command.request_id.clone(),
        channel: Some(command.channel.clone()),
        resp_json: None,
        resp_headers: None,
        resp_code: 503,
        resp_type: RespType::JsonrpcResponse,
    };
    match command.kind {
        CommandType::Jsonrpc => {
            let head = JsonrpcHead::read(command.jsonrpc.as_ref()?);
            head.method.as_ref()?;
            match head.id {
                Some(id) => {
                    reply.resp_json = Some(raw_json(&json!({"jsonrpc": "2.0", "id": id,
                        "error": {"code": -32000, "message": message}})));
                    reply.resp_headers = Some(json_content_type());
                }
                None => reply.resp_type = RespType::NotifyAck,
            }
        }
        CommandType::SessionTermination => reply.resp_type = RespType::SessionTerminationResponse,
        CommandType::OauthDiscovery => {
            reply.resp_type = RespType::OauthDiscoveryResponse;
            reply.resp_json = Some(raw_json(&json!({"error": {"message": message,
                "type": "server_error", "code": "not_run"}})));
            reply.resp_headers = Some(json_content_type());
        }
    }
    Some(reply)
}

/// One short poll; a setup error (TLS files, proxy) is the `Err`.
pub async fn check(options: &TunnelOptions) -> Result<CheckOutcome, TunnelError> {
    let client = service_client(options)?;
    let mut url = service_url(options, "poll");
    url.set_query(Some("limit=1&timeout_ms=1"));
    let resp = match client.get(service_uri(&url)?, CHECK_TIMEOUT).await {
        Ok(r) => r,
        Err(e) => {
            return Ok(CheckOutcome::Unavailable(format!(
                "the service could not be reached: {e}"
            )));
        }
    };
    let status = resp.status();
    match status {
        204 => Ok(CheckOutcome::Accepted { not_run: 0 }),
        200 => {
            let body = resp.body(MAX_POLL_BODY_BYTES).await.unwrap_or_default();
            let commands = serde_json::from_slice::<PollAnswer>(&body)
                .map(|a| a.commands)
                .unwrap_or_default();
            let mut not_run_count = 0;
            let response_url = service_uri(&service_url(options, "response"))?;
            for c in commands
                .into_iter()
                .map(parse_command)
                .filter_map(Result::ok)
            {
                if let Some(reply) = not_run(&c) {
                    let _ = send_reply(&client, &response_url, &c, &reply, CHECK_TIMEOUT).await;
                    not_run_count += 1;
                }
            }
            Ok(CheckOutcome::Accepted {
                not_run: not_run_count,
            })
        }
        400 | 401 | 403 | 404 => Ok(CheckOutcome::Refused(refusal(resp).await)),
        s => {
            let wait = retry_after(resp.headers())
                .map(|w| format!("; it asks to retry in {} s", w.as_secs()))
                .unwrap_or_default();
            Ok(CheckOutcome::Unavailable(format!(
                "the service answered HTTP {s} and gave no verdict{wait}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_command_kind_gets_a_not_run_answer_of_its_own_type() {
        let command = |v: Value| {
            parse_command(&serde_json::value::to_raw_value(&v).expect("JSON")).expect("parses")
        };
        let base = json!({"request_id": "r", "shard_token": "s"});
        let with = |extra: Value| {
            let mut v = base.clone();
            for (k, x) in extra.as_object().expect("object") {
                v[k] = x.clone();
            }
            command(v)
        };
        let request = with(
            json!({"command_type": "jsonrpc", "jsonrpc": {"jsonrpc": "2.0", "id": 1, "method": "ping"}}),
        );
        let r = not_run(&request).expect("answered");
        assert_eq!((r.resp_code, r.resp_type), (503, RespType::JsonrpcResponse));
        let message: serde_json::Value =
            serde_json::from_str(r.resp_json.expect("json").get()).expect("JSON");
        assert_eq!(message["id"], 1);
        let note = with(
            json!({"command_type": "jsonrpc", "jsonrpc": {"jsonrpc": "2.0", "method": "notifications/initialized"}}),
        );
        assert_eq!(
            not_run(&note).map(|r| (r.resp_code, r.resp_type)),
            Some((503, RespType::NotifyAck))
        );
        let response = with(
            json!({"command_type": "jsonrpc", "jsonrpc": {"jsonrpc": "2.0", "id": 1, "result": {}}}),
        );
        assert!(not_run(&response).is_none(), "a response is never answered");
        let term = with(json!({"command_type": "session_termination"}));
        assert_eq!(
            not_run(&term).map(|r| r.resp_type),
            Some(RespType::SessionTerminationResponse)
        );
    }
}
