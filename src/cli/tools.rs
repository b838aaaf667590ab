//! `harpoon tools PATH...`: the `tools/list` JSON the allowlists produce, exactly as an MCP
//! client sees it. Secrets are not read.

use super::check::EXIT_INVALID;
use crate::catalog;
use crate::config;
use crate::policy::{Policy, SecretMode};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ToolsArgs {
    /// Allowlist files, or directories of them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: &ToolsArgs) -> ExitCode {
    match tools_json(&args.paths) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// The pretty-printed tools/list JSON.
pub fn tools_json(paths: &[PathBuf]) -> Result<String, String> {
    let files = config::load(paths).map_err(|e| e.to_string())?;
    let policy = Policy::compile(&files, SecretMode::Validate).map_err(|e| e.to_string())?;
    let tools = catalog::build(&policy);
    serde_json::to_string_pretty(&catalog::tools_list_json(&tools)).map_err(|e| e.to_string())
}
