//! The demo REST API behind `harpoon serve --demo`: a small inventory on 127.0.0.1:8789 that
//! requires the bearer token harpoon injects, so the demo shows a credential the model never
//! sees. Its allowlist is allowlists/demo.yaml.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Where the demo API listens; allowlists/demo.yaml points here.
pub const DEMO_ADDR: &str = "127.0.0.1:8789";

/// The demo allowlist, built into the binary so `serve --demo` works from any directory.
pub const DEMO_ALLOWLIST: &str = include_str!("../allowlists/demo.yaml");

/// The environment variable the demo allowlist injects as a bearer token.
pub const DEMO_TOKEN_VAR: &str = "HARPOON_DEMO_TOKEN";

/// Largest body the demo API reads.
const MAX_DEMO_BODY: usize = 64 * 1024;

#[derive(Clone)]
struct Demo {
    token: Arc<str>,
    items: Arc<Mutex<BTreeMap<u32, Value>>>,
}

/// The demo's token: `HARPOON_DEMO_TOKEN` when set (so a second harpoon, e.g. `harpoon stdio`
/// with allowlists/demo.yaml, can share the demo API), else a fresh random one.
pub fn token() -> String {
    std::env::var(DEMO_TOKEN_VAR)
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(random_token)
}

/// A random token for one demo run (not for real secrets: it only keeps the demo honest).
pub fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    for i in 0..2u8 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// The demo API's router; every request needs `Authorization: Bearer <token>`.
pub fn router(token: &str) -> Router {
    let items = [(1, "anchor", 12), (2, "rope", 240), (3, "harpoon", 3)]
        .into_iter()
        .map(|(id, name, quantity)| (id, json!({"id": id, "name": name, "quantity": quantity})))
        .collect();
    let demo = Demo {
        token: Arc::from(token),
        items: Arc::new(Mutex::new(items)),
    };
    Router::new().fallback(move |request: Request<Body>| {
        let demo = demo.clone();
        async move { handle(&demo, request).await }
    })
}

/// Binds the demo API and serves it in the background until `shutdown` is cancelled.
pub async fn start(
    token: &str,
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind(DEMO_ADDR)
        .await
        .map_err(|e| {
            format!("the demo API cannot listen on {DEMO_ADDR}: {e}; stop whatever uses that port")
        })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = router(token);
    tokio::spawn(async move {
        crate::transport::listen::serve(
            listener,
            app,
            crate::transport::listen::ListenLimits::default(),
            shutdown.cancelled_owned(),
        )
        .await;
    });
    Ok(addr)
}

async fn handle(demo: &Demo, request: Request<Body>) -> Response {
    let expected = format!("Bearer {}", demo.token);
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    if !authorized {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": "missing or wrong bearer token"}),
        );
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let body = match axum::body::to_bytes(request.into_body(), MAX_DEMO_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "body too large"}),
            );
        }
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (Method::GET, ["api", "items"]) => list(demo, &query),
        (Method::POST, ["api", "items"]) => create(demo, &body),
        (Method::GET, ["api", "items", id]) => match item(demo, id) {
            Some(v) => json_response(StatusCode::OK, v),
            None => not_found(),
        },
        (Method::DELETE, ["api", "items", id]) => {
            let removed = id.parse::<u32>().ok().and_then(|id| lock(demo).remove(&id));
            if removed.is_some() {
                StatusCode::NO_CONTENT.into_response()
            } else {
                not_found()
            }
        }
        (Method::GET, ["api", "reports", "latest"]) => {
            let mut r = StatusCode::FOUND.into_response();
            r.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_static("/api/reports/daily"),
            );
            r
        }
        (Method::GET, ["api", "reports", "full"]) => {
            // Larger than the demo allowlist's 64 KiB response cap: shows a truncated result.
            let line = "sku,name,quantity,warehouse,notes\n";
            let text: String = std::iter::repeat_n(line, 4096).collect();
            let mut r = text.into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
            r
        }
        (Method::GET, ["api", "reports", name]) => {
            let count = lock(demo).len();
            let text = format!("{name} report: {count} item kinds in stock\n");
            let mut r = text.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
        _ => not_found(),
    }
}

fn lock(demo: &Demo) -> std::sync::MutexGuard<'_, BTreeMap<u32, Value>> {
    demo.items.lock().unwrap_or_else(|e| e.into_inner())
}

fn list(demo: &Demo, query: &str) -> Response {
    let limit = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("limit="))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(50);
    let items: Vec<Value> = lock(demo).values().take(limit).cloned().collect();
    json_response(StatusCode::OK, json!({ "items": items }))
}

fn item(demo: &Demo, id: &str) -> Option<Value> {
    lock(demo).get(&id.parse::<u32>().ok()?).cloned()
}

fn create(demo: &Demo, body: &Bytes) -> Response {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "send a JSON object"}),
        );
    };
    let mut items = lock(demo);
    let id = items.keys().next_back().map_or(1, |k| k + 1);
    let item = json!({
        "id": id,
        "name": fields.get("name").cloned().unwrap_or(Value::Null),
        "quantity": fields.get("quantity").cloned().unwrap_or(json!(0)),
    });
    items.insert(id, item.clone());
    let mut r = json_response(StatusCode::CREATED, item);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/items/{id}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, json!({"error": "not found"}))
}

fn json_response(status: StatusCode, v: Value) -> Response {
    let mut r = (status, v.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
