//! Exactness against the references: pieces against `bpe-openai`'s regex splitter, token ids
//! and counts against tiktoken-rs `encode_ordinary`, on edge cases and seeded random text.

use std::sync::LazyLock;

use fast_litellm_tokens::{chunk_byte_ranges, Encoding, EncodingName};
use tiktoken_rs::CoreBPE;

fn tiktoken(name: EncodingName) -> &'static CoreBPE {
    match name {
        EncodingName::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        EncodingName::O200kBase => tiktoken_rs::o200k_base_singleton(),
    }
}

/// Checks one text on one encoding; panics with the text on any difference.
fn check(name: EncodingName, text: &str) {
    let enc = Encoding::get(name);
    let pieces: Vec<&str> = enc.split(text).collect();
    let reference: Vec<&str> = enc.reference_split(text).collect();
    assert_eq!(pieces, reference, "{name} pieces differ for {text:?}");
    let expected = tiktoken(name).encode_ordinary(text);
    assert_eq!(enc.encode(text), expected, "{name} ids differ for {text:?}");
    assert_eq!(
        enc.count(text),
        expected.len(),
        "{name} count differs for {text:?}"
    );
}

fn check_both(text: &str) {
    for name in EncodingName::ALL {
        check(name, text);
    }
}

#[test]
fn edge_cases() {
    let cases = [
        "",
        " ",
        "  ",
        "x",
        "Hello, world!",
        "<|endoftext|>",
        "<|endoftext|><|fim_prefix|><|endofprompt|>",
        "It's they'll we've I'm he'd she's can't you're",
        "IT'S THEY'LL WE'VE I'M HE'D SHE'S CAN'T YOU'RE",
        "It'S they'Ll we'vE i'M he'D",
        "'s 'S 'ſ 'ſx Kelvin'K 'K x'ſ x'S X'LL",
        "'", "''", "'''s", "' s", "'\n", "'ll'll'LL", "don’t",
        "ﬀ ﬁ ǅungla ǈ ǋ ǲ Dž",
        "ʰʲʷ ˈhɛloʊ ªº ᵃᵇ",
        "a\u{301}e\u{301}\u{302} \u{301}\u{301}A1 !\u{301} \u{301}x",
        "\u{301}A1 \u{301}AB\u{301}cd",
        "ÀÉÎÕÜ àéîõü ñ ß ẞ Ǆǅǆ",
        "Ελληνικά ΑΒΓ αβγ Кириллица ПРИВЕТ привет",
        "日本語のテキストです。中文文本。한국어 텍스트",
        "العربية مرحبا بالعالم ١٢٣٤٥",
        "हिन्दी देवनागरी क्षत्रिय ०१२३",
        "😀😃 👨‍👩‍👧‍👦 👍🏽 ❤️ 🏳️‍🌈 1️⃣",
        "٣٤٥٦ ³²¹ Ⅻ Ⅳ ① ０１２３ 𝟘𝟙",
        "123456789 1,234,567.89 0x1F 3.14159",
        "\t\t\tindented\n\n\n  \n \r\n\r\n\r \u{b}\u{c}",
        "a\u{a0}b \u{a0}\u{a0}c\u{2028}d\u{2029}\u{3000}e\u{85}f\u{1680}g\u{2000}\u{200a}h\u{202f}\u{205f}",
        "tab\tthen  two   three    spaces\u{3000}\u{3000}",
        "trailing spaces   ",
        "trailing newline\n",
        "   \n   ",
        "x \n\t y",
        " \r\n \r\n  x",
        "\u{200b}zero\u{200b}width\u{feff}",
        "path/to/file.rs://comment\n//\n/",
        "!!!\n\n/// doc\r\n/",
        "fn main() {\n    println!(\"hi\");\n}\n",
        "$$$ %%% ^^^ &&& *** ((( )))",
        "ab12cd345ef6789",
        "𐍈𐍉 𝐀𝐁𝐂 𝒜𝒷 🁣",
    ];
    for text in cases {
        check_both(text);
    }
}

#[test]
fn long_runs() {
    for unit in [
        "x", " ", "'", "7", "\n", " \n", "ab ", "é", "日", "😀", "'s", "\u{301}A",
    ] {
        let text = unit.repeat(3000);
        check_both(&text);
    }
}

/// splitmix64: a tiny deterministic generator, so no dependency is needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn char_in(&mut self, first: u32, last: u32) -> char {
        let c = first + self.below((last - first + 1) as usize) as u32;
        char::from_u32(c).unwrap_or('?')
    }
}

/// Alphabets random strings are drawn from: (weight, fragments or ranges).
enum Source {
    Strs(&'static [&'static str]),
    Range(u32, u32),
    AnyCodePoint,
}

static SOURCES: LazyLock<Vec<(usize, Source)>> = LazyLock::new(|| {
    use Source::*;
    vec![
        (30, Range(b'a' as u32, b'z' as u32)),
        (10, Range(b'A' as u32, b'Z' as u32)),
        (6, Range(b'0' as u32, b'9' as u32)),
        (8, Range(b'!' as u32, b'/' as u32)),
        (4, Range(b':' as u32, b'@' as u32)),
        (
            3,
            Strs(&["[", "]", "{", "}", "_", "`", "|", "~", "\\", "^"]),
        ),
        (20, Strs(&[" ", " ", " ", "  ", "\n", "\t", "\r\n", "\r"])),
        (
            5,
            Strs(&[
                "\u{b}", "\u{c}", "\u{85}", "\u{a0}", "\u{1680}", "\u{2000}", "\u{2003}",
                "\u{200a}", "\u{2028}", "\u{2029}", "\u{202f}", "\u{205f}", "\u{3000}", "\u{200b}",
                "\u{feff}", "\u{180e}",
            ]),
        ),
        (
            8,
            Strs(&[
                "'s", "'S", "'ſ", "'t", "'T", "'re", "'RE", "'Re", "'rE", "'ve", "'VE", "'m", "'M",
                "'ll", "'LL", "'lL", "'d", "'D", "'", "’s", "'K", "K", "'x", "ſ",
            ]),
        ),
        (5, Range(0xC0, 0x24F)),
        (3, Range(0x370, 0x3FF)),
        (3, Range(0x400, 0x4FF)),
        (4, Range(0x4E00, 0x9FFF)),
        (2, Range(0x3040, 0x30FF)),
        (3, Range(0xAC00, 0xD7A3)),
        (2, Range(0x600, 0x6FF)),
        (3, Range(0x900, 0x97F)),
        (3, Range(0x300, 0x36F)),
        (3, Range(0x1F300, 0x1FAFF)),
        (
            3,
            Strs(&[
                "\u{200d}",
                "\u{fe0f}",
                "\u{1f3fb}",
                "\u{1f3ff}",
                "👨‍👩‍👧‍👦",
                "👍🏽",
                "🏳️‍🌈",
                "1️⃣",
            ]),
        ),
        (
            3,
            Strs(&[
                "٣", "³", "²", "Ⅻ", "ⅻ", "①", "０", "９", "߀", "०", "𝟘", "½", "〇", "٠", "۵",
            ]),
        ),
        (
            2,
            Strs(&[
                "ǅ", "ǈ", "ǋ", "ǲ", "ᾈ", "ʰ", "ʲ", "ˈ", "ª", "º", "ᵃ", "ㅤ", "々", "ー",
            ]),
        ),
        (3, AnyCodePoint),
    ]
});

fn random_text(rng: &mut Rng, max_items: usize) -> String {
    let total: usize = SOURCES.iter().map(|(w, _)| w).sum();
    let items = rng.below(max_items + 1);
    // Each string draws from a few favourite sources so runs of one kind form too.
    let favourites: Vec<usize> = (0..3).map(|_| rng.below(SOURCES.len())).collect();
    let mut text = String::new();
    for _ in 0..items {
        let source = if rng.below(2) == 0 {
            &SOURCES[*rng.pick(&favourites)].1
        } else {
            let mut roll = rng.below(total);
            let mut chosen = &SOURCES[0].1;
            for (weight, source) in SOURCES.iter() {
                if roll < *weight {
                    chosen = source;
                    break;
                }
                roll -= weight;
            }
            chosen
        };
        match source {
            Source::Strs(strs) => {
                let s = *rng.pick::<&str>(strs);
                text.push_str(s)
            }
            Source::Range(first, last) => text.push(rng.char_in(*first, *last)),
            Source::AnyCodePoint => loop {
                if let Some(c) = char::from_u32(rng.below(0x110000) as u32) {
                    text.push(c);
                    break;
                }
            },
        }
    }
    text
}

#[test]
fn random_strings_cl100k() {
    let mut rng = Rng(100_256);
    for _ in 0..40_000 {
        check(EncodingName::Cl100kBase, &random_text(&mut rng, 40));
    }
    for _ in 0..1_500 {
        check(EncodingName::Cl100kBase, &random_text(&mut rng, 400));
    }
}

#[test]
fn random_strings_o200k() {
    let mut rng = Rng(199_998);
    for _ in 0..40_000 {
        check(EncodingName::O200kBase, &random_text(&mut rng, 40));
    }
    for _ in 0..1_500 {
        check(EncodingName::O200kBase, &random_text(&mut rng, 400));
    }
}

/// Random texts joined until there are at least `bytes` bytes.
fn random_text_of_at_least(rng: &mut Rng, bytes: usize) -> String {
    let mut text = String::new();
    while text.len() < bytes {
        text.push_str(&random_text(rng, 60));
    }
    text
}

/// LiteLLM's rule spelled out: the sum of the counts of the chunks, each counted alone.
fn sum_of_chunk_counts(enc: &Encoding, text: &str, chunk_chars: usize) -> usize {
    chunk_byte_ranges(text, chunk_chars)
        .into_iter()
        .map(|(s, e)| enc.count(&text[s..e]))
        .sum()
}

#[test]
fn chunked_counts_match_tiktoken_per_chunk() {
    // Large enough to take the parallel path.
    let text = random_text_of_at_least(&mut Rng(1024), 200_000);
    for name in EncodingName::ALL {
        let enc = Encoding::get(name);
        for chunk in [1, 7, 1024] {
            let expected: usize = chunk_byte_ranges(&text, chunk)
                .into_iter()
                .map(|(s, e)| tiktoken(name).encode_ordinary(&text[s..e]).len())
                .sum();
            assert_eq!(
                enc.count_chunked(&text, chunk),
                expected,
                "{name} chunk {chunk}"
            );
        }
    }
}

/// Around the parallel threshold (16 KiB) and with few chunk groups per thread, the shared
/// count equals the sum of per-chunk counts.
#[test]
fn chunked_counts_around_the_parallel_threshold_match_per_chunk_counts() {
    let long = random_text_of_at_least(&mut Rng(4096), 70_000);
    for name in EncodingName::ALL {
        let enc = Encoding::get(name);
        for size in [
            16_383, 16_384, 16_385, 17_000, 20_000, 33_000, 45_000, 65_537,
        ] {
            let mut end = size.min(long.len());
            while !long.is_char_boundary(end) {
                end -= 1;
            }
            let text = &long[..end];
            for chunk in [7, 1024] {
                assert_eq!(
                    enc.count_chunked(text, chunk),
                    sum_of_chunk_counts(enc, text, chunk),
                    "{name} {size} bytes, chunk {chunk}"
                );
            }
        }
    }
}

/// Texts below the parallel threshold take the sequential paths (one chunk, lazily found
/// chunks); all must equal the sum of per-chunk counts.
#[test]
fn small_chunked_counts_match_per_chunk_counts() {
    let mut rng = Rng(77);
    for name in EncodingName::ALL {
        let enc = Encoding::get(name);
        for _ in 0..2_000 {
            let text = random_text(&mut rng, 60);
            for chunk in [0, 1, 3, 16, 1024, text.len(), text.len() + 1] {
                assert_eq!(
                    enc.count_chunked(&text, chunk),
                    sum_of_chunk_counts(enc, &text, chunk),
                    "{name} chunk {chunk} {text:?}"
                );
            }
        }
    }
}

/// Every code point in contexts that exercise each class decision of both splitters.
#[test]
fn every_code_point_in_context() {
    let context = |c: char| format!("{c}x{c}X{c} {c}!{c}1{c}\t{c}\n{c}{c}ǅ{c}'{c}ʰ{c}\u{301}{c}");
    for name in EncodingName::ALL {
        let enc = Encoding::get(name);
        for (k, c) in (0..=0x10FFFF_u32).filter_map(char::from_u32).enumerate() {
            let text = context(c);
            if k % 97 == 0 {
                // Sampled: tiktoken is the slow reference.
                check(name, &text);
            } else {
                let pieces: Vec<&str> = enc.split(&text).collect();
                let reference: Vec<&str> = enc.reference_split(&text).collect();
                assert_eq!(pieces, reference, "{name} pieces differ for {text:?}");
                assert_eq!(enc.count(&text), enc.encode(&text).len(), "{text:?}");
            }
        }
    }
}
