//! The fuzz input: choice bytes, then free texts split at `TEXT_MARK`.

use super::TEXT_MARK;
use std::collections::VecDeque;

/// Fuzz bytes as a source of choices and of free texts.
pub struct Input<'a> {
    choices: &'a [u8],
    texts: VecDeque<String>,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        let Some(i) = data.iter().position(|&b| b == TEXT_MARK) else {
            return Self {
                choices: data,
                texts: VecDeque::new(),
            };
        };
        let texts = data[i + 1..]
            .split(|&b| b == TEXT_MARK)
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect();
        Self {
            choices: &data[..i],
            texts,
        }
    }

    pub fn byte(&mut self) -> u8 {
        match self.choices.split_first() {
            Some((&b, rest)) => {
                self.choices = rest;
                b
            }
            None => 0,
        }
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        match n {
            0 => 0,
            1..=256 => self.byte() as usize % n,
            _ => u16::from_le_bytes([self.byte(), self.byte()]) as usize % n,
        }
    }

    /// True one time in `n`; false once the choices run out, so a short input is a plain case.
    pub fn one_in(&mut self, n: usize) -> bool {
        !self.choices.is_empty() && self.below(n) == n - 1
    }

    pub fn flip(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    pub fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }

    /// One of `words`.
    pub fn word(&mut self, words: &[&'static str]) -> &'static str {
        words[self.below(words.len())]
    }

    pub fn has_text(&self) -> bool {
        !self.texts.is_empty()
    }

    /// The next free text, or "" when there is none.
    pub fn text(&mut self) -> String {
        self.texts.pop_front().unwrap_or_default()
    }
}
