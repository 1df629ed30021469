//! The encodings, their special tokens, and counting/encoding/decoding entry points.

use std::fmt;
use std::str::FromStr;

use bpe_openai::Tokenizer;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::chunks::{chunk_byte_ranges, chunks};
use crate::per_process::PerProcess;
use crate::pretokenize::{Pattern, Pieces};
use crate::vocab::Vocab;

/// Below this many bytes a text is counted on the calling thread alone. From here on a pool
/// thread may join (the caller never waits for one to wake): 10k tokens of prose (45 KB)
/// took 0.21-0.23 ms instead of 0.31 ms; below 16 chunks there is only one group to take.
const PARALLEL_MIN_BYTES: usize = 16 * 1024;
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

/// Whether a thread has started loading each encoding (order of `EncodingName::ALL`).
static LOAD_STARTED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// Waits for every encoding load that has started (on any thread) to finish; called before a
/// fork, so that the child never inherits an encoding in the middle of its initialisation.
pub(crate) fn finish_loads_in_progress() {
    for name in EncodingName::ALL {
        let index = name as usize;
        if LOAD_STARTED[index].load(Ordering::Acquire) {
            std::sync::LazyLock::force(match name {
                EncodingName::Cl100kBase => &CL100K,
                EncodingName::O200kBase => &O200K,
            });
        }
    }
}

/// Threads that join the caller in counting large texts: one pool per process (a forked
/// child has none of its parent's threads), none if threads cannot be started.
static HELPERS: PerProcess<Option<rayon::ThreadPool>> = PerProcess::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    rayon::ThreadPoolBuilder::new()
        .num_threads(cores.saturating_sub(1).max(1))
        .thread_name(|index| format!("fast-litellm-count-{index}"))
        .build()
        .ok()
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
        crate::per_process::install_fork_handlers();
        let (encoding, started) = match name {
            EncodingName::Cl100kBase => (&CL100K, &LOAD_STARTED[0]),
            EncodingName::O200kBase => (&O200K, &LOAD_STARTED[1]),
        };
        // Said before the load starts, so a fork in the meantime waits for it to finish.
        if !started.load(Ordering::Acquire) {
            started.store(true, Ordering::Release);
        }
        encoding
    }

    pub fn name(&self) -> EncodingName {
        self.name
    }

    /// Number of tokens of `text` encoded as one piece (tiktoken's `encode_ordinary`).
    pub fn count(&self, text: &str) -> usize {
        const SHORT_TEXT_BYTES: usize = 32;
        // Pieces are cut a batch ahead of counting, with the table entries of the batch
        // prefetched: in cold caches the lookups' memory latencies then overlap. A chat
        // message (~50 pieces) fits one batch: with 16, such texts took ~6% longer when
        // L1/L2 were cold (examples/cold.rs `l2`), and warm or long texts no less time.
        const BATCH: usize = 64;
        let bytes = text.as_bytes();
        let mut pieces = Pieces::new(text, self.pattern);
        if bytes.len() <= SHORT_TEXT_BYTES {
            // A role or a name: a piece or two, nothing to overlap, no batch to set up.
            return pieces
                .map(|(start, end)| {
                    let piece = &bytes[start..end];
                    self.vocab.count_located(piece, self.vocab.prefetch(piece))
                })
                .sum();
        }
        let mut batch = [(0, 0, 0); BATCH];
        let mut total = 0;
        loop {
            let mut len = 0;
            for (slot, (start, end)) in batch.iter_mut().zip(&mut pieces) {
                let location = self.vocab.prefetch(&bytes[start..end]);
                *slot = (start, end, location);
                len += 1;
            }
            // Pieces that are not one token are counted after the others, their merge-memo
            // slots prefetched meanwhile: those misses overlap too.
            let mut merges = 0;
            for index in 0..len {
                let (start, end, location) = batch[index];
                match self
                    .vocab
                    .count_located_or_defer(&bytes[start..end], location)
                {
                    Some(count) => total += count,
                    None => {
                        batch[merges] = batch[index];
                        merges += 1;
                    }
                }
            }
            for &(start, end, _) in &batch[..merges] {
                total += self.vocab.count_multi_token(&bytes[start..end]);
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
        self.count_shared(text, chunk_byte_ranges(text, chunk_chars))
    }

    /// Counts the chunks of a large text on the calling thread, with pool threads joining in
    /// as they wake up. Everyone takes groups of chunks from one cursor, so a helper that
    /// wakes late (an idle vCPU can take milliseconds) simply takes fewer groups, and the
    /// caller never waits for a helper that has not started. Helpers get their own copy of
    /// the text, so one that starts after the caller returned touches nothing it borrowed.
    fn count_shared(&self, text: &str, ranges: Vec<(usize, usize)>) -> usize {
        let shared = Arc::new(SharedCount {
            text: text.into(),
            groups: ranges.len().div_ceil(MIN_CHUNKS_PER_TASK),
            ranges,
            cursor: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            helpers_total: AtomicUsize::new(0),
            helper_failed: AtomicBool::new(false),
        });
        if let Some(pool) = HELPERS.get() {
            for _ in 0..pool.current_num_threads() {
                let shared = Arc::clone(&shared);
                let name = self.name;
                pool.spawn(move || shared.help(name));
            }
        }
        let own = shared.take_groups_as_caller(self);
        // Groups a helper took are finished within one group's time; wait for those only.
        while shared.in_flight.load(Ordering::SeqCst) != 0 {
            std::hint::spin_loop();
            std::thread::yield_now();
        }
        assert!(
            !shared.helper_failed.load(Ordering::SeqCst),
            "a helper thread failed while counting"
        );
        own + shared.helpers_total.load(Ordering::SeqCst)
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

/// Nanoseconds a pool helper sleeps after each group (0: none). Tests widen the window in
/// which a helper has finished one group and not yet taken the next, where timing bugs hide.
static HELPER_PAUSE_NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[doc(hidden)]
pub fn set_helper_pause_for_tests(pause: std::time::Duration) {
    HELPER_PAUSE_NS.store(pause.as_nanos() as u64, Ordering::Relaxed);
}

fn pause_between_groups() {
    let pause = HELPER_PAUSE_NS.load(Ordering::Relaxed);
    if pause != 0 {
        std::thread::sleep(std::time::Duration::from_nanos(pause));
    }
}

/// The work of one large `count_chunked`, shared between the caller and pool helpers.
struct SharedCount {
    text: Box<str>,
    ranges: Vec<(usize, usize)>,
    groups: usize,
    /// Next group of `MIN_CHUNKS_PER_TASK` chunks to take.
    cursor: AtomicUsize,
    /// Helpers holding a group (or about to look at the cursor).
    in_flight: AtomicUsize,
    helpers_total: AtomicUsize,
    helper_failed: AtomicBool,
}

impl SharedCount {
    /// What a pool thread does: take groups until none are left.
    fn help(&self, name: EncodingName) {
        // A panic must not reach rayon (its handler aborts the process): the caller re-raises
        // it on its own thread, where the bindings turn it into an error.
        let outcome =
            panic::catch_unwind(AssertUnwindSafe(|| self.take_groups(Encoding::get(name))));
        if outcome.is_err() {
            self.helper_failed.store(true, Ordering::SeqCst);
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// A helper's loop: it registers as in flight before every look at the cursor and adds a
    /// group's count to the total before it leaves, so the caller, once the cursor is spent
    /// and nobody is in flight, has every group's count. The last registration is released by
    /// the caller of this function.
    fn take_groups(&self, encoding: &Encoding) {
        loop {
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            let Some(counted) = self.count_next_group(encoding) else {
                return;
            };
            self.helpers_total.fetch_add(counted, Ordering::SeqCst);
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            pause_between_groups();
        }
    }

    fn take_groups_as_caller(&self, encoding: &Encoding) -> usize {
        let mut total = 0;
        while let Some(counted) = self.count_next_group(encoding) {
            total += counted;
        }
        total
    }

    fn count_next_group(&self, encoding: &Encoding) -> Option<usize> {
        let group = self.cursor.fetch_add(1, Ordering::SeqCst);
        if group >= self.groups {
            return None;
        }
        let first = group * MIN_CHUNKS_PER_TASK;
        let last = (first + MIN_CHUNKS_PER_TASK).min(self.ranges.len());
        Some(
            self.ranges[first..last]
                .iter()
                .map(|&(start, end)| encoding.count(&self.text[start..end]))
                .sum(),
        )
    }
}
