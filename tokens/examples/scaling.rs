//! Checks that adversarial inputs scale linearly: `cargo run --release --example scaling`.
use std::time::Instant;

use fast_litellm_tokens::{Encoding, EncodingName};

fn main() {
    for name in EncodingName::ALL {
        let enc = Encoding::get(name);
        for unit in ["'", "x", " ", "\u{301}A", "'s", "7"] {
            let times: Vec<String> = [1usize << 18, 1 << 20, 1 << 22]
                .iter()
                .map(|&bytes| {
                    let text = unit.repeat(bytes / unit.len());
                    let start = Instant::now();
                    let count = enc.count(&text);
                    format!("{} KiB: {:.1?} ({count})", bytes >> 10, start.elapsed())
                })
                .collect();
            println!("{name} {unit:?}: {}", times.join(", "));
        }
    }
}
