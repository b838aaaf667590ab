//! decide against a reference.

use super::corpus::*;
use super::generators::*;
use super::input::Input;
use super::reference;
use crate::policy::{CallRequest, Decision, ToolKind};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};

/// Cases run, and cases whose generated policy failed to compile (they check nothing).
static CASES: AtomicU64 = AtomicU64::new(0);
static SKIPPED: AtomicU64 = AtomicU64::new(0);

/// Cases after which the share of skipped ones is judged: enough for the share to mean
/// something, few enough that a broken generator is caught within a CI run's seconds.
const JUDGED_AFTER: u64 = 2_000;

/// (cases run, cases skipped because their policy did not compile) in this process so far.
pub fn decide_case_counts() -> (u64, u64) {
    (
        CASES.load(Ordering::Relaxed),
        SKIPPED.load(Ordering::Relaxed),
    )
}

/// Counts a case, and fails once most cases check nothing: a generator that writes policies
/// the compiler refuses would otherwise let this property pass while it tests little.
fn count_case(compiled: bool) {
    let cases = CASES.fetch_add(1, Ordering::Relaxed) + 1;
    let skipped = if compiled {
        SKIPPED.load(Ordering::Relaxed)
    } else {
        SKIPPED.fetch_add(1, Ordering::Relaxed) + 1
    };
    assert!(
        cases < JUDGED_AFTER || skipped * 2 <= cases,
        "{skipped} of {cases} generated policies did not compile: the decide property checks \
         little; fix the generator (src/fuzzing/generators.rs)"
    );
}

/// decide allows a call exactly when the reference does, and then with the same method, URL,
/// headers, body and limits.
pub fn decide(data: &[u8]) {
    let mut inp = Input::new(data);
    let gp = gen_policy(&mut inp);
    let compiled = compile_json(&gp.to_json(), &secrets);
    count_case(compiled.is_some());
    let Some(policy) = compiled else {
        return;
    };
    let routes: Vec<(&GenTarget, &GenRoute)> = gp
        .targets
        .iter()
        .flat_map(|t| t.routes.iter().map(move |r| (t, r)))
        .collect();
    let (tool, args) = match inp.below(10) {
        0..=4 if !routes.is_empty() => {
            let (t, r) = *inp.pick(&routes);
            (
                format!("{}_{}", t.label, r.name),
                gen_route_args(&mut inp, t, r),
            )
        }
        9 => (
            inp.pick(&["list_targets", "t0_nope", "", "t0."])
                .to_string(),
            Map::new(),
        ),
        _ => ("call_target".to_owned(), gen_target_args(&mut inp, &gp)),
    };
    let want = reference::decide(&gp, &tool, &args);
    let upstream = match policy.tool(&tool) {
        Some(ToolKind::Upstream(t)) => Some(t),
        Some(ToolKind::ListTargets) | None => None,
    };
    let got = match upstream.map(|t| CallRequest::parse(t, Some(&args))) {
        None | Some(Err(_)) => None,
        Some(Ok(request)) => match crate::policy::decide(&policy, &request) {
            Decision::Deny(_) => None,
            Decision::Allow(p) => Some(reference::Allowed {
                method: p.method(),
                url: p.url().as_str().to_owned(),
                headers: p
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                    .collect(),
                body: p.body().to_vec(),
                response_bytes: p.limits().response_bytes,
                timeout_ms: p.limits().timeout.as_millis() as u64,
                redirects: p.limits().redirects,
            }),
        },
    };
    assert_eq!(
        got,
        want,
        "{tool} {}\npolicy: {}",
        Value::Object(args.clone()),
        gp.to_json()
    );
}
