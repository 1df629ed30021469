//! Many threads counting at once: the same answers as one thread, through the parallel count
//! (pool helpers joining a caller) and a shared count cache that is resized meanwhile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use fast_litellm_tokens::{CountCache, Encoding, EncodingName};

const CHUNK: usize = 1024;
const THREADS: usize = 8;

/// Texts across the thresholds: a few tokens, the cache's 256 characters, the 16 KiB parallel
/// count, and long runs without whitespace.
fn texts() -> Vec<String> {
    let prose = "The quick brown fox jumps over the lazy dog; 日本語 😀 émigré. ";
    vec![
        "hello world".to_owned(),
        prose.repeat(5),
        prose.repeat(60),
        prose.repeat(300),
        "x".repeat(40_000),
        format!(
            "{}<|endoftext|>{}",
            prose.repeat(100),
            "1234567890".repeat(3000)
        ),
    ]
}

#[test]
fn threads_counting_at_once_agree_with_one_thread() {
    let texts = Arc::new(texts());
    let expected: Vec<[usize; 2]> = texts
        .iter()
        .map(|text| EncodingName::ALL.map(|name| Encoding::get(name).count_chunked(text, CHUNK)))
        .collect();
    let expected = Arc::new(expected);
    // One cache per encoding, as the bindings keep them (a cache is keyed by text alone).
    let caches = Arc::new([CountCache::new(64 * 1024), CountCache::new(64 * 1024)]);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(THREADS + 1));

    let resizer = {
        let (caches, stop, start) = (caches.clone(), stop.clone(), start.clone());
        thread::spawn(move || {
            start.wait();
            let mut step = 0u64;
            while !stop.load(Ordering::Relaxed) {
                step += 1;
                caches[(step % 2) as usize].set_budget(if step % 4 < 2 { 1024 } else { 64 * 1024 });
                thread::yield_now();
            }
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|worker| {
            let (texts, expected, caches, start) = (
                texts.clone(),
                expected.clone(),
                caches.clone(),
                start.clone(),
            );
            thread::spawn(move || {
                start.wait();
                for round in 0..20 {
                    for (index, text) in texts.iter().enumerate() {
                        let which = (worker + round + index) % 2;
                        let encoding = Encoding::get(EncodingName::ALL[which]);
                        let counted = if round % 2 == 0 {
                            encoding.count_chunked(text, CHUNK)
                        } else {
                            caches[which]
                                .count_with(text, |text| encoding.count_chunked(text, CHUNK))
                        };
                        assert_eq!(
                            counted, expected[index][which],
                            "text {index}, worker {worker}"
                        );
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a worker failed");
    }
    stop.store(true, Ordering::Relaxed);
    resizer.join().expect("the resizer failed");
}

/// Large texts are counted by the caller with a pool thread joining in; whatever the timing,
/// the sum must be the serial one. A helper pausing between two groups once lost the groups it
/// had counted: the caller saw no helper in flight and returned without them.
#[test]
fn parallel_counts_equal_serial_counts_every_time() {
    fast_litellm_tokens::set_helper_pause_for_tests(std::time::Duration::from_micros(300));
    let prose = "The quick brown fox jumps over the lazy dog; 日本語 😀 émigré. ";
    let encoding = Encoding::get(EncodingName::Cl100kBase);
    for size in [17 * 1024, 40 * 1024, 100 * 1024] {
        let text: String = prose.repeat(size / prose.len() + 1);
        let serial: usize = fast_litellm_tokens::chunk_byte_ranges(&text, CHUNK)
            .into_iter()
            .map(|(start, end)| encoding.count(&text[start..end]))
            .sum();
        for round in 0..300 {
            assert_eq!(
                encoding.count_chunked(&text, CHUNK),
                serial,
                "size {size}, round {round}"
            );
        }
    }
    fast_litellm_tokens::set_helper_pause_for_tests(std::time::Duration::ZERO);
}
