//! Which OpenAPI a document is: 3.0, 3.1 or Swagger 2.0. The versions differ in where
//! parameters keep their schema, in `nullable`, and in what `exclusiveMinimum` means.

use super::document::Node;
use super::error::ImportError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Swagger2,
    OpenApi30,
    OpenApi31,
}

impl Version {
    pub fn detect(root: &Node) -> Result<Self, ImportError> {
        if root.as_object().is_none() {
            return Err(ImportError::NotOpenApi {
                found: "its top level is not a mapping".into(),
            });
        }
        let text = |n: &Node| match n {
            Node::String(s) => Some(s.clone()),
            Node::Number(n) => Some(n.to_string()),
            _ => None,
        };
        if let Some(v) = root.get("openapi") {
            let v = text(v).unwrap_or_default();
            return if v.starts_with("3.0") {
                Ok(Version::OpenApi30)
            } else if v.starts_with("3.1") {
                Ok(Version::OpenApi31)
            } else {
                Err(ImportError::NotOpenApi {
                    found: format!("'openapi: {v}' is a version import does not read"),
                })
            };
        }
        if let Some(v) = root.get("swagger") {
            let v = text(v).unwrap_or_default();
            return if v == "2.0" || v == "2" {
                Ok(Version::Swagger2)
            } else {
                Err(ImportError::NotOpenApi {
                    found: format!("'swagger: {v}' is a version import does not read"),
                })
            };
        }
        Err(ImportError::NotOpenApi {
            found: "it has neither an 'openapi' nor a 'swagger' key".into(),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Version::Swagger2 => "Swagger 2.0",
            Version::OpenApi30 => "OpenAPI 3.0",
            Version::OpenApi31 => "OpenAPI 3.1",
        }
    }
}
