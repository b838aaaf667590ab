//! `harpoon stdio`: MCP over stdin and stdout, for clients that start harpoon as a subprocess.
//! stdout carries only MCP messages; logs go to stderr.

use super::startup::{AllowlistArgs, LogArgs, ReloadArgs, load_policy, run_serving};
use crate::service::{HarpoonService, ServiceOptions};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct StdioArgs {
    #[command(flatten)]
    pub allowlist: AllowlistArgs,
    #[command(flatten)]
    pub reload: ReloadArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

pub fn run(args: &StdioArgs) -> ExitCode {
    run_serving(&args.log, async {
        let policy = load_policy(&args.allowlist.allowlists)?;
        let service = HarpoonService::from_policy(policy, ServiceOptions::default())
            .map_err(|e| e.to_string())?;
        let stop = tokio_util::sync::CancellationToken::new();
        args.reload
            .start(&service, &args.allowlist.allowlists, stop.clone());
        let served = crate::transport::stdio::serve(service.handler()).await;
        stop.cancel();
        served
    })
}
