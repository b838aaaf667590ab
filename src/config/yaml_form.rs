//! What an allowlist file may not use of YAML, so that a reviewer reads exactly what it grants:
//! no explicit tag (`!!binary aHR0...` would hide a host behind base64, `!!str` and friends
//! change what a value is) and no merge key (`<<: *defaults` pulls values in from elsewhere in
//! the file). Anchors and aliases stay allowed, bounded by the parse budgets. The scan reads the
//! YAML events once, before deserializing; a syntax error is left for the deserializer to
//! report, with its own message.

use super::error::{ConfigError, ErrorKind, Location};
use granit_parser::{Event, Parser, ScalarStyle};
use std::sync::Arc;

/// The first tag or merge key in `text`, as a located error.
pub fn refuse_tags_and_merge_keys(name: &Arc<str>, text: &str) -> Result<(), ConfigError> {
    // For each open collection: whether it is a mapping, and whether its next node is a key.
    let mut open: Vec<(bool, bool)> = Vec::new();
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else {
            return Ok(());
        };
        let at = || Location {
            file: Arc::clone(name),
            line: span.start.line() as u64,
            column: span.start.col() as u64 + 1,
        };
        let is_key = matches!(open.last(), Some((true, true)));
        let tag = match &event {
            Event::Scalar(_, _, _, tag)
            | Event::SequenceStart(_, _, tag)
            | Event::MappingStart(_, _, tag) => tag.as_deref(),
            _ => None,
        };
        if let Some(tag) = tag {
            return Err(ConfigError::new(
                ErrorKind::Syntax,
                at(),
                format!(
                    "the value is tagged '{}'",
                    written(tag.handle(), tag.suffix())
                ),
            )
            .hint("write the value itself, without a tag: a tag can hide what the file grants"));
        }
        if let Event::Scalar(value, ScalarStyle::Plain, _, _) = &event
            && is_key
            && value == "<<"
        {
            return Err(
                ConfigError::new(ErrorKind::Syntax, at(), "YAML merge key '<<'")
                    .hint("write the keys out in full: a merge pulls values in from elsewhere"),
            );
        }
        match event {
            Event::MappingStart(..) => {
                advance(&mut open);
                open.push((true, true));
            }
            Event::SequenceStart(..) => {
                advance(&mut open);
                open.push((false, false));
            }
            Event::MappingEnd | Event::SequenceEnd => {
                open.pop();
            }
            Event::Scalar(..) | Event::Alias(..) => advance(&mut open),
            _ => {}
        }
    }
    Ok(())
}

/// A tag as a reader would write it: `!!binary`, `!custom`, or `!<uri>`.
fn written(handle: &str, suffix: &str) -> String {
    match handle {
        "tag:yaml.org,2002:" => format!("!!{suffix}"),
        "!" => format!("!{suffix}"),
        _ => format!("!<{handle}{suffix}>"),
    }
}

/// A node was read in the innermost collection: in a mapping, a key is followed by a value.
fn advance(open: &mut [(bool, bool)]) {
    if let Some((true, expecting_key)) = open.last_mut() {
        *expecting_key = !*expecting_key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Result<(), String> {
        refuse_tags_and_merge_keys(&Arc::from("f.yaml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn tags_and_merge_keys_are_refused_where_they_are() {
        assert_eq!(
            scan("a: 1\nbase_url: !!binary aHR0cHM6Ly9ldmlsLmV4YW1wbGUv\n"),
            Err("f.yaml:2:20: the value is tagged '!!binary'; write the value itself, without a tag: a tag can hide what the file grants".into())
        );
        assert_eq!(
            scan("a: !custom {b: 1}\n"),
            Err("f.yaml:1:12: the value is tagged '!custom'; write the value itself, without a tag: a tag can hide what the file grants".into())
        );
        assert!(scan("a: !!str 1\n").is_err());
        assert!(scan("- !!seq [1]\n").is_err());
        assert_eq!(
            scan("d: &d {x: 1}\nt:\n  <<: *d\n  y: 2\n"),
            Err("f.yaml:3:3: YAML merge key '<<'; write the keys out in full: a merge pulls values in from elsewhere".into())
        );
    }

    #[test]
    fn plain_yaml_passes() {
        assert_eq!(
            scan("a: 1\nb: [x, '<<', {c: \"<<\"}]\nd: &d {x: 1}\ne: *d\n"),
            Ok(())
        );
        // A '<<' value, or a quoted '<<' key, is no merge.
        assert_eq!(scan("k: <<\n'<<': 1\n"), Ok(()));
        // Syntax errors are the deserializer's to report.
        assert_eq!(scan("a: [1\n"), Ok(()));
    }
}
