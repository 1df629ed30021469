//! The encodings, their special tokens, and counting/encoding/decoding entry points.

use std::fmt;
use std::str::FromStr;

use bpe_openai::Tokenizer;
use rayon::prelude::*;

use crate::chunks::{chunk_byte_ranges, chunks};
use crate::pretokenize::{Pattern, Pieces};
use crate::vocab::Vocab;

/// Below this many bytes a text is counted on the calling thread: handing work to the
/// pool costs more than the count itself.
const PARALLEL_MIN_BYTES: usize = 64 * 1024;
/// Chunks handed to one worker at a time, so tasks stay coarse.
const MIN_CHUNKS_PER_TASK: usize = 16;

/// Encodings with a native implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncodingName {
    Cl100kBase,
    O200kBase,
}

impl EncodingName {
    pub const ALL: [EncodingName; 2] = [EncodingName::Cl100kBase, EncodingName::O200kBase];

    pub fn as_str(self) -> &'static str {
        match self {
            EncodingName::Cl100kBase => "cl100k_base",
            EncodingName::O200kBase => "o200k_base",
        }
    }
}

impl fmt::Display for EncodingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of an encoding that has no native implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEncoding(pub String);

impl fmt::Display for UnknownEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no native implementation of encoding {:?}", self.0)
    }
}

impl std::error::Error for UnknownEncoding {}

impl FromStr for EncodingName {
    type Err = UnknownEncoding;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        EncodingName::ALL
            .into_iter()
            .find(|encoding| encoding.as_str() == name)
            .ok_or_else(|| UnknownEncoding(name.to_owned()))
    }
}

/// A tiktoken encoding: ordinary BPE plus the ids of its special tokens (for decoding).
pub struct Encoding {
    name: EncodingName,
    tokenizer: &'static Tokenizer,
    pattern: Pattern,
    vocab: Vocab,
    special_tokens: &'static [(&'static str, u32)],
}

const CL100K_SPECIAL: &[(&str, u32)] = &[
    ("<|endoftext|>", 100257),
    ("<|fim_prefix|>", 100258),
    ("<|fim_middle|>", 100259),
    ("<|fim_suffix|>", 100260),
    ("<|endofprompt|>", 100276),
];
const O200K_SPECIAL: &[(&str, u32)] = &[("<|endoftext|>", 199999), ("<|endofprompt|>", 200018)];

static CL100K: std::sync::LazyLock<Encoding> = std::sync::LazyLock::new(|| {
    Encoding::new(
        EncodingName::Cl100kBase,
        bpe_openai::cl100k_base(),
        Pattern::Cl100k,
        CL100K_SPECIAL,
    )
});
static O200K: std::sync::LazyLock<Encoding> = std::sync::LazyLock::new(|| {
    Encoding::new(
        EncodingName::O200kBase,
        bpe_openai::o200k_base(),
        Pattern::O200k,
        O200K_SPECIAL,
    )
});

impl Encoding {
    fn new(
        name: EncodingName,
        tokenizer: &'static Tokenizer,
        pattern: Pattern,
        special_tokens: &'static [(&'static str, u32)],
    ) -> Encoding {
        Encoding {
            name,
            tokenizer,
            pattern,
            vocab: Vocab::new(&tokenizer.bpe),
            special_tokens,
        }
    }

    /// The process-wide instance of an encoding; the vocabulary is loaded on first use.
    pub fn get(name: EncodingName) -> &'static Encoding {
        match name {
            EncodingName::Cl100kBase => &CL100K,
            EncodingName::O200kBase => &O200K,
        }
    }

    pub fn name(&self) -> EncodingName {
        self.name
    }

    /// Number of tokens of `text` encoded as one piece (tiktoken's `encode_ordinary`).
    pub fn count(&self, text: &str) -> usize {
        // Pieces are cut a batch ahead of counting, with the table entries of the batch
        // prefetched: in cold caches the lookups' memory latencies then overlap.
        const BATCH: usize = 16;
        let bytes = text.as_bytes();
        let mut pieces = Pieces::new(text, self.pattern);
        let mut batch = [(0, 0, 0); BATCH];
        let mut total = 0;
        loop {
            let mut len = 0;
            for (slot, (start, end)) in batch.iter_mut().zip(&mut pieces) {
                let location = self.vocab.prefetch(&bytes[start..end]);
                *slot = (start, end, location);
                len += 1;
            }
            for &(start, end, location) in &batch[..len] {
                total += self.vocab.count_located(&bytes[start..end], location);
            }
            if len < BATCH {
                return total;
            }
        }
    }

    /// The pieces tiktoken's split pattern cuts `text` into before BPE (exposed for tests).
    pub fn split<'a>(&self, text: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        Pieces::new(text, self.pattern).map(move |(start, end)| &text[start..end])
    }

    /// The splitter of the `bpe-openai` crate, a regex-based reference for [`Self::split`].
    pub fn reference_split<'a>(&'a self, text: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tokenizer.split(text)
    }

    /// Bytes of the token lookup table this encoding builds on first use.
    pub fn lookup_table_bytes(&self) -> usize {
        self.vocab.table_bytes()
    }

    /// Sum of the counts of consecutive `chunk_chars`-code-point chunks of `text`, LiteLLM's
    /// rule. Large texts are counted in parallel; the result does not depend on it.
    pub fn count_chunked(&self, text: &str, chunk_chars: usize) -> usize {
        if chunk_chars == 0 || text.len() <= chunk_chars {
            // One chunk (fewer bytes than chunk_chars means fewer code points too).
            return self.count(text);
        }
        if text.len() < PARALLEL_MIN_BYTES {
            return chunks(text, chunk_chars)
                .map(|(start, end)| self.count(&text[start..end]))
                .sum();
        }
        let ranges = chunk_byte_ranges(text, chunk_chars);
        ranges
            .par_iter()
            .with_min_len(MIN_CHUNKS_PER_TASK)
            .map(|&(start, end)| self.count(&text[start..end]))
            .sum()
    }

    /// Token ids of `text` with special-token text encoded as ordinary text.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let bytes = text.as_bytes();
        let mut tokens = Vec::with_capacity(text.len() / 4 + 1);
        for (start, end) in Pieces::new(text, self.pattern) {
            self.vocab.encode_into(&bytes[start..end], &mut tokens);
        }
        tokens
    }

    /// The bytes of `tokens`, special tokens included; `None` if any id is not in the vocabulary.
    pub fn decode_bytes(&self, tokens: &[u32]) -> Option<Vec<u8>> {
        let bpe = self.vocab.bpe();
        let ordinary = bpe.num_tokens();
        let mut out = Vec::with_capacity(tokens.len() * 4);
        for &token in tokens {
            if (token as usize) < ordinary {
                out.extend_from_slice(bpe.token_bytes(token));
            } else {
                let (text, _) = self.special_tokens.iter().find(|(_, id)| *id == token)?;
                out.extend_from_slice(text.as_bytes());
            }
        }
        Some(out)
    }

    /// Largest token id, special tokens included.
    pub fn max_token_value(&self) -> u32 {
        let special_max = self.special_tokens.iter().map(|(_, id)| *id).max();
        let ordinary_max = self.tokenizer.bpe.num_tokens() as u32 - 1;
        special_max.map_or(ordinary_max, |s| s.max(ordinary_max))
    }
}
