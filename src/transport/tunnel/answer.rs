//! What a tunnel posts for each command: the answer the protocol gives its type and channel,
//! progress as `jsonrpc_notify` before a final answer, and the posts themselves, retried only
//! where a retry cannot deliver anything twice.

use super::{BACKOFF_MIN, Backoff, ServiceClient, ServiceError, Shared, retry_after};
use crate::auth::metadata::resource_metadata;
use crate::transport::oauth::{authorize_header, scope_refusal};
use crate::transport::poll_protocol::{
    CommandType, JsonrpcHead, MAIN_CHANNEL, MAX_REPLY_BODY_BYTES, PolledCommand, Reply, RespType,
    SHARD_TOKEN_HEADER, raw_json,
};
use http::{HeaderName, HeaderValue};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The answer to a command on a channel harpoon does not serve (any but `main`), as
/// tunnel-client gives it: a 400 of the command's own answer type.
fn unsupported_channel(command: &PolledCommand) -> Reply {
    let channel = &command.channel;
    let mut reply = Reply {
        request_id: command.request_id.clone(),
        channel: Some(channel.clone()),
        resp_json: None,
        resp_headers: None,
        resp_code: 400,
        resp_type: RespType::JsonrpcResponse,
    };
    match command.kind {
        CommandType::Jsonrpc => {
            let id = command
                .jsonrpc
                .as_deref()
                .and_then(|j| JsonrpcHead::read(j).id)
                .unwrap_or(Value::Null);
            reply.resp_json = Some(raw_json(&json!({"jsonrpc": "2.0", "id": id, "error": {
                "code": -32603, "message": format!("Bad Request: unsupported channel \"{channel}\"")}})));
            reply.resp_headers = Some(json_content_type());
        }
        CommandType::SessionTermination => reply.resp_type = RespType::SessionTerminationResponse,
        CommandType::OauthDiscovery => {
            reply.resp_type = RespType::OauthDiscoveryResponse;
            reply.resp_json = Some(raw_json(
                &json!({"error": {"message": format!("unsupported channel \"{channel}\""),
                "type": "invalid_request_error", "code": "unsupported_channel"}}),
            ));
        }
    }
    reply
}

pub(super) fn json_content_type() -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([(
        "Content-Type".to_owned(),
        vec!["application/json".to_owned()],
    )])
}

/// Runs one command and posts what the protocol asks for.
pub(super) async fn run_command(
    shared: &Shared,
    command: &PolledCommand,
    deadline: Option<Instant>,
) {
    let base = Reply {
        request_id: command.request_id.clone(),
        channel: Some(command.channel.clone()),
        resp_json: None,
        resp_headers: None,
        resp_code: 200,
        resp_type: RespType::JsonrpcResponse,
    };
    if command.channel != MAIN_CHANNEL {
        post_reply(shared, command, &unsupported_channel(command), deadline).await;
        return;
    }
    let jsonrpc = match (command.kind, &command.jsonrpc) {
        (CommandType::Jsonrpc, Some(j)) => j,
        // harpoon's handler is stateless, like tunnel-client's stdio and in-memory channels.
        (CommandType::SessionTermination, _) => {
            let reply = Reply {
                resp_code: 405,
                resp_type: RespType::SessionTerminationResponse,
                ..base
            };
            post_reply(shared, command, &reply, deadline).await;
            return;
        }
        // With authorization configured: the protected resource metadata (RFC 9728).
        (CommandType::OauthDiscovery, _)
            if let Some(doc) = resource_metadata(&shared.service.policy()) =>
        {
            let reply = Reply {
                resp_type: RespType::OauthDiscoveryResponse,
                resp_json: Some(raw_json(&doc)),
                resp_headers: Some(json_content_type()),
                ..base
            };
            post_reply(shared, command, &reply, deadline).await;
            return;
        }
        // No authorization is configured, so there is no protected resource metadata to give.
        (CommandType::OauthDiscovery, _) | (CommandType::Jsonrpc, None) => {
            let reply = Reply {
                resp_code: 404,
                resp_type: RespType::OauthDiscoveryResponse,
                resp_json: Some(raw_json(
                    &json!({"error": {"message": "this MCP server publishes no protected resource metadata",
                    "type": "invalid_request_error", "code": "oauth_discovery_unavailable"}}),
                )),
                resp_headers: Some(json_content_type()),
                ..base
            };
            post_reply(shared, command, &reply, deadline).await;
            return;
        }
    };
    let head = JsonrpcHead::read(jsonrpc);
    match (head.method.as_deref(), head.id.as_ref()) {
        // A JSON-RPC response from the connector: nothing to run, nothing to post.
        (None, _) => {}
        (Some(method), None) => {
            if method == "notifications/cancelled" {
                let message: Value = serde_json::from_str(jsonrpc.get()).unwrap_or_default();
                if let Some(target) = message.pointer("/params/requestId") {
                    shared.running.cancel(command, target);
                }
            }
            let _ = shared
                .service
                .handle_message(jsonrpc.get(), CancellationToken::new())
                .await;
            let reply = Reply {
                resp_code: 202,
                resp_type: RespType::NotifyAck,
                ..base
            };
            post_reply(shared, command, &reply, deadline).await;
        }
        (Some(_), Some(id)) => {
            // The caller's token, checked as `serve` checks it; it goes no further.
            let caller =
                match authorize_header(&shared.service, command.header("authorization")).await {
                    Ok(c) => c,
                    Err(refusal) => {
                        let mut headers = json_content_type();
                        headers.insert("WWW-Authenticate".to_owned(), vec![refusal.challenge]);
                        let reply = Reply {
                            resp_code: 401,
                            resp_json: Some(raw_json(&refusal.body)),
                            resp_headers: Some(headers),
                            ..base
                        };
                        post_reply(shared, command, &reply, deadline).await;
                        return;
                    }
                };
            // Too few scopes for the tool: 403 with the challenge, as `serve` answers it.
            if let Some(refusal) = caller.as_ref().and_then(|c| {
                let generation = shared.service.handler().current();
                let authorizer = generation.authorizer()?;
                let message: Value = serde_json::from_str(jsonrpc.get()).ok()?;
                scope_refusal(generation.engine().policy(), authorizer, c, &message)
            }) {
                let mut headers = json_content_type();
                headers.insert("WWW-Authenticate".to_owned(), vec![refusal.challenge]);
                let reply = Reply {
                    resp_code: 403,
                    resp_json: Some(raw_json(&refusal.body)),
                    resp_headers: Some(headers),
                    ..base
                };
                post_reply(shared, command, &reply, deadline).await;
                return;
            }
            let cancel = CancellationToken::new();
            let registered = shared.running.register(command, id, &cancel);
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
            let handled = crate::mcp::inprocess::handle_relaying_as(
                shared.service.handler(),
                jsonrpc.get(),
                cancel.clone(),
                Some(tx),
                caller,
            );
            tokio::pin!(handled);
            // Progress is relayed as `jsonrpc_notify`, in order, before the final answer.
            let mut relay_ok = true;
            let reply = loop {
                tokio::select! {
                    biased;
                    Some(note) = rx.recv() => {
                        if relay_ok {
                            relay_ok = post_notify(shared, command, note).await;
                        }
                    }
                    reply = &mut handled => break reply,
                }
            };
            while let Ok(note) = rx.try_recv() {
                if relay_ok {
                    relay_ok = post_notify(shared, command, note).await;
                }
            }
            drop(registered);
            if let Some(reply) = reply {
                let resp_json = bounded_reply(reply, id);
                let reply = Reply {
                    resp_json: Some(resp_json),
                    resp_headers: Some(json_content_type()),
                    ..base
                };
                post_reply(shared, command, &reply, deadline).await;
            }
        }
    }
}

/// The reply as it is posted (its text, checked to be JSON), or an error saying it is too
/// large for the tunnel.
fn bounded_reply(reply: String, id: &Value) -> Box<RawValue> {
    let size = reply.len();
    if size <= MAX_REPLY_BODY_BYTES - 1024
        && let Ok(v) = RawValue::from_string(reply)
    {
        return v;
    }
    let message = format!(
        "the result ({size} bytes) is larger than the tunnel carries ({MAX_REPLY_BODY_BYTES} bytes)"
    );
    raw_json(&json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message": message}}))
}

/// Posts one progress notification; false once one failed (the rest are not sent, the final
/// answer still is). Only a 429 is retried, as tunnel-client does: a retry after a post that
/// may have arrived could deliver the notification twice.
async fn post_notify(shared: &Shared, command: &PolledCommand, note: String) -> bool {
    let Ok(resp_json) = RawValue::from_string(note) else {
        return false;
    };
    let reply = Reply {
        request_id: command.request_id.clone(),
        channel: Some(command.channel.clone()),
        resp_json: Some(resp_json),
        resp_headers: Some(BTreeMap::from([(
            "Content-Type".to_owned(),
            vec!["text/event-stream".to_owned()],
        )])),
        resp_code: 200,
        resp_type: RespType::JsonrpcNotify,
    };
    for _ in 0..3 {
        match send_reply(
            &shared.client,
            &shared.response_url,
            command,
            &reply,
            Duration::from_secs(10),
        )
        .await
        {
            Ok((200, _)) => return true,
            Ok((429, after)) => {
                tokio::time::sleep(after.unwrap_or(BACKOFF_MIN)).await;
            }
            _ => return false,
        }
    }
    false
}

/// One reply post to `url` (the service's `/response`); its status, or why it failed.
pub(super) async fn send_reply(
    client: &ServiceClient,
    url: &http::Uri,
    command: &PolledCommand,
    reply: &Reply,
    timeout: Duration,
) -> Result<(u16, Option<Duration>), ServiceError> {
    // `parse_command` refuses a shard token no header can carry, so this holds for every
    // command polled; a post that could not name its shard would be refused however often sent.
    let shard = HeaderValue::from_str(&command.shard_token).map_err(|_| {
        ServiceError::Unsendable(format!(
            "the {SHARD_TOKEN} header cannot carry the shard token"
        ))
    })?;
    // The trace id is a courtesy: one no header can carry is left out, not the answer.
    let trace = command
        .header("x-request-id")
        .and_then(|t| HeaderValue::from_str(t).ok())
        .map(|t| (CLIENT_REQUEST_ID, t));
    let headers: Vec<_> = std::iter::once((SHARD_TOKEN, shard)).chain(trace).collect();
    let body = serde_json::to_vec(reply).unwrap_or_default();
    let response = client
        .post_json(url.clone(), &headers, body, timeout)
        .await?;
    Ok((response.status(), retry_after(response.headers())))
}

/// The header every reply post names its command's shard with.
const SHARD_TOKEN: HeaderName = HeaderName::from_static(SHARD_TOKEN_HEADER);
/// The caller's trace id, passed back to the service as tunnel-client does.
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-client-request-id");

/// Posts a final answer, retrying what may succeed later (transport errors, 408, 429, 502,
/// 503, 504), each attempt bounded by the command's deadline: a post runs nothing upstream, so
/// retrying it can never repeat a call. 404 means the service already has an answer or gave up.
async fn post_reply(
    shared: &Shared,
    command: &PolledCommand,
    reply: &Reply,
    deadline: Option<Instant>,
) {
    let mut backoff = Backoff { attempt: 0 };
    let give_up = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(60));
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        if left.is_zero() {
            shared.status.replies_lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let attempt_timeout = left.min(Duration::from_secs(30));
        let sent = send_reply(
            &shared.client,
            &shared.response_url,
            command,
            reply,
            attempt_timeout,
        )
        .await;
        let (retry, wait) = match &sent {
            Ok((200, _)) => {
                shared.status.replies_posted.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok((404 | 409, _)) => return,
            Ok((408 | 429 | 502 | 503 | 504, after)) => {
                (true, after.unwrap_or_default().max(backoff.next()))
            }
            Ok((s, _)) => {
                tracing::error!(
                    status = s,
                    request_id = %command.request_id,
                    "the service refused a reply"
                );
                (false, Duration::ZERO)
            }
            Err(e @ ServiceError::Unsendable(_)) => {
                tracing::error!(error = %e, request_id = %command.request_id, "a reply cannot be posted");
                (false, Duration::ZERO)
            }
            Err(e) => {
                tracing::warn!(error = %e, request_id = %command.request_id, "reply post failed; retrying");
                (true, backoff.next())
            }
        };
        if !retry || Instant::now() + wait >= give_up {
            shared.status.replies_lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
        shared.status.reply_retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::egress::{Egress, client};
    use super::*;
    use crate::transport::poll_protocol::CommandType;
    use std::sync::{Arc, Mutex};
    use tokio::net::TcpListener;

    fn command(shard_token: &str, trace: &str) -> PolledCommand {
        PolledCommand {
            request_id: "r1".into(),
            shard_token: shard_token.into(),
            kind: CommandType::Jsonrpc,
            channel: "main".into(),
            response_timeout: None,
            headers: BTreeMap::from([("X-Request-Id".into(), vec![trace.into()])]),
            jsonrpc: None,
        }
    }

    fn reply() -> Reply {
        Reply {
            request_id: "r1".into(),
            channel: None,
            resp_json: None,
            resp_headers: None,
            resp_code: 202,
            resp_type: RespType::NotifyAck,
        }
    }

    /// A service on loopback that answers every request 200 and keeps the headers of each
    /// (it stops with the test's runtime).
    async fn service() -> (http::Uri, Arc<Mutex<Vec<http::HeaderMap>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let app = axum::Router::new().fallback(move |headers: http::HeaderMap| {
            recorded.lock().expect("lock").push(headers);
            std::future::ready(http::StatusCode::OK)
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/v1/tunnels/t/response",
            listener.local_addr().expect("addr")
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url.parse().expect("URI"), seen)
    }

    /// Posts `command`'s reply to a fresh service: what `send_reply` returned, and the headers
    /// of every request the service received.
    async fn post(
        command: &PolledCommand,
    ) -> (
        Result<(u16, Option<Duration>), ServiceError>,
        Vec<http::HeaderMap>,
    ) {
        let (url, seen) = service().await;
        let client = client(
            &Egress::default(),
            http::HeaderMap::new(),
            Duration::from_secs(2),
        )
        .expect("client");
        let sent = send_reply(&client, &url, command, &reply(), Duration::from_secs(5)).await;
        let seen = seen.lock().expect("lock").clone();
        (sent, seen)
    }

    #[tokio::test]
    async fn a_trace_id_no_header_can_carry_is_left_out_and_the_answer_still_posted() {
        let (sent, seen) = post(&command("s1", "t\u{1}1")).await;
        assert!(matches!(sent, Ok((200, None))), "{sent:?}");
        assert_eq!(seen.len(), 1, "the answer reached the service once");
        assert_eq!(seen[0].get("x-tunnel-shard-token").expect("shard"), "s1");
        assert_eq!(seen[0].get("x-client-request-id"), None);
        // A trace id a header can carry is passed back.
        let (_, seen) = post(&command("s1", "trace-7")).await;
        assert_eq!(
            seen[0].get("x-client-request-id").expect("trace"),
            "trace-7"
        );
    }

    #[tokio::test]
    async fn a_shard_token_no_header_can_carry_is_unsendable_and_nothing_leaves() {
        let (sent, seen) = post(&command("s\r\nx-injected: 1", "t")).await;
        assert!(matches!(sent, Err(ServiceError::Unsendable(_))), "{sent:?}");
        assert!(seen.is_empty(), "nothing may reach the service");
    }
}
