//! Entry points for the fuzz targets in `fuzz/` and the property tests in
//! `tests/properties.rs`. Each takes raw bytes, decodes them into a case, runs the code under
//! test and asserts properties, most of them against a reference written separately in this
//! file: slow, obvious, and sharing no code with what it checks. A violated property panics,
//! which libFuzzer and proptest both report with the input that caused it.
//!
//! Input format: the bytes before the first `0xFF` drive the choices (which target, which
//! template, which spelling); what follows, split at each `0xFF`, is free text a choice may take
//! verbatim (a path, a glob, a value, JSON arguments). So a seed can be a readable path after a
//! single `0xFF`, and any byte string at all is a valid case. Choices read past the end are 0.
//!
//! Known bugs that are reported but not fixed yet are skipped by name (see [`known_bugs`]), so
//! the fuzzers keep hunting for new ones; each has an `#[ignore]`d regression test.

mod address;
mod allowlist;
pub mod corpus;
mod decide;
pub mod generators;
mod headers_body;
pub mod input;
mod path_glob;
mod poll_command;
pub mod reference;
mod tool_call;
mod url_template;

pub use address::address;
pub use allowlist::allowlist;
pub use corpus::{SECRET_TENANT, SECRET_TOKEN};
pub use decide::{decide, decide_case_counts};
pub use headers_body::headers_body;
pub use input::Input;
pub use path_glob::path_glob;
pub use poll_command::poll_command;
pub use tool_call::{assert_no_secret_in_result, tool_call};
pub use url_template::url_template;

/// A fuzz target's entry point: any bytes, and a panic when a property fails.
pub type EntryPoint = fn(&[u8]);

/// Every target: its name (of the file `fuzz/fuzz_targets/<name>.rs`, its corpus directory, and
/// its entry point here) and its entry point.
pub const TARGETS: &[(&str, EntryPoint)] = &[
    ("allowlist", allowlist),
    ("url_template", url_template),
    ("path_glob", path_glob),
    ("decide", decide),
    ("address", address),
    ("headers_body", headers_body),
    ("tool_call", tool_call),
    ("poll_command", poll_command),
];

/// Separates the choice bytes from the free texts.
pub const TEXT_MARK: u8 = 0xFF;

/// Bugs found by these properties and reported, not fixed yet. Each predicate names exactly the
/// inputs a bug affects, so the properties skip those and keep checking everything else. Delete
/// a predicate (and its uses) with the fix; its `#[ignore]`d test in `tests/properties.rs` then
/// runs. None is open now: the last two were fixed with their regression tests.
pub mod known_bugs {}
