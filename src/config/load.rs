//! Reading allowlist files: paths and directories, size caps, YAML parse budgets. A hostile file
//! (deep nesting, an alias bomb, 100 MB of anything) is refused quickly with a clear error.

use super::error::{ConfigError, ConfigErrors, ErrorKind, Location};
use super::raw::RawAllowlist;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest single allowlist file. A 10,000-target file is about 3 MiB; 8 MiB leaves room
/// while refusing a 100 MB file before reading it.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Largest sum of all files of one load, so a directory of many large files is refused too.
pub const MAX_LOAD_BYTES: u64 = 32 * 1024 * 1024;

/// Most files one load reads from directories.
pub const MAX_FILES: usize = 1_000;

/// Deepest YAML nesting. The format itself is 7 levels deep; the rest is for body schemas.
pub const MAX_YAML_DEPTH: usize = 48;

/// Most YAML nodes in one file: a 10,000-target file has about 200,000.
pub const MAX_YAML_NODES: usize = 2_000_000;

/// Most alias uses in one file. Anchors are handy for shared limits; thousands of uses are not
/// needed, and each use can copy a subtree (the alias-bomb lever).
pub const MAX_YAML_ALIASES: usize = 1_000;

/// Most events replayed through aliases in one file: bounds the work an alias bomb can ask for.
/// Sharing a `limits` mapping across 100 targets replays about 1,000 events.
pub const MAX_YAML_REPLAYED_EVENTS: usize = 20_000;

/// One parsed file and the name errors use for it.
#[derive(Debug)]
pub struct LoadedFile {
    pub name: Arc<str>,
    pub raw: RawAllowlist,
}

/// Loads every file named, and every `*.yaml`/`*.yml` file directly inside every directory
/// named (sorted by name; hidden files skipped; no recursion), each parsed into a `RawAllowlist`.
/// All errors are collected, so one run reports every broken file.
pub fn load(paths: &[PathBuf]) -> Result<Vec<LoadedFile>, ConfigErrors> {
    let files = expand(paths)?;
    let mut total: u64 = 0;
    let mut read = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for path in &files {
        match read_capped(path, &mut total) {
            Ok(bytes) => read.push((Arc::from(path.display().to_string()), bytes)),
            Err(e) => errors.push(e),
        }
    }
    let mut loaded = Vec::with_capacity(read.len());
    for (name, parsed) in parse_all(read) {
        match parsed {
            Ok(raw) => loaded.push(LoadedFile { name, raw }),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(ConfigErrors::from_vec(errors))
    }
}

/// One parsed file, or why not, with the name errors use for it.
type Parsed = (Arc<str>, Result<RawAllowlist, ConfigError>);

/// Parses files on every core (YAML parsing is the bulk of a large load), keeping file order.
fn parse_all(read: Vec<(Arc<str>, Vec<u8>)>) -> Vec<Parsed> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(read.len().max(1));
    if threads <= 1 {
        return read
            .into_iter()
            .map(|(n, b)| {
                let r = parse(&n, &b);
                (n, r)
            })
            .collect();
    }
    let mut slots: Vec<Option<Parsed>> = read.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let chunk = read.len().div_ceil(threads);
        for (inputs, outputs) in read.chunks(chunk).zip(slots.chunks_mut(chunk)) {
            scope.spawn(move || {
                for ((name, bytes), slot) in inputs.iter().zip(outputs) {
                    *slot = Some((Arc::clone(name), parse(name, bytes)));
                }
            });
        }
    });
    slots.into_iter().flatten().collect()
}

/// Parses one file's bytes. `name` is what errors call the file.
pub fn parse(name: &Arc<str>, bytes: &[u8]) -> Result<RawAllowlist, ConfigError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large_file(name, bytes.len() as u64));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = (e.valid_up_to() - line_start) as u64 + 1;
        let bad = bytes[e.valid_up_to()];
        let at = Location {
            file: Arc::clone(name),
            line,
            column,
        };
        ConfigError::new(
            ErrorKind::Syntax,
            at,
            format!("byte 0x{bad:02X} is not UTF-8"),
        )
        .hint("save the file as UTF-8")
    })?;
    super::yaml_form::refuse_tags_and_merge_keys(name, text)?;
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_YAML_DEPTH,
            max_nodes: MAX_YAML_NODES,
            max_aliases: MAX_YAML_ALIASES,
            max_anchors: MAX_YAML_ALIASES,
            max_recorded_anchor_events: MAX_YAML_REPLAYED_EVENTS,
            max_documents: 1,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_YAML_REPLAYED_EVENTS,
        },
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options::<RawAllowlist>(text, options)
        .map_err(|e| yaml_error(name, &e))
}

/// Files to read, in a stable order.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ConfigErrors> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => match list_dir(path) {
                Ok(found) if found.is_empty() => errors.push(
                    ConfigError::at_path(
                        ErrorKind::NoFiles,
                        path.clone(),
                        "directory holds no allowlist file",
                    )
                    .hint("put *.yaml or *.yml files in it, or name the files themselves"),
                ),
                Ok(found) => files.extend(found),
                Err(e) => errors.push(e),
            },
            Ok(meta) if meta.is_file() => files.push(path.clone()),
            // A FIFO, socket or device would block the read or never end: refused at once.
            Ok(_) => errors.push(
                ConfigError::at_path(
                    ErrorKind::Io,
                    path.clone(),
                    "is not a regular file (a FIFO, socket or device)",
                )
                .hint("name an allowlist file, or a directory of them"),
            ),
            Err(e) => errors.push(io_error(path, &e)),
        }
    }
    if files.len() > MAX_FILES {
        errors.push(
            ConfigError::at_path(
                ErrorKind::TooLarge,
                paths[0].clone(),
                format!(
                    "{} allowlist files, more than the {MAX_FILES} one load reads",
                    files.len()
                ),
            )
            .hint("merge targets into fewer files"),
        );
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(ConfigErrors::from_vec(errors))
    }
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, &e))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, &e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if is_yaml && !name.starts_with('.') && path.is_file() {
            found.push(path);
        }
        if found.len() > MAX_FILES {
            break;
        }
    }
    found.sort();
    Ok(found)
}

/// Opens `path` for reading without blocking on a FIFO that has no writer.
fn open_nonblocking(path: &Path) -> std::io::Result<fs::File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        /// `O_NONBLOCK` on Linux; on a regular file it changes nothing.
        const O_NONBLOCK: i32 = 0o4000;
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_NONBLOCK)
            .open(path)
    }
    #[cfg(not(unix))]
    {
        fs::File::open(path)
    }
}

/// Reads at most the cap, so a huge file costs one metadata call and no memory.
fn read_capped(path: &Path, total: &mut u64) -> Result<Vec<u8>, ConfigError> {
    let name: Arc<str> = Arc::from(path.display().to_string());
    // `expand` checked that the path is a regular file; should it have been swapped for a FIFO
    // since, opening it non-blocking keeps the open from waiting for a writer.
    let file = open_nonblocking(path).map_err(|e| io_error(path, &e))?;
    if !file.metadata().map_err(|e| io_error(path, &e))?.is_file() {
        return Err(ConfigError::at_path(
            ErrorKind::Io,
            path.to_path_buf(),
            "is not a regular file (a FIFO, socket or device)",
        )
        .hint("name an allowlist file, or a directory of them"));
    }
    let len = file.metadata().map_err(|e| io_error(path, &e))?.len();
    if len > MAX_FILE_BYTES {
        return Err(too_large_file(&name, len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large_file(&name, bytes.len() as u64));
    }
    *total += bytes.len() as u64;
    if *total > MAX_LOAD_BYTES {
        return Err(ConfigError::new(
            ErrorKind::TooLarge,
            Location::file_start(&name),
            format!("the files of this load add up to more than {MAX_LOAD_BYTES} bytes"),
        )
        .hint("load fewer or smaller allowlists"));
    }
    Ok(bytes)
}

fn too_large_file(name: &Arc<str>, len: u64) -> ConfigError {
    ConfigError::new(
        ErrorKind::TooLarge,
        Location::file_start(name),
        format!("file is {len} bytes, more than the {MAX_FILE_BYTES}-byte cap"),
    )
    .hint("split it into several files in one directory")
}

fn io_error(path: &Path, e: &std::io::Error) -> ConfigError {
    ConfigError::at_path(
        ErrorKind::Io,
        path.to_path_buf(),
        format!("cannot read: {e}"),
    )
    .hint("check the path and its permissions")
}

/// Turns a serde-saphyr error into ours: its own location suffix is dropped (we print the
/// location first), and advice meant for Rust programmers becomes advice for file authors.
fn yaml_error(name: &Arc<str>, e: &serde_saphyr::Error) -> ConfigError {
    let location = e
        .location()
        .map(|l| Location::from_yaml(name, l))
        .unwrap_or_else(|| Location::file_start(name));
    let text = e.without_snippet().to_string();
    let text = strip_location_suffix(&text);
    let (kind, message, hint) = explain_yaml_message(text);
    ConfigError::new(kind, location, message).hint(hint)
}

fn strip_location_suffix(text: &str) -> &str {
    match text.rfind(" at line ") {
        Some(at) if text[at..].contains(", column ") => &text[..at],
        _ => text,
    }
}

fn explain_yaml_message(text: &str) -> (ErrorKind, String, String) {
    if let Some(rest) = text.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return (
            ErrorKind::Syntax,
            format!("duplicate key '{key}'"),
            "keep only one of them".into(),
        );
    }
    if let Some(rest) = text.strip_prefix("budget breached: ") {
        let what = rest.split([' ', '{']).next().unwrap_or(rest);
        return (
            ErrorKind::Budget,
            format!("file exceeds the YAML parse budget ({})", words(what)),
            format!(
                "allowlists nest at most {MAX_YAML_DEPTH} levels and expand at most \
                 {MAX_YAML_REPLAYED_EVENTS} events through {MAX_YAML_ALIASES} aliases; simplify the file"
            ),
        );
    }
    if text.contains("recursion limit") {
        return (
            ErrorKind::Budget,
            "file nests too deeply".into(),
            format!("allowlists nest at most {MAX_YAML_DEPTH} levels; simplify the file"),
        );
    }
    if text.starts_with("unknown field") {
        return (
            ErrorKind::Syntax,
            text.replace('`', "'"),
            "remove it or fix its spelling (see schemas/allowlist.v1.json)".into(),
        );
    }
    if let Some(kind) = text.strip_prefix("invalid ") {
        let want = match kind {
            "u8" | "u16" | "u32" | "u64" | "i32" | "i64" => "a whole number",
            "bool" | "boolean" => "true or false",
            "f64" | "f32" => "a number",
            _ => "a value of another type",
        };
        return (
            ErrorKind::Syntax,
            format!("value is not {want}"),
            format!("write {want} here"),
        );
    }
    if text.starts_with("missing field") {
        return (ErrorKind::Syntax, text.replace('`', "'"), "add it".into());
    }
    if text.contains("null into string") {
        return (
            ErrorKind::Syntax,
            "value is empty".into(),
            "write a value, or quote it (\"\") if empty text is meant".into(),
        );
    }
    (
        ErrorKind::Syntax,
        text.replace('`', "'"),
        "fix the YAML at this place".into(),
    )
}

/// `RecordedAnchorEvents` -> `recorded anchor events`.
fn words(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_suffix_is_stripped_only_when_present() {
        assert_eq!(strip_location_suffix("bad at line 3, column 4"), "bad");
        assert_eq!(
            strip_location_suffix("looked at line art"),
            "looked at line art"
        );
    }
}
