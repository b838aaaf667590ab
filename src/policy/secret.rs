//! Injected header values: `Bearer ${env:BILLING_TOKEN}` or `${file:/run/secrets/token}`.
//! A resolved value is a `Secret`: it has no `Display`, its `Debug` is redacted, and it never
//! reaches a result, a log line, an error or a metric. Errors name the reference, never the
//! value.

use std::fmt;

/// Largest secret file read: tokens and keys are small; a big file is a mistake.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// A piece of an injected value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Env(String),
    File(String),
}

/// A parsed injected value: text and references, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretTemplate {
    parts: Vec<Part>,
}

impl SecretTemplate {
    /// Parses `${env:NAME}` and `${file:/abs/path}`; `$$` writes a literal `$`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            rest = &rest[at..];
            if let Some(after) = rest.strip_prefix("$$") {
                literal.push('$');
                rest = after;
                continue;
            }
            let Some(body) = rest.strip_prefix("${") else {
                return Err(
                    "has a '$' that starts no reference; write '$$' for a literal '$'".into(),
                );
            };
            let Some(end) = body.find('}') else {
                return Err("has an unclosed '${'; close it with '}'".into());
            };
            let reference = &body[..end];
            rest = &body[end + 1..];
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(parse_reference(reference)?);
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether the value holds at least one reference (a value that is all text is an inline
    /// secret, which `check` reports).
    pub fn has_reference(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, Part::Text(_)))
    }

    /// The references, spelled as in the file, for messages and the grants summary.
    pub fn references(&self) -> Vec<String> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Env(n) => Some(format!("${{env:{n}}}")),
                Part::File(p) => Some(format!("${{file:{p}}}")),
                Part::Text(_) => None,
            })
            .collect()
    }

    /// Resolves every reference into the final header value.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Secret, String> {
        let mut value = String::new();
        let mut fragments = Vec::new();
        for part in &self.parts {
            let resolved = match part {
                Part::Text(t) => {
                    value.push_str(t);
                    continue;
                }
                Part::Env(name) => {
                    let v = env(name).unwrap_or_default();
                    if v.is_empty() {
                        return Err(format!(
                            "${{env:{name}}} is not set or is empty; export {name}"
                        ));
                    }
                    v
                }
                Part::File(path) => read_secret_file(path)?,
            };
            value.push_str(&resolved);
            fragments.push(resolved.into_bytes().into_boxed_slice());
        }
        let mut header = http::HeaderValue::from_str(&value).map_err(|_| {
            format!(
                "the value built from {} holds a line break or another byte a header cannot carry",
                self.references().join(", ")
            )
        })?;
        header.set_sensitive(true);
        Ok(Secret { header, fragments })
    }
}

fn parse_reference(reference: &str) -> Result<Part, String> {
    if let Some(name) = reference.strip_prefix("env:") {
        let ok = !name.is_empty()
            && name.len() <= 128
            && !name.as_bytes()[0].is_ascii_digit()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return if ok {
            Ok(Part::Env(name.to_owned()))
        } else {
            Err(format!(
                "'${{{reference}}}' names no valid variable; use letters, digits and '_'"
            ))
        };
    }
    if let Some(path) = reference.strip_prefix("file:") {
        return if path.starts_with('/') && !path.contains('\0') {
            Ok(Part::File(path.to_owned()))
        } else {
            Err(format!(
                "'${{{reference}}}' must name an absolute path, e.g. ${{file:/run/secrets/token}}"
            ))
        };
    }
    Err(format!(
        "'${{{reference}}}' is not a reference; use ${{env:NAME}} or ${{file:/path}}"
    ))
}

fn read_secret_file(path: &str) -> Result<String, String> {
    use std::io::Read;
    let reference = format!("${{file:{path}}}");
    let file = std::fs::File::open(path)
        .map_err(|e| format!("{reference} cannot be read: {}", e.kind()))?;
    let mut text = String::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{reference} cannot be read as text: {}", e.kind()))?;
    if text.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "{reference} is larger than {MAX_SECRET_FILE_BYTES} bytes"
        ));
    }
    let trimmed = text.trim_end_matches(['\n', '\r']);
    if trimmed.is_empty() {
        return Err(format!("{reference} is empty"));
    }
    Ok(trimmed.to_owned())
}

/// Shortest secret value redacted from responses: shorter strings occur in ordinary data.
pub const MIN_REDACTED_LEN: usize = 4;

/// A resolved header value. Its bytes leave the process only as that header; should an
/// upstream echo them back, `redact` blanks them out of the response.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    header: http::HeaderValue,
    /// The resolved value of each reference, for redaction.
    fragments: Vec<Box<[u8]>>,
}

impl Secret {
    pub fn header_value(&self) -> &http::HeaderValue {
        &self.header
    }

    /// The resolved value of each reference, for a target's `Redactor`.
    pub(crate) fn fragments(&self) -> impl Iterator<Item = &[u8]> {
        self.fragments.iter().map(|f| &f[..])
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Whether secrets are read when compiling: `serve`, `stdio` and `tunnel` resolve them;
/// `check`, `tools` and `explain` only validate the references, so they run without access to
/// the secrets (in CI, on a reviewer's laptop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretMode {
    Resolve,
    Validate,
}

/// An injected value as the compiled policy holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InjectedValue {
    Resolved(Secret),
    /// Compiled with `SecretMode::Validate`: such a policy can explain but never send.
    Unresolved,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cr3t-value".into()),
            "EMPTY" => Some(String::new()),
            "NEWLINE" => Some("a\nb".into()),
            _ => None,
        }
    }

    #[test]
    fn parses_and_resolves_references() {
        let t = SecretTemplate::parse("Bearer ${env:TOKEN}").unwrap();
        assert_eq!(
            t.parts(),
            &[Part::Text("Bearer ".into()), Part::Env("TOKEN".into())]
        );
        assert!(t.has_reference());
        let s = t.resolve(&env).unwrap();
        assert_eq!(s.header_value().to_str().unwrap(), "Bearer s3cr3t-value");
        assert!(s.header_value().is_sensitive());
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(
            SecretTemplate::parse("a$$b").unwrap().parts(),
            &[Part::Text("a$b".into())]
        );
        assert!(!SecretTemplate::parse("plain").unwrap().has_reference());
    }

    #[test]
    fn errors_name_the_reference_never_the_value() {
        let unset = SecretTemplate::parse("${env:MISSING}")
            .unwrap()
            .resolve(&env)
            .unwrap_err();
        assert_eq!(
            unset,
            "${env:MISSING} is not set or is empty; export MISSING"
        );
        let empty = SecretTemplate::parse("${env:EMPTY}")
            .unwrap()
            .resolve(&env)
            .unwrap_err();
        assert!(empty.starts_with("${env:EMPTY} is not set or is empty"));
        let nl = SecretTemplate::parse("${env:NEWLINE}")
            .unwrap()
            .resolve(&env)
            .unwrap_err();
        assert!(nl.contains("${env:NEWLINE}") && !nl.contains("a\nb"));
        let file = SecretTemplate::parse("${file:/nonexistent/harpoon-secret}")
            .unwrap()
            .resolve(&env)
            .unwrap_err();
        assert!(file.starts_with("${file:/nonexistent/harpoon-secret} cannot be read"));
    }

    #[test]
    fn redaction_blanks_every_referenced_value() {
        let s = SecretTemplate::parse("Bearer ${env:TOKEN}")
            .unwrap()
            .resolve(&env)
            .unwrap();
        let r = crate::policy::redact::Redactor::new(
            s.fragments().map(|f| f.to_vec().into_boxed_slice()),
        );
        let mut body = b"{\"auth\":\"Bearer s3cr3t-value\",\"again\":\"s3cr3t-value\"}".to_vec();
        assert_eq!(r.bytes(&mut body, false), 2);
        assert_eq!(
            body,
            b"{\"auth\":\"Bearer ************\",\"again\":\"************\"}"
        );
        let mut clean = b"nothing here".to_vec();
        assert_eq!(r.bytes(&mut clean, false), 0);
        let mut cut = b"token: Bearer s3cr".to_vec();
        assert_eq!(r.bytes(&mut cut, true), 1);
        assert_eq!(cut, b"token: Bearer ****");
        let mut unrelated = b"the end".to_vec();
        assert_eq!(r.bytes(&mut unrelated, true), 0);
    }

    #[test]
    fn refuses_malformed_references() {
        assert!(
            SecretTemplate::parse("${env:}")
                .unwrap_err()
                .contains("no valid variable")
        );
        assert!(
            SecretTemplate::parse("${env:1A}")
                .unwrap_err()
                .contains("no valid variable")
        );
        assert!(
            SecretTemplate::parse("${file:relative}")
                .unwrap_err()
                .contains("absolute path")
        );
        assert!(
            SecretTemplate::parse("${vault:x}")
                .unwrap_err()
                .contains("not a reference")
        );
        assert!(
            SecretTemplate::parse("${env:A")
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(
            SecretTemplate::parse("cost $5")
                .unwrap_err()
                .contains("'$$'")
        );
    }
}
