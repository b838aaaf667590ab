//! `harpoon import openapi SPEC`: an allowlist from an OpenAPI document, read-only unless
//! asked, written to stdout or `-o FILE` for review and `harpoon check`.

use super::check::EXIT_INVALID;
use crate::import::document::MAX_DOCUMENT_BYTES;
use crate::import::{self, ImportError, Options};
use crate::lint::MAX_SERVED_TOOLS;
use crate::policy::types::Method;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub format: ImportFormat,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImportFormat {
    /// An allowlist from an OpenAPI 3.0 / 3.1 or Swagger 2.0 document (YAML or JSON).
    Openapi(OpenApiArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Only GET and HEAD operations are imported unless --methods names others; every operation left
out is listed, with the reason, in a comment at the end of the file. Security schemes become
headers.inject entries that reference environment variables (LABEL_TOKEN, ...); the file never
holds a secret. Nothing is fetched: a $ref to another file or URL is an error.

Exit status: 0 when the allowlist was written, 2 when the document cannot be imported.
docs/import.md says what is kept, what is dropped and why.")]
pub struct OpenApiArgs {
    /// The OpenAPI document: a local file, or - for stdin.
    #[arg(value_name = "SPEC")]
    pub spec: String,
    /// The target's label (default: from the document's title).
    #[arg(long)]
    pub label: Option<String>,
    /// The API's address (default: servers[0], or host and basePath in Swagger 2.0).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Methods to import, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "GET,HEAD")]
    pub methods: Vec<String>,
    /// Import only operations with one of these tags (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Import only these operations, by operationId (repeatable; overrides --methods and --tag).
    #[arg(long = "operation", value_name = "ID")]
    pub operations: Vec<String>,
    /// Leave out these operations, by operationId (repeatable).
    #[arg(long = "exclude-operation", value_name = "ID")]
    pub exclude_operations: Vec<String>,
    /// Write the allowlist here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: &ImportArgs) -> ExitCode {
    let ImportFormat::Openapi(args) = &args.format;
    match openapi(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("harpoon import openapi: {message}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

fn openapi(args: &OpenApiArgs) -> Result<(), String> {
    let options = options(args)?;
    let bytes = read(&args.spec)?;
    let imported = import::import(&bytes, &options).map_err(|e: ImportError| e.to_string())?;
    match &args.output {
        Some(path) => std::fs::write(path, &imported.yaml)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        None => print!("{}", imported.yaml),
    }
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "wrote {} tools for target '{}' ({} operations left out, listed at the end of the file)",
        imported.tools, imported.label, imported.excluded
    );
    if imported.tools > MAX_SERVED_TOOLS {
        eprintln!(
            "warning: {} tools is more than the {MAX_SERVED_TOOLS} many MCP clients accept or show; split the API with --tag or --operation",
            imported.tools
        );
    }
    Ok(())
}

fn options(args: &OpenApiArgs) -> Result<Options, String> {
    let mut options = Options::new(args.spec.clone());
    options.label = args.label.clone();
    options.base_url = args.base_url.clone();
    options.methods = args
        .methods
        .iter()
        .map(|m| {
            let upper = m.trim().to_ascii_uppercase();
            Method::parse(&upper).ok_or_else(|| {
                format!("--methods: '{m}' is not a method harpoon grants; use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS")
            })
        })
        .collect::<Result<_, _>>()?;
    options.tags = args.tags.clone();
    options.operations = args.operations.clone();
    options.exclude_operations = args.exclude_operations.clone();
    Ok(options)
}

/// The document's bytes, read up to one byte past the bound so a larger one is refused
/// without being read whole.
fn read(spec: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let limit = MAX_DOCUMENT_BYTES + 1;
    let result = if spec == "-" {
        std::io::stdin().lock().take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(spec).and_then(|f| f.take(limit).read_to_end(&mut bytes))
    };
    result.map_err(|e| format!("cannot read {spec}: {e}"))?;
    Ok(bytes)
}
