//! `deploy/kubernetes/`: every manifest parses; each harpoon container's command line parses,
//! listens where its probes and NetworkPolicy point, reads only files its volumes provide, and
//! runs non-root with a read-only root filesystem, no capabilities and resource limits; the
//! ConfigMap's allowlists pass `check` laid out as kubelet mounts them.

use super::dockerfile::image;
use super::{DEPLOY_DIR, check_allowlists, invocation, is_under};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The kinds this test checks: a harpoon container can only hide in a Deployment here.
const KNOWN_KINDS: [&str; 3] = ["ConfigMap", "Deployment", "NetworkPolicy"];

/// Every document of every `*.yaml` in deploy/kubernetes, with the file it came from.
fn manifests() -> Vec<(String, Value)> {
    let dir = Path::new(DEPLOY_DIR).join("kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("reads");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            let place = format!(
                "{} {} {}",
                file.display(),
                doc["kind"].as_str().unwrap_or("?"),
                doc["metadata"]["name"].as_str().unwrap_or("?")
            );
            assert!(
                doc["apiVersion"].is_string() && doc["kind"].is_string(),
                "{place}: apiVersion and kind"
            );
            out.push((place, doc));
        }
    }
    assert!(!out.is_empty(), "deploy/kubernetes holds no manifest");
    // A kind this test does not read (a DaemonSet, a Job) would run harpoon unchecked.
    for (place, doc) in &out {
        assert!(
            KNOWN_KINDS.contains(&text(&doc["kind"])),
            "{place}: this test checks only {KNOWN_KINDS:?}; teach it this kind"
        );
    }
    out
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn strings(value: &Value) -> Vec<String> {
    list(value).iter().map(|v| text(v).to_owned()).collect()
}

/// Writes a ConfigMap's data the way kubelet's atomic writer mounts it: the files in a
/// timestamped hidden directory, `..data` pointing at it, and each key a symlink through
/// `..data`. harpoon must read the keys and skip the hidden entries.
fn kubelet_layout(dir: &Path, data: &serde_json::Map<String, Value>, items: &[Value]) {
    let stamp = dir.join("..2026_01_01_00_00_00.000000001");
    std::fs::create_dir(&stamp).expect("mkdir");
    std::os::unix::fs::symlink(stamp.file_name().expect("name"), dir.join("..data"))
        .expect("symlink");
    let files: Vec<(String, String)> = if items.is_empty() {
        data.keys().map(|k| (k.clone(), k.clone())).collect()
    } else {
        items
            .iter()
            .map(|i| (text(&i["key"]).to_owned(), text(&i["path"]).to_owned()))
            .collect()
    };
    for (key, path) in files {
        let content = data
            .get(&key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no key {key}"));
        std::fs::write(stamp.join(&path), content).expect("write");
        std::os::unix::fs::symlink(Path::new("..data").join(&path), dir.join(&path))
            .expect("symlink");
    }
}

/// The files a mounted volume provides: its mount path and the paths inside it.
enum Provides {
    /// A ConfigMap of these manifests, written out in a temporary directory.
    ConfigMap { host: PathBuf },
    /// A Secret whose keys are listed: the files `mountPath/item.path`.
    Secret { files: Vec<String> },
}

#[test]
fn kubernetes_manifests_run_harpoon_hardened_with_working_probes_and_mounts() {
    let docs = manifests();
    let image = image();
    let config_maps: BTreeMap<&str, &Value> = docs
        .iter()
        .filter(|(_, d)| d["kind"] == "ConfigMap")
        .map(|(_, d)| (text(&d["metadata"]["name"]), &d["data"]))
        .collect();
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut deployments = 0;
    for (place, doc) in docs.iter().filter(|(_, d)| d["kind"] == "Deployment") {
        deployments += 1;
        let pod = &doc["spec"]["template"]["spec"];
        let labels = doc["spec"]["template"]["metadata"]["labels"]
            .as_object()
            .expect("pod labels");
        assert_eq!(
            pod["automountServiceAccountToken"],
            Value::Bool(false),
            "{place}: harpoon needs no Kubernetes API token"
        );
        assert_eq!(
            pod["securityContext"]["runAsNonRoot"],
            Value::Bool(true),
            "{place}: runAsNonRoot"
        );
        let volumes: BTreeMap<&str, &Value> = list(&pod["volumes"])
            .iter()
            .map(|v| (text(&v["name"]), v))
            .collect();
        for container in list(&pod["containers"]) {
            let place = format!("{place} container {}", text(&container["name"]));
            let security = &container["securityContext"];
            assert_eq!(
                security["readOnlyRootFilesystem"],
                Value::Bool(true),
                "{place}: readOnlyRootFilesystem"
            );
            assert_eq!(
                security["allowPrivilegeEscalation"],
                Value::Bool(false),
                "{place}: allowPrivilegeEscalation: false"
            );
            assert!(
                strings(&security["capabilities"]["drop"]).contains(&"ALL".to_owned()),
                "{place}: capabilities.drop: [ALL]"
            );
            for resource in ["cpu", "memory"] {
                assert!(
                    !container["resources"]["limits"][resource].is_null(),
                    "{place}: resources.limits.{resource}"
                );
                assert!(
                    !container["resources"]["requests"][resource].is_null(),
                    "{place}: resources.requests.{resource}"
                );
            }
            // `command` replaces the image's ENTRYPOINT; without it the ENTRYPOINT runs.
            let command = if container["command"].is_null() {
                image.entrypoint.clone()
            } else {
                strings(&container["command"])
            };
            assert!(
                command
                    .first()
                    .is_some_and(|c| c.ends_with("/harpoon") || c == "harpoon"),
                "{place}: runs {command:?}, not harpoon"
            );
            let args: Vec<String> = command[1..]
                .iter()
                .cloned()
                .chain(strings(&container["args"]))
                .collect();
            let run = invocation(&place, &args);
            let env: Vec<String> = list(&container["env"])
                .iter()
                .map(|e| text(&e["name"]).to_owned())
                .collect();
            run.check_listen_rule(env.iter().any(|e| e == "HARPOON_TOKEN"));

            // Probes: kubelet connects to the pod's address, on the port harpoon listens on.
            assert!(
                !run.listen.ip().is_loopback(),
                "{place}: listens on {} where kubelet's probes cannot reach",
                run.listen
            );
            let port = run.listen.port();
            let port_name = list(&container["ports"])
                .iter()
                .find(|p| p["containerPort"].as_u64() == Some(u64::from(port)))
                .map(|p| text(&p["name"]).to_owned())
                .unwrap_or_else(|| panic!("{place}: no containerPort {port}"));
            for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
                let get = &container[probe]["httpGet"];
                assert_eq!(text(&get["path"]), path, "{place}: {probe} path");
                let target = &get["port"];
                assert!(
                    target.as_u64() == Some(u64::from(port))
                        || (!port_name.is_empty() && text(target) == port_name),
                    "{place}: {probe} port {target} is not {port} ({port_name})"
                );
            }
            // After SIGTERM harpoon drains for --drain-timeout; kubelet must wait longer.
            let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
            assert!(
                grace > run.drain_timeout.as_secs(),
                "{place}: terminationGracePeriodSeconds {grace} <= drain timeout {:?}",
                run.drain_timeout
            );

            // Mounts: what each provides.
            let mut provided: Vec<(PathBuf, Provides)> = Vec::new();
            for mount in list(&container["volumeMounts"]) {
                let target = PathBuf::from(text(&mount["mountPath"]));
                assert_eq!(
                    mount["readOnly"],
                    Value::Bool(true),
                    "{place}: {} is mounted read-write",
                    target.display()
                );
                let volume = volumes.get(text(&mount["name"])).unwrap_or_else(|| {
                    panic!("{place}: mount {} names no volume", text(&mount["name"]))
                });
                if !volume["configMap"].is_null() {
                    let name = text(&volume["configMap"]["name"]);
                    let data = config_maps
                        .get(name)
                        .and_then(|d| d.as_object())
                        .unwrap_or_else(|| {
                            panic!("{place}: ConfigMap {name} is not in deploy/kubernetes")
                        });
                    let host = scratch.path().join(name);
                    std::fs::create_dir(&host).expect("mkdir");
                    kubelet_layout(&host, data, list(&volume["configMap"]["items"]));
                    provided.push((target, Provides::ConfigMap { host }));
                } else if !volume["secret"].is_null() {
                    let items = list(&volume["secret"]["items"]);
                    assert!(
                        !items.is_empty(),
                        "{place}: list the Secret's keys under items, so the files harpoon reads are declared"
                    );
                    let files = items.iter().map(|i| text(&i["path"]).to_owned()).collect();
                    provided.push((target, Provides::Secret { files }));
                } else {
                    panic!(
                        "{place}: volume {} is neither a ConfigMap nor a Secret",
                        text(&mount["name"])
                    );
                }
            }
            let mut host_allowlists = Vec::new();
            for allowlist in &run.allowlists {
                let host = provided
                    .iter()
                    .find_map(|(target, p)| match p {
                        Provides::ConfigMap { host } if is_under(allowlist, target) => {
                            Some(host.join(allowlist.strip_prefix(target).expect("under")))
                        }
                        _ => None,
                    })
                    .unwrap_or_else(|| {
                        panic!(
                            "{place}: --allowlist {} is not a mounted ConfigMap",
                            allowlist.display()
                        )
                    });
                host_allowlists.push(host);
            }
            let refs = check_allowlists(&place, &host_allowlists);
            for file in refs
                .files
                .iter()
                .map(PathBuf::from)
                .chain(run.files.iter().cloned())
            {
                let found = provided.iter().any(|(target, p)| match p {
                    Provides::Secret { files } => files.iter().any(|f| target.join(f) == file),
                    Provides::ConfigMap { .. } => false,
                });
                assert!(
                    found,
                    "{place}: reads {} but no Secret item is mounted there",
                    file.display()
                );
            }
            for name in &refs.envs {
                assert!(
                    env.contains(name),
                    "{place}: ${{env:{name}}} is read but not set"
                );
            }

            // A NetworkPolicy selecting this pod lets in the probed port and nothing else.
            for (np_place, np) in docs.iter().filter(|(_, d)| d["kind"] == "NetworkPolicy") {
                let selects = np["spec"]["podSelector"]["matchLabels"]
                    .as_object()
                    .is_some_and(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
                if !selects {
                    continue;
                }
                let ports: Vec<u64> = list(&np["spec"]["ingress"])
                    .iter()
                    .flat_map(|rule| list(&rule["ports"]))
                    .map(|p| {
                        p["port"]
                            .as_u64()
                            .unwrap_or_else(|| panic!("{np_place}: ports by number"))
                    })
                    .collect();
                assert_eq!(
                    ports,
                    [u64::from(port)],
                    "{np_place}: lets in {ports:?}, not the probed port {port}"
                );
            }
        }
    }
    assert!(deployments > 0, "deploy/kubernetes holds no Deployment");
}
