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
            Pattern::Cl100k => self.scan.cl100k_piece_fast(start),
            Pattern::O200k => self.scan.o200k_piece_fast(start),
        };
        debug_assert!(end > start && self.scan.bytes.len() >= end);
        self.pos = end;
        Some((start, end))
    }
}

/// Flags of a byte for the ASCII fast paths: an ASCII character's class flags (a unit test
/// checks them against [`CharClasses`]), or `NON_ASCII` for any byte of a multi-byte character.
const NON_ASCII: u8 = 1 << 6;
/// `[^\s\p{L}\p{N}]` fails on these flags (and on the end of the text).
const NOT_OTHER: u8 = LETTER | NUMBER | SPACE | END | NON_ASCII;

static BYTE_CLASSES: [u8; 256] = byte_classes();

const fn byte_classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b'a'..=b'z' => LETTER | LOWER,
            b'A'..=b'Z' => LETTER | UPPER,
            b'0'..=b'9' => NUMBER,
            b'\n' | b'\r' => SPACE | NEWLINE,
            b'\t' | 0x0B | 0x0C | b' ' => SPACE,
            0x80..=0xFF => NON_ASCII,
            _ => 0,
        };
        b += 1;
    }
    table
}

/// A range of ASCII letters scanned in bulk.
#[derive(Clone, Copy)]
enum AsciiLetters {
    /// `[A-Za-z]`, all of `\p{L}` below 0x80.
    Any,
    /// `[A-Z]`, all of o200k's UPPER below 0x80.
    Upper,
    /// `[a-z]`, all of o200k's LOWER below 0x80.
    Lower,
}

impl AsciiLetters {
    /// The byte range `first..first + 26` the letters span after OR-ing in `fold`.
    #[inline(always)]
    fn range(self) -> (u8, u8) {
        match self {
            AsciiLetters::Any => (b'a', 0x20),
            AsciiLetters::Upper => (b'A', 0),
            AsciiLetters::Lower => (b'a', 0),
        }
    }

    #[inline(always)]
    fn contains(self, b: u8) -> bool {
        let (first, fold) = self.range();
        (b | fold).wrapping_sub(first) < 26
    }

    /// Bit k set if byte k of `chunk` (16 bytes) is one of the letters.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn mask16(self, chunk: &[u8]) -> u32 {
        use std::arch::x86_64::*;
        debug_assert_eq!(chunk.len(), 16);
        let (first, fold) = self.range();
        // SAFETY: SSE2 is part of the x86_64 baseline, and `chunk` holds the 16 bytes read.
        unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let v = _mm_or_si128(v, _mm_set1_epi8(fold as i8));
            // Shift the range to start at -128: a member is then below -128 + 26 (signed).
            let shifted = _mm_add_epi8(v, _mm_set1_epi8(0x80u8.wrapping_sub(first) as i8));
            let member = _mm_cmplt_epi8(shifted, _mm_set1_epi8(-128 + 26));
            _mm_movemask_epi8(member) as u32
        }
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

    /// Flags of the byte at `i` (see [`BYTE_CLASSES`]), `END` past the text.
    #[inline(always)]
    fn byte_flags(&self, i: usize) -> u8 {
        match self.bytes.get(i) {
            Some(&b) => BYTE_CLASSES[usize::from(b)],
            None => END,
        }
    }

    /// [`Self::run_end`] for a run of ASCII letters of `kind`, continued by the general scan
    /// if a non-ASCII character follows them.
    #[inline(always)]
    fn fast_run_end(&self, i: usize, kind: AsciiLetters, flags: u8) -> usize {
        let end = self.ascii_run_end(i, kind);
        if self.byte_flags(end) & NON_ASCII != 0 {
            return self.run_end(end, flags);
        }
        end
    }

    /// The end of the run of ASCII upper-case letters at `s`, and the end of the run of ASCII
    /// lower-case letters after it.
    #[inline(always)]
    fn upper_lower_runs(&self, s: usize) -> (usize, usize) {
        #[cfg(target_arch = "x86_64")]
        if let Some(chunk) = self.bytes.get(s..s + 16) {
            let upper = AsciiLetters::Upper.mask16(chunk);
            let lower = AsciiLetters::Lower.mask16(chunk);
            let upper_len = (!upper).trailing_zeros() as usize;
            if upper_len < 16 {
                let lower_len = (!(lower >> upper_len)).trailing_zeros() as usize;
                let (j, end) = (s + upper_len, s + upper_len + lower_len);
                if upper_len + lower_len < 16 {
                    return (j, end);
                }
                return (j, self.ascii_run_end(end, AsciiLetters::Lower));
            }
        }
        let j = self.ascii_run_end(s, AsciiLetters::Upper);
        (j, self.ascii_run_end(j, AsciiLetters::Lower))
    }

    /// End of the run of ASCII letters of `kind` starting at `i`. Sixteen bytes are classified
    /// at a time, so the end of a word costs no data-dependent branch per byte.
    #[inline(always)]
    fn ascii_run_end(&self, mut i: usize, kind: AsciiLetters) -> usize {
        #[cfg(target_arch = "x86_64")]
        while let Some(chunk) = self.bytes.get(i..i + 16) {
            let in_run = kind.mask16(chunk);
            // Bits 16 and up of `!in_run` are set, so at most 16.
            let n = (!in_run).trailing_zeros() as usize;
            i += n;
            if n < 16 {
                return i;
            }
        }
        while self.bytes.get(i).is_some_and(|&b| kind.contains(b)) {
            i += 1;
        }
        i
    }

    /// `[^\s\p{L}\p{N}]*` then `[tail]*` from `i`, scanning ASCII bytes directly.
    #[inline(always)]
    fn fast_other_end(&self, mut i: usize, tail: &[u8]) -> usize {
        loop {
            let f = self.byte_flags(i);
            if f & NOT_OTHER != 0 {
                if f & NON_ASCII != 0 {
                    i = self.other_run_end(i);
                }
                return self.byte_run_end(i, tail);
            }
            i += 1;
        }
    }

    /// [`Self::whitespace_end`] at an ASCII whitespace character `i`.
    #[inline(always)]
    fn fast_whitespace_end(&self, i: usize) -> usize {
        let mut last_newline_end = None;
        let mut j = i;
        loop {
            let f = self.byte_flags(j);
            if f & SPACE == 0 {
                if f & NON_ASCII != 0 {
                    return self.whitespace_end(i);
                }
                break;
            }
            if f & NEWLINE != 0 {
                last_newline_end = Some(j + 1);
            }
            j += 1;
        }
        if let Some(end) = last_newline_end {
            return end;
        }
        // All characters of the run are one byte: the last starts at `j - 1`.
        if j == self.bytes.len() || j == i + 1 {
            j
        } else {
            j - 1
        }
    }

    /// [`Self::digits_end`] at an ASCII digit `i`.
    #[inline(always)]
    fn fast_digits_end(&self, i: usize) -> usize {
        let mut j = i + 1;
        for _ in 0..2 {
            let f = self.byte_flags(j);
            if f & NUMBER == 0 {
                if f & NON_ASCII != 0 {
                    return self.digits_end(i);
                }
                break;
            }
            j += 1;
        }
        j
    }

    /// The cl100k_base piece starting at `i`: [`Self::cl100k_piece`], with the decisions
    /// that ASCII characters settle made from the byte table.
    #[inline(always)]
    fn cl100k_piece_fast(&self, i: usize) -> usize {
        let f = self.byte_flags(i);
        if f & NON_ASCII != 0 {
            return self.cl100k_piece(i);
        }
        if f & LETTER != 0 {
            return self.fast_run_end(i + 1, AsciiLetters::Any, LETTER);
        }
        let f1 = self.byte_flags(i + 1);
        if f & (NUMBER | NEWLINE) == 0 {
            // `[^\r\n\p{L}\p{N}]`: a contraction, else the prefix of a word.
            if self.bytes[i] == b'\'' {
                if let Some(end) = self.contraction_end(i) {
                    return end;
                }
            }
            if f1 & LETTER != 0 {
                return self.fast_run_end(i + 2, AsciiLetters::Any, LETTER);
            }
            if f1 & NON_ASCII != 0 {
                return self.cl100k_piece(i);
            }
            if f & SPACE == 0 {
                return self.fast_other_end(i + 1, b"\r\n");
            }
            if self.bytes[i] == b' ' && f1 & NOT_OTHER == 0 {
                return self.fast_other_end(i + 2, b"\r\n");
            }
            return self.fast_whitespace_end(i);
        }
        if f & NUMBER != 0 {
            return self.fast_digits_end(i);
        }
        if f1 & NON_ASCII != 0 {
            return self.cl100k_piece(i);
        }
        self.fast_whitespace_end(i)
    }

    /// The o200k_base piece starting at `i`: [`Self::o200k_piece`], with the decisions
    /// that ASCII characters settle made from the byte table.
    #[inline(always)]
    fn o200k_piece_fast(&self, i: usize) -> usize {
        let f = self.byte_flags(i);
        if f & NON_ASCII != 0 {
            return self.o200k_piece(i);
        }
        // Where a word may start: at a letter, or after a prefix character. (Starting at the
        // prefix character itself fails: an ASCII non-letter is neither UPPER nor LOWER.)
        let start = if f & LETTER != 0 {
            Some(i)
        } else if f & (NUMBER | NEWLINE) == 0 {
            Some(i + 1)
        } else {
            None
        };
        if let Some(s) = start {
            // ASCII upper and lower letters are disjoint, so `UPPER* LOWER+` is the upper run
            // and then a lower run; failing that, `UPPER+ LOWER*` is the upper run alone.
            let (j, lower_end) = self.upper_lower_runs(s);
            if lower_end > j {
                let end = if self.byte_flags(lower_end) & NON_ASCII != 0 {
                    self.run_end(lower_end, LOWER)
                } else {
                    lower_end
                };
                return self.contraction_end(end).unwrap_or(end);
            }
            if self.byte_flags(j) & NON_ASCII != 0 {
                return self.o200k_piece(i);
            }
            if j > s {
                return self.contraction_end(j).unwrap_or(j);
            }
        }
        if f & NUMBER != 0 {
            return self.fast_digits_end(i);
        }
        // The byte after `i` is ASCII or the end here, unless `i` is a newline.
        let f1 = self.byte_flags(i + 1);
        if f & SPACE == 0 {
            return self.fast_other_end(i + 1, b"\r\n/");
        }
        if self.bytes[i] == b' ' && f1 & NOT_OTHER == 0 {
            return self.fast_other_end(i + 2, b"\r\n/");
        }
        if f1 & NON_ASCII != 0 {
            return self.o200k_piece(i);
        }
        self.fast_whitespace_end(i)
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
    #[inline(never)]
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
    #[inline(never)]
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
    fn byte_table_matches_char_classes() {
        let classes = CharClasses::get();
        for b in 0..=255u8 {
            let expected = if b < 0x80 {
                classes.of(u32::from(b))
            } else {
                NON_ASCII
            };
            assert_eq!(BYTE_CLASSES[usize::from(b)], expected, "byte {b:#x}");
        }
    }

    /// Pieces cut by the general (character-decoding) splitters alone.
    fn general_pieces(text: &str, pattern: Pattern) -> Vec<(usize, usize)> {
        let scan = Scanner {
            bytes: text.as_bytes(),
            classes: CharClasses::get(),
        };
        let mut out = Vec::new();
        let mut i = 0;
        while i < text.len() {
            let end = match pattern {
                Pattern::Cl100k => scan.cl100k_piece(i),
                Pattern::O200k => scan.o200k_piece(i),
            };
            out.push((i, end));
            i = end;
        }
        out
    }

    /// The ASCII fast paths against the general splitters on ASCII-heavy random text with
    /// non-ASCII characters of every relevant class sprinkled in.
    #[test]
    fn fast_paths_match_general_splitters() {
        const FRAGMENTS: &[&str] = &[
            "a",
            "z",
            "A",
            "Z",
            "the",
            " the",
            "The",
            " THE",
            "camelCase",
            "XMLHttp",
            "0",
            "7",
            "12",
            "123",
            "4567",
            " ",
            "  ",
            "   ",
            "\t",
            "\n",
            "\r",
            "\r\n",
            "\n\n",
            " \n",
            "\u{b}",
            "\u{c}",
            "'",
            "'s",
            "'S",
            "'t",
            "'T",
            "'re",
            "'RE",
            "'rE",
            "'ve",
            "'Ve",
            "'m",
            "'M",
            "'ll",
            "'LL",
            "'lL",
            "'d",
            "'D",
            "'x",
            "'ſ",
            "!",
            "?",
            ".",
            ",",
            "/",
            "//",
            "...",
            "-",
            "_",
            "(",
            ")",
            "{",
            "}",
            "\"",
            "#",
            "@",
            "\u{0}",
            "\u{1f}",
            "\u{7f}",
            "é",
            "É",
            "ß",
            "ǅ",
            "ʰ",
            "\u{301}",
            "\u{a0}",
            "\u{85}",
            "\u{2028}",
            "\u{3000}",
            "٣",
            "³",
            "Ⅻ",
            "日",
            "😀",
            "𝐀",
            "\u{200b}",
            "’",
            "—",
            "ﬁ",
        ];
        let mut state = 0x5851_F42D_4C95_7F2D_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..60_000 {
            let mut text = String::new();
            let items = 1 + next() % 24;
            // Some texts are pure ASCII so the fast paths run end to end.
            let ascii_only = round % 3 == 0;
            for _ in 0..items {
                let fragment = FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize];
                if !ascii_only || fragment.is_ascii() {
                    text.push_str(fragment);
                }
            }
            for pattern in [Pattern::Cl100k, Pattern::O200k] {
                let fast: Vec<(usize, usize)> = Pieces::new(&text, pattern).collect();
                assert_eq!(fast, general_pieces(&text, pattern), "{pattern:?} {text:?}");
            }
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
