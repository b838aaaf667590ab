//! Why an import failed. Each message names the place in the document and says what to do.

use super::document::Syntax;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportError {
    /// The document is larger than `document::MAX_DOCUMENT_BYTES`.
    TooLarge { bytes: u64, limit: u64 },
    /// The document is not UTF-8 (at this byte offset).
    NotUtf8 { offset: usize },
    /// The JSON or YAML parser refused the document (the message names line and column), or
    /// it nests deeper than `document::MAX_DOCUMENT_DEPTH` or repeats a key.
    Syntax { syntax: Syntax, message: String },
    /// The document parses but is not OpenAPI 3.0, 3.1 or Swagger 2.0.
    NotOpenApi { found: String },
    /// A `$ref` points outside the document; the import never fetches anything.
    ExternalRef { at: String, reference: String },
    /// A local `$ref` points at nothing.
    BrokenRef { at: String, reference: String },
    /// `$ref`s that point at `$ref`s, more than `reference::MAX_REF_CHAIN` in a row.
    RefChain { at: String },
    /// The document names no absolute server URL and `--base-url` was not given.
    NoBaseUrl { why: String },
    /// The base URL cannot be a harpoon `base_url`.
    BadBaseUrl { url: String, why: String },
    /// `--label` (or the label derived from the title) is not a valid label.
    BadLabel { why: String },
    /// `--operation` or `--exclude-operation` names an operationId the document lacks.
    UnknownOperation { id: String },
    /// The selection leaves no operation to import.
    NothingImported { operations: usize },
    /// The allowlist would be larger than an allowlist file may be.
    OutputTooLarge { bytes: u64, limit: u64 },
    /// The written allowlist does not load: a bug in the importer, reported rather than hidden.
    OutputRefused { errors: String },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::TooLarge { bytes, limit } => write!(
                f,
                "the document is {bytes} bytes, more than the {limit} an import reads; split it, or import a smaller document"
            ),
            ImportError::NotUtf8 { offset } => write!(
                f,
                "the document is not UTF-8 (byte {offset}); save it as UTF-8"
            ),
            ImportError::Syntax { syntax, message } => write!(
                f,
                "the document is not valid {}: {message}",
                syntax.as_str()
            ),
            ImportError::NotOpenApi { found } => write!(
                f,
                "the document is not OpenAPI 3.0, 3.1 or Swagger 2.0: {found}; give an OpenAPI document"
            ),
            ImportError::ExternalRef { at, reference } => write!(
                f,
                "{at}: $ref '{reference}' points outside the document, and import never fetches anything; bundle the document first (e.g. `redocly bundle`)"
            ),
            ImportError::BrokenRef { at, reference } => write!(
                f,
                "{at}: $ref '{reference}' points at nothing in the document; fix the reference"
            ),
            ImportError::RefChain { at } => write!(
                f,
                "{at}: $ref leads to $ref more than {} times in a row (a loop?); point it at the schema itself",
                super::reference::MAX_REF_CHAIN
            ),
            ImportError::NoBaseUrl { why } => {
                write!(
                    f,
                    "{why}; give the API's address with --base-url https://..."
                )
            }
            ImportError::BadBaseUrl { url, why } => write!(
                f,
                "base URL '{url}' cannot be used: {why}; give another with --base-url"
            ),
            ImportError::BadLabel { why } => {
                write!(
                    f,
                    "{why}; pass --label with a valid label, e.g. --label billing"
                )
            }
            ImportError::UnknownOperation { id } => write!(
                f,
                "no operation has the operationId '{id}'; check the spelling (the operationIds are in the document)"
            ),
            ImportError::NothingImported { operations } => write!(
                f,
                "none of the document's {operations} operations is selected, and an allowlist must grant something; widen --methods, --tag or --operation"
            ),
            ImportError::OutputTooLarge { bytes, limit } => write!(
                f,
                "the allowlist would be {bytes} bytes, more than the {limit} an allowlist file may be; import part of the API with --tag or --operation"
            ),
            ImportError::OutputRefused { errors } => write!(
                f,
                "the imported allowlist does not load (a bug in harpoon import; please report it): {errors}"
            ),
        }
    }
}

impl std::error::Error for ImportError {}
