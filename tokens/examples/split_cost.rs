//! Where counting time goes on a text file: splitting alone vs splitting and counting.
//!
//!     cargo run --release -p fast-litellm-tokens --example split_cost -- FILE
use fast_litellm_tokens::{Encoding, EncodingName};
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: split_cost FILE");
    let text = std::fs::read_to_string(path).expect("readable UTF-8 file");
    for name in EncodingName::ALL {
        let encoding = Encoding::get(name);
        let best = |f: &dyn Fn() -> usize| {
            (0..5)
                .map(|_| {
                    let start = Instant::now();
                    std::hint::black_box(f());
                    start.elapsed()
                })
                .min()
                .unwrap()
        };
        let pieces = encoding.split(&text).count();
        let split = best(&|| encoding.split(&text).map(str::len).sum());
        let count = best(&|| encoding.count(&text));
        let tokens = encoding.count(&text);
        println!(
            "{name}: {} bytes, {pieces} pieces, {tokens} tokens; split {:?} ({:.1} ns/piece), count {:?} ({:.1} ns/token)",
            text.len(),
            split,
            split.as_nanos() as f64 / pieces as f64,
            count,
            count.as_nanos() as f64 / tokens as f64
        );
    }
}
