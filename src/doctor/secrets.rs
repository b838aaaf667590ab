//! Every `${env:}` and `${file:}` reference of a target's injected headers, resolved here as
//! `serve` would resolve it. A value is never printed: only which reference failed and why.

use super::{Check, Status};
use crate::policy::Target;

const WHY: &str = "serve, stdio and tunnel refuse to start when an injected secret does not \
resolve; an empty token would send unauthenticated calls.";

pub(super) fn checks(target: &Target, env: &dyn Fn(&str) -> Option<String>) -> Vec<Check> {
    let label = target.label.as_str();
    let mut failed = Vec::new();
    let mut references = 0;
    for header in &target.injected {
        references += header.template.references().len();
        if let Err(why) = header.template.resolve(env) {
            failed.push(format!(
                "{} (header {}): {why}",
                header.location, header.name
            ));
        }
    }
    if references == 0 {
        return Vec::new();
    }
    let check = if failed.is_empty() {
        Check::new(
            format!("secrets.{label}"),
            Status::Pass,
            format!("{references} secret reference(s) resolve"),
            WHY,
        )
    } else {
        Check::new(
            format!("secrets.{label}"),
            Status::Fail,
            format!("{} injected header(s) do not resolve", failed.len()),
            WHY,
        )
        .next("set the variables, or mount the files, where harpoon runs")
    };
    vec![Check {
        evidence: failed,
        ..check
    }]
}
