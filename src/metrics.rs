//! Prometheus metrics in text format. Label values come only from the policy (tool names,
//! target labels) and from the fixed reason codes, never from caller input (an unknown tool is
//! `_unknown`), so cardinality is bounded by the allowlist.

use crate::recent::RecentCalls;
use crate::telemetry::CallRecord;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Call duration buckets, seconds: loopback calls land in the first few, slow upstreams in
/// the last.
const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Response size buckets, bytes.
const SIZE_BUCKETS: &[f64] = &[
    256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, buckets: &[f64], v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; buckets.len()];
        }
        for (i, b) in buckets.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, buckets: &[f64]) {
        for (b, c) in buckets.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// One counter of a tool: (target, decision, reason, calls).
type Row = (String, &'static str, &'static str, u64);

#[derive(Default)]
struct Tables {
    /// tool -> its counters. Looked up by `&str`, so a call allocates nothing once its row
    /// exists; a tool has a handful of rows (one target, a few reasons).
    calls: HashMap<String, Vec<Row>>,
    /// target -> call duration.
    durations: BTreeMap<String, Histogram>,
    /// target -> response body bytes.
    sizes: BTreeMap<String, Histogram>,
}

#[derive(Default)]
pub struct Metrics {
    tables: Mutex<Tables>,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    /// `tools/call` requests answered without rmcp's per-request service (`mcp::direct_call`).
    direct_calls: AtomicU64,
    /// The last calls for the admin page: here because a reloaded engine shares these metrics,
    /// so the calls before a reload stay listed.
    recent: RecentCalls,
}

impl Metrics {
    /// Counts a reload: one that put a new policy in service, or one refused (the policy
    /// before it keeps serving).
    pub fn record_reload(&self, succeeded: bool) {
        let counter = if succeeded {
            &self.reloads
        } else {
            &self.reload_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a `tools/call` answered directly (`mcp::direct_call`).
    pub fn record_direct_call(&self) {
        self.direct_calls.fetch_add(1, Ordering::Relaxed);
    }

    pub fn recent(&self) -> &RecentCalls {
        &self.recent
    }

    /// Denied calls since the start, by reason code, most frequent first (ties by code).
    pub fn denials_by_reason(&self) -> Vec<(&'static str, u64)> {
        let t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let mut by: BTreeMap<&'static str, u64> = BTreeMap::new();
        for (_, d, reason, n) in t.calls.values().flatten() {
            if *d == "deny" {
                *by.entry(reason).or_default() += n;
            }
        }
        let mut out: Vec<(&'static str, u64)> = by.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        out
    }

    pub fn record(&self, r: &CallRecord) {
        let tool = if r.reason == "unknown_tool" {
            "_unknown"
        } else {
            r.tool
        };
        let target = if r.target.is_empty() {
            "_none"
        } else {
            r.target
        };
        let mut guard = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let t = &mut *guard;
        if !t.calls.contains_key(tool) {
            t.calls.insert(tool.to_owned(), Vec::new());
        }
        if let Some(rows) = t.calls.get_mut(tool) {
            let same = |row: &&mut Row| row.0 == target && row.1 == r.decision && row.2 == r.reason;
            match rows.iter_mut().find(same) {
                Some(row) => row.3 += 1,
                None => rows.push((target.to_owned(), r.decision, r.reason, 1)),
            }
        }
        if r.decision == "allow" {
            observe(
                &mut t.durations,
                target,
                DURATION_BUCKETS,
                r.duration_us as f64 / 1e6,
            );
            observe(&mut t.sizes, target, SIZE_BUCKETS, r.bytes_in as f64);
        }
    }

    /// The text exposition, with process gauges given by the server.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP harpoon_reloads_total Reloads that put new allowlists in service.\n# TYPE harpoon_reloads_total counter\nharpoon_reloads_total {}",
            self.reloads.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP harpoon_reload_failures_total Reloads refused (invalid allowlists or secrets); the allowlists before keep serving.\n# TYPE harpoon_reload_failures_total counter\nharpoon_reload_failures_total {}",
            self.reload_failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP harpoon_direct_calls_total Stateless tools/call requests answered without rmcp's per-request service.\n# TYPE harpoon_direct_calls_total counter\nharpoon_direct_calls_total {}",
            self.direct_calls.load(Ordering::Relaxed)
        );
        let t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str("# HELP harpoon_calls_total Tool calls by tool, target, decision and reason code.\n# TYPE harpoon_calls_total counter\n");
        let mut rows: Vec<(&str, &str, &str, &str, u64)> = t
            .calls
            .iter()
            .flat_map(|(tool, rows)| {
                rows.iter()
                    .map(move |(tg, d, r, n)| (tool.as_str(), tg.as_str(), *d, *r, *n))
            })
            .collect();
        rows.sort_unstable();
        for (tool, target, decision, reason, n) in rows {
            let _ = writeln!(
                out,
                "harpoon_calls_total{{tool=\"{}\",target=\"{}\",decision=\"{decision}\",reason=\"{reason}\"}} {n}",
                escape(tool),
                escape(target)
            );
        }
        out.push_str("# HELP harpoon_call_duration_seconds Duration of permitted calls, by target.\n# TYPE harpoon_call_duration_seconds histogram\n");
        for (target, h) in &t.durations {
            h.render(
                &mut out,
                "harpoon_call_duration_seconds",
                &format!("target=\"{}\"", escape(target)),
                DURATION_BUCKETS,
            );
        }
        out.push_str("# HELP harpoon_response_bytes Response body bytes returned, by target.\n# TYPE harpoon_response_bytes histogram\n");
        for (target, h) in &t.sizes {
            h.render(
                &mut out,
                "harpoon_response_bytes",
                &format!("target=\"{}\"", escape(target)),
                SIZE_BUCKETS,
            );
        }
        out
    }
}

/// Writes each `(name, help, value)` as a Prometheus counter.
pub fn write_counters(out: &mut String, counters: &[(&str, &str, &AtomicU64)]) {
    for (name, help, v) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            v.load(Ordering::Relaxed)
        );
    }
}

/// Observes into the histogram of `key`, allocating the key only the first time.
fn observe(map: &mut BTreeMap<String, Histogram>, key: &str, buckets: &[f64], v: f64) {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), Histogram::default());
    }
    if let Some(h) = map.get_mut(key) {
        h.observe(buckets, v);
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_histograms_render() {
        let m = Metrics::default();
        let r = CallRecord {
            tool: "api_get",
            target: "api",
            decision: "allow",
            reason: "ok",
            duration_us: 2_000,
            bytes_in: 100,
            ..CallRecord::default()
        };
        m.record(&r);
        m.record(&CallRecord {
            tool: "whatever\"x",
            reason: "unknown_tool",
            decision: "deny",
            ..CallRecord::default()
        });
        let text = m.render(&[("harpoon_ready", "1 when ready", 1.0)]);
        assert!(text.contains("harpoon_calls_total{tool=\"api_get\",target=\"api\",decision=\"allow\",reason=\"ok\"} 1"), "{text}");
        assert!(text.contains("harpoon_calls_total{tool=\"_unknown\",target=\"_none\",decision=\"deny\",reason=\"unknown_tool\"} 1"), "{text}");
        assert!(
            text.contains("harpoon_call_duration_seconds_bucket{target=\"api\",le=\"0.0025\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("harpoon_response_bytes_count{target=\"api\"} 1"),
            "{text}"
        );
        assert!(text.contains("harpoon_ready 1"), "{text}");
    }
}
