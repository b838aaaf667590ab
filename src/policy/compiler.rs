//! The error collector every compile step writes to: one run of `Policy::compile` reports every
//! error of every file, each with its place, context and hint.

use super::secret::SecretMode;
use crate::config::{ConfigError, ErrorKind, Location};
use serde_saphyr::Spanned;
use std::sync::Arc;

/// Collects errors while compiling one file.
pub(crate) struct Compiler<'a> {
    pub file: Arc<str>,
    pub errors: &'a mut Vec<ConfigError>,
    pub(super) secrets: SecretMode,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
}

impl Compiler<'_> {
    pub fn loc<T>(&self, s: &Spanned<T>) -> Location {
        Location::from_yaml(&self.file, s.referenced)
    }

    pub fn error(
        &mut self,
        kind: ErrorKind,
        at: &Location,
        ctx: &str,
        msg: impl Into<String>,
        hint: &str,
    ) {
        self.errors.push(
            ConfigError::new(kind, at.clone(), msg)
                .context(ctx)
                .hint(hint),
        );
    }
}
