//! Text taken from the document into the allowlist: trimmed to a length, and made safe for a
//! one-line comment.

/// `text` cut to at most `max` characters (an ellipsis ends a cut text), trailing white space
/// dropped.
pub fn trim_chars(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// `text` on one line, for a YAML comment: a line break or any other control character, or a
/// character some YAML readers take as a line break, would end the comment and let the rest
/// be read as YAML. Each becomes a space.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if needs_escape(c) { ' ' } else { c })
        .collect()
}

/// Characters that a YAML double-quoted string writes as an escape: control characters, C1
/// controls, the Unicode line and paragraph separators, the byte-order mark and non-characters.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_on_characters_and_flattens_comments() {
        assert_eq!(trim_chars("  short ", 10), "short");
        assert_eq!(trim_chars("ééééé ééé", 7), "ééééé…");
        assert_eq!(one_line("a\nb\r\u{2028}c\u{85}"), "a b  c ");
    }
}
