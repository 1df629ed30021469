//! Exact, tiktoken-compatible token counting for the encodings LiteLLM resolves OpenAI models to.
//!
//! Counts match `len(tiktoken.get_encoding(name).encode(text, disallowed_special=()))`, i.e.
//! special-token text is encoded as ordinary text. [`Encoding::count_chunked`] reproduces
//! LiteLLM's rule of encoding text in independent fixed-size character chunks; because the
//! chunks are independent, large inputs are counted on several cores with identical results.
//!
//! Text is cut into pieces by hand-written equivalents of tiktoken's split regexes
//! (`pretokenize`), pieces that are a single token are answered by a hash lookup (`vocab`),
//! and only the rest go through byte-pair merging (the `bpe` crate for long pieces).

mod chunks;
mod classes;
mod count_cache;
mod encoding;
mod merge_memo;
mod per_process;
mod pretokenize;
mod table;
mod vocab;

pub use chunks::chunk_byte_ranges;
pub use count_cache::{CacheStats, CountCache, MIN_CACHED_CHARS};
pub use encoding::{set_helper_pause_for_tests, Encoding, EncodingName, UnknownEncoding};
pub use per_process::{fork_epoch, install_fork_handlers, PerProcess};
