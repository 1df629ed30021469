//! Hand-written splitters producing exactly the pieces of tiktoken's split patterns.
//!
//! cl100k_base:
//! `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
//!
//! o200k_base:
//! `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
//! `|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
//! `|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
//!
//! tiktoken matches these with backtracking, leftmost-first semantics: alternatives are tried
//! in order, quantifiers are greedy and give characters back only when what follows fails.
//! Each function below resolves that backtracking in closed form (see the comments), so a
//! piece costs one pass over its characters. Every position starts a piece of at least one
//! character, so the splitters always make progress.

use crate::classes::{CharClasses, END, LETTER, LOWER, NEWLINE, NUMBER, SPACE, UPPER};

/// Which split pattern to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pattern {
    Cl100k,
    O200k,
}

/// Iterator over the byte ranges of the pieces of a text.
pub(crate) struct Pieces<'a> {
    scan: Scanner<'a>,
    pattern: Pattern,
    pos: usize,
}

impl<'a> Pieces<'a> {
    pub(crate) fn new(text: &'a str, pattern: Pattern) -> Self {
        Pieces {
            scan: Scanner {
                bytes: text.as_bytes(),
                classes: CharClasses::get(),
            },
            pattern,
            pos: 0,
        }
    }
}

impl Iterator for Pieces<'_> {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        let start = self.pos;
        if start >= self.scan.bytes.len() {
            return None;
        }
        let end = match self.pattern {
            Pattern::Cl100k => self.scan.cl100k_piece(start),
            Pattern::O200k => self.scan.o200k_piece(start),
        };
        debug_assert!(end > start && self.scan.bytes.len() >= end);
        self.pos = end;
        Some((start, end))
    }
}

/// One decoded character: code point, class flags and UTF-8 length.
#[derive(Clone, Copy)]
struct Char {
    code: u32,
    flags: u8,
    len: usize,
}

impl Char {
    /// `[^\s\p{L}\p{N}]`
    #[inline]
    fn is_other(self) -> bool {
        self.flags & (LETTER | NUMBER | SPACE | END) == 0
    }

    /// `[^\r\n\p{L}\p{N}]`
    #[inline]
    fn is_prefix(self) -> bool {
        self.flags & (LETTER | NUMBER | NEWLINE | END) == 0
    }

    #[inline]
    fn is(self, flags: u8) -> bool {
        self.flags & flags != 0
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    classes: &'a CharClasses,
}

impl Scanner<'_> {
    /// The character starting at byte `i` (a char boundary), or an `END` marker past the text.
    #[inline(always)]
    fn at(&self, i: usize) -> Char {
        let Some(&b0) = self.bytes.get(i) else {
            return Char {
                code: u32::MAX,
                flags: END,
                len: 0,
            };
        };
        let (code, len) = if b0 < 0x80 {
            (u32::from(b0), 1)
        } else {
            self.decode_multibyte(i, b0)
        };
        Char {
            code,
            flags: self.classes.of(code),
            len,
        }
    }

    #[inline]
    fn decode_multibyte(&self, i: usize, b0: u8) -> (u32, usize) {
        // `bytes` comes from a `str`, so the sequence is complete and well formed.
        let cont = |k: usize| u32::from(self.bytes.get(i + k).copied().unwrap_or(0x80) & 0x3F);
        if b0 < 0xE0 {
            ((u32::from(b0 & 0x1F) << 6) | cont(1), 2)
        } else if b0 < 0xF0 {
            ((u32::from(b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
        } else {
            let code = (u32::from(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
            (code, 4)
        }
    }

    /// End of the run of characters with any of `flags` starting at `i`.
    #[inline]
    fn run_end(&self, mut i: usize, flags: u8) -> usize {
        loop {
            let c = self.at(i);
            if !c.is(flags) {
                return i;
            }
            i += c.len;
        }
    }

    /// End of the run of `[^\s\p{L}\p{N}]` characters starting at `i`.
    #[inline]
    fn other_run_end(&self, mut i: usize) -> usize {
        loop {
            let c = self.at(i);
            if !c.is_other() {
                return i;
            }
            i += c.len;
        }
    }

    /// End of the run of ASCII bytes in `set` starting at `i`.
    #[inline]
    fn byte_run_end(&self, mut i: usize, set: &[u8]) -> usize {
        while self.bytes.get(i).is_some_and(|b| set.contains(b)) {
            i += 1;
        }
        i
    }

    /// `\p{N}{1,3}` at a number character `i`.
    #[inline]
    fn digits_end(&self, mut i: usize) -> usize {
        for _ in 0..3 {
            let c = self.at(i);
            if !c.is(NUMBER) {
                break;
            }
            i += c.len;
        }
        i
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `i`: the end of the match, if any.
    ///
    /// Under Unicode simple case folding these letters match only their ASCII cases, except
    /// `s`, which also matches `ſ` (U+017F); a unit test checks this against `regex-syntax`.
    #[inline]
    fn contraction_end(&self, i: usize) -> Option<usize> {
        if self.bytes.get(i) != Some(&b'\'') {
            return None;
        }
        let lower = |k: usize| self.bytes.get(i + k).map(u8::to_ascii_lowercase);
        match lower(1)? {
            b's' | b't' | b'm' | b'd' => Some(i + 2),
            b'r' | b'v' if lower(2) == Some(b'e') => Some(i + 3),
            b'l' if lower(2) == Some(b'l') => Some(i + 3),
            // ſ is C5 BF in UTF-8.
            0xC5 if self.bytes.get(i + 2) == Some(&0xBF) => Some(i + 3),
            _ => None,
        }
    }

    /// `\s*[\r\n]+|\s+(?!\S)|\s+` at a whitespace character `i`.
    fn whitespace_end(&self, i: usize) -> usize {
        // `\s*` first takes the whole run and gives back until `[\r\n]+` fits: that is right
        // after the run's last newline (the greedy `[\r\n]+` cannot pass a non-newline).
        let mut last_newline_end = None;
        let mut last_start = i;
        let mut j = i;
        loop {
            let c = self.at(j);
            if !c.is(SPACE) {
                break;
            }
            if c.is(NEWLINE) {
                last_newline_end = Some(j + c.len);
            }
            last_start = j;
            j += c.len;
        }
        if let Some(end) = last_newline_end {
            return end;
        }
        // `\s+(?!\S)`: the whole run at the end of the text, else the run minus its last
        // character (which is then followed by whitespace). A single space falls to `\s+`.
        if j == self.bytes.len() || last_start == i {
            j
        } else {
            last_start
        }
    }

    /// The cl100k_base piece starting at `i`.
    fn cl100k_piece(&self, i: usize) -> usize {
        let c = self.at(i);
        if c.code == u32::from(b'\'') {
            if let Some(end) = self.contraction_end(i) {
                return end;
            }
        }
        // `[^\r\n\p{L}\p{N}]?\p{L}+`
        if c.is(LETTER) {
            return self.run_end(i + c.len, LETTER);
        }
        let next = self.at(i + c.len);
        if c.is_prefix() && next.is(LETTER) {
            return self.run_end(i + c.len + next.len, LETTER);
        }
        if c.is(NUMBER) {
            return self.digits_end(i);
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let others = if c.is_other() {
            Some(i)
        } else if c.code == u32::from(b' ') && next.is_other() {
            Some(i + 1)
        } else {
            None
        };
        if let Some(start) = others {
            return self.byte_run_end(self.other_run_end(start), b"\r\n");
        }
        self.whitespace_end(i)
    }

    /// The o200k_base piece starting at `i`.
    fn o200k_piece(&self, i: usize) -> usize {
        let c = self.at(i);
        if let Some(end) = self.o200k_word_end(i, c) {
            return self.contraction_end(end).unwrap_or(end);
        }
        if c.is(NUMBER) {
            return self.digits_end(i);
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
        let others = if c.is_other() {
            Some(i)
        } else if c.code == u32::from(b' ') && self.at(i + 1).is_other() {
            Some(i + 1)
        } else {
            None
        };
        if let Some(start) = others {
            return self.byte_run_end(self.other_run_end(start), b"\r\n/");
        }
        self.whitespace_end(i)
    }

    /// The first two o200k alternatives without their trailing contraction.
    ///
    /// Backtracking order: the first alternative with the optional prefix character taken,
    /// then without it, then the same for the second alternative.
    #[inline]
    fn o200k_word_end(&self, i: usize, c: Char) -> Option<usize> {
        let after_prefix = c.is_prefix().then_some(i + c.len);
        let starts = [after_prefix, Some(i)];
        if let Some(end) = starts
            .iter()
            .flatten()
            .find_map(|&s| self.upper_lower_end(s))
        {
            return Some(end);
        }
        starts.iter().flatten().find_map(|&s| {
            // `UPPER+ LOWER*`: the upper run is greedy and nothing after it can fail.
            let upper_end = self.run_end(s, UPPER);
            (upper_end > s).then(|| self.run_end(upper_end, LOWER))
        })
    }

    /// `UPPER* LOWER+` at `s`: the end of the match, if any.
    #[inline]
    fn upper_lower_end(&self, s: usize) -> Option<usize> {
        // `UPPER*` takes its longest run; if a lower character follows, `LOWER+` runs on.
        // Otherwise `UPPER*` gives back characters until the first given-back one is also
        // LOWER (Lm, Lo, M are both): `LOWER+` then matches exactly that one character,
        // since the upper character after it (if any) is not LOWER.
        let mut last_lower_end = None;
        let mut j = s;
        loop {
            let c = self.at(j);
            if !c.is(UPPER) {
                if c.is(LOWER) {
                    return Some(self.run_end(j + c.len, LOWER));
                }
                return last_lower_end;
            }
            j += c.len;
            if c.is(LOWER) {
                last_lower_end = Some(j);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, pattern: Pattern) -> Vec<&str> {
        Pieces::new(text, pattern)
            .map(|(s, e)| &text[s..e])
            .collect()
    }

    #[test]
    fn contraction_letters_match_regex_case_folding() {
        // The letters `contraction_end` accepts for each contraction letter.
        let accepted = |letter: char| -> Vec<char> {
            let mut chars = vec![letter, letter.to_ascii_uppercase()];
            if letter == 's' {
                chars.push('ſ');
            }
            chars.sort_unstable();
            chars
        };
        for letter in ['s', 't', 'r', 'e', 'v', 'm', 'l', 'd'] {
            let hir = regex_syntax::Parser::new()
                .parse(&format!("(?i:{letter})"))
                .unwrap();
            let folded: Vec<char> = match hir.kind() {
                regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(class)) => {
                    class
                        .ranges()
                        .iter()
                        .flat_map(|r| r.start()..=r.end())
                        .collect()
                }
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(folded, accepted(letter), "letter {letter}");
        }
    }

    #[test]
    fn examples() {
        use Pattern::*;
        assert_eq!(
            pieces("Hello world's  end\n\n x", Cl100k),
            ["Hello", " world", "'s", " ", " end", "\n\n", " x"]
        );
        assert_eq!(pieces("12345 ", Cl100k), ["123", "45", " "]);
        assert_eq!(pieces("HELLOworld's", O200k), ["HELLOworld's"]);
        assert_eq!(pieces("a\u{301}", O200k), ["a\u{301}"]);
        assert_eq!(pieces("!!\n/x", O200k), ["!!\n/", "x"]);
        assert_eq!(pieces("", O200k), Vec::<&str>::new());
    }
}
