//! `deploy/compose.yaml`: it builds deploy/Dockerfile and runs the image read-only with no
//! capabilities, mounts read-only every allowlist the image's command reads, and provides as
//! secrets every file those allowlists read.

use super::dockerfile::image;
use super::{DEPLOY_DIR, check_allowlists, invocation, is_under, read};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A compose volume `SRC:DST[:ro]`, SRC relative to deploy/.
struct Mount {
    source: PathBuf,
    target: PathBuf,
    read_only: bool,
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// Whether deploy/Dockerfile.dockerignore keeps `file` (relative to the repository root, the
/// build context) out of the context, by naming it or a directory holding it. The build stage
/// copies the whole context, so a token left beside the examples would land in a build layer.
fn kept_out_of_the_build(file: &Path) -> bool {
    let file = file
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect::<PathBuf>();
    read("Dockerfile.dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|pattern| file.starts_with(pattern.trim_matches('/')))
}

fn strings(value: &Value, place: &str) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{place} is not a list"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{place} holds a non-string"))
                .to_owned()
        })
        .collect()
}

#[test]
fn compose_runs_the_image_read_only_with_what_it_reads_mounted() {
    let compose: Value =
        serde_saphyr::from_str(&read("compose.yaml")).expect("deploy/compose.yaml parses");
    let image = image();
    let services = compose["services"]
        .as_object()
        .expect("deploy/compose.yaml: services");
    assert!(!services.is_empty(), "deploy/compose.yaml: no service");
    for (name, service) in services {
        let place = format!("deploy/compose.yaml service {name}");
        let context = Path::new(DEPLOY_DIR)
            .join(service["build"]["context"].as_str().expect("build.context"));
        let dockerfile = context.join(
            service["build"]["dockerfile"]
                .as_str()
                .expect("build.dockerfile"),
        );
        assert_eq!(
            dockerfile.canonicalize().expect("the dockerfile exists"),
            Path::new(DEPLOY_DIR)
                .join("Dockerfile")
                .canonicalize()
                .expect("deploy/Dockerfile"),
            "{place}: builds deploy/Dockerfile"
        );
        assert_eq!(
            context.canonicalize().expect("the context exists"),
            Path::new(".").canonicalize().expect("crate root"),
            "{place}: the build context is the repository root (Cargo.toml, src/)"
        );
        assert_eq!(
            service["read_only"],
            Value::Bool(true),
            "{place}: read_only: true"
        );
        assert!(
            strings(&service["cap_drop"], "cap_drop").contains(&"ALL".to_owned()),
            "{place}: cap_drop: [ALL]"
        );
        assert!(
            strings(&service["security_opt"], "security_opt")
                .contains(&"no-new-privileges:true".to_owned()),
            "{place}: security_opt: [no-new-privileges:true]"
        );
        let entrypoint = match &service["entrypoint"] {
            Value::Null => image.entrypoint.clone(),
            v => strings(v, "entrypoint"),
        };
        let cmd = match &service["command"] {
            Value::Null => image.cmd.clone(),
            v => strings(v, "command"),
        };
        let args: Vec<String> = entrypoint[1..].iter().chain(&cmd).cloned().collect();
        let run = invocation(&place, &args);
        let environment = service["environment"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        run.check_listen_rule(environment.contains_key("HARPOON_TOKEN"));

        let mounts: Vec<Mount> = strings(&service["volumes"], "volumes")
            .iter()
            .map(|v| {
                let parts: Vec<&str> = v.split(':').collect();
                let (source, target, mode) = match parts.as_slice() {
                    [s, t] => (s, t, ""),
                    [s, t, m] => (s, t, *m),
                    _ => panic!("{place}: volume {v}: expected SRC:DST[:MODE]"),
                };
                Mount {
                    source: Path::new(DEPLOY_DIR).join(source),
                    target: PathBuf::from(target),
                    read_only: mode.split(',').any(|m| m == "ro"),
                }
            })
            .collect();
        let mut host_allowlists = Vec::new();
        for allowlist in &run.allowlists {
            let mount = mounts
                .iter()
                .find(|m| is_under(allowlist, &m.target))
                .unwrap_or_else(|| panic!("{place}: {} is not mounted", allowlist.display()));
            assert!(
                mount.read_only,
                "{place}: {} is mounted read-write",
                mount.target.display()
            );
            let host = mount
                .source
                .join(allowlist.strip_prefix(&mount.target).expect("under"));
            assert!(
                host.exists(),
                "{place}: {} (mounted at {}) does not exist",
                host.display(),
                allowlist.display()
            );
            host_allowlists.push(host);
        }
        let refs = check_allowlists(&place, &host_allowlists);
        // Compose mounts each secret of the service at /run/secrets/NAME.
        let secrets = strings(&service["secrets"], "secrets");
        for name in &secrets {
            assert!(
                compose["secrets"][name]["file"].is_string(),
                "{place}: secret {name} is not defined with a file at the top level"
            );
            let file = Path::new(DEPLOY_DIR).join(text(&compose["secrets"][name]["file"]));
            assert!(
                kept_out_of_the_build(&file),
                "{place}: secret file {} is sent with the build context; list it in deploy/Dockerfile.dockerignore",
                file.display()
            );
        }
        for file in refs
            .files
            .iter()
            .map(PathBuf::from)
            .chain(run.files.iter().cloned())
        {
            let name = file
                .strip_prefix("/run/secrets")
                .ok()
                .and_then(|n| n.to_str());
            assert!(
                name.is_some_and(|n| secrets.iter().any(|s| s == n)),
                "{place}: {} is read but is no secret of the service (/run/secrets/NAME)",
                file.display()
            );
        }
        for env in &refs.envs {
            assert!(
                environment.contains_key(env),
                "{place}: ${{env:{env}}} is read but not set"
            );
        }
        let ports = strings(&service["ports"], "ports");
        assert!(
            ports
                .iter()
                .any(|p| p.rsplit(':').next() == Some(&run.listen.port().to_string())),
            "{place}: no published port reaches {} ({ports:?})",
            run.listen
        );
    }
}
