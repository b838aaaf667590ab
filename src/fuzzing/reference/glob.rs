//! `paths` globs as docs/allowlist.md defines them.

use crate::fuzzing::input::Input;

/// A piece of one glob segment.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Lit(char),
    Star,
    One,
    Class(Vec<(char, char)>),
    /// `{a,b}`: one of these texts (empty ones dropped, unless all are).
    Alt(Vec<String>),
}

#[derive(Debug, Clone)]
pub(crate) enum Seg {
    Pieces(Vec<Piece>),
    /// `**` as a whole segment: any number of segments.
    Deep,
}

/// A `paths` glob as docs/allowlist.md defines it: `*` and `?` stay within a segment, a
/// class matches one character of one segment, `**` matches across segments. The reference
/// models the syntax generated rules use; other globs parse to `None`.
#[derive(Debug, Clone)]
pub struct Glob(Vec<Seg>);

pub(crate) fn lit_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()+,;=:@]".contains(c)
}

impl Glob {
    pub fn parse(text: &str) -> Option<Glob> {
        let chars: Vec<char> = text.strip_prefix('/')?.chars().collect();
        let mut segs = Vec::new();
        let mut pieces = Vec::new();
        let mut raw = String::new();
        let mut i = 0;
        loop {
            let Some(&c) = chars.get(i) else {
                segs.push(seg(raw, pieces));
                return Some(Glob(segs));
            };
            i += 1;
            match c {
                '/' => {
                    segs.push(seg(std::mem::take(&mut raw), std::mem::take(&mut pieces)));
                    continue;
                }
                '*' => {
                    if !matches!(pieces.last(), Some(Piece::Star)) {
                        pieces.push(Piece::Star);
                    }
                }
                '?' => pieces.push(Piece::One),
                '[' => {
                    let mut items = Vec::new();
                    let mut first = true;
                    loop {
                        let c = *chars.get(i)?;
                        i += 1;
                        match c {
                            '!' | '^' if first => return None,
                            ']' if !first => break,
                            '-' if !first && chars.get(i) != Some(&']') => {
                                let hi = *chars.get(i)?;
                                i += 1;
                                let (lo, _) = items.pop()?;
                                if hi < lo {
                                    return None;
                                }
                                items.push((lo, hi));
                            }
                            c => items.push((c, c)),
                        }
                        first = false;
                    }
                    pieces.push(Piece::Class(items));
                }
                '{' => {
                    let close = chars[i..].iter().position(|&c| c == '}')? + i;
                    let inner: String = chars[i..close].iter().collect();
                    if !inner.chars().all(|c| lit_char(c) && c != ']') {
                        return None;
                    }
                    pieces.push(Piece::Alt(inner.split(',').map(str::to_owned).collect()));
                    i = close + 1;
                }
                c if lit_char(c) => pieces.push(Piece::Lit(c)),
                _ => return None,
            }
            raw.push(c);
        }
    }

    /// Whether some class of the glob matches `c`.
    pub fn class_holds(&self, c: char) -> bool {
        self.0.iter().any(|s| match s {
            Seg::Pieces(p) => p.iter().any(
                |p| matches!(p, Piece::Class(r) if r.iter().any(|&(lo, hi)| lo <= c && c <= hi)),
            ),
            Seg::Deep => false,
        })
    }

    /// Whether the glob matches a normalized path, segment by segment.
    pub fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut memo = vec![None; (self.0.len() + 1) * (parts.len() + 1)];
        match_segs(&self.0, &parts, 0, 0, &mut memo)
    }

    /// A path this glob matches, filled in from `inp`: how generated calls hit a rule.
    pub fn instance(&self, inp: &mut Input) -> String {
        const FILL: &[&str] = &["a", "x.json", "b", "v1", "", "a", "%41", "..;", "%2e"];
        let mut out = String::new();
        for s in &self.0 {
            match s {
                Seg::Deep => {
                    for _ in 0..inp.below(3) {
                        out.push('/');
                        out.push_str(inp.word(FILL));
                    }
                    if out.is_empty() {
                        out.push('/');
                    }
                }
                Seg::Pieces(pieces) => {
                    out.push('/');
                    for p in pieces {
                        match p {
                            Piece::Lit(c) => out.push(*c),
                            Piece::Star => out.push_str(inp.word(FILL)),
                            Piece::One => out.push(*inp.pick(&['a', '1', '.'])),
                            Piece::Class(r) => out.push(r[0].0),
                            Piece::Alt(items) => out.push_str(inp.pick(items).as_str()),
                        }
                    }
                }
            }
        }
        out
    }
}

pub(crate) fn seg(raw: String, pieces: Vec<Piece>) -> Seg {
    if raw == "**" {
        Seg::Deep
    } else {
        Seg::Pieces(pieces)
    }
}

/// Whether `globs[g..]` matches `parts[p..]`, memoized in `memo` so that nested `**` and
/// long paths stay polynomial (the fuzzer found the exponential version).
pub(crate) fn match_segs(
    globs: &[Seg],
    parts: &[&str],
    g: usize,
    p: usize,
    memo: &mut [Option<bool>],
) -> bool {
    let key = g * (parts.len() + 1) + p;
    if let Some(known) = memo[key] {
        return known;
    }
    let matched = match globs.get(g) {
        None => p == parts.len(),
        // A trailing `/**` is `/` and anything after it: one or more segments.
        Some(Seg::Deep) if g + 1 == globs.len() => p < parts.len(),
        // Elsewhere, zero or more whole segments: skip it, or let it take one more.
        Some(Seg::Deep) => {
            match_segs(globs, parts, g + 1, p, memo)
                || (p < parts.len() && match_segs(globs, parts, g, p + 1, memo))
        }
        Some(Seg::Pieces(pieces)) => {
            p < parts.len()
                // A segment of stars alone matches one non-empty segment (docs/allowlist.md).
                && !(!pieces.is_empty()
                    && pieces.iter().all(|p| matches!(p, Piece::Star))
                    && parts[p].is_empty())
                && match_pieces(pieces, &parts[p].chars().collect::<Vec<_>>())
                && match_segs(globs, parts, g + 1, p + 1, memo)
        }
    };
    memo[key] = Some(matched);
    matched
}

/// Whether a segment's pieces match one path segment, by dynamic programming over (piece,
/// position): `*` either ends or takes one more character.
pub(crate) fn match_pieces(pieces: &[Piece], s: &[char]) -> bool {
    let mut memo = vec![None; (pieces.len() + 1) * (s.len() + 1)];
    match_from(pieces, s, 0, 0, &mut memo)
}

pub(crate) fn match_from(
    pieces: &[Piece],
    s: &[char],
    i: usize,
    j: usize,
    memo: &mut [Option<bool>],
) -> bool {
    let key = i * (s.len() + 1) + j;
    if let Some(known) = memo[key] {
        return known;
    }
    let rest = s.get(j..).unwrap_or(&[]);
    let matched = match pieces.get(i) {
        None => rest.is_empty(),
        Some(Piece::Lit(c)) => rest.first() == Some(c) && match_from(pieces, s, i + 1, j + 1, memo),
        Some(Piece::Star) => {
            match_from(pieces, s, i + 1, j, memo)
                || (!rest.is_empty() && match_from(pieces, s, i, j + 1, memo))
        }
        Some(Piece::One) => !rest.is_empty() && match_from(pieces, s, i + 1, j + 1, memo),
        Some(Piece::Class(ranges)) => {
            rest.first()
                .is_some_and(|&c| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi))
                && match_from(pieces, s, i + 1, j + 1, memo)
        }
        Some(Piece::Alt(items)) => {
            let mut options: Vec<&str> = items
                .iter()
                .map(String::as_str)
                .filter(|i| !i.is_empty())
                .collect();
            if options.is_empty() {
                options.push("");
            }
            options.iter().any(|o| {
                let o: Vec<char> = o.chars().collect();
                rest.starts_with(&o) && match_from(pieces, s, i + 1, j + o.len(), memo)
            })
        }
    };
    memo[key] = Some(matched);
    matched
}
