//! Path normalization and glob matching.

use super::corpus::*;
use super::input::Input;
use super::reference;
use crate::config::{self};
use crate::policy::Method;
use crate::policy::model::{PathRule, PathRules, QueryRule};
use crate::policy::path::{PathGlob, normalize};
use std::sync::Arc;

/// A normalized path equals the reference's canonical form of the caller's path, means the same
/// bytes, is its own normal form, and is what every other spelling of that path normalizes to; a
/// glob matches it exactly when the reference matcher (globs as docs/allowlist.md defines them)
/// does, through a single glob and through a target's set alike.
pub fn path_glob(data: &[u8]) {
    let mut inp = Input::new(data);
    let path = inp.text();
    let glob = match inp.text() {
        g if g.is_empty() => hostile_glob(&mut inp),
        g => g,
    };
    // Half the paths are instances of the glob, so matches are checked as often as misses.
    let path = match (path.is_empty(), reference::Glob::parse(&glob)) {
        (false, _) => path,
        (true, Some(spec)) if inp.flip() => spec.instance(&mut inp),
        (true, _) => hostile_path(&mut inp),
    };
    let normalized = normalize(&path);
    assert_eq!(
        normalized.as_ref().ok().map(|n| n.as_str()),
        reference::canonical_path(&path).as_deref(),
        "normalize({path:?})"
    );
    let Ok(n) = normalized else { return };
    assert_eq!(normalize(n.as_str()).as_ref(), Ok(&n), "not idempotent");
    assert_eq!(
        reference::decoded_segments(n.as_str()),
        reference::decoded_segments(&path),
        "normalizing {path:?} changed its meaning"
    );
    let respelled = reference::respell(&path, &mut inp);
    // The 2048-byte bound is on what the caller sends (docs/allowlist.md): a longer spelling of
    // the same path is refused for its length, rightly.
    assert!(
        respelled.len() > crate::policy::path::MAX_PATH_LEN
            || normalize(&respelled).as_ref() == Ok(&n),
        "{respelled:?} spells {path:?} but normalizes apart"
    );
    let Ok(g) = PathGlob::parse(&glob) else {
        return;
    };
    let matched = g.is_match(&n);
    let rules = PathRules::new(vec![PathRule {
        methods: [Method::Get].into_iter().collect(),
        glob: g,
        query: QueryRule::Deny,
        location: config::Location::file_start(&Arc::from("<fuzz>")),
    }]);
    assert_eq!(
        rules.matching(&n).count() == 1,
        matched,
        "set and glob disagree"
    );
    if let Some(spec) = reference::Glob::parse(&glob) {
        assert!(
            !spec.class_holds('/'),
            "{glob:?} has a class that matches '/'"
        );
        assert_eq!(
            matched,
            spec.matches(n.as_str()),
            "glob {glob:?} on {:?}",
            n.as_str()
        );
    }
}
