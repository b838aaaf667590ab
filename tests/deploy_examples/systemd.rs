//! `deploy/systemd/harpoon.service`: its ExecStart parses with harpoon's command line, its
//! allowlists pass `check`, every secret they read is one of the unit's credentials, and the
//! hardening the docs promise is there. Where `systemd-analyze` is installed, it verifies the
//! unit and scores its exposure too.

use super::{DEPLOY_DIR, check_allowlists, invocation, is_under, read};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The unit's name: systemd puts its credentials in /run/credentials/UNIT/.
const UNIT: &str = "harpoon.service";

/// The highest exposure `systemd-analyze security` may give the unit, in tenths as its
/// `--threshold` takes it (0 best, 100 worst): 2.0. The unit scores 1.2 with systemd 252 ("OK");
/// a hardening line dropped by mistake raises it past this.
const MAX_EXPOSURE_TENTHS: u32 = 20;

/// `Section.Key` -> every value given (keys such as `SystemCallFilter=` repeat).
fn parse_unit(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut section = String::new();
    let mut logical = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with(['#', ';']) || (trimmed.is_empty() && logical.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(trimmed);
        let line = std::mem::take(&mut logical);
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("deploy/systemd/{UNIT}: `{line}` is not KEY=VALUE"));
        out.entry(format!("{section}.{}", key.trim()))
            .or_default()
            .push(value.trim().to_owned());
    }
    out
}

fn one<'a>(unit: &'a BTreeMap<String, Vec<String>>, key: &str) -> &'a str {
    match unit.get(key).map(Vec::as_slice) {
        Some([value]) => value,
        other => panic!("deploy/systemd/{UNIT}: {key}= must be given once, found {other:?}"),
    }
}

/// `ExecStart=`: the program and its arguments. systemd's quoting is not modelled, so the test
/// refuses quotes rather than split them wrongly.
fn exec_start(line: &str) -> Vec<String> {
    assert!(
        !line.contains(['"', '\'']),
        "deploy/systemd/{UNIT}: ExecStart quotes: teach this test systemd's quoting"
    );
    let line = line.trim_start_matches(['-', '@', '+', '!', ':']);
    line.split_whitespace().map(str::to_owned).collect()
}

/// `/etc/credstore/x` style credentials: `LoadCredential=NAME:PATH` and friends, by name.
fn credentials(unit: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    [
        "LoadCredential",
        "LoadCredentialEncrypted",
        "SetCredential",
        "SetCredentialEncrypted",
    ]
    .iter()
    .flat_map(|k| {
        unit.get(&format!("Service.{k}"))
            .cloned()
            .unwrap_or_default()
    })
    .map(|v| v.split(':').next().unwrap_or_default().to_owned())
    .collect()
}

#[test]
fn systemd_unit_is_hardened_and_its_command_and_credentials_fit() {
    let text = read(&format!("systemd/{UNIT}"));
    let unit = parse_unit(&text);
    // The hardening docs/deploy.md describes, value for value.
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("RestrictNamespaces", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("LockPersonality", "yes"),
        ("SystemCallArchitectures", "native"),
    ] {
        assert_eq!(
            one(&unit, &format!("Service.{key}")),
            value,
            "deploy/systemd/{UNIT}: {key}="
        );
    }
    assert!(
        unit.get("Service.SystemCallFilter")
            .is_some_and(|v| v.iter().any(|f| f == "@system-service")),
        "deploy/systemd/{UNIT}: SystemCallFilter=@system-service"
    );
    for limit in ["MemoryMax", "TasksMax", "LimitNOFILE"] {
        assert!(
            unit.contains_key(&format!("Service.{limit}")),
            "deploy/systemd/{UNIT}: {limit}="
        );
    }
    // harpoon reloads on SIGHUP (tests/reload.rs), which is what `systemctl reload` must send.
    assert_eq!(
        one(&unit, "Service.ExecReload"),
        "/bin/kill -HUP $MAINPID",
        "deploy/systemd/{UNIT}: ExecReload sends SIGHUP"
    );

    let argv = exec_start(one(&unit, "Service.ExecStart"));
    assert_eq!(
        argv[0], "/usr/local/bin/harpoon",
        "deploy/systemd/{UNIT}: ExecStart runs the installed binary"
    );
    let run = invocation(&format!("deploy/systemd/{UNIT} ExecStart"), &argv[1..]);
    run.check_listen_rule(false);
    let stop = one(&unit, "Service.TimeoutStopSec")
        .parse::<u64>()
        .expect("TimeoutStopSec in seconds");
    assert!(
        stop > run.drain_timeout.as_secs(),
        "deploy/systemd/{UNIT}: TimeoutStopSec {stop} <= drain timeout"
    );

    // The allowlists: deploy/systemd/*.yaml, installed in the ConfigurationDirectory.
    let config_dir = Path::new("/etc").join(one(&unit, "Service.ConfigurationDirectory"));
    for allowlist in &run.allowlists {
        assert!(
            is_under(allowlist, &config_dir),
            "deploy/systemd/{UNIT}: --allowlist {} is outside {}",
            allowlist.display(),
            config_dir.display()
        );
    }
    let dir = Path::new(DEPLOY_DIR).join("systemd");
    let mut held: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/systemd")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    held.sort();
    assert!(!held.is_empty(), "deploy/systemd holds no allowlist");
    let refs = check_allowlists(&format!("deploy/systemd/{UNIT}"), &held);
    // Every secret is a credential of this unit, read from the directory systemd puts it in.
    let credential_dir = Path::new("/run/credentials").join(UNIT);
    let names = credentials(&unit);
    for file in refs
        .files
        .iter()
        .map(PathBuf::from)
        .chain(run.files.iter().map(|f| {
            // `%d` in ExecStart is the credentials directory.
            PathBuf::from(
                f.to_string_lossy()
                    .replace("%d", &credential_dir.to_string_lossy()),
            )
        }))
    {
        let name = file
            .strip_prefix(&credential_dir)
            .ok()
            .and_then(|n| n.to_str());
        assert!(
            name.is_some_and(|n| names.iter().any(|c| c == n)),
            "deploy/systemd/{UNIT}: reads {} but it is no LoadCredential= of the unit (in {})",
            file.display(),
            credential_dir.display()
        );
    }
    assert!(
        refs.envs.is_empty(),
        "deploy/systemd/{UNIT}: secrets are credentials, not ${{env:}} (found {:?})",
        refs.envs
    );

    systemd_analyze(&text);
}

/// `systemd-analyze verify` and `security --offline` on the unit, with ExecStart pointed at
/// the binary just built (verify checks that it exists). Skipped, saying so, where systemd is
/// not installed; CI's machine may not have it.
fn systemd_analyze(text: &str) {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "note: systemd-analyze is not installed; the unit was checked by this test's own parser only"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = dir.path().join(UNIT);
    std::fs::write(
        &unit,
        text.replace("/usr/local/bin/harpoon", env!("CARGO_BIN_EXE_harpoon")),
    )
    .expect("write");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify deploy/systemd/{UNIT}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(format!("--threshold={MAX_EXPOSURE_TENTHS}"))
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "deploy/systemd/{UNIT}: exposure above {MAX_EXPOSURE_TENTHS} tenths:\n{report}"
    );
}
