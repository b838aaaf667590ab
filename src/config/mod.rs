//! Allowlist files: reading them within bounds, and their raw (untrusted) shape.

pub mod error;
pub mod load;
pub mod raw;
mod yaml_form;

pub use error::{ConfigError, ConfigErrors, ErrorKind, Location};
pub use load::{LoadedFile, load, parse};
