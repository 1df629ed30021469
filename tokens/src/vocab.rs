//! Fast token lookups on top of the `bpe` crate's vocabulary.
//!
//! Most pieces of ordinary text are a single token, and `bpe`'s backtracking encoder
//! allocates per call, so an exact-match table answers those pieces directly. Short pieces
//! that are not one token are merged with tiktoken's own algorithm on the stack.

use bpe_openai::byte_pair_encoding::BytePairEncoding;

use crate::merge_memo;
use crate::table::Table;

/// Pieces up to this many bytes are merged on the stack; longer ones go to `bpe`, whose
/// encoder does not slow down quadratically.
pub(crate) const SMALL_PIECE: usize = 16;

/// Tokens up to this many bytes are verified from their table entry alone; longer ones
/// (a few percent of the vocabulary, rarer still in text) are checked against the vocabulary.
const INLINE: usize = 12;
/// Entries per bucket: a bucket is one 64-byte cache line.
const BUCKET: usize = 4;
/// Entries per token, at least: at half load about 6% of buckets overflow into the next one
/// and 4% of tokens live outside their home bucket (the rarer ones: tokens are placed in id
/// order), so a lookup, hit or miss, nearly always reads one cache line. The table is
/// rounded up to whole huge pages, and the rounding goes to more buckets.
const ENTRIES_PER_TOKEN: usize = 2;
/// Entries of the two-byte table.
const PAIRS: usize = 1 << 16;
/// `Entry::rest` bits holding the key's tail and length; the id sits above them.
const KEY_BITS: u32 = 40;
const KEY_MASK: u64 = (1 << KEY_BITS) - 1;
const ID_MASK: u64 = (1 << 23) - 1;
/// Set in `rest` of a bucket's last entry if keys from it or before it went on to the next
/// bucket: a lookup that misses in a bucket without it is over.
const OVERFLOW: u64 = 1 << 63;
/// `Entry::rest` of an unused entry (no key has length 255).
const EMPTY: u64 = u64::MAX;

/// One token: the key of its bytes (see [`key`]) and, above the key in `rest`, its id.
#[derive(Clone, Copy)]
#[repr(C)]
struct Entry {
    head: u64,
    rest: u64,
}

/// A cache line of entries, filled from the front; an overflowing bucket spills into the
/// next one (linear probing by buckets), so a lookup stops at the first unused entry, or at
/// the end of a full bucket without the `OVERFLOW` mark.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Bucket([Entry; BUCKET]);

/// Map from token bytes to token id: open addressing over cache-line buckets.
pub(crate) struct Vocab {
    bpe: &'static BytePairEncoding,
    /// The two tables in one block of huge pages: first the two-byte table, then the buckets.
    ///
    /// The two-byte table holds the id of the token of every two bytes (`u32::MAX` if none),
    /// indexed by `first << 8 | second`: merging starts from all adjacent byte pairs of a
    /// piece, and a direct index is cheaper than a hash lookup (the ASCII pairs span 64 KiB).
    table: Table,
    /// Number of buckets.
    bucket_count: usize,
    /// Longest token in bytes: longer pieces skip the lookup.
    max_token_len: usize,
}

impl Vocab {
    pub(crate) fn new(bpe: &'static BytePairEncoding) -> Vocab {
        let tokens = bpe.num_tokens();
        assert!(
            tokens as u64 <= ID_MASK,
            "vocabulary too large for the lookup table"
        );
        let pairs_bytes = PAIRS * std::mem::size_of::<u32>();
        let min_buckets = (tokens * ENTRIES_PER_TOKEN).div_ceil(BUCKET).max(1);
        // All bytes 0xFF: unused entries (`rest == EMPTY`) and missing pairs (`u32::MAX`).
        let table = Table::new(pairs_bytes + min_buckets * std::mem::size_of::<Bucket>());
        let bucket_count = (table.len() - pairs_bytes) / std::mem::size_of::<Bucket>();
        let mut vocab = Vocab {
            bpe,
            table,
            bucket_count,
            max_token_len: 0,
        };
        for id in 0..tokens as u32 {
            let bytes = bpe.token_bytes(id);
            assert!(bytes.len() < 255, "token too long for the lookup table");
            vocab.max_token_len = vocab.max_token_len.max(bytes.len());
            if let [first, second] = *bytes {
                vocab.pairs_mut()[usize::from(first) << 8 | usize::from(second)] = id;
            }
            let (head, rest) = key(bytes);
            let mut b = vocab.bucket_of(head, rest);
            let buckets = vocab.buckets_mut();
            'placed: loop {
                for entry in &mut buckets[b].0 {
                    if entry.rest == EMPTY {
                        *entry = Entry {
                            head,
                            rest: rest | u64::from(id) << KEY_BITS,
                        };
                        break 'placed;
                    }
                }
                buckets[b].0[BUCKET - 1].rest |= OVERFLOW;
                b = if b + 1 == buckets.len() { 0 } else { b + 1 };
            }
        }
        assert!(vocab.max_token_len >= SMALL_PIECE);
        vocab
    }

    pub(crate) fn bpe(&self) -> &'static BytePairEncoding {
        self.bpe
    }

    /// Bytes of the tables, for reporting.
    pub(crate) fn table_bytes(&self) -> usize {
        self.table.len()
    }

    /// The two-byte table.
    #[inline(always)]
    fn pairs(&self) -> &[u32] {
        // SAFETY: the block starts with `PAIRS` u32s (it is aligned and long enough, see
        // `new`), and any bits are a valid u32.
        unsafe { self.table.slice(0, PAIRS) }
    }

    fn pairs_mut(&mut self) -> &mut [u32] {
        // SAFETY: as in `pairs`.
        unsafe { self.table.slice_mut(0, PAIRS) }
    }

    /// The buckets.
    #[inline(always)]
    fn buckets(&self) -> &[Bucket] {
        // SAFETY: the buckets follow the two-byte table (256 KiB, a multiple of 64 bytes,
        // from a huge-page-aligned start) and fit in the block (see `new`); any bits are a
        // valid `Bucket`.
        unsafe {
            self.table
                .slice(PAIRS * std::mem::size_of::<u32>(), self.bucket_count)
        }
    }

    fn buckets_mut(&mut self) -> &mut [Bucket] {
        // SAFETY: as in `buckets`.
        unsafe {
            self.table
                .slice_mut(PAIRS * std::mem::size_of::<u32>(), self.bucket_count)
        }
    }

    /// The rank (id) of the token whose bytes are exactly `bytes`, `u32::MAX` if none.
    #[inline]
    fn rank(&self, bytes: &[u8]) -> u32 {
        match *bytes {
            [first, second] => self.pairs()[usize::from(first) << 8 | usize::from(second)],
            _ => self.id(bytes).unwrap_or(u32::MAX),
        }
    }

    /// The bucket a key starts probing at: a multiply-fold hash, reduced to the table size by
    /// a multiply-shift (the table size need not be a power of two).
    #[inline(always)]
    fn bucket_of(&self, head: u64, rest: u64) -> usize {
        let h = fold_mul(head ^ 0x243F_6A88_85A3_08D3, rest ^ 0x1319_8A2E_0370_7344);
        ((u128::from(h) * self.bucket_count as u128) >> 64) as usize
    }

    /// Starts loading the table entry `count(piece)` will read first, so that the cache
    /// misses of several pieces overlap instead of following one another. Returns where
    /// that entry is, for [`Self::count_located`].
    #[inline(always)]
    pub(crate) fn prefetch(&self, piece: &[u8]) -> usize {
        let (entry, location): (*const u8, usize) = match *piece {
            [] | [_] => return 0,
            [first, second] => {
                let index = usize::from(first) << 8 | usize::from(second);
                ((&self.pairs()[index] as *const u32).cast(), index)
            }
            _ if piece.len() > self.max_token_len => return 0,
            _ => {
                let (head, rest) = key(piece);
                let b = self.bucket_of(head, rest);
                ((&self.buckets()[b] as *const Bucket).cast(), b)
            }
        };
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint; `entry` points into a live table anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(entry.cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = entry;
        location
    }

    /// The id of the token whose bytes are exactly `bytes`.
    #[inline]
    pub(crate) fn id(&self, bytes: &[u8]) -> Option<u32> {
        if bytes.len() > self.max_token_len {
            return None;
        }
        let (head, rest) = key(bytes);
        self.id_from(bytes, head, rest, self.bucket_of(head, rest))
    }

    /// [`Self::id`] of `bytes` (at most `max_token_len` long) with key `(head, rest)`, whose
    /// home bucket is `b`.
    #[inline(always)]
    fn id_from(&self, bytes: &[u8], head: u64, rest: u64, mut b: usize) -> Option<u32> {
        loop {
            for entry in &self.buckets()[b].0 {
                if entry.head == head && entry.rest & KEY_MASK == rest {
                    let id = (entry.rest >> KEY_BITS & ID_MASK) as u32;
                    if bytes.len() <= INLINE || self.long_token_is(id, bytes) {
                        return Some(id);
                    }
                } else if entry.rest == EMPTY {
                    return None;
                }
            }
            if self.buckets()[b].0[BUCKET - 1].rest & OVERFLOW == 0 {
                return None;
            }
            b = if b + 1 == self.bucket_count { 0 } else { b + 1 };
        }
    }

    /// Whether token `id`, whose key matches that of `bytes`, really has those bytes.
    #[cold]
    fn long_token_is(&self, id: u32, bytes: &[u8]) -> bool {
        self.bpe.token_bytes(id) == bytes
    }

    /// Number of tokens of one piece.
    #[cfg(test)]
    pub(crate) fn count(&self, piece: &[u8]) -> usize {
        let location = match *piece {
            [first, second] => usize::from(first) << 8 | usize::from(second),
            _ if piece.len() > 2 && piece.len() <= self.max_token_len => {
                let (head, rest) = key(piece);
                self.bucket_of(head, rest)
            }
            _ => 0,
        };
        self.count_located(piece, location)
    }

    /// Number of tokens of one piece, given what [`Self::prefetch`] returned for it.
    #[inline]
    pub(crate) fn count_located(&self, piece: &[u8], location: usize) -> usize {
        self.count_located_or_defer(piece, location)
            .unwrap_or_else(|| self.count_multi_token(piece))
    }

    /// [`Self::count_located`], except that a piece of at most `SMALL_PIECE` bytes that is not
    /// one token answers `None` (its merge-memo slot prefetched): count it with
    /// [`Self::count_multi_token`].
    #[inline]
    pub(crate) fn count_located_or_defer(&self, piece: &[u8], location: usize) -> Option<usize> {
        match *piece {
            [] | [_] => return Some(piece.len()),
            // Two bytes are one token or two single-byte tokens.
            [_, _] => return Some(1 + usize::from(self.pairs()[location] == u32::MAX)),
            _ => {}
        }
        if piece.len() > self.max_token_len {
            // Longer than any token, so longer than `SMALL_PIECE` too (checked in `new`).
            return Some(self.bpe.count(piece));
        }
        let (head, rest) = key(piece);
        if self.id_from(piece, head, rest, location).is_some() {
            return Some(1);
        }
        if piece.len() <= SMALL_PIECE {
            merge_memo::prefetch(memo_hash(head, rest));
            return None;
        }
        Some(self.bpe.count(piece))
    }

    /// Number of tokens of a piece of 3 to `SMALL_PIECE` bytes that is not one token.
    #[inline]
    pub(crate) fn count_multi_token(&self, piece: &[u8]) -> usize {
        debug_assert!(piece.len() > 2 && piece.len() <= SMALL_PIECE);
        let (head, rest) = key(piece);
        let owner = self as *const Vocab as usize;
        merge_memo::count_with(owner, piece, memo_hash(head, rest), || {
            SmallMerge::new(self, piece).run().len - 1
        })
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
        // The first merges look up three-byte strings: start loading all of them, so that
        // in cold caches their misses overlap instead of following one another.
        for window in piece.windows(3) {
            vocab.prefetch(window);
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
                self.vocab.rank(&self.piece[start..end as usize])
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

/// The key of a byte string: its length and at most 12 of its bytes, packed as
/// `(head, tail | len << 32)`. For strings of up to `INLINE` bytes the packed bytes cover the
/// whole string (overlapping reads, no copy into a buffer), so equal keys mean equal strings;
/// longer strings keep their first 8 and last 4 bytes.
#[inline(always)]
fn key(bytes: &[u8]) -> (u64, u64) {
    let n = bytes.len();
    let (head, tail) = if n >= 8 {
        (read_u64(bytes, 0), read_u32(bytes, n - 4))
    } else if n >= 4 {
        (read_u32(bytes, 0), read_u32(bytes, n - 4))
    } else if n > 0 {
        let (a, b, c) = (bytes[0], bytes[n / 2], bytes[n - 1]);
        (u64::from(a) | u64::from(b) << 8 | u64::from(c) << 16, 0)
    } else {
        (0, 0)
    };
    (head, tail | (n as u64) << 32)
}

/// Hash of a piece's key for the merge memo (independent of the bucket hash).
#[inline(always)]
fn memo_hash(head: u64, rest: u64) -> u64 {
    fold_mul(head ^ 0x9E37_79B9_7F4A_7C15, rest ^ 0xC2B2_AE3D_27D4_EB4F)
}

/// The 128-bit product of `a` and `b`, folded to 64 bits.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    product as u64 ^ (product >> 64) as u64
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

    /// A seeded xorshift generator: deterministic inputs for the randomized tests.
    fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Both vocabularies. Iterate them by reference: the merge memo tells vocabularies apart
    /// by address, so a `Vocab` moved to where another one was would see its entries.
    fn vocabs() -> [Vocab; 2] {
        [
            Vocab::new(&bpe_openai::cl100k_base().bpe),
            Vocab::new(&bpe_openai::o200k_base().bpe),
        ]
    }

    #[test]
    fn finds_every_token_and_nothing_else() {
        for vocab in &vocabs() {
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

    /// Byte strings that are not tokens are not found, whether or not their key matches that
    /// of a token (long tokens keep only 12 of their bytes in the key).
    #[test]
    fn rejects_non_tokens() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15_u64);
        for vocab in &vocabs() {
            let bpe = vocab.bpe();
            let tokens: std::collections::HashMap<&[u8], u32> = (0..bpe.num_tokens() as u32)
                .map(|id| (bpe.token_bytes(id), id))
                .collect();
            let expect = |bytes: &[u8]| tokens.get(bytes).copied();
            for id in 0..bpe.num_tokens() as u32 {
                let bytes = bpe.token_bytes(id);
                // Change each byte that only long keys leave out, and a few others.
                for at in 0..bytes.len() {
                    if bytes.len() > INLINE && (8..bytes.len() - 4).contains(&at) || at % 3 == 0 {
                        let mut other = bytes.to_vec();
                        other[at] = other[at].wrapping_add(1 + (next() % 255) as u8);
                        assert_eq!(vocab.id(&other), expect(&other), "{other:?}");
                    }
                }
                // Prefixes and the token without its first byte.
                for cut in [1, bytes.len() / 2, bytes.len().saturating_sub(1)] {
                    let prefix = &bytes[..cut.min(bytes.len())];
                    assert_eq!(vocab.id(prefix), expect(prefix), "{prefix:?}");
                }
                let suffix = &bytes[1.min(bytes.len())..];
                assert_eq!(vocab.id(suffix), expect(suffix), "{suffix:?}");
            }
            // Random short strings over a text-like alphabet: many are tokens, many not.
            let alphabet = b" etaoinshrdlucmfwypvbgkjqxzETAOIN.,'\n0123456789\xc3\xa9";
            for _ in 0..400_000 {
                let len = 1 + (next() % 14) as usize;
                let bytes: Vec<u8> = (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect();
                assert_eq!(vocab.id(&bytes), expect(&bytes), "{bytes:?}");
            }
        }
    }

    /// Lookups read one cache line nearly always: few buckets overflow, and the hash spreads
    /// keys as well as a uniform one would.
    #[test]
    fn buckets_rarely_overflow() {
        for vocab in &vocabs() {
            let overflowed = vocab
                .buckets()
                .iter()
                .filter(|b| b.0[BUCKET - 1].rest != EMPTY && b.0[BUCKET - 1].rest & OVERFLOW != 0)
                .count();
            let share = overflowed as f64 / vocab.bucket_count as f64;
            assert!(share < 0.08, "{share} of buckets overflowed");
            // Every token sits in its own bucket or the next.
            let bpe = vocab.bpe();
            let mut far = 0;
            let mut displaced = 0;
            for id in 0..bpe.num_tokens() as u32 {
                let (head, rest) = key(bpe.token_bytes(id));
                let home = vocab.bucket_of(head, rest);
                let holds = |b: usize| {
                    let b = b % vocab.bucket_count;
                    vocab.buckets()[b].0.iter().any(|e| {
                        e.head == head
                            && e.rest != EMPTY
                            && e.rest >> KEY_BITS & ID_MASK == u64::from(id)
                    })
                };
                let distance = (home..).position(holds).unwrap();
                far += usize::from(distance > 1);
                displaced += usize::from(distance > 0);
            }
            // As for uniform hashing: about 4% and under 1%.
            assert!(
                displaced * 20 < bpe.num_tokens(),
                "{displaced} tokens not at home"
            );
            assert!(
                far * 100 < bpe.num_tokens(),
                "{far} tokens two or more buckets away"
            );
        }
    }

    #[test]
    fn pair_table_matches_vocabulary() {
        for vocab in &vocabs() {
            for pair in 0..=u16::MAX {
                let bytes = pair.to_be_bytes();
                assert_eq!(vocab.rank(&bytes), vocab.id(&bytes).unwrap_or(u32::MAX));
                assert_eq!(
                    vocab.count(&bytes),
                    2 - usize::from(vocab.id(&bytes).is_some())
                );
            }
        }
    }

    #[test]
    fn small_merge_matches_bpe_backtracking() {
        // Byte strings glued from random tokens: the interesting inputs for merging.
        let mut next = xorshift(0x2545_F491_4F6C_DD1D_u64);
        for vocab in &vocabs() {
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
