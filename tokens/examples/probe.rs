//! Prints pieces and counts of the arguments: `cargo run --release --example probe -- TEXT...`.
use fast_litellm_tokens::{Encoding, EncodingName};

fn main() {
    for text in std::env::args().skip(1) {
        for name in EncodingName::ALL {
            let enc = Encoding::get(name);
            let pieces: Vec<&str> = enc.split(&text).collect();
            println!(
                "{name} {} chars {} tokens {pieces:?}",
                text.chars().count(),
                enc.count(&text)
            );
        }
    }
}
