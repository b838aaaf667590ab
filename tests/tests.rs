//! harpoon's integration tests: one binary, one module per concern.

mod support;

mod allowlist_errors;
mod audit;
mod callout;
mod check_cli;
mod enforcement;
mod hostile_files;
mod lint_findings;
mod schema_agreement;
