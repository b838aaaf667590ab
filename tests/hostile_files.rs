//! Hostile input is refused with a clear error instead of a hang or an out-of-memory: huge
//! files, many files, alias bombs, deep nesting, paths that are not files.

use harpoon::config::{self, ErrorKind, load::MAX_FILE_BYTES};
use std::path::PathBuf;

fn kinds(errors: &harpoon::config::ConfigErrors) -> Vec<ErrorKind> {
    errors.iter().map(|e| e.kind).collect()
}

#[test]
fn a_100_mb_file_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("huge.yaml");
    // A sparse file: its length is 100 MB without writing 100 MB.
    std::fs::File::create(&path)
        .expect("create")
        .set_len(100 * 1024 * 1024)
        .expect("set_len");
    let errors = config::load(&[path]).expect_err("refused");
    assert_eq!(kinds(&errors), [ErrorKind::TooLarge]);
    let text = errors.to_string();
    assert!(
        text.contains("104857600 bytes") && text.contains("split it into several files"),
        "{text}"
    );
}

#[test]
fn many_large_files_are_refused_by_the_load_cap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let chunk = "#".repeat(MAX_FILE_BYTES as usize - 1);
    for i in 0..5 {
        std::fs::write(dir.path().join(format!("f{i}.yaml")), &chunk).expect("write");
    }
    let errors = config::load(&[dir.path().to_path_buf()]).expect_err("refused");
    assert!(
        errors
            .iter()
            .any(|e| e.kind == ErrorKind::TooLarge && e.message.contains("add up to more than")),
        "{errors}"
    );
}

#[test]
fn a_missing_path_and_an_empty_directory_are_clear_errors() {
    let errors = config::load(&[PathBuf::from("/nonexistent/harpoon.yaml")]).expect_err("missing");
    assert_eq!(kinds(&errors), [ErrorKind::Io]);
    assert!(
        errors
            .to_string()
            .starts_with("error: /nonexistent/harpoon.yaml: cannot read:"),
        "{errors}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let errors = config::load(&[dir.path().to_path_buf()]).expect_err("empty");
    assert_eq!(kinds(&errors), [ErrorKind::NoFiles]);
}

/// A FIFO named as an allowlist (or in a directory of them) is refused at once, never read: a
/// read would wait forever for a writer.
#[test]
fn a_fifo_is_refused_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo made the FIFO");
    let errors = config::load(std::slice::from_ref(&fifo)).expect_err("a FIFO is refused");
    assert_eq!(kinds(&errors), [ErrorKind::Io]);
    assert_eq!(
        errors.to_string(),
        format!(
            "error: {}: is not a regular file (a FIFO, socket or device); name an allowlist file, or a directory of them",
            fifo.display()
        )
    );
    // In a directory, a FIFO is no allowlist file: the directory holds none.
    let errors = config::load(&[dir.path().to_path_buf()]).expect_err("no regular file");
    assert_eq!(kinds(&errors), [ErrorKind::NoFiles]);
}

#[test]
fn budget_errors_come_from_the_parser_not_from_exhaustion() {
    for (name, want) in [
        ("budget-alias-bomb.yaml", ErrorKind::Budget),
        ("budget-deep-nesting.yaml", ErrorKind::Budget),
    ] {
        let path = PathBuf::from(crate::support::INVALID_DIR).join(name);
        let errors = config::load(&[path]).expect_err("refused");
        assert_eq!(kinds(&errors), [want], "{name}: {errors}");
    }
}

#[test]
fn arbitrary_bytes_give_an_error_with_a_location_not_a_panic() {
    let name: std::sync::Arc<str> = std::sync::Arc::from("<bytes>");
    let inputs: [&[u8]; 8] = [
        b"",
        b"\xff\xfe",
        b"[",
        b"version: [",
        b"*x",
        b"!!binary AAAA",
        b"version: 1\ntargets: {}",
        b"\0\0\0",
    ];
    for input in inputs {
        match config::parse(&name, input) {
            Ok(_) => panic!("{input:?} parsed as an allowlist"),
            Err(e) => assert!(e.location.is_some(), "{input:?}: {e}"),
        }
    }
}
