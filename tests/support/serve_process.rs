//! `harpoon serve` as a child process, for the tests of its command line: ready once it logs the
//! MCP URL it listens on.

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Spawns `serve` (a `harpoon serve` command with its arguments) and returns it with the MCP URL
/// it logged (`http://ADDR/mcp`). Its stderr is read to the end afterwards, so the child never
/// blocks on a full pipe.
pub async fn spawn_ready(mut serve: Command) -> (Child, String) {
    let mut child = serve
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.split("mcp=").nth(1) {
                return rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
        }
        panic!("harpoon serve exited before it was ready");
    })
    .await
    .expect("ready in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}
