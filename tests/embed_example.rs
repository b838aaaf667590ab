//! examples/embed.rs runs as a test: a host router with its own route and harpoon mounted at
//! `/agent/mcp`, called by an MCP client, reaching a real upstream.

#[path = "../examples/embed.rs"]
mod embed;

use crate::support::mcp_client::{MODERN, McpHttp};
use crate::support::upstream::Upstream;
use serde_json::json;

#[tokio::test]
async fn the_embedding_example_serves_its_own_routes_and_harpoon() {
    let up = Upstream::echo().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("allowlist.yaml");
    // The example reads secrets from the environment; this allowlist injects none.
    let yaml = crate::enforcement::allowlist(&up.url()).replace(
        "      inject: { Authorization: \"Bearer ${env:TEST_TOKEN}\" }\n",
        "",
    );
    std::fs::write(&path, yaml).expect("write");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(embed::run(
        listener,
        vec![path],
        stop.clone().cancelled_owned(),
    ));
    let (status, body) = crate::support::get(&format!("http://{addr}/")).await;
    assert_eq!((status, body.as_str()), (200, "the host application\n"));
    let mut c = McpHttp::new(&format!("http://{addr}/agent/mcp"));
    let reply = c.call(MODERN, "api_get_item", json!({"id": "e1"})).await;
    assert_eq!(
        reply["result"]["structuredContent"]["body"]["target"], "/api/items/e1",
        "{reply}"
    );
    // The endpoint is the path itself: the same call posted under it reaches nothing.
    let mut under = McpHttp::new(&format!("http://{addr}/agent/mcp/x"));
    let (_, refused) = under
        .modern(
            "tools/call",
            json!({"name": "api_get_item", "arguments": {"id": "e2"}}),
        )
        .await;
    assert_eq!(refused.status, 404);
    assert_eq!(
        up.requests().len(),
        1,
        "only the call to /agent/mcp reached the upstream"
    );
    stop.cancel();
    assert!(server.await.expect("joins").is_ok());
}
