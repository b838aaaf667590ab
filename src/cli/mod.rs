//! The command line: one file per subcommand. `main` parses and calls `run`.

pub mod check;
pub mod doctor;
pub mod edge;
pub mod explain;
pub mod import;
pub mod serve;
pub mod startup;
pub mod stdio;
pub mod tools;
pub mod tunnel;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// harpoon: REST allowlists as MCP tools, enforced on every call.
#[derive(Debug, Parser)]
#[command(
    name = "harpoon",
    version,
    about,
    long_about = "\
harpoon turns the labeled, method-restricted REST targets of YAML allowlist files into MCP tools
and enforces those allowlists on every call: the caller never chooses a host, a method or a path
the file does not grant, and every request and response is bounded in size and time."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate allowlists and review what they grant (text, json or sarif).
    Check(check::CheckArgs),
    /// Check what `check` cannot: DNS, addresses, TCP, TLS and secrets of every target, from here.
    Doctor(doctor::DoctorArgs),
    /// Print the tools/list JSON the allowlists produce.
    Tools(tools::ToolsArgs),
    /// Dry run: how a call would be decided, and the URL it would go to, without sending it.
    Explain(explain::ExplainArgs),
    /// Serve MCP over Streamable HTTP at /mcp (with /healthz, /readyz, /metrics).
    Serve(serve::ServeArgs),
    /// Serve MCP over stdin and stdout.
    Stdio(stdio::StdioArgs),
    /// Serve the tools through a tunnel service (OpenAI's, or harpoon edge), dialling out only.
    Tunnel(Box<tunnel::TunnelArgs>),
    /// The reference edge, a local model of OpenAI's tunnel service.
    Edge(edge::EdgeArgs),
    /// Write an allowlist from an API description (read-only unless asked) for review.
    Import(import::ImportArgs),
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Tools(args) => tools::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Stdio(args) => stdio::run(&args),
        Command::Tunnel(args) => tunnel::run(&args),
        Command::Edge(args) => edge::run(&args),
        Command::Import(args) => import::run(&args),
    }
}
