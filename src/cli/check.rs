//! `harpoon check PATH...`: validate allowlists and review what they grant.

use crate::config;
use crate::lint::{self, Format, Outcome, Severity};
use crate::policy::{Policy, SecretMode};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status when no finding reaches `--deny`.
pub const EXIT_CLEAN: u8 = 0;
/// Exit status when a finding reaches `--deny`.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status when the input is unusable (unreadable, invalid).
pub const EXIT_INVALID: u8 = 2;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit status: 0 when no finding reaches --deny, 1 when one does, 2 when an allowlist is invalid
or unreadable (the same errors `serve` would refuse to start with).

Secret references (${env:NAME}, ${file:/path}) are checked for syntax only, so `check` runs
where the secrets are not; --resolve-secrets also reads them, as `serve` does.")]
pub struct CheckArgs {
    /// Allowlist files, or directories whose *.yaml and *.yml files are read.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format: text for people, json for scripts, sarif for code-scanning UIs.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = DenyLevel::Error)]
    pub deny: DenyLevel,
    /// Also read the secrets the allowlists reference, and fail if one is unset or empty.
    #[arg(long)]
    pub resolve_secrets: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DenyLevel {
    Error,
    Warning,
    Note,
    /// Never exit 1 for findings.
    Never,
}

impl DenyLevel {
    fn denies(self, s: Severity) -> bool {
        match self {
            DenyLevel::Error => s >= Severity::Error,
            DenyLevel::Warning => s >= Severity::Warning,
            DenyLevel::Note => true,
            DenyLevel::Never => false,
        }
    }
}

pub fn run(args: &CheckArgs) -> ExitCode {
    let (text, code) = review(args);
    if code == EXIT_INVALID && args.format == Format::Text {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    ExitCode::from(code)
}

/// The report and the exit status, without printing: tests call this.
pub fn review(args: &CheckArgs) -> (String, u8) {
    let mode = if args.resolve_secrets {
        SecretMode::Resolve
    } else {
        SecretMode::Validate
    };
    let policy = config::load(&args.paths).and_then(|files| Policy::compile(&files, mode));
    match policy {
        Err(errors) => (
            lint::render(args.format, &Outcome::Invalid(&errors)),
            EXIT_INVALID,
        ),
        Ok(policy) => {
            let findings = lint::review(&policy);
            let grants = lint::grants(&policy);
            let outcome = Outcome::Reviewed {
                files: policy.files(),
                findings: &findings,
                grants: &grants,
            };
            let denied = findings.iter().any(|f| args.deny.denies(f.severity));
            let code = if denied { EXIT_FINDINGS } else { EXIT_CLEAN };
            (lint::render(args.format, &outcome), code)
        }
    }
}
