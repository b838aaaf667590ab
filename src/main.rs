#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    harpoon::cli::run(harpoon::cli::Cli::parse())
}
