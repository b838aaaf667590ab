#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    harpoon::cli::run(harpoon::cli::Cli::parse())
}
