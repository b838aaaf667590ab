//! `harpoon doctor`: every check against real servers on 127.0.0.1 (plain HTTP upstreams, and a
//! TLS one whose certificate authority is made at test time), with DNS answered by an injected
//! resolver, and the command itself run as a process for its exit status and output forms.

use crate::support::engine::StaticResolver;
use crate::support::tls::{TestCa, TlsServer};
use crate::support::upstream::{Reply, Upstream};
use harpoon::cli::doctor::{json_report, text_report};
use harpoon::config::{self, LoadedFile};
use harpoon::doctor::{self, Check, Environment, Probe, ProbeError, Status};
use harpoon::policy::{Policy, SecretMode};
use std::sync::Arc;

/// The value of the one secret these tests inject: it must never appear in a report.
const SECRET: &str = "doctor-secret-value-5f1c9e";

fn env_with_secret(name: &str) -> Option<String> {
    (name == "DOCTOR_TOKEN").then(|| SECRET.to_owned())
}

fn env_without_secret(_: &str) -> Option<String> {
    None
}

fn files(yaml: &str) -> Vec<LoadedFile> {
    let name: Arc<str> = Arc::from("<doctor-test>");
    let raw = config::parse(&name, yaml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    vec![LoadedFile { name, raw }]
}

/// What a test injects: DNS, the trust store, the environment.
struct World {
    resolver: StaticResolver,
    tls: rustls::ClientConfig,
    env: fn(&str) -> Option<String>,
}

impl World {
    fn new(resolver: StaticResolver) -> Self {
        World {
            resolver,
            tls: harpoon::callout::client::tls_config_without_roots().expect("tls"),
            env: env_with_secret,
        }
    }
}

/// Runs every check of `yaml` as `harpoon doctor` does: the policy compiled without secrets
/// for the checks, and with them (when they resolve) for the probes.
async fn diagnose(yaml: &str, world: World, probes: &[Probe]) -> Vec<Check> {
    let files = files(yaml);
    let policy = Policy::compile_with_env(&files, SecretMode::Validate, &world.env)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let serving = Policy::compile_with_env(&files, SecretMode::Resolve, &world.env).ok();
    let environment = Environment {
        resolver: Arc::new(world.resolver),
        tls: Arc::new(world.tls),
        env: Box::new(world.env),
        expiry_warning_days: doctor::DEFAULT_EXPIRY_WARNING_DAYS,
    };
    doctor::run(&policy, serving, probes, &environment).await
}

/// (id, status) of every check, in order: what most tests assert exactly.
fn verdicts(checks: &[Check]) -> Vec<(&str, Status)> {
    checks.iter().map(|c| (c.id.as_str(), c.status)).collect()
}

fn check<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {checks:#?}"))
}

/// A plain-HTTP target on `host:port` with a GET route, a POST route and an optional injected
/// secret.
fn http_target(label: &str, host: &str, port: u16, network: &str, inject: bool) -> String {
    let headers = if inject {
        "    headers: { inject: { Authorization: \"Bearer ${env:DOCTOR_TOKEN}\" } }\n"
    } else {
        ""
    };
    format!(
        "  - label: {label}
    base_url: http://{host}:{port}/
{network}{headers}    limits: {{ timeout: 5s }}
    dangerous: {{ allow_plaintext_http: true }}
    routes:
      - {{ name: get_item, method: GET, path: \"/items/{{id}}\" }}
      - name: create
        method: POST
        path: /items
        body: {{ content_type: application/json, schema: {{ type: object }} }}
    paths: [{{ methods: [GET], glob: \"/items/*\" }}]
"
    )
}

const LOOPBACK_ONLY: &str = "    network: { allow_cidrs: [127.0.0.1/32] }\n";

fn allowlist(targets: &[String]) -> String {
    format!("version: 1\ntargets:\n{}", targets.concat())
}

#[tokio::test]
async fn a_loopback_upstream_passes_dns_addresses_and_connect() {
    let upstream = Upstream::canary().await;
    let port = upstream.addr.port();
    // Once by address, once by a name the injected resolver knows.
    let yaml = allowlist(&[
        http_target("by_ip", "127.0.0.1", port, LOOPBACK_ONLY, false),
        http_target("by_name", "api.doctor.test", port, LOOPBACK_ONLY, false),
    ]);
    let resolver = StaticResolver::default().with("api.doctor.test", &["127.0.0.1:0"]);
    let checks = diagnose(&yaml, World::new(resolver), &[]).await;
    assert_eq!(
        verdicts(&checks),
        [
            ("dns.by_ip", Status::Pass),
            ("addresses.by_ip", Status::Pass),
            ("connect.by_ip", Status::Pass),
            ("tls.by_ip", Status::Warn),
            ("dns.by_name", Status::Pass),
            ("addresses.by_name", Status::Pass),
            ("connect.by_name", Status::Pass),
            ("tls.by_name", Status::Warn),
        ],
        "{checks:#?}"
    );
    assert!(doctor::healthy(&checks), "a warning is not a failure");
    assert_eq!(
        check(&checks, "dns.by_name").summary,
        "api.doctor.test resolves to 127.0.0.1"
    );
    assert_eq!(
        check(&checks, "addresses.by_name").evidence,
        ["127.0.0.1 (loopback): allowed"]
    );
    // The resolver answered port 0: the connect went to the target's port all the same.
    assert_eq!(
        check(&checks, "connect.by_name").summary,
        format!("TCP connects to 127.0.0.1:{port}")
    );
    assert_eq!(
        check(&checks, "tls.by_ip").summary,
        "plain http: calls and injected credentials travel unencrypted"
    );
    // The connect check opens connections and sends nothing.
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn an_unresolvable_host_fails_dns_and_skips_what_depends_on_it() {
    let yaml = "version: 1\ntargets:\n  - label: lost\n    base_url: https://nowhere.doctor.test/\n    paths: [{ methods: [GET], glob: \"/*\" }]\n";
    let checks = diagnose(yaml, World::new(StaticResolver::default()), &[]).await;
    assert_eq!(
        verdicts(&checks),
        [
            ("dns.lost", Status::Fail),
            ("addresses.lost", Status::Skip),
            ("connect.lost", Status::Skip),
            ("tls.lost", Status::Skip),
        ],
        "{checks:#?}"
    );
    let dns = check(&checks, "dns.lost");
    assert_eq!(
        dns.summary,
        "nowhere.doctor.test does not resolve from this machine"
    );
    assert_eq!(dns.evidence, ["no such host nowhere.doctor.test"]);
    assert!(
        dns.next
            .contains("check the spelling of base_url at <doctor-test>:")
    );
    assert!(!doctor::healthy(&checks));
}

#[tokio::test]
async fn answers_outside_the_network_rule_fail_and_nothing_connects() {
    let canary = Upstream::canary().await;
    let port = canary.addr.port();
    let yaml = allowlist(&[
        // allow_cidrs that do not hold the answer.
        http_target(
            "elsewhere",
            "elsewhere.doctor.test",
            port,
            "    network: { allow_cidrs: [10.20.0.0/16] }\n",
            false,
        ),
        // No allow_cidrs: public addresses only, and the answer is loopback.
        http_target("public", "public.doctor.test", port, "", false),
        // Everything allowed, and the answer is the metadata address: denied all the same.
        http_target(
            "meta",
            "meta.doctor.test",
            port,
            "    network: { allow_cidrs: [0.0.0.0/0] }\n",
            false,
        ),
    ]);
    let resolver = StaticResolver::default()
        .with("elsewhere.doctor.test", &["127.0.0.1:0"])
        .with("public.doctor.test", &["127.0.0.1:0"])
        .with("meta.doctor.test", &["169.254.169.254:80"]);
    let checks = diagnose(&yaml, World::new(resolver), &[]).await;
    assert_eq!(
        verdicts(&checks),
        [
            ("dns.elsewhere", Status::Pass),
            ("addresses.elsewhere", Status::Fail),
            ("connect.elsewhere", Status::Skip),
            ("tls.elsewhere", Status::Warn),
            ("dns.public", Status::Pass),
            ("addresses.public", Status::Fail),
            ("connect.public", Status::Skip),
            ("tls.public", Status::Warn),
            ("dns.meta", Status::Pass),
            ("addresses.meta", Status::Fail),
            ("connect.meta", Status::Skip),
            ("tls.meta", Status::Warn),
        ],
        "{checks:#?}"
    );
    let elsewhere = check(&checks, "addresses.elsewhere");
    assert_eq!(
        elsewhere.summary,
        "1 of 1 address(es) are outside the network rule (allow_cidrs 10.20.0.0/16)"
    );
    assert_eq!(
        elsewhere.evidence,
        ["127.0.0.1 (loopback): refused: peer (loopback) is outside the target's allow_cidrs"]
    );
    assert_eq!(
        check(&checks, "addresses.public").evidence,
        [
            "127.0.0.1 (loopback): refused: peer is a loopback address and the target has no allow_cidrs (public addresses only)"
        ]
    );
    assert_eq!(
        check(&checks, "addresses.meta").evidence,
        ["169.254.169.254 (metadata): refused: peer is a metadata address, which is always denied"]
    );
    assert_eq!(canary.hits(), 0, "no address outside the rule is dialled");
}

/// One allowed answer among refused ones: a warning naming the refused one, and the connect
/// check uses the allowed one.
#[tokio::test]
async fn a_mixed_answer_warns_and_connects_to_the_allowed_address() {
    let upstream = Upstream::canary().await;
    let port = upstream.addr.port();
    let yaml = allowlist(&[http_target(
        "mixed",
        "mixed.doctor.test",
        port,
        LOOPBACK_ONLY,
        false,
    )]);
    let resolver =
        StaticResolver::default().with("mixed.doctor.test", &["10.1.2.3:0", "127.0.0.1:0"]);
    let checks = diagnose(&yaml, World::new(resolver), &[]).await;
    assert_eq!(
        verdicts(&checks),
        [
            ("dns.mixed", Status::Pass),
            ("addresses.mixed", Status::Warn),
            ("connect.mixed", Status::Pass),
            ("tls.mixed", Status::Warn),
        ],
        "{checks:#?}"
    );
    assert_eq!(
        check(&checks, "addresses.mixed").evidence,
        [
            "10.1.2.3 (private): refused: peer (private) is outside the target's allow_cidrs",
            "127.0.0.1 (loopback): allowed",
        ]
    );
}

#[tokio::test]
async fn a_closed_port_fails_connect_as_refused() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let yaml = allowlist(&[http_target(
        "closed",
        "127.0.0.1",
        port,
        LOOPBACK_ONLY,
        false,
    )]);
    let checks = diagnose(&yaml, World::new(StaticResolver::default()), &[]).await;
    assert_eq!(
        verdicts(&checks),
        [
            ("dns.closed", Status::Pass),
            ("addresses.closed", Status::Pass),
            ("connect.closed", Status::Fail),
            ("tls.closed", Status::Warn),
        ],
        "{checks:#?}"
    );
    let connect = check(&checks, "connect.closed");
    assert_eq!(
        connect.summary,
        format!("TCP connection to 127.0.0.1:{port} refused")
    );
    // The cause is kept: the operating system's own words.
    assert_eq!(connect.evidence.len(), 1);
    assert!(
        connect.evidence[0].contains("refused"),
        "{:?}",
        connect.evidence
    );
    assert!(
        connect
            .next
            .starts_with("the host is reachable but nothing listens on that port"),
        "{}",
        connect.next
    );
}

/// An HTTPS target on `name`, whose DNS (injected) answers 127.0.0.1 and whose port is `port`.
fn https_allowlist(label: &str, name: &str, port: u16) -> String {
    format!(
        "version: 1\ntargets:\n  - label: {label}\n    base_url: https://{name}:{port}/\n{LOOPBACK_ONLY}    paths: [{{ methods: [GET], glob: \"/*\" }}]\n"
    )
}

/// Runs the checks of one HTTPS target against a test TLS server holding a certificate for
/// `cert_name` valid for `days`; the TLS check and how many handshakes the server completed.
async fn tls_check(
    cert_name: &str,
    base_name: &str,
    days: u64,
    trust: impl FnOnce(&TestCa) -> rustls::ClientConfig,
) -> (Vec<Check>, usize) {
    let ca = TestCa::new();
    // Two connections: the connect check's, then the handshake's.
    let server = TlsServer::start(&ca.leaf(cert_name, days), 2);
    let yaml = https_allowlist("secure", base_name, server.addr.port());
    let resolver = StaticResolver::default().with(base_name, &["127.0.0.1:0"]);
    let world = World {
        tls: trust(&ca),
        ..World::new(resolver)
    };
    let checks = diagnose(&yaml, world, &[]).await;
    let handshakes = server.finish();
    (checks, handshakes)
}

fn days_to_expiry(c: &Check) -> i64 {
    let [line] = c.evidence.as_slice() else {
        panic!("{c:#?}");
    };
    line.strip_prefix("days to expiry: ")
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("{c:#?}"))
}

#[tokio::test]
async fn a_trusted_certificate_passes_with_its_days_to_expiry() {
    let (checks, handshakes) =
        tls_check("doctor.test", "doctor.test", 200, |ca| ca.client_config()).await;
    assert_eq!(
        verdicts(&checks),
        [
            ("dns.secure", Status::Pass),
            ("addresses.secure", Status::Pass),
            ("connect.secure", Status::Pass),
            ("tls.secure", Status::Pass),
        ],
        "{checks:#?}"
    );
    let tls = check(&checks, "tls.secure");
    let days = days_to_expiry(tls);
    // 200 days from now, counted in whole days from a moment later.
    assert!((199..=200).contains(&days), "{tls:#?}");
    assert_eq!(
        tls.summary,
        format!(
            "TLS handshakes with doctor.test; the chain is trusted and the certificate expires in {days} days"
        )
    );
    assert_eq!(handshakes, 1);
}

#[tokio::test]
async fn a_certificate_expiring_within_three_weeks_warns() {
    let (checks, handshakes) =
        tls_check("doctor.test", "doctor.test", 10, |ca| ca.client_config()).await;
    let tls = check(&checks, "tls.secure");
    assert_eq!(tls.status, Status::Warn, "{tls:#?}");
    assert!((9..=10).contains(&days_to_expiry(tls)), "{tls:#?}");
    assert_eq!(tls.next, "renew the certificate before it expires");
    assert!(doctor::healthy(&checks), "an expiring certificate warns");
    assert_eq!(handshakes, 1);
}

#[tokio::test]
async fn an_untrusted_chain_fails() {
    let (checks, handshakes) = tls_check("doctor.test", "doctor.test", 200, |_| {
        harpoon::callout::client::tls_config_without_roots().expect("tls")
    })
    .await;
    let tls = check(&checks, "tls.secure");
    assert_eq!(tls.status, Status::Fail, "{tls:#?}");
    assert_eq!(
        tls.summary,
        format!(
            "the TLS handshake with doctor.test ({}) failed",
            check(&checks, "connect.secure")
                .summary
                .trim_start_matches("TCP connects to ")
        )
    );
    assert_eq!(tls.evidence, ["invalid peer certificate: UnknownIssuer"]);
    assert!(!doctor::healthy(&checks));
    assert_eq!(handshakes, 0);
}

#[tokio::test]
async fn a_certificate_for_another_name_fails() {
    let (checks, handshakes) = tls_check("doctor.test", "other.doctor.test", 200, |ca| {
        ca.client_config()
    })
    .await;
    let tls = check(&checks, "tls.secure");
    assert_eq!(tls.status, Status::Fail, "{tls:#?}");
    assert_eq!(
        tls.evidence,
        [
            "invalid peer certificate: certificate not valid for name \"other.doctor.test\"; certificate is only valid for DnsName(\"doctor.test\")"
        ]
    );
    assert_eq!(handshakes, 0);
}

#[tokio::test]
async fn an_unset_secret_fails_and_a_set_one_is_never_printed() {
    let upstream = Upstream::echo().await;
    let yaml = allowlist(&[http_target(
        "inv",
        "127.0.0.1",
        upstream.addr.port(),
        LOOPBACK_ONLY,
        true,
    )]);
    let probe: Probe = r#"inv_get_item={"id":"7"}"#.parse().expect("probe");

    let unset = World {
        env: env_without_secret,
        ..World::new(StaticResolver::default())
    };
    let checks = diagnose(&yaml, unset, std::slice::from_ref(&probe)).await;
    assert_eq!(
        verdicts(&checks)[4..],
        [
            ("secrets.inv", Status::Fail),
            ("probe.inv_get_item", Status::Skip)
        ],
        "{checks:#?}"
    );
    let secrets = check(&checks, "secrets.inv");
    assert_eq!(secrets.summary, "1 injected header(s) do not resolve");
    let [line] = secrets.evidence.as_slice() else {
        panic!("{secrets:#?}");
    };
    assert!(
        line.starts_with("<doctor-test>:")
            && line.ends_with(
                "(header authorization): ${env:DOCTOR_TOKEN} is not set or is empty; export DOCTOR_TOKEN"
            ),
        "{line}"
    );
    assert!(upstream.requests().is_empty(), "no probe without secrets");

    // Set: the secret resolves, the probe sends it (the echo upstream returns it in its body),
    // and no report form prints it.
    let checks = diagnose(&yaml, World::new(StaticResolver::default()), &[probe]).await;
    assert_eq!(
        verdicts(&checks),
        [
            ("dns.inv", Status::Pass),
            ("addresses.inv", Status::Pass),
            ("connect.inv", Status::Pass),
            ("tls.inv", Status::Warn),
            ("secrets.inv", Status::Pass),
            ("probe.inv_get_item", Status::Pass),
        ],
        "{checks:#?}"
    );
    assert_eq!(
        check(&checks, "secrets.inv").summary,
        "1 secret reference(s) resolve"
    );
    let seen = upstream.requests();
    assert_eq!(seen.len(), 1);
    let bearer = format!("Bearer {SECRET}");
    assert_eq!(seen[0].header("authorization"), Some(bearer.as_str()));
    for report in [
        text_report(&checks, true),
        text_report(&checks, false),
        json_report(&checks),
        format!("{checks:?}"),
    ] {
        assert!(!report.contains(SECRET), "{report}");
    }
}

#[tokio::test]
async fn a_probe_calls_a_read_only_tool_through_the_engine() {
    let upstream = Upstream::start(|_| Reply::ok("item seven")).await;
    let yaml = allowlist(&[http_target(
        "inv",
        "127.0.0.1",
        upstream.addr.port(),
        LOOPBACK_ONLY,
        false,
    )]);
    let probe: Probe = r#"inv_get_item={"id":"7"}"#.parse().expect("probe");
    let checks = diagnose(&yaml, World::new(StaticResolver::default()), &[probe]).await;
    let result = check(&checks, "probe.inv_get_item");
    assert_eq!(result.status, Status::Pass, "{result:#?}");
    assert_eq!(result.summary, "inv_get_item answered 200 (10 bytes)");
    let seen = upstream.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("GET", "/items/7")
    );
}

#[tokio::test]
async fn a_probe_of_a_writing_tool_is_refused_before_any_request() {
    let canary = Upstream::canary().await;
    let yaml = allowlist(&[http_target(
        "inv",
        "127.0.0.1",
        canary.addr.port(),
        LOOPBACK_ONLY,
        false,
    )]);
    let probes: Vec<Probe> = [
        r#"inv_create={"body":{"name":"x"}}"#,
        r#"call_target={"label":"inv","method":"DELETE","path":"/items/7"}"#,
        r#"no_such_tool={}"#,
    ]
    .iter()
    .map(|p| p.parse().expect("probe"))
    .collect();
    let checks = diagnose(&yaml, World::new(StaticResolver::default()), &probes).await;
    assert_eq!(
        verdicts(&checks)[4..],
        [
            ("probe.inv_create", Status::Fail),
            ("probe.call_target", Status::Fail),
            ("probe.no_such_tool", Status::Fail),
        ],
        "{checks:#?}"
    );
    assert_eq!(
        check(&checks, "probe.inv_create").summary,
        "inv_create is not read-only: doctor probes only GET and HEAD"
    );
    assert_eq!(
        check(&checks, "probe.call_target").summary,
        "call_target is not read-only: doctor probes only GET and HEAD"
    );
    assert_eq!(
        check(&checks, "probe.no_such_tool").summary,
        "there is no tool no_such_tool"
    );
    // The connect check opens (and closes) at most one connection and sends nothing; no probe
    // sent a request.
    assert!(canary.requests().is_empty(), "{:?}", canary.requests());
    assert!(canary.connections() <= 1);
}

#[test]
fn a_malformed_probe_is_refused_with_the_form_to_use() {
    assert_eq!(
        "inv_get_item".parse::<Probe>(),
        Err(ProbeError::NoArguments)
    );
    assert_eq!(
        ProbeError::NoArguments.to_string(),
        "give the tool and its arguments as TOOL=ARGS_JSON, e.g. inventory_get_item='{\"id\":\"7\"}'"
    );
    assert_eq!(
        "inv_get_item=[1]".parse::<Probe>(),
        Err(ProbeError::NotAnObject("got [1]".to_owned()))
    );
    assert!(matches!(
        "inv_get_item={\"id\":".parse::<Probe>(),
        Err(ProbeError::NotAnObject(_))
    ));
    let ok: Probe = "inv_get_item={\"id\":\"7\"}".parse().expect("probe");
    assert_eq!(ok.tool, "inv_get_item");
    assert_eq!(ok.arguments.get("id"), Some(&serde_json::json!("7")));
}

mod cli {
    //! `harpoon doctor` as a process: exit status, text, `--explain` and `--json`.

    use super::{LOOPBACK_ONLY, SECRET, allowlist, http_target};
    use crate::support::upstream::Upstream;
    use serde_json::Value;
    use std::process::Stdio;
    use std::time::Duration;
    use tokio::process::Command;

    struct Run {
        code: i32,
        stdout: String,
        stderr: String,
    }

    async fn doctor(args: &[&str]) -> Run {
        doctor_with(args, &[]).await
    }

    /// `harpoon doctor ARGS`, with `DOCTOR_TOKEN` unset unless `env` sets it.
    async fn doctor_with(args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = Command::new(env!("CARGO_BIN_EXE_harpoon"));
        c.arg("doctor")
            .args(args)
            .env_remove("DOCTOR_TOKEN")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(30), c.output())
            .await
            .expect("doctor exits")
            .expect("doctor runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn write(dir: &tempfile::TempDir, yaml: &str) -> String {
        let path = dir.path().join("doctor.yaml");
        std::fs::write(&path, yaml).expect("write allowlist");
        path.to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn a_healthy_loopback_allowlist_exits_0() {
        let upstream = Upstream::canary().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(
            &dir,
            &allowlist(&[http_target(
                "inv",
                "127.0.0.1",
                upstream.addr.port(),
                LOOPBACK_ONLY,
                false,
            )]),
        );
        let run = doctor(&[&file]).await;
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let port = upstream.addr.port();
        assert_eq!(
            run.stdout.lines().map(str::trim_end).collect::<Vec<_>>(),
            [
                "pass  dns.inv  127.0.0.1 is an address: nothing to resolve".to_owned(),
                "pass  addresses.inv  every address is inside the network rule (allow_cidrs 127.0.0.1/32)".to_owned(),
                format!("pass  connect.inv  TCP connects to 127.0.0.1:{port}"),
                "warn  tls.inv  plain http: calls and injected credentials travel unencrypted".to_owned(),
                "      next: use an https base_url unless the network path is trusted".to_owned(),
                "healthy: 4 checks, 0 failed".to_owned(),
            ],
        );

        let explained = doctor(&[&file, "--explain"]).await;
        assert_eq!(explained.code, 0);
        assert!(
            explained
                .stdout
                .contains("      why: a firewall, a wrong port or a stopped service shows up here"),
            "{}",
            explained.stdout
        );
        assert_eq!(
            explained
                .stdout
                .lines()
                .filter(|l| l.starts_with("      why: "))
                .count(),
            4,
            "every check says why: {}",
            explained.stdout
        );
    }

    #[tokio::test]
    async fn a_failed_check_exits_1_and_json_names_it() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(
            &dir,
            &allowlist(&[http_target("inv", "127.0.0.1", port, LOOPBACK_ONLY, true)]),
        );
        let run = doctor(&[&file]).await;
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.ends_with("unhealthy: 5 checks, 2 failed\n"),
            "{}",
            run.stdout
        );

        let run = doctor(&[&file, "--json"]).await;
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        let report: Value = serde_json::from_str(&run.stdout).expect("--json prints JSON");
        assert_eq!(report["result"], "unhealthy");
        assert_eq!(
            report["failed_checks"],
            serde_json::json!(["connect.inv", "secrets.inv"])
        );
        let checks = report["checks"].as_array().expect("checks");
        let ids: Vec<(&str, &str)> = checks
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap_or_default(),
                    c["status"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            ids,
            [
                ("dns.inv", "pass"),
                ("addresses.inv", "pass"),
                ("connect.inv", "fail"),
                ("tls.inv", "warn"),
                ("secrets.inv", "fail"),
            ]
        );
        for c in checks {
            let mut keys: Vec<&str> = c
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                ["evidence", "id", "next", "status", "summary", "why"],
                "{c}"
            );
        }
    }

    /// Secrets from the environment and from a file: the probe sends both (the echo upstream
    /// sees them, and answers with them), and no output form prints either.
    #[tokio::test]
    async fn secrets_reach_the_upstream_and_never_the_output() {
        let upstream = Upstream::echo().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let key_file = dir.path().join("api-key");
        let file_secret = "file-secret-value-83b2d0";
        std::fs::write(&key_file, format!("{file_secret}\n")).expect("write key");
        let yaml = format!(
            "version: 1
targets:
  - label: inv
    base_url: http://127.0.0.1:{port}/
{LOOPBACK_ONLY}    headers:
      inject:
        Authorization: \"Bearer ${{env:DOCTOR_TOKEN}}\"
        X-Api-Key: \"${{file:{key}}}\"
    dangerous: {{ allow_plaintext_http: true }}
    routes:
      - {{ name: get_item, method: GET, path: \"/items/{{id}}\" }}
",
            port = upstream.addr.port(),
            key = key_file.display(),
        );
        let file = write(&dir, &yaml);
        let probe = r#"inv_get_item={"id":"7"}"#;
        let env = [("DOCTOR_TOKEN", SECRET)];
        let text = doctor_with(&[&file, "--explain", "--probe", probe], &env).await;
        let json = doctor_with(&[&file, "--json", "--probe", probe], &env).await;
        for run in [&text, &json] {
            assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
            for secret in [SECRET, file_secret] {
                assert!(!run.stdout.contains(secret), "{}", run.stdout);
                assert!(!run.stderr.contains(secret), "{}", run.stderr);
            }
        }
        assert!(
            text.stdout
                .contains("pass  secrets.inv  2 secret reference(s) resolve\n"),
            "{}",
            text.stdout
        );
        assert!(
            text.stdout
                .contains("pass  probe.inv_get_item  inv_get_item answered 200"),
            "{}",
            text.stdout
        );
        let seen = upstream.requests();
        assert_eq!(seen.len(), 2, "one probe per run");
        for request in &seen {
            let bearer = format!("Bearer {SECRET}");
            assert_eq!(request.header("authorization"), Some(bearer.as_str()));
            assert_eq!(request.header("x-api-key"), Some(file_secret));
        }
    }

    #[tokio::test]
    async fn invalid_input_exits_2_with_the_reason() {
        let missing = doctor(&["/nonexistent/doctor-allowlist.yaml"]).await;
        assert_eq!(missing.code, 2, "{}", missing.stderr);
        assert!(
            missing
                .stderr
                .contains("/nonexistent/doctor-allowlist.yaml"),
            "{}",
            missing.stderr
        );
        assert!(missing.stdout.is_empty(), "{}", missing.stdout);

        // An allowlist `check` refuses: refused with the message `check` gives.
        let invalid = doctor(&["tests/fixtures/allowlists/invalid/template-unclosed.yaml"]).await;
        assert_eq!(invalid.code, 2, "{}", invalid.stderr);
        assert!(
            invalid.stderr.starts_with(
                "error: tests/fixtures/allowlists/invalid/template-unclosed.yaml:11:15: target 'api' route 'get_item': path '/items/{id' segment '{id' has an unclosed '{'; close it as '{id}'\n"
            ),
            "{}",
            invalid.stderr
        );

        let none = doctor(&[]).await;
        assert_eq!(none.code, 2, "{}", none.stderr);

        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(
            &dir,
            &allowlist(&[http_target("inv", "127.0.0.1", 9, LOOPBACK_ONLY, false)]),
        );
        let bad = doctor(&[&file, "--probe", "inv_get_item"]).await;
        assert_eq!(bad.code, 2, "{}", bad.stderr);
        assert!(
            bad.stderr.contains(
                "give the tool and its arguments as TOOL=ARGS_JSON, e.g. inventory_get_item='{\"id\":\"7\"}'"
            ),
            "{}",
            bad.stderr
        );
        let bad = doctor(&[&file, "--probe", "inv_get_item=[1]"]).await;
        assert_eq!(bad.code, 2, "{}", bad.stderr);
        assert!(
            bad.stderr
                .contains("the arguments must be a JSON object (got [1])"),
            "{}",
            bad.stderr
        );
    }
}

mod tunnel_service {
    //! `harpoon doctor --tunnel`: the tunnel service's verdict on the key and tunnel id, as a
    //! check, against a loopback service that accepts or refuses every poll.

    use super::{LOOPBACK_ONLY, allowlist, http_target};
    use crate::support::upstream::Upstream;
    use crate::tunnel_refusals::{Refusing, TUNNEL_ID};
    use std::process::Stdio;
    use std::time::Duration;
    use tokio::process::Command;

    const KEY: &str = "sk-doctor_key-42";

    /// `harpoon doctor FILE --tunnel --edge EDGE ARGS` with the key in HARPOON_TUNNEL_TOKEN:
    /// (exit status, stdout, stderr).
    async fn doctor_tunnel(edge: &str, args: &[&str]) -> (i32, String, String) {
        let upstream = Upstream::canary().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("doctor.yaml");
        let yaml = allowlist(&[http_target(
            "inv",
            "127.0.0.1",
            upstream.addr.port(),
            LOOPBACK_ONLY,
            false,
        )]);
        std::fs::write(&file, yaml).expect("write allowlist");
        let mut c = Command::new(env!("CARGO_BIN_EXE_harpoon"));
        c.arg("doctor")
            .arg(&file)
            .args(["--tunnel", "--edge", edge])
            .args(args)
            .env_remove("CONTROL_PLANE_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .env_remove("HARPOON_EDGE")
            .env_remove("HARPOON_TUNNEL_ID")
            .env_remove("HARPOON_TUNNEL_ORGANIZATION")
            .env_remove("HARPOON_TUNNEL_PROXY")
            .env("HARPOON_TUNNEL_TOKEN", KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(40), c.output())
            .await
            .expect("doctor exits")
            .expect("doctor runs");
        assert_eq!(upstream.requests().len(), 0, "doctor called no tool");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn line<'a>(stdout: &'a str, id: &str) -> &'a str {
        stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap_or_else(|| panic!("no {id} line in:\n{stdout}"))
    }

    #[tokio::test]
    async fn an_accepting_service_passes_with_the_key_it_was_sent() {
        let service = Refusing::start(204, "").await;
        let edge = format!("http://{}", service.addr);
        let (code, out, err) = doctor_tunnel(&edge, &["--tunnel-id", TUNNEL_ID]).await;
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(
            line(&out, "tunnel.service").trim_end(),
            format!("pass  tunnel.service  {edge}/ (tunnel {TUNNEL_ID}) accepts the key")
        );
        let polls = service.polls.lock().expect("polls").clone();
        assert_eq!(polls.len(), 1, "one short poll");
        assert_eq!(polls[0]["authorization"], format!("Bearer {KEY}").as_str());
        assert!(!out.contains(KEY), "the key is never printed: {out}");
    }

    #[tokio::test]
    async fn a_refused_key_fails_with_the_status_and_the_fix_and_exit_1() {
        let service = Refusing::start(401, r#"{"error":{"code":"invalid_api_key"}}"#).await;
        let edge = format!("http://{}", service.addr);
        let (code, out, err) = doctor_tunnel(&edge, &["--tunnel-id", TUNNEL_ID, "--json"]).await;
        assert_eq!(code, 1, "{out}{err}");
        let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(report["result"], "unhealthy");
        assert_eq!(
            report["failed_checks"],
            serde_json::json!(["tunnel.service"])
        );
        let check = report["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == "tunnel.service")
            .expect("the tunnel check");
        assert_eq!(check["status"], "fail");
        assert_eq!(
            check["summary"],
            format!("{edge}/ (tunnel {TUNNEL_ID}) refused the tunnel")
        );
        let evidence = check["evidence"][0].as_str().expect("evidence");
        assert!(evidence.contains("HTTP 401"), "{evidence}");
        assert!(!check["next"].as_str().unwrap_or_default().is_empty());
        assert!(!out.contains(KEY), "the key is never printed: {out}");
    }

    #[tokio::test]
    async fn no_tunnel_id_is_invalid_input_and_polls_nothing() {
        let service = Refusing::start(204, "").await;
        let edge = format!("http://{}", service.addr);
        let (code, out, err) = doctor_tunnel(&edge, &[]).await;
        assert_eq!(code, 2, "{out}{err}");
        assert!(err.contains("no tunnel id; give --tunnel-id"), "{err}");
        assert_eq!(service.polls.lock().expect("polls").len(), 0);
    }
}
