//! Local `$ref`s: `#/components/schemas/Pet` and the like, looked up in the document itself.
//! A reference to another file or URL is an error: the import never reads the network or any
//! file but the one it was given.

use super::document::Node;
use super::error::ImportError;
use percent_encoding::percent_decode_str;

/// Most `$ref`s followed in a row (a reference to a reference to ...): real documents use one
/// or two; a longer chain is a loop.
pub const MAX_REF_CHAIN: usize = 32;

/// Follows `node`'s `$ref` (and the target's, and so on) to the value it stands for. Returns the
/// value and the last reference followed, if any. `at` names where `node` stands.
pub fn resolve<'d>(
    root: &'d Node,
    node: &'d Node,
    at: &str,
) -> Result<(&'d Node, Option<&'d str>), ImportError> {
    let mut current = node;
    let mut last = None;
    for _ in 0..MAX_REF_CHAIN {
        let Some(reference) = current.str_at("$ref") else {
            return Ok((current, last));
        };
        current = lookup(root, reference, at)?;
        last = Some(reference);
    }
    if current.get("$ref").is_some() {
        return Err(ImportError::RefChain { at: at.to_owned() });
    }
    Ok((current, last))
}

/// The value a local reference points at.
pub fn lookup<'d>(root: &'d Node, reference: &str, at: &str) -> Result<&'d Node, ImportError> {
    let Some(pointer) = reference.strip_prefix('#') else {
        return Err(ImportError::ExternalRef {
            at: at.to_owned(),
            reference: reference.to_owned(),
        });
    };
    let broken = || ImportError::BrokenRef {
        at: at.to_owned(),
        reference: reference.to_owned(),
    };
    if pointer.is_empty() {
        return Ok(root);
    }
    let Some(pointer) = pointer.strip_prefix('/') else {
        return Err(broken());
    };
    let mut current = root;
    for raw in pointer.split('/') {
        // A fragment is percent-encoded (RFC 3986), and its pointer escapes '/' and '~'.
        let decoded = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| broken())?;
        let token = decoded.replace("~1", "/").replace("~0", "~");
        current = match current {
            Node::Object(_) => current.get(&token),
            Node::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
        .ok_or_else(broken)?;
    }
    Ok(current)
}

/// A JSON pointer token for `key` (`/` and `~` escaped), to name places in messages.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::document::parse;

    #[test]
    fn follows_local_references_and_refuses_others() {
        let doc = parse(
            br##"{"paths": {"/a/{b}": {"x": 1}}, "c": {"$ref": "#/paths/~1a~1%7Bb%7D"},
                 "d": {"$ref": "#/c"}, "loop": {"$ref": "#/loop"}}"##,
        )
        .unwrap();
        let d = doc.get("d").unwrap();
        let (value, last) = resolve(&doc, d, "#/d").unwrap();
        assert_eq!(value.get("x"), Some(&Node::Number(1.into())));
        assert_eq!(last, Some("#/paths/~1a~1%7Bb%7D"));
        assert_eq!(
            resolve(&doc, doc.get("loop").unwrap(), "#/loop").unwrap_err(),
            ImportError::RefChain {
                at: "#/loop".into()
            }
        );
        assert_eq!(
            lookup(&doc, "other.yaml#/Pet", "#/x").unwrap_err(),
            ImportError::ExternalRef {
                at: "#/x".into(),
                reference: "other.yaml#/Pet".into()
            }
        );
        assert_eq!(
            lookup(&doc, "#/nothing", "#/x").unwrap_err(),
            ImportError::BrokenRef {
                at: "#/x".into(),
                reference: "#/nothing".into()
            }
        );
    }
}
