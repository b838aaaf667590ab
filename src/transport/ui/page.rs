//! The admin page's HTML, rendered on the server: the last reload, denials by reason, the
//! recent-calls table (filled by `app.js`), and what each target grants with its findings,
//! exactly as `harpoon check` words them. Every dynamic string goes through `escape`, even the
//! ones that come from the allowlists: a description or a refusal message may hold `<`.

use crate::last_reload::ReloadResult;
use crate::lint::{self, Finding, Grant};
use crate::recent::RECENT_CALLS;
use crate::service::HarpoonService;
use crate::transport::tunnel::TunnelStatus;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

/// The text of `s`, safe in an element's content and in a quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page for the policy in service now (and the tunnel's state, under `tunnel`).
pub fn render(service: &HarpoonService, tunnel: Option<&TunnelStatus>) -> String {
    let policy = service.policy();
    let grants = lint::grants(&policy);
    let findings = lint::review(&policy);
    let mut out = String::with_capacity(16 * 1024);
    out.push_str(concat!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<title>harpoon admin</title>\n<link rel=\"stylesheet\" href=\"/ui/app.css\">\n",
        "<script src=\"/ui/app.js\" defer></script>\n</head>\n<body>\n",
    ));
    let _ = writeln!(
        out,
        "<header><h1>harpoon</h1><p>{} target(s), {} route tool(s). <span id=\"live\">Not updated yet: the live parts of this page need JavaScript (or read <a href=\"/ui/calls.json\">/ui/calls.json</a>).</span></p></header>",
        policy.targets().len(),
        policy.route_count()
    );
    if let Some(t) = tunnel {
        tunnel_section(&mut out, t, service.tracker().in_flight());
    }
    last_reload(&mut out, service.last_reload().get().as_ref());
    denials(&mut out, &service.engine().metrics().denials_by_reason());
    recent_calls(&mut out);
    targets(&mut out, &grants, &findings);
    out.push_str("</body>\n</html>\n");
    out
}

/// The tunnel's counters as `/ui/calls.json` gives them: numbers only.
pub fn tunnel_state(t: &TunnelStatus) -> serde_json::Value {
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    serde_json::json!({
        "polling": t.ready.load(Ordering::Relaxed),
        "last_poll_ok_unix": n(&t.last_poll_ok),
        "polls_ok": n(&t.polls_ok),
        "polls_failed": n(&t.polls_failed),
        "commands": n(&t.commands),
        "skipped": n(&t.skipped),
        "replies_posted": n(&t.replies_posted),
        "reply_retries": n(&t.reply_retries),
        "replies_lost": n(&t.replies_lost),
    })
}

fn tunnel_section(out: &mut String, t: &TunnelStatus, in_flight: usize) {
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let polling = if t.ready.load(Ordering::Relaxed) {
        "<span class=\"ok\">polling</span>"
    } else {
        "<span class=\"refused\">not polling</span>"
    };
    let last = match n(&t.last_poll_ok) {
        0 => "none yet".to_owned(),
        secs => {
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        }
    };
    let _ = writeln!(
        out,
        "<section id=\"tunnel\"><h2>Tunnel</h2>\n<p>{polling}; last good poll: {}; commands in flight: {in_flight}</p>\n<table><tr><th>polls ok</th><th>polls failed</th><th>commands</th><th>skipped</th><th>replies posted</th><th>reply retries</th><th>replies lost</th></tr>\n<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>\n</section>",
        escape(&last),
        n(&t.polls_ok),
        n(&t.polls_failed),
        n(&t.commands),
        n(&t.skipped),
        n(&t.replies_posted),
        n(&t.reply_retries),
        n(&t.replies_lost),
    );
}

fn last_reload(out: &mut String, last: Option<&ReloadResult>) {
    out.push_str("<section id=\"reload\"><h2>Last reload</h2>\n");
    match last {
        None => out.push_str(
            "<p>No reload since the start (SIGHUP or <code>--watch</code> start one).</p>\n",
        ),
        Some(r) => {
            let (class, word) = if r.applied {
                ("ok", "applied")
            } else {
                (
                    "refused",
                    "refused: the allowlists loaded before keep serving",
                )
            };
            let _ = writeln!(
                out,
                "<p class=\"{class}\">{} — {word}</p>\n<pre>{}</pre>",
                escape(&httpdate::fmt_http_date(r.at)),
                escape(&r.message)
            );
        }
    }
    out.push_str("</section>\n");
}

fn denials(out: &mut String, by_reason: &[(&str, u64)]) {
    out.push_str("<section><h2>Denials by reason</h2>\n<table><thead><tr><th>reason code</th><th>calls</th></tr></thead>\n<tbody id=\"denials\">");
    if by_reason.is_empty() {
        out.push_str("<tr><td colspan=\"2\">none since the start</td></tr>");
    }
    for (reason, n) in by_reason {
        let _ = write!(out, "<tr><td>{}</td><td>{n}</td></tr>", escape(reason));
    }
    out.push_str("</tbody></table></section>\n");
}

fn recent_calls(out: &mut String) {
    let _ = writeln!(
        out,
        "<section><h2>Recent calls</h2>\n<p>The last {RECENT_CALLS} calls, newest first, updated every two seconds. Never a path, an argument, a body or a secret.</p>"
    );
    out.push_str(concat!(
        "<table><thead><tr><th>time (UTC)</th><th>tool</th><th>target</th><th>method</th>",
        "<th>decision</th><th>reason</th><th>status</th><th>latency</th><th>bytes out</th>",
        "<th>bytes in</th></tr></thead>\n<tbody id=\"calls\"><tr><td colspan=\"10\">",
        "waiting for the first update</td></tr></tbody></table></section>\n",
    ));
}

fn targets(out: &mut String, grants: &[Grant], findings: &[Finding]) {
    out.push_str("<section id=\"targets\"><h2>What each target grants</h2>\n");
    for g in grants {
        let _ = write!(out, "<article><h3>target {}</h3>", escape(&g.label));
        if let Some(d) = &g.description {
            let _ = write!(out, "<p>{}</p>", escape(d));
        }
        grant(out, g);
        let own: Vec<&Finding> = findings.iter().filter(|f| f.target == g.label).collect();
        finding_list(out, &own);
        out.push_str("</article>\n");
    }
    let labels: Vec<&str> = grants.iter().map(|g| g.label.as_str()).collect();
    let rest: Vec<&Finding> = findings
        .iter()
        .filter(|f| !labels.contains(&f.target.as_str()))
        .collect();
    if !rest.is_empty() {
        out.push_str("<article><h3>Across all targets</h3>");
        finding_list(out, &rest);
        out.push_str("</article>\n");
    }
    out.push_str("</section>\n");
}

fn grant(out: &mut String, g: &Grant) {
    let row = |out: &mut String, name: &str, value: &str| {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            escape(value)
        );
    };
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    out.push_str("<table class=\"grant\">");
    row(out, "base url", &g.base_url);
    row(out, "network", &g.network);
    for r in &g.routes {
        let mut text = format!("{} {}", r.method, r.path);
        for p in &r.params {
            text.push_str("; ");
            text.push_str(p);
        }
        if let Some(b) = &r.body {
            text.push_str("; body ");
            text.push_str(b);
        }
        row(out, &format!("tool {}", r.tool), &text);
    }
    for p in &g.paths {
        row(
            out,
            "call_target",
            &format!("{} {} ({})", p.methods, p.glob, p.query),
        );
    }
    row(out, "injects", &list(&g.injects));
    row(out, "callers may set", &list(&g.caller_headers));
    row(out, "returns headers", &list(&g.response_headers));
    row(out, "limits", &g.limits);
    let redirects = match g.redirects {
        0 => "not followed (3xx returned as is)".to_owned(),
        n => format!("up to {n}, same origin only"),
    };
    row(out, "redirects", &redirects);
    out.push_str("</table>");
}

fn finding_list(out: &mut String, findings: &[&Finding]) {
    if findings.is_empty() {
        out.push_str("<p>No findings.</p>");
        return;
    }
    out.push_str("<ul class=\"findings\">");
    for f in findings {
        let _ = write!(
            out,
            "<li class=\"{}\"><b>{}[{}]</b> {}: {}",
            f.severity.as_str(),
            f.severity.as_str(),
            f.code.id(),
            escape(&f.location.to_string()),
            escape(&f.message)
        );
        if !f.hint.is_empty() {
            let _ = write!(out, "<br>hint: {}", escape(&f.hint));
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>");
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape(r#"<script>a&b"c'd</script>"#),
            "&lt;script&gt;a&amp;b&quot;c&#39;d&lt;/script&gt;"
        );
    }
}
