//! The deployment examples in `deploy/` work as written, as far as that can be shown without
//! Docker, a cluster or systemd as PID 1: every file parses; every harpoon invocation (the
//! Dockerfile's ENTRYPOINT + CMD, each Kubernetes container's command and args, the systemd
//! ExecStart) parses with harpoon's own command line (`harpoon::cli::Cli`), so a renamed or
//! removed flag fails here; every path an invocation or an allowlist names is provided by the
//! layout the example declares (image, volumes, mounts, credentials); the probes point at
//! `/healthz` and `/readyz` on the port harpoon listens on; and every allowlist an example holds
//! passes `harpoon check`. docs/deploy.md says what this does not cover.

mod compose;
mod dockerfile;
mod kubernetes;
mod systemd;

use clap::{CommandFactory, Parser};
use harpoon::cli::check::{CheckArgs, DenyLevel, EXIT_CLEAN, review};
use harpoon::cli::{Cli, Command};
use harpoon::lint::Format;
use harpoon::policy::secret::Part;
use harpoon::policy::{Policy, SecretMode};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the examples live, relative to the crate root (where `cargo test` runs).
const DEPLOY_DIR: &str = "deploy";

/// A file of `deploy/`, read whole.
fn read(relative: &str) -> String {
    let path = Path::new(DEPLOY_DIR).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// What one harpoon invocation of an example does, from the parsed command line.
#[derive(Debug)]
struct Invocation {
    /// Where the invocation was found, for messages (`deploy/Dockerfile CMD`).
    place: String,
    subcommand: &'static str,
    /// The `--allowlist` paths, as the process sees them.
    allowlists: Vec<PathBuf>,
    /// The address clients (or probes) connect to: `serve --listen`, `tunnel --health-listen`.
    listen: SocketAddr,
    /// `serve --allow-remote`.
    allow_remote: bool,
    /// Files the process reads besides allowlists (`tunnel --token-file`).
    files: Vec<PathBuf>,
    /// How long a stop may take: the drain timeout.
    drain_timeout: Duration,
}

/// Parses `args` (without the program name) with harpoon's own command line, the way `main`
/// does. Panics with clap's message (which names the unknown or invalid flag) if it fails.
fn invocation(place: &str, args: &[String]) -> Invocation {
    no_harpoon_variable_is_set();
    let cli =
        Cli::try_parse_from(std::iter::once("harpoon".to_owned()).chain(args.iter().cloned()))
            .unwrap_or_else(|e| panic!("{place}: harpoon {} does not parse:\n{e}", args.join(" ")));
    let place = place.to_owned();
    match cli.command {
        Command::Serve(s) => {
            assert!(!s.demo, "{place}: --demo is not a deployment");
            Invocation {
                place,
                subcommand: "serve",
                allowlists: s.allowlists,
                listen: s.listen,
                allow_remote: s.allow_remote,
                files: Vec::new(),
                drain_timeout: s.drain.drain_timeout,
            }
        }
        Command::Tunnel(t) => {
            let c = t.connection;
            let tunnel_id = c
                .tunnel_id
                .unwrap_or_else(|| panic!("{place}: the tunnel needs --tunnel-id"));
            // The default service is OpenAI's, which knows tunnels only by its own id form.
            if c.edge.is_none() {
                assert!(
                    harpoon::transport::poll_protocol::is_service_tunnel_id(&tunnel_id),
                    "{place}: --tunnel-id {tunnel_id} is not an OpenAI tunnel id (tunnel_ and 32 lowercase letters or digits)"
                );
            }
            Invocation {
                place,
                subcommand: "tunnel",
                allowlists: t.allowlist.allowlists,
                listen: t.health_listen,
                allow_remote: false,
                files: c
                    .token_file
                    .into_iter()
                    .chain(c.ca_file)
                    .chain(c.client_cert)
                    .chain(c.client_key)
                    .collect(),
                drain_timeout: t.drain.drain_timeout,
            }
        }
        other => panic!("{place}: a deployment runs serve or tunnel, not {other:?}"),
    }
}

/// clap fills a flag the command line leaves out from its environment variable
/// (`HARPOON_ALLOWLIST`, ...): with one set here, an example missing a required flag would still
/// parse. Refuse to run rather than pass by accident.
fn no_harpoon_variable_is_set() {
    let mut names = BTreeSet::new();
    let mut stack = vec![Cli::command()];
    while let Some(cmd) = stack.pop() {
        names.extend(
            cmd.get_arguments()
                .filter_map(|a| a.get_env())
                .map(|v| v.to_string_lossy().into_owned()),
        );
        stack.extend(cmd.get_subcommands().cloned());
    }
    assert!(
        !names.is_empty(),
        "harpoon's command line reads no variable: the guard is stale"
    );
    for name in names {
        assert!(
            std::env::var_os(&name).is_none(),
            "{name} is set in this test's environment; unset it, or an example missing its flag would pass"
        );
    }
}

impl Invocation {
    /// Listening off loopback needs `--allow-remote` and a token, or `serve` refuses to start
    /// (src/cli/serve.rs). `tunnel --health-listen` has no such rule.
    fn check_listen_rule(&self, token_provided: bool) {
        if self.subcommand == "serve" && !self.listen.ip().is_loopback() {
            assert!(
                self.allow_remote,
                "{}: serve on {} needs --allow-remote",
                self.place, self.listen
            );
            assert!(
                token_provided,
                "{}: serve on {} with --allow-remote refuses to start without HARPOON_TOKEN",
                self.place, self.listen
            );
        }
    }
}

/// The secrets allowlists read: `${file:...}` paths and `${env:...}` names.
#[derive(Debug, Default)]
struct SecretRefs {
    files: BTreeSet<String>,
    envs: BTreeSet<String>,
}

/// Runs `harpoon check` (the library function the command calls, with its defaults) on `paths`
/// and returns the secrets they reference. Panics with the report unless it exits 0.
fn check_allowlists(place: &str, paths: &[PathBuf]) -> SecretRefs {
    let args = CheckArgs {
        paths: paths.to_vec(),
        format: Format::Text,
        deny: DenyLevel::Error,
        resolve_secrets: false,
    };
    let (report, code) = review(&args);
    assert_eq!(
        code, EXIT_CLEAN,
        "{place}: harpoon check {paths:?} fails:\n{report}"
    );
    let files = harpoon::config::load(paths).expect("check loaded these");
    let policy = Policy::compile(&files, SecretMode::Validate).expect("check compiled these");
    let mut refs = SecretRefs::default();
    for target in policy.targets() {
        for header in &target.injected {
            for part in header.template.parts() {
                match part {
                    Part::File(p) => {
                        refs.files.insert(p.clone());
                    }
                    Part::Env(n) => {
                        refs.envs.insert(n.clone());
                    }
                    Part::Text(_) => {}
                }
            }
        }
    }
    // Injected headers are where references live today; should another key gain them, the
    // comparison with the raw text says so instead of the new ones going unchecked.
    let in_text: usize = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f.name.as_ref()).unwrap_or_default();
            text.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .map(|l| l.matches("${file:").count() + l.matches("${env:").count())
                .sum::<usize>()
        })
        .sum();
    assert_eq!(
        in_text,
        policy
            .targets()
            .iter()
            .flat_map(|t| &t.injected)
            .map(|h| h.template.references().len())
            .sum::<usize>(),
        "{place}: a secret reference outside `headers.inject`: teach this test where it is read"
    );
    refs
}

/// Whether `path` is `dir` or lies under it (both absolute, compared by components).
fn is_under(path: &Path, dir: &Path) -> bool {
    path.starts_with(dir)
}
