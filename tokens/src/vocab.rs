//! Fast token lookups on top of the `bpe` crate's vocabulary.
//!
//! Most pieces of ordinary text are a single token, and `bpe`'s backtracking encoder
//! allocates per call, so an exact-match table answers those pieces directly. Short pieces
//! that are not one token are merged with tiktoken's own algorithm on the stack.

use bpe_openai::byte_pair_encoding::BytePairEncoding;

/// Pieces up to this many bytes are merged on the stack; longer ones go to `bpe`, whose
/// encoder does not slow down quadratically.
pub(crate) const SMALL_PIECE: usize = 16;

/// A slot holds a token id in its low `ID_BITS` bits and high bits of the token's hash above
/// them, which reject most mismatches without touching the vocabulary.
const ID_BITS: u32 = 18;
const ID_MASK: u32 = (1 << ID_BITS) - 1;
const EMPTY: u32 = u32::MAX;

/// Map from token bytes to token id: open addressing with linear probing.
pub(crate) struct Vocab {
    bpe: &'static BytePairEncoding,
    slots: Box<[u32]>,
    mask: usize,
    /// Longest token in bytes: longer pieces skip the lookup.
    max_token_len: usize,
}

impl Vocab {
    pub(crate) fn new(bpe: &'static BytePairEncoding) -> Vocab {
        let tokens = bpe.num_tokens();
        assert!(
            tokens < ID_MASK as usize,
            "vocabulary too large for the lookup table"
        );
        // At most 3/8 full (1/4 to 1/2), so a miss usually ends at the first empty slot.
        let capacity = (tokens * 4 / 3).next_power_of_two().max(16);
        let mut vocab = Vocab {
            bpe,
            slots: vec![EMPTY; capacity].into_boxed_slice(),
            mask: capacity - 1,
            max_token_len: 0,
        };
        for id in 0..tokens as u32 {
            let bytes = bpe.token_bytes(id);
            vocab.max_token_len = vocab.max_token_len.max(bytes.len());
            let hash = hash(bytes);
            let mut slot = hash as usize & vocab.mask;
            while vocab.slots[slot] != EMPTY {
                slot = (slot + 1) & vocab.mask;
            }
            vocab.slots[slot] = tag(hash) | id;
        }
        vocab
    }

    pub(crate) fn bpe(&self) -> &'static BytePairEncoding {
        self.bpe
    }

    /// Bytes of the table, for reporting.
    pub(crate) fn table_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<u32>()
    }

    /// The id of the token whose bytes are exactly `bytes`.
    #[inline]
    pub(crate) fn id(&self, bytes: &[u8]) -> Option<u32> {
        if bytes.len() > self.max_token_len {
            return None;
        }
        let hash = hash(bytes);
        let tag = tag(hash);
        let mut slot = hash as usize & self.mask;
        loop {
            let entry = self.slots[slot];
            if entry == EMPTY {
                return None;
            }
            if entry & !ID_MASK == tag {
                let id = entry & ID_MASK;
                if same_bytes(self.bpe.token_bytes(id), bytes) {
                    return Some(id);
                }
            }
            slot = (slot + 1) & self.mask;
        }
    }

    /// Number of tokens of one piece.
    #[inline]
    pub(crate) fn count(&self, piece: &[u8]) -> usize {
        if piece.len() <= 1 {
            return piece.len();
        }
        if self.id(piece).is_some() {
            return 1;
        }
        if piece.len() <= SMALL_PIECE {
            return SmallMerge::new(self, piece).run().len - 1;
        }
        self.bpe.count(piece)
    }

    /// Appends the tokens of one piece to `out`.
    pub(crate) fn encode_into(&self, piece: &[u8], out: &mut Vec<u32>) {
        if let Some(id) = self.id(piece) {
            out.push(id);
        } else if piece.len() <= SMALL_PIECE {
            let merged = SmallMerge::new(self, piece).run();
            for w in merged.starts[..merged.len].windows(2) {
                let token = &piece[w[0] as usize..w[1] as usize];
                // Every part of a finished merge is a token by construction.
                out.push(self.id(token).unwrap_or(u32::MAX));
            }
        } else {
            out.extend(self.bpe.encode_via_backtracking(piece));
        }
    }
}

/// tiktoken's `byte_pair_merge` for a piece of at most `SMALL_PIECE` bytes: repeatedly merge
/// the adjacent pair whose concatenation has the lowest rank (token id), leftmost on ties.
struct SmallMerge<'a> {
    vocab: &'a Vocab,
    piece: &'a [u8],
    /// Part boundaries; `starts[len - 1] == piece.len()`.
    starts: [u8; SMALL_PIECE + 1],
    /// `ranks[k]`: rank of merging parts k and k + 1 (u32::MAX if not a token).
    ranks: [u32; SMALL_PIECE + 1],
    len: usize,
}

impl<'a> SmallMerge<'a> {
    fn new(vocab: &'a Vocab, piece: &'a [u8]) -> Self {
        debug_assert!(piece.len() <= SMALL_PIECE);
        let mut merge = SmallMerge {
            vocab,
            piece,
            starts: [0; SMALL_PIECE + 1],
            ranks: [u32::MAX; SMALL_PIECE + 1],
            len: piece.len() + 1,
        };
        for k in 0..merge.len {
            merge.starts[k] = k as u8;
        }
        for k in 0..piece.len().saturating_sub(1) {
            merge.ranks[k] = merge.pair_rank(k);
        }
        merge
    }

    /// Rank of the token spanning parts k and k + 1, if that is a token.
    fn pair_rank(&self, k: usize) -> u32 {
        match self.starts.get(k + 2) {
            Some(&end) if k + 2 < self.len => {
                let start = self.starts[k] as usize;
                self.vocab
                    .id(&self.piece[start..end as usize])
                    .unwrap_or(u32::MAX)
            }
            _ => u32::MAX,
        }
    }

    fn run(mut self) -> Self {
        loop {
            let parts = self.len - 1;
            let (best, rank) =
                self.ranks[..parts]
                    .iter()
                    .enumerate()
                    .fold(
                        (0, u32::MAX),
                        |acc, (k, &r)| if r < acc.1 { (k, r) } else { acc },
                    );
            if rank == u32::MAX {
                return self;
            }
            // Merge parts `best` and `best + 1`: drop boundary best + 1.
            self.starts.copy_within(best + 2..self.len, best + 1);
            self.ranks.copy_within(best + 2..self.len, best + 1);
            self.len -= 1;
            self.ranks[best] = self.pair_rank(best);
            if best > 0 {
                self.ranks[best - 1] = self.pair_rank(best - 1);
            }
        }
    }
}

/// The hash bits stored next to an id (the top bits: the low ones pick the slot).
#[inline]
fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32 & !ID_MASK
}

/// A fast hash for short byte strings: multiply-rotate over 8-byte words. The tail is read
/// with overlapping loads rather than copied into a buffer, which would stall on store
/// forwarding; the length is mixed in, so overlapping reads cannot confuse two lengths.
#[inline]
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mix = |h: u64, w: u64| (h ^ w).wrapping_mul(K).rotate_left(31);
    let n = bytes.len();
    let mut h = (n as u64).wrapping_mul(K);
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            h = mix(h, read_u64(bytes, i));
            i += 8;
        }
        h = mix(h, read_u64(bytes, n - 8));
    } else if n >= 4 {
        h = mix(h, (read_u32(bytes, 0) << 32) | read_u32(bytes, n - 4));
    } else if n > 0 {
        let (a, b, c) = (bytes[0], bytes[n / 2], bytes[n - 1]);
        h = mix(h, u64::from(a) << 16 | u64::from(b) << 8 | u64::from(c));
    }
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 32)
}

/// `a == b`, without a libc `memcmp` call for the short strings tokens are.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        // Two overlapping loads cover the whole string.
        8..=16 => read_u64(a, 0) == read_u64(b, 0) && read_u64(a, n - 8) == read_u64(b, n - 8),
        4..=7 => read_u32(a, 0) == read_u32(b, 0) && read_u32(a, n - 4) == read_u32(b, n - 4),
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        _ => a == b,
    }
}

#[inline(always)]
fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[inline(always)]
fn read_u32(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u64::from(u32::from_le_bytes(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabs() -> [Vocab; 2] {
        [
            Vocab::new(&bpe_openai::cl100k_base().bpe),
            Vocab::new(&bpe_openai::o200k_base().bpe),
        ]
    }

    #[test]
    fn finds_every_token_and_nothing_else() {
        for vocab in vocabs() {
            let bpe = vocab.bpe();
            for id in 0..bpe.num_tokens() as u32 {
                let bytes = bpe.token_bytes(id);
                assert_eq!(vocab.id(bytes), Some(id), "token {id} {bytes:?}");
                // Extending a token by a byte gives a token only if the vocabulary says so.
                let mut longer = bytes.to_vec();
                longer.push(b'\xff');
                assert_eq!(vocab.id(&longer), None, "token {id} + ff");
            }
            assert_eq!(vocab.id(b""), None);
        }
    }

    #[test]
    fn small_merge_matches_bpe_backtracking() {
        // Byte strings glued from random tokens: the interesting inputs for merging.
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for vocab in vocabs() {
            let bpe = vocab.bpe();
            for _ in 0..20_000 {
                let mut piece = Vec::new();
                while piece.len() < SMALL_PIECE {
                    let id = (next() % bpe.num_tokens() as u64) as u32;
                    piece.extend_from_slice(bpe.token_bytes(id));
                }
                piece.truncate(2 + (next() % (SMALL_PIECE as u64 - 1)) as usize);
                let mut tokens = Vec::new();
                vocab.encode_into(&piece, &mut tokens);
                assert_eq!(tokens, bpe.encode_via_backtracking(&piece), "{piece:?}");
                assert_eq!(vocab.count(&piece), tokens.len(), "{piece:?}");
            }
        }
    }
}
