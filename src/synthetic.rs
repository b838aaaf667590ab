//! Synthetic allowlists of any size, for benchmarks, the load test and scale tests. Each
//! target has `routes_per_target` GET routes with an anchored pattern and one `paths` rule, so
//! the shape is what a real file looks like, only longer.
#![doc(hidden)]

use std::fmt::Write as _;

/// An allowlist with `targets` targets of `routes_per_target` routes each, for upstreams at
/// `base_url` (the same origin for all; labels keep them apart).
pub fn allowlist_yaml(targets: usize, routes_per_target: usize, base_url: &str) -> String {
    let mut out = String::with_capacity(targets * (200 + routes_per_target * 160));
    out.push_str("version: 1\ntargets:\n");
    for t in 0..targets {
        let _ = write!(
            out,
            "  - label: t{t}\n    description: synthetic target {t}\n    base_url: {base_url}/t{t}\n    \
             network: {{ allow_cidrs: [127.0.0.1/32] }}\n    headers: {{ allow: [Accept] }}\n    \
             limits: {{ response_bytes: 1MiB, timeout: 5s, concurrency: 1024 }}\n    \
             dangerous: {{ allow_plaintext_http: true }}\n    routes:\n"
        );
        for r in 0..routes_per_target {
            let _ = writeln!(
                out,
                "      - {{ name: r{r}, method: GET, path: \"/items{r}/{{id}}\", params: {{ id: {{ pattern: \"^[0-9]{{1,9}}$\" }} }} }}"
            );
        }
        out.push_str("    paths:\n      - { methods: [GET], glob: \"/reports/*\" }\n");
    }
    out
}
