//! Unicode character classes used by the tiktoken split patterns, as bit flags per code point.
//!
//! tiktoken matches its patterns with fancy-regex, which hands `\p{..}` and `\s` to the
//! `regex` crate. Deriving the tables from `regex-syntax` (the crate `regex` parses with)
//! keeps every code point classified exactly as tiktoken classifies it.

use std::sync::LazyLock;

use regex_syntax::hir::{Class, HirKind};

/// `\p{L}`.
pub(crate) const LETTER: u8 = 1;
/// `\p{N}`.
pub(crate) const NUMBER: u8 = 1 << 1;
/// `\s`.
pub(crate) const SPACE: u8 = 1 << 2;
/// `[\r\n]`.
pub(crate) const NEWLINE: u8 = 1 << 3;
/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`, o200k's leading ("upper") letters.
pub(crate) const UPPER: u8 = 1 << 4;
/// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`, o200k's trailing ("lower") letters.
pub(crate) const LOWER: u8 = 1 << 5;
/// Not a character: the position is the end of the text.
pub(crate) const END: u8 = 1 << 7;

/// The pattern each flag is derived from.
const SOURCES: [(u8, &str); 6] = [
    (LETTER, r"\p{L}"),
    (NUMBER, r"\p{N}"),
    (SPACE, r"\s"),
    (NEWLINE, r"[\r\n]"),
    (UPPER, r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"),
    (LOWER, r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"),
];

const BMP: usize = 0x10000;

/// Class flags of every code point: a flat table for the BMP (where nearly all text lives)
/// and sorted ranges above it.
pub(crate) struct CharClasses {
    bmp: Box<[u8]>,
    /// `(first, last, flags)`, sorted, non-overlapping, flags never 0.
    astral: Vec<(u32, u32, u8)>,
}

static CLASSES: LazyLock<CharClasses> = LazyLock::new(CharClasses::build);

impl CharClasses {
    pub(crate) fn get() -> &'static CharClasses {
        &CLASSES
    }

    /// Flags of code point `c` (0 for a character in none of the classes).
    #[inline]
    pub(crate) fn of(&self, c: u32) -> u8 {
        match self.bmp.get(c as usize) {
            Some(&flags) => flags,
            None => self.astral_flags(c),
        }
    }

    #[cold]
    fn astral_flags(&self, c: u32) -> u8 {
        let i = self.astral.partition_point(|&(_, last, _)| last < c);
        match self.astral.get(i) {
            Some(&(first, _, flags)) if first <= c => flags,
            _ => 0,
        }
    }

    fn build() -> CharClasses {
        let classes: Vec<(u8, Vec<(u32, u32)>)> = SOURCES
            .iter()
            .map(|&(flag, pattern)| (flag, unicode_ranges(pattern)))
            .collect();

        let mut bmp = vec![0u8; BMP].into_boxed_slice();
        for (flag, ranges) in &classes {
            for &(first, last) in ranges {
                for c in first..=last.min(BMP as u32 - 1) {
                    bmp[c as usize] |= flag;
                }
            }
        }

        // Above the BMP: cut the code space at every range boundary, then flag each piece.
        let mut cuts: Vec<u32> = classes
            .iter()
            .flat_map(|(_, ranges)| ranges.iter().flat_map(|&(a, b)| [a, b + 1]))
            .filter(|&c| c > BMP as u32)
            .chain([BMP as u32])
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut astral: Vec<(u32, u32, u8)> = Vec::new();
        for pair in cuts.windows(2) {
            let (first, last) = (pair[0], pair[1] - 1);
            let flags = classes
                .iter()
                .filter(|(_, ranges)| contains(ranges, first))
                .fold(0, |acc, (flag, _)| acc | flag);
            match astral.last_mut() {
                Some(prev) if prev.2 == flags && prev.1 + 1 == first => prev.1 = last,
                _ if flags == 0 => {}
                _ => astral.push((first, last, flags)),
            }
        }
        CharClasses { bmp, astral }
    }
}

/// Inclusive code point ranges of a single-class pattern, as `regex-syntax` parses it.
fn unicode_ranges(pattern: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .expect("built-in class pattern parses");
    match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        other => unreachable!("{pattern} is not a Unicode class: {other:?}"),
    }
}

fn contains(ranges: &[(u32, u32)], c: u32) -> bool {
    let i = ranges.partition_point(|&(_, last)| last < c);
    ranges.get(i).is_some_and(|&(first, _)| first <= c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_point_matches_regex_syntax() {
        let classes = CharClasses::get();
        let sources: Vec<(u8, Vec<(u32, u32)>)> = SOURCES
            .iter()
            .map(|&(flag, pattern)| (flag, unicode_ranges(pattern)))
            .collect();
        for c in 0..=0x10FFFF_u32 {
            let expected = sources
                .iter()
                .filter(|(_, ranges)| contains(ranges, c))
                .fold(0, |acc, (flag, _)| acc | flag);
            assert_eq!(classes.of(c), expected, "code point {c:#x}");
        }
    }

    #[test]
    fn spot_checks() {
        let classes = CharClasses::get();
        let of = |c: char| classes.of(c as u32);
        assert_eq!(of('a'), LETTER | LOWER);
        assert_eq!(of('A'), LETTER | UPPER);
        assert_eq!(of('ǅ'), LETTER | UPPER);
        assert_eq!(of('ʰ'), LETTER | UPPER | LOWER);
        assert_eq!(of('\u{301}'), UPPER | LOWER);
        assert_eq!(of('7') & NUMBER, NUMBER);
        assert_eq!(of('Ⅻ'), NUMBER);
        assert_eq!(of('³'), NUMBER);
        assert_eq!(of('\n'), SPACE | NEWLINE);
        for c in ['\u{a0}', '\u{2028}', '\u{3000}', '\u{85}', '\u{b}'] {
            assert_eq!(of(c), SPACE, "{c:?}");
        }
        assert_eq!(of('\u{200b}'), 0);
        assert_eq!(of('😀'), 0);
        assert_eq!(of('𝐀'), LETTER | UPPER);
    }
}
