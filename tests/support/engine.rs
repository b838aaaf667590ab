//! Building an `Engine` from allowlist text for tests, with an injected resolver.

use harpoon::callout::{Callout, HostResolver, OwnListeners};
use harpoon::config;
use harpoon::engine::{Engine, Outcome};
use harpoon::policy::{Policy, SecretMode};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Secrets every test engine can resolve.
pub fn test_env(name: &str) -> Option<String> {
    match name {
        "TEST_TOKEN" => Some("s3cret-token-value".to_owned()),
        "TENANT" => Some("tenant-42".to_owned()),
        "INTROSPECTION_CREDENTIALS" => Some("aGFycG9vbjpzM2NyM3Q=".to_owned()),
        _ => None,
    }
}

/// A resolver that answers from a fixed table: how tests make DNS say anything.
#[derive(Default, Clone)]
pub struct StaticResolver(pub HashMap<String, Vec<SocketAddr>>);

impl StaticResolver {
    pub fn with(mut self, host: &str, addrs: &[&str]) -> Self {
        let addrs = addrs
            .iter()
            .map(|a| a.parse().expect("socket addr"))
            .collect();
        self.0.insert(host.to_owned(), addrs);
        self
    }
}

impl HostResolver for StaticResolver {
    fn resolve(
        &self,
        host: &str,
        _port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>> {
        let found = self.0.get(host).cloned();
        let host = host.to_owned();
        Box::pin(async move {
            found.ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("no such host {host}"))
            })
        })
    }
}

pub fn policy(yaml: &str) -> Arc<Policy> {
    let name: Arc<str> = Arc::from("<test>");
    let raw = config::parse(&name, yaml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let file = config::LoadedFile { name, raw };
    Policy::compile_with_env(&[file], SecretMode::Resolve, &test_env)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

pub fn engine_with(yaml: &str, resolver: StaticResolver, own: OwnListeners) -> Engine {
    let policy = policy(yaml);
    let callout = Callout::new(&policy, Arc::new(resolver), own).expect("callout");
    Engine::new(policy, callout)
}

pub fn engine(yaml: &str) -> Engine {
    engine_with(yaml, StaticResolver::default(), OwnListeners::default())
}

/// Calls a tool with JSON arguments.
pub async fn call(engine: &Engine, tool: &str, args: Value) -> Outcome {
    engine
        .call(tool, args.as_object(), &CancellationToken::new())
        .await
}

/// The reason code of an outcome, for compact assertions.
pub fn code(o: &Outcome) -> &'static str {
    o.reason()
}

/// The response of an outcome, or a panic naming what came instead.
pub fn response(o: Outcome) -> harpoon::callout::BoundedResponse {
    match o {
        Outcome::Response(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}
