//! Timing harness: `cargo run --release -p fast-litellm-tokens --example bench`.
//!
//! Prints per-call times for the workloads the crate is tuned for.

use std::hint::black_box;
use std::time::{Duration, Instant};

use fast_litellm_tokens::{Encoding, EncodingName};

/// Runs `f` for ~`budget` in a few rounds and reports the best round's mean per call: the
/// minimum shrugs off interference from other processes on a shared machine.
fn time<F: FnMut() -> usize>(label: &str, budget: Duration, mut f: F) {
    // `cargo run --example bench -- WORD` runs only the workloads whose label contains WORD.
    if let Some(filter) = std::env::args().nth(1) {
        if !label.contains(&filter) {
            return;
        }
    }
    const ROUNDS: u32 = 7;
    let mut sink = f(); // warm-up (and vocabulary load)
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut calls = 0u32;
        // Read the clock once per batch so it does not weigh on sub-microsecond calls.
        let mut batch = 1;
        while start.elapsed() < budget / ROUNDS {
            for _ in 0..batch {
                sink = sink.wrapping_add(black_box(f()));
            }
            calls += batch;
            batch = (batch * 2).min(1024);
        }
        best = best.min(start.elapsed() / calls);
    }
    println!("{label:<44} {best:>12.3?}  (result {})", f());
    black_box(sink);
}

/// ~`bytes` of English prose mixed with code, deterministic.
fn prose_and_code(bytes: usize) -> String {
    let parts = [
        "The quick brown fox jumps over the lazy dog. ",
        "It's what they'll say: \"we've done it\", isn't it?\n",
        "fn main() {\n    let x: Vec<u32> = (0..10).map(|i| i * 2).collect();\n}\n",
        "In 2024, revenue grew 17.5% to $3,141,592 (see Table 3).\n\n",
        "    def count(self, text: str) -> int:\n        return len(self.encode(text))\n",
        "Ünïcödé café naïve résumé — “quotes” and ‘apostrophes’… ",
        "<|endoftext|> special-looking text stays ordinary.\r\n",
    ];
    let mut text = String::new();
    let mut i = 0usize;
    while text.len() < bytes {
        text.push_str(parts[i % parts.len()]);
        i = i.wrapping_mul(31).wrapping_add(7) % 1009;
    }
    text
}

fn main() {
    // 45 characters, 12 tokens in both encodings.
    let sentence = "The cat sat on the mat and then it ran away!!";
    // 45 characters; contractions make multi-token pieces.
    let contractions = "Hello, world! How's it going? Let's count it.";
    let prose = prose_and_code(400 * 1024);
    let xs = "x".repeat(1 << 20);
    let spaces = " ".repeat(1 << 20);
    let quotes = "'".repeat(1 << 20);
    let digits = "1234567890".repeat(1 << 17);
    // Inputs aimed at the splitters' backtracking paths.
    let adversarial = [
        ("count 1 MB mark+capital", "\u{301}A".repeat(1 << 18)),
        ("count 1 MB capitals+digit", "ABCDEFG1".repeat(1 << 17)),
        ("count 1 MB \"  \\n\"", "  \n".repeat(1 << 18)),
        ("count 1 MB \" !\"", " !".repeat(1 << 19)),
        ("count 1 MB \"'s\"", "'s".repeat(1 << 19)),
        ("count 1 MB CJK", "日本語".repeat(1 << 17)),
        ("count 1 MB emoji", "👍🏽".repeat(1 << 17)),
    ];
    let budget = Duration::from_millis(700);
    for name in EncodingName::ALL {
        // Load the bpe-openai vocabulary first so the rest is this crate's own setup.
        let started = Instant::now();
        let reference = match name {
            EncodingName::Cl100kBase => bpe_openai::cl100k_base(),
            EncodingName::O200kBase => bpe_openai::o200k_base(),
        };
        let bpe_load = started.elapsed();
        let started = Instant::now();
        let enc = Encoding::get(name);
        let own_load = started.elapsed();
        // The first count builds the character class tables (shared by both encodings).
        let started = Instant::now();
        enc.count("a");
        println!(
            "== {name}: bpe-openai load {bpe_load:.1?}, own tables {own_load:.1?}, first count {:.1?}, lookup table {} KiB ({} tokens)",
            started.elapsed(),
            enc.lookup_table_bytes() / 1024,
            reference.bpe.num_tokens(),
        );
        println!("== {name} ({} tokens in sentence)", enc.count(sentence));
        time("count 45-char sentence", budget, || {
            enc.count(black_box(sentence))
        });
        // The previous implementation: bpe-openai's regex splitter and `bpe.count` per piece.
        time("old: bpe-openai count 45-char sentence", budget, || {
            reference.count(black_box(sentence))
        });
        time("old: bpe-openai count 400 KB (one chunk)", budget, || {
            reference.count(black_box(prose.as_str()))
        });
        time("count 45-char sentence with contractions", budget, || {
            enc.count(black_box(contractions))
        });
        time("split 45-char sentence", budget, || {
            enc.split(black_box(sentence)).count()
        });
        time("encode 45-char sentence", budget, || {
            enc.encode(black_box(sentence)).len()
        });
        time("count_chunked 400 KB, 1024 (rayon)", budget, || {
            enc.count_chunked(black_box(&prose), 1024)
        });
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        time("count_chunked 400 KB, 1024 (1 thread)", budget, || {
            single.install(|| enc.count_chunked(black_box(&prose), 1024))
        });
        time("count 400 KB (one chunk)", budget, || {
            enc.count(black_box(&prose))
        });
        time("count 1 MB \"x\"", budget, || enc.count(black_box(&xs)));
        time("count 1 MB spaces", budget, || {
            enc.count(black_box(&spaces))
        });
        time("count 1 MB \"'\"", budget, || enc.count(black_box(&quotes)));
        time("count 1.25 MB digits", budget, || {
            enc.count(black_box(&digits))
        });
        for (label, text) in &adversarial {
            time(label, budget, || enc.count(black_box(text)));
        }
    }
}
