//! harpoon's integration tests: one binary, one module per concern.

mod support;

mod allowlist_errors;
mod audit;
mod authorization;
mod callout;
mod check_cli;
mod deploy_examples;
mod direct_call;
mod dispatch;
mod doctor;
mod edge_model;
mod embed_example;
mod enforcement;
mod golden_tools;
mod hostile_files;
mod import_openapi;
mod layout;
mod lint_findings;
mod listener_bounds;
mod mcp_http;
mod mcp_stdio;
mod peer_regressions;
mod properties;
mod reload;
mod schema_agreement;
mod serve_cli;
mod streamed_reply;
mod tunnel;
mod tunnel_egress;
mod tunnel_refusals;
mod tunnel_wire;
mod ui;
mod whatwg_urls;
