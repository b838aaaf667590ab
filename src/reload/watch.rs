//! What `--watch` compares between two looks: each allowlist file's size and modification
//! time, found the way loading finds them (a directory's `*.yaml`/`*.yml` files). Reading
//! metadata only keeps a look cheap whatever the files' size; a file swapped in by rename
//! (editors, Kubernetes ConfigMap updates) changes its modification time too.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What one look saw: for each file, its size and modification time, or that it could not be
/// read (a missing file is a change too, which the reload then reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<(PathBuf, Option<(u64, SystemTime)>)>);

/// Most files one look records; loading refuses more than this anyway.
const MAX_FILES: usize = 1024;

impl Fingerprint {
    pub fn take(paths: &[PathBuf]) -> Self {
        let mut seen = Vec::new();
        for path in paths {
            if path.is_dir() {
                // The files, not the directory: its own time changes with any file in it.
                for file in yaml_files(path) {
                    let meta = stat(&file);
                    seen.push((file, meta));
                }
            } else {
                seen.push((path.clone(), stat(path)));
            }
        }
        Self(seen)
    }
}

fn stat(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.starts_with('.')
        })
        .take(MAX_FILES)
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_added_or_removed_file_changes_the_fingerprint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.yaml");
        std::fs::write(&a, "one").expect("write");
        let paths = vec![dir.path().to_path_buf()];
        let first = Fingerprint::take(&paths);
        assert_eq!(first, Fingerprint::take(&paths), "nothing changed");
        std::fs::write(&a, "three").expect("rewrite");
        let rewritten = Fingerprint::take(&paths);
        assert_ne!(first, rewritten, "a new size is a change");
        std::fs::write(dir.path().join("b.yml"), "x").expect("add");
        let added = Fingerprint::take(&paths);
        assert_ne!(rewritten, added, "a new file is a change");
        std::fs::write(dir.path().join("notes.txt"), "x").expect("other file");
        assert_eq!(
            added,
            Fingerprint::take(&paths),
            "other files are not watched"
        );
        std::fs::remove_file(&a).expect("remove");
        assert_ne!(
            added,
            Fingerprint::take(&paths),
            "a removed file is a change"
        );
    }
}
