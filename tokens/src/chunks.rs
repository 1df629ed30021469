//! Splitting text into chunks of N Unicode code points, as Python's `text[i:i + n]` does.

/// Byte ranges of consecutive chunks of `chunk_chars` code points covering `text`.
///
/// Python slices strings by code point, so a chunk boundary never splits a UTF-8 sequence.
/// An empty text has no chunks; `chunk_chars == 0` is treated as one chunk for the whole text.
pub fn chunk_byte_ranges(text: &str, chunk_chars: usize) -> Vec<(usize, usize)> {
    if text.is_empty() {
        return Vec::new();
    }
    if chunk_chars == 0 || text.len() <= chunk_chars {
        // Fewer bytes than chunk_chars means fewer code points too: one chunk.
        return vec![(0, text.len())];
    }
    let mut ranges = Vec::with_capacity(text.len() / chunk_chars + 1);
    ranges.extend(chunks(text, chunk_chars));
    ranges
}

/// The ranges of [`chunk_byte_ranges`], found as they are consumed (`chunk_chars > 0`).
pub(crate) fn chunks(text: &str, chunk_chars: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    debug_assert!(chunk_chars > 0);
    let bytes = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let end = advance_chars(bytes, start, chunk_chars);
        let range = (start, end);
        start = end;
        Some(range)
    })
}

/// Byte offset reached after `chars` code points starting at `start` (or the end of `bytes`).
fn advance_chars(bytes: &[u8], start: usize, chars: usize) -> usize {
    let rest = &bytes[start..];
    // Fast path: an ASCII stretch has one byte per code point.
    if rest.len() >= chars && rest[..chars].is_ascii() {
        return start + chars;
    }
    let mut seen = 0;
    for (offset, &byte) in rest.iter().enumerate() {
        // A code point starts at every byte that is not a UTF-8 continuation byte.
        if byte & 0xC0 != 0x80 {
            if seen == chars {
                return start + offset;
            }
            seen += 1;
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python_like_chunks(text: &str, n: usize) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        chars.chunks(n).map(|c| c.iter().collect()).collect()
    }

    #[test]
    fn matches_code_point_slicing() {
        let samples = [
            "",
            "a",
            "hello world",
            "héllo wörld ünïcödé",
            "日本語のテキストです。中文文本。한국어 텍스트",
            "😀😃😄😁 emoji 👨‍👩‍👧‍👦 family",
            &"x".repeat(5000),
            &"é😀a".repeat(777),
        ];
        for text in samples {
            for n in [1, 2, 3, 7, 1024] {
                let got: Vec<&str> = chunk_byte_ranges(text, n)
                    .into_iter()
                    .map(|(s, e)| &text[s..e])
                    .collect();
                assert_eq!(got, python_like_chunks(text, n), "text={text:?} n={n}");
            }
        }
    }

    #[test]
    fn zero_chunk_size_is_one_chunk() {
        assert_eq!(chunk_byte_ranges("abc", 0), vec![(0, 3)]);
    }
}
