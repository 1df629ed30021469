//! A bounded cache of token counts for repeated long strings.
//!
//! Chat applications re-count the same system prompt and the whole history on every turn.
//! Entries are keyed by the full text (compared byte for byte, never by hash alone), so a hit
//! returns exactly the count a fresh count would. Memory is bounded by a byte budget: entries
//! live in two generations; when the young one fills half the budget, the old one is dropped
//! and the young one ages. A hit in the old generation moves the entry back to the young one.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rustc_hash::FxHasher;

use crate::per_process::PerProcess;

type Map = HashMap<Box<str>, usize, BuildHasherDefault<FxHasher>>;

/// Strings shorter than this are counted directly: hashing and locking would cost about as
/// much as the count.
pub const MIN_CACHED_CHARS: usize = 256;

#[derive(Default)]
struct Generations {
    young: Map,
    old: Map,
    young_bytes: usize,
}

/// The lock is held only for hash-map work, never while counting, calling out or touching
/// Python, and threads take it with or without the GIL: it can only be waited for briefly.
/// Per process, because a thread counting without the GIL may hold it at a fork.
pub struct CountCache {
    budget_bytes: AtomicU64,
    generations: PerProcess<Mutex<Generations>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Hits, misses, entries and bytes held, for stats().
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
    pub bytes: usize,
    pub budget_bytes: u64,
}

impl CountCache {
    pub const fn new(budget_bytes: u64) -> Self {
        CountCache {
            budget_bytes: AtomicU64::new(budget_bytes),
            generations: PerProcess::new(|| Mutex::new(Generations::default())),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Change the budget (0 disables the cache) and drop every entry.
    pub fn set_budget(&self, budget_bytes: u64) {
        self.budget_bytes.store(budget_bytes, Ordering::Relaxed);
        self.clear();
    }

    pub fn clear(&self) {
        if let Ok(mut generations) = self.generations.get().lock() {
            *generations = Generations::default();
        }
    }

    /// The cached count of `text`, or `count(text)` remembered for next time.
    pub fn count_with(&self, text: &str, count: impl FnOnce(&str) -> usize) -> usize {
        let budget = self.budget_bytes.load(Ordering::Relaxed);
        if budget == 0 || text.len() < MIN_CACHED_CHARS || text.len() as u64 > budget / 4 {
            return count(text);
        }
        if let Some(found) = self.lookup(text) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return found;
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let counted = count(text);
        self.remember(text, counted, budget);
        counted
    }

    fn lookup(&self, text: &str) -> Option<usize> {
        let mut generations = self.generations.get().lock().ok()?;
        if let Some(&found) = generations.young.get(text) {
            return Some(found);
        }
        let (key, found) = generations.old.remove_entry(text)?;
        generations.young_bytes += key.len();
        generations.young.insert(key, found);
        Some(found)
    }

    fn remember(&self, text: &str, counted: usize, budget: u64) {
        let Ok(mut generations) = self.generations.get().lock() else {
            return;
        };
        if generations.young.contains_key(text) {
            return;
        }
        generations.young_bytes += text.len();
        generations.young.insert(text.into(), counted);
        if generations.young_bytes as u64 > budget / 2 {
            let young = std::mem::take(&mut generations.young);
            generations.old = young;
            generations.young_bytes = 0;
        }
    }

    pub fn stats(&self) -> CacheStats {
        let (entries, bytes) = self
            .generations
            .get()
            .lock()
            .map(|g| {
                let old_bytes: usize = g.old.keys().map(|k| k.len()).sum();
                (g.young.len() + g.old.len(), g.young_bytes + old_bytes)
            })
            .unwrap_or((0, 0));
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries,
            bytes,
            budget_bytes: self.budget_bytes.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn long(tag: usize) -> String {
        format!("{tag:08} {}", "word ".repeat(MIN_CACHED_CHARS / 5 + 1))
    }

    #[test]
    fn hit_returns_the_remembered_count_without_counting() {
        let cache = CountCache::new(1 << 20);
        let calls = Cell::new(0);
        let count = |text: &str| {
            calls.set(calls.get() + 1);
            text.len()
        };
        let text = long(1);
        assert_eq!(cache.count_with(&text, count), text.len());
        assert_eq!(cache.count_with(&text, count), text.len());
        assert_eq!(calls.get(), 1);
        assert_eq!((cache.stats().hits, cache.stats().misses), (1, 1));
    }

    #[test]
    fn different_texts_never_share_an_entry() {
        let cache = CountCache::new(1 << 20);
        for tag in 0..50 {
            let text = long(tag);
            assert_eq!(cache.count_with(&text, |t| t.len() + tag), text.len() + tag);
        }
        for tag in 0..50 {
            let text = long(tag);
            assert_eq!(
                cache.count_with(&text, |_| unreachable!("cached")),
                text.len() + tag
            );
        }
    }

    #[test]
    fn memory_stays_within_the_budget() {
        let budget = 64 * 1024;
        let cache = CountCache::new(budget);
        for tag in 0..10_000 {
            cache.count_with(&long(tag), |t| t.len());
            assert!(cache.stats().bytes as u64 <= budget + 2 * long(0).len() as u64);
        }
    }

    #[test]
    fn short_texts_and_disabled_cache_always_count() {
        let cache = CountCache::new(0);
        let text = long(3);
        assert_eq!(cache.count_with(&text, |_| 7), 7);
        assert_eq!(cache.count_with(&text, |_| 8), 8);
        let enabled = CountCache::new(1 << 20);
        assert_eq!(enabled.count_with("short", |_| 1), 1);
        assert_eq!(enabled.count_with("short", |_| 2), 2);
        assert_eq!(enabled.stats().entries, 0);
    }

    #[test]
    fn old_generation_hits_are_kept() {
        let text_bytes = long(0).len() as u64;
        let cache = CountCache::new(text_bytes * 8); // young generation holds ~4 entries
        let first = long(0);
        cache.count_with(&first, |t| t.len());
        for tag in 1..4 {
            cache.count_with(&long(tag), |t| t.len());
        }
        // `first` aged into the old generation; a hit brings it back.
        assert_eq!(
            cache.count_with(&first, |_| unreachable!("cached")),
            first.len()
        );
    }
}
