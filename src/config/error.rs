//! Errors of loading and compiling allowlists: each one names the file, line and column, the
//! target and route it is about, what is wrong, and how to fix it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A place in an allowlist file, 1-based. Kept on every compiled item that a finding or an
/// error may need to point at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file as the user named it (or a pseudo-name such as `<demo>`).
    pub file: Arc<str>,
    pub line: u64,
    pub column: u64,
}

impl Location {
    /// A location in `file` from a serde-saphyr location; unknown positions become 0:0.
    pub fn from_yaml(file: &Arc<str>, loc: serde_saphyr::Location) -> Self {
        Self {
            file: Arc::clone(file),
            line: loc.line(),
            column: loc.column(),
        }
    }

    /// The start of a file, for errors about the file as a whole.
    pub fn file_start(file: &Arc<str>) -> Self {
        Self {
            file: Arc::clone(file),
            line: 1,
            column: 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Declares `ErrorKind` and `ErrorKind::ALL` from one list, so a new kind is in `ALL` (and so
/// needs a fixture, which tests/allowlist_errors.rs checks for every kind) the moment it exists.
macro_rules! error_kinds {
    ($($(#[doc = $doc:literal])* $kind:ident,)*) => {
        /// What went wrong, by kind. Tests assert the exact kind; messages are for people.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $($(#[doc = $doc])* $kind,)*
        }

        impl ErrorKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind,)*];
        }
    };
}

error_kinds! {
    /// The file could not be read.
    Io,
    /// A file, or the sum of all files, is larger than the load cap.
    TooLarge,
    /// A directory holds no allowlist file.
    NoFiles,
    /// YAML syntax, a type mismatch, an unknown or duplicate key, a missing field.
    Syntax,
    /// A parse budget (nesting depth, aliases, node count) was exceeded.
    Budget,
    /// `version` is not 1.
    Version,
    /// A label, route name or tool name is malformed.
    Name,
    /// A label or route name is used twice.
    Duplicate,
    /// `base_url` is not an acceptable origin and base path.
    BaseUrl,
    /// A path template is malformed.
    Template,
    /// A `paths` glob is malformed.
    Glob,
    /// A method is unknown or not allowed.
    Method,
    /// A parameter or query declaration is malformed.
    Param,
    /// A body declaration or its schema is malformed.
    Body,
    /// A header name is malformed or may never be set/returned.
    Header,
    /// A secret reference is malformed, unset, empty or unreadable.
    Secret,
    /// A limit has bad syntax or is above its ceiling.
    Limit,
    /// A CIDR is malformed.
    Network,
    /// A target grants nothing, or a file declares no targets.
    Empty,
    /// The `authorization` section or an `access` rule is malformed.
    Authorization,
}

impl ErrorKind {
    /// Kinds the file system gives (a file unreadable, too large, a directory empty), not a
    /// file's content: tests/hostile_files.rs covers them, not fixtures.
    pub fn is_file_system(self) -> bool {
        matches!(
            self,
            ErrorKind::Io | ErrorKind::TooLarge | ErrorKind::NoFiles
        )
    }

    /// A stable snake_case name, for JSON output and fixture comments.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::NoFiles => "no_files",
            ErrorKind::Syntax => "syntax",
            ErrorKind::Budget => "budget",
            ErrorKind::Version => "version",
            ErrorKind::Name => "name",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::BaseUrl => "base_url",
            ErrorKind::Template => "template",
            ErrorKind::Glob => "glob",
            ErrorKind::Method => "method",
            ErrorKind::Param => "param",
            ErrorKind::Body => "body",
            ErrorKind::Header => "header",
            ErrorKind::Secret => "secret",
            ErrorKind::Limit => "limit",
            ErrorKind::Network => "network",
            ErrorKind::Empty => "empty",
            ErrorKind::Authorization => "authorization",
        }
    }
}

/// One error with its place and a hint that says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub kind: ErrorKind,
    /// Where it is; `None` only for errors about a path that could not be read at all.
    pub location: Option<Location>,
    /// For errors without a location: the path involved.
    pub path: Option<PathBuf>,
    /// `target 'billing' route 'get_invoice'`, or empty at file level.
    pub context: String,
    /// What is wrong, lowercase, naming the input.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl ConfigError {
    pub fn new(kind: ErrorKind, location: Location, message: impl Into<String>) -> Self {
        Self {
            kind,
            location: Some(location),
            path: None,
            context: String::new(),
            message: message.into(),
            hint: String::new(),
        }
    }

    pub fn at_path(kind: ErrorKind, path: PathBuf, message: impl Into<String>) -> Self {
        Self {
            kind,
            location: None,
            path: Some(path),
            context: String::new(),
            message: message.into(),
            hint: String::new(),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context = context.into();
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.location, &self.path) {
            (Some(loc), _) => write!(f, "{loc}: ")?,
            (None, Some(path)) => write!(f, "{}: ", path.display())?,
            (None, None) => {}
        }
        if !self.context.is_empty() {
            write!(f, "{}: ", self.context)?;
        }
        f.write_str(&self.message)?;
        if !self.hint.is_empty() {
            write!(f, "; {}", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// All the errors one load or compile found, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(Vec<ConfigError>);

impl ConfigErrors {
    pub fn one(error: ConfigError) -> Self {
        Self(vec![error])
    }

    /// Callers pass the errors they collected; an empty list is a caller bug that still
    /// displays as "no errors" rather than panicking.
    pub fn from_vec(errors: Vec<ConfigError>) -> Self {
        Self(errors)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first error, for callers and tests that care about one.
    pub fn first(&self) -> Option<&ConfigError> {
        self.0.first()
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self::one(error)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "error: {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_name() {
        let names: std::collections::BTreeSet<&str> =
            ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }
}
