//! Prints a synthetic allowlist: `cargo run --example generate_allowlist -- TARGETS [ROUTES]`.
//! Used to measure how `harpoon check` and `serve` scale (docs/performance.md).

fn main() {
    let mut args = std::env::args().skip(1);
    let targets = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let routes = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    print!(
        "{}",
        harpoon::synthetic::allowlist_yaml(targets, routes, "http://127.0.0.1:9")
    );
}
