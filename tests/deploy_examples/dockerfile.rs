//! `deploy/Dockerfile`: the image builds with the locked dependencies on a toolchain harpoon
//! supports, runs as a non-root user with no shell, and its command parses and names only paths
//! the image holds. (compose.rs checks what it reads at run time is mounted.)

use super::{Invocation, invocation, read};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One instruction: its keyword in upper case and the rest of its logical line.
#[derive(Debug)]
pub(super) struct Instruction {
    keyword: String,
    rest: String,
}

/// One `FROM` and the instructions up to the next.
#[derive(Debug)]
pub(super) struct Stage {
    base: String,
    name: Option<String>,
    instructions: Vec<Instruction>,
}

impl Stage {
    fn all<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a str> {
        self.instructions
            .iter()
            .filter(move |i| i.keyword == keyword)
            .map(|i| i.rest.as_str())
    }

    /// The one instruction `keyword` of this stage (the last wins in Docker; two is a mistake).
    fn one<'a>(&'a self, keyword: &'a str) -> &'a str {
        let found: Vec<&str> = self.all(keyword).collect();
        assert_eq!(
            found.len(),
            1,
            "the final stage needs exactly one {keyword}"
        );
        found[0]
    }
}

/// Splits a Dockerfile into stages: comment lines dropped, `\` continuations joined.
pub(super) fn parse(text: &str) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && logical.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(trimmed);
        let line = std::mem::take(&mut logical);
        let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let keyword = keyword.to_ascii_uppercase();
        let rest = rest.trim().to_owned();
        if keyword == "FROM" {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let name = match words.as_slice() {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
                [_] => None,
                _ => panic!("deploy/Dockerfile: FROM {rest}: expected `FROM image [AS name]`"),
            };
            stages.push(Stage {
                base: words[0].to_owned(),
                name,
                instructions: Vec::new(),
            });
        } else {
            stages
                .last_mut()
                .unwrap_or_else(|| panic!("deploy/Dockerfile: {keyword} before the first FROM"))
                .instructions
                .push(Instruction { keyword, rest });
        }
    }
    assert!(
        logical.is_empty(),
        "deploy/Dockerfile ends inside a `\\` continuation"
    );
    stages
}

/// An exec-form (JSON array) ENTRYPOINT or CMD. The runtime image has no shell, so the shell
/// form (`CMD harpoon serve`, run as `/bin/sh -c`) could not start at all.
fn exec_form(keyword: &str, rest: &str) -> Vec<String> {
    serde_json::from_str(rest).unwrap_or_else(|e| {
        panic!("deploy/Dockerfile: {keyword} {rest} is not exec form (a JSON array of strings): {e}; the distroless image has no /bin/sh")
    })
}

/// The image as the final stage declares it.
pub(super) struct Image {
    stages: Vec<Stage>,
    pub(super) entrypoint: Vec<String>,
    pub(super) cmd: Vec<String>,
    /// Every path the final stage's `COPY --from` puts in the image (files and directories).
    pub(super) paths: BTreeSet<PathBuf>,
}

pub(super) fn image() -> Image {
    let stages = parse(&read("Dockerfile"));
    assert!(
        stages.len() >= 2,
        "deploy/Dockerfile: a build stage and a runtime stage"
    );
    let last = stages.last().expect("stages");
    let entrypoint = exec_form("ENTRYPOINT", last.one("ENTRYPOINT"));
    let cmd = exec_form("CMD", last.one("CMD"));
    let mut paths = BTreeSet::new();
    for copy in last.all("COPY") {
        let words: Vec<&str> = copy.split_whitespace().collect();
        let [from, src, dst] = words.as_slice() else {
            panic!("deploy/Dockerfile: COPY {copy}: expected `COPY --from=STAGE SRC DST`");
        };
        let stage = from.strip_prefix("--from=").unwrap_or_else(|| {
            panic!(
                "deploy/Dockerfile: COPY {copy}: the runtime stage copies only from a build stage"
            )
        });
        let stage = stages
            .iter()
            .find(|s| s.name.as_deref() == Some(stage))
            .unwrap_or_else(|| panic!("deploy/Dockerfile: COPY {copy}: no stage named {stage}"));
        // What the build stage writes under SRC: every absolute path its RUN lines name there.
        for run in stage.all("RUN") {
            for word in run.split_whitespace() {
                if let Some(inside) = word.strip_prefix(src) {
                    paths.insert(Path::new(dst).join(inside));
                }
            }
        }
    }
    Image {
        stages,
        entrypoint,
        cmd,
        paths,
    }
}

impl Image {
    fn contains(&self, path: &Path) -> bool {
        self.paths.iter().any(|p| p == path)
    }

    /// ENTRYPOINT + CMD: what `docker run IMAGE` runs.
    fn default_invocation(&self, place: &str) -> Invocation {
        let program = Path::new(&self.entrypoint[0]);
        assert!(
            program.file_name().is_some_and(|n| n == "harpoon") && self.contains(program),
            "deploy/Dockerfile: ENTRYPOINT {program:?} is not the harpoon binary the image holds ({:?})",
            self.paths
        );
        let args: Vec<String> = self.entrypoint[1..]
            .iter()
            .chain(&self.cmd)
            .cloned()
            .collect();
        invocation(place, &args)
    }
}

/// `rust:1.95-slim-bookworm` -> (1, 95).
fn rust_version(tag: &str) -> (u32, u32) {
    let version = tag.split('-').next().unwrap_or(tag);
    let mut parts = version.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor),
        _ => panic!(
            "deploy/Dockerfile: builder tag {tag} names no Rust version (pin one, e.g. rust:1.95-slim-bookworm)"
        ),
    }
}

/// `rust-version` of Cargo.toml: the oldest toolchain harpoon builds with.
fn minimum_rust() -> (u32, u32) {
    let manifest = std::fs::read_to_string("Cargo.toml").expect("Cargo.toml");
    let line = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("Cargo.toml states rust-version");
    rust_version(line.trim_matches('"'))
}

#[test]
fn dockerfile_builds_locked_and_runs_non_root_without_a_shell() {
    let image = image();
    let build = &image.stages[0];
    let (repository, tag) = build
        .base
        .split_once(':')
        .expect("the builder image is pinned to a tag");
    assert_eq!(
        repository, "rust",
        "deploy/Dockerfile: the builder is the official rust image"
    );
    assert!(
        rust_version(tag) >= minimum_rust(),
        "deploy/Dockerfile: rust:{tag} is older than Cargo.toml's rust-version"
    );
    let cargo: Vec<&str> = build
        .all("RUN")
        .filter(|r| r.contains("cargo build"))
        .collect();
    assert_eq!(
        cargo.len(),
        1,
        "deploy/Dockerfile: one `cargo build` in the build stage"
    );
    for flag in ["--locked", "--release", "--bin harpoon"] {
        assert!(
            cargo[0].contains(flag),
            "deploy/Dockerfile: cargo build without {flag}"
        );
    }
    assert!(
        cargo[0].contains("target/release/harpoon"),
        "the release binary is what is installed"
    );

    let runtime = image.stages.last().expect("stages");
    assert!(
        runtime.base.starts_with("gcr.io/distroless/"),
        "deploy/Dockerfile: the runtime is distroless, not {}",
        runtime.base
    );
    assert_eq!(
        runtime.all("RUN").count(),
        0,
        "distroless has no shell: RUN cannot work in the runtime stage"
    );
    // The binary links the builder's glibc: the runtime's Debian must be the builder's.
    let debian = [
        ("debian11", "bullseye"),
        ("debian12", "bookworm"),
        ("debian13", "trixie"),
    ];
    let (_, codename) = debian
        .iter()
        .find(|(release, _)| runtime.base.contains(release))
        .unwrap_or_else(|| {
            panic!(
                "deploy/Dockerfile: {} names no Debian release this test knows",
                runtime.base
            )
        });
    assert!(
        tag.ends_with(codename),
        "deploy/Dockerfile: builder rust:{tag} is not Debian {codename}, the runtime's"
    );
    // Kubernetes verifies runAsNonRoot only for a numeric user.
    let user = runtime.one("USER");
    let uid = user.split(':').next().unwrap_or(user);
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u != 0),
        "deploy/Dockerfile: USER {user} must be a numeric, non-root uid"
    );

    let run = image.default_invocation("deploy/Dockerfile ENTRYPOINT + CMD");
    for allowlist in &run.allowlists {
        assert!(
            image.contains(&PathBuf::from(
                allowlist.to_string_lossy().trim_end_matches('/')
            )),
            "deploy/Dockerfile: CMD reads {} but the image has no such mount point",
            allowlist.display()
        );
    }
    let exposed: Vec<u16> = runtime
        .all("EXPOSE")
        .map(|p| p.parse().expect("EXPOSE PORT"))
        .collect();
    assert_eq!(
        exposed,
        [run.listen.port()],
        "deploy/Dockerfile: EXPOSE is the port serve listens on"
    );
}
