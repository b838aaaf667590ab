//! Exactly one canonical audit event per call, with its decision and reason, and never a
//! secret, a body or a query value in any log line.

use crate::support::engine::{call, engine};
use crate::support::upstream::Upstream;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn one_audit_event_per_call_and_nothing_secret_in_any_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let up = Upstream::echo().await;
            let e = engine(&crate::enforcement::allowlist(&up.url()));
            call(&e, "api_create", json!({"body": {"name": "BODY-MARKER"}})).await;
            call(&e, "call_target", json!({"label": "api", "method": "GET", "path": "/reports/x", "query": {"date": "QUERY-MARKER"}})).await;
            call(&e, "call_target", json!({"label": "api", "method": "GET", "path": "/admin"})).await;
            call(&e, "api_get_item", json!({"id": "../x"})).await;
        });
    });
    let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    for marker in ["s3cret-token-value", "BODY-MARKER", "QUERY-MARKER"] {
        assert!(
            !text.contains(marker),
            "'{marker}' leaked into the logs:\n{text}"
        );
    }
    let audits: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "harpoon::audit")
        .collect();
    let got: Vec<(String, String, String)> = audits
        .iter()
        .map(|a| {
            let f = &a["fields"];
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s("tool"), s("decision"), s("reason"))
        })
        .collect();
    assert_eq!(
        got,
        [
            ("api_create".to_owned(), "allow".to_owned(), "ok".to_owned()),
            ("call_target".into(), "allow".into(), "ok".into()),
            (
                "call_target".into(),
                "deny".into(),
                "path_not_allowed".into()
            ),
            ("api_get_item".into(), "deny".into(), "bad_param".into()),
        ]
    );
    let first = &audits[0]["fields"];
    assert_eq!(first["target_label"], "api");
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], "/items");
    assert_eq!(first["status"], 200);
    assert!(first["bytes_out"].as_u64() > Some(0) && first["duration_us"].is_u64());
    assert_eq!(
        audits[1]["fields"]["path"], "/reports/x",
        "the query string is never logged"
    );
}
