//! Patterns mean what the JSON Schema they are published in says: ECMA-262 regular expressions
//! (JSON Schema 2020-12, section 6.4), not the regex crate's Unicode-aware dialect. The regex
//! crate's `\d` and `\w` match every Unicode digit and letter (Arabic-Indic `٣`, fullwidth `１`,
//! combining marks), and its `.` matches `\r`; a model that reads `^\d{1,6}$` in an input
//! schema expects ASCII digits, and a value the schema refuses must be refused here too.
//!
//! `to_rust` rewrites the class escapes and `.` into explicit classes with ECMA's meaning, and
//! refuses what the two dialects read differently and cannot be rewritten simply (inline flags,
//! nested classes and class set operations): a pattern is never enforced more loosely than it
//! is published.

/// ECMA-262 `WhiteSpace` and `LineTerminator`: what `\s` matches there.
const ECMA_SPACE: &str = r"\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";
/// What `\d` matches in ECMA-262 (without the `u` flag and with it alike).
const ECMA_DIGIT: &str = "0-9";
/// What `\w` matches in ECMA-262.
const ECMA_WORD: &str = "0-9A-Za-z_";
/// ECMA-262 `.`: anything but a line terminator.
const ECMA_DOT: &str = r"[^\n\r\x{2028}\x{2029}]";

/// Why a pattern cannot be enforced with its ECMA-262 meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcmaError {
    /// `(?i)` and other inline flags: not ECMA-262 syntax.
    InlineFlags,
    /// `[` inside a class: a literal in ECMA-262, a nested class in the regex crate.
    NestedClass,
    /// `&&`, `--` or `~~` inside a class: literals in ECMA-262, set operations in the regex crate.
    ClassSetOperation,
    /// `]` first in a class: the empty class `[]` in ECMA-262, a literal `]` in the regex crate.
    LeadingBracket,
}

impl EcmaError {
    pub fn hint(self) -> &'static str {
        match self {
            EcmaError::InlineFlags => {
                "inline flags such as (?i) are not JSON Schema (ECMA-262) syntax; spell the cases out, e.g. [Aa]"
            }
            EcmaError::NestedClass => "escape '[' inside a character class as '\\['",
            EcmaError::ClassSetOperation => {
                "escape the repeated character inside the class, e.g. [a\\&\\&b]"
            }
            EcmaError::LeadingBracket => "escape a ']' that is a member of the class as '\\]'",
        }
    }
}

/// The pattern rewritten for the regex crate with its ECMA-262 meaning.
pub fn to_rust(pattern: &str) -> Result<String, EcmaError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    // Index of the class's first member: a `]` there is read differently by the two dialects.
    let mut class_start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                let e = chars[i + 1];
                out.push_str(&escape(e, in_class));
                i += 2;
                continue;
            }
            '[' if in_class => return Err(EcmaError::NestedClass),
            '[' => {
                in_class = true;
                out.push('[');
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                class_start = i + 1;
            }
            ']' if in_class && i == class_start => return Err(EcmaError::LeadingBracket),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '&' | '-' | '~' if in_class && chars.get(i + 1) == Some(&c) => {
                return Err(EcmaError::ClassSetOperation);
            }
            '.' if !in_class => out.push_str(ECMA_DOT),
            '(' if !in_class && chars.get(i + 1) == Some(&'?') => {
                let next = chars.get(i + 2).copied();
                let lookahead_or_group = matches!(next, Some(':' | '=' | '!' | '<'));
                let named = next == Some('<')
                    && chars
                        .get(i + 3)
                        .is_some_and(|c| c.is_alphabetic() || *c == '_' || *c == '$');
                if !lookahead_or_group || (next == Some('<') && !named) {
                    return Err(EcmaError::InlineFlags);
                }
                out.push('(');
            }
            other => out.push(other),
        }
        i += 1;
    }
    Ok(out)
}

/// One escape `\e`, inside a class or outside.
fn escape(e: char, in_class: bool) -> String {
    let class = |set: &str, negated: bool| match (in_class, negated) {
        (true, false) => set.to_owned(),
        (_, true) => format!("[^{set}]"),
        (false, false) => format!("[{set}]"),
    };
    match e {
        'd' => class(ECMA_DIGIT, false),
        'D' => class(ECMA_DIGIT, true),
        'w' => class(ECMA_WORD, false),
        'W' => class(ECMA_WORD, true),
        's' => class(ECMA_SPACE, false),
        'S' => class(ECMA_SPACE, true),
        // ECMA's word boundary is between \w and \W as ECMA defines them: ASCII.
        'b' if !in_class => r"(?-u:\b)".to_owned(),
        'B' if !in_class => r"(?-u:\B)".to_owned(),
        other => format!("\\{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn re(p: &str) -> Regex {
        Regex::new(&to_rust(p).unwrap()).unwrap()
    }

    #[test]
    fn class_escapes_mean_ascii() {
        let d = re(r"^\d{1,6}$");
        assert!(d.is_match("123456"));
        for unicode_digit in ["٣", "１", "۵"] {
            assert!(!d.is_match(unicode_digit), "{unicode_digit}");
        }
        let w = re(r"^\w{1,16}$");
        assert!(w.is_match("abc_XYZ_019"));
        for not_word in ["ａ", "é", "e\u{301}", "a-b"] {
            assert!(!w.is_match(not_word), "{not_word}");
        }
        let in_class = re(r"^[\d\w-]+$");
        assert!(in_class.is_match("a-1_b"));
        assert!(!in_class.is_match("１"));
        assert!(re(r"^[\D]$").is_match("x"));
        assert!(!re(r"^[\D]$").is_match("1"));
        assert!(re(r"^\s$").is_match("\u{feff}"));
        assert!(!re(r"^\S$").is_match("\u{a0}"));
    }

    #[test]
    fn dot_and_boundaries_follow_ecma() {
        assert!(!re("^a.b$").is_match("a\rb"));
        assert!(!re("^a.b$").is_match("a\u{2028}b"));
        assert!(re("^a.b$").is_match("a-b"));
        assert!(re("[.]").is_match("."));
        assert!(!re("[.]").is_match("x"));
        // `é` is not an ECMA word character, so there is a boundary before `x`.
        assert!(re(r"\bx").is_match("éx"));
        assert!(re(r"^\.$").is_match("."));
        assert!(re(r"^(?:ab)+$").is_match("abab"));
        assert!(re(r"^(?<id>[0-9]+)$").is_match("12"));
    }

    #[test]
    fn what_the_dialects_read_differently_is_refused() {
        assert_eq!(to_rust("(?i)abc"), Err(EcmaError::InlineFlags));
        assert_eq!(to_rust("(?P<x>a)"), Err(EcmaError::InlineFlags));
        assert_eq!(to_rust("[a[b]]"), Err(EcmaError::NestedClass));
        assert_eq!(to_rust("[a&&b]"), Err(EcmaError::ClassSetOperation));
        assert_eq!(to_rust("[a--b]"), Err(EcmaError::ClassSetOperation));
        assert_eq!(to_rust("[]a]"), Err(EcmaError::LeadingBracket));
        assert_eq!(to_rust("[^]a]"), Err(EcmaError::LeadingBracket));
        assert_eq!(to_rust("a&&b"), Ok("a&&b".into()));
    }
}
