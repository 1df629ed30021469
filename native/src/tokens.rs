//! Bindings of the token-counting core.

use std::sync::atomic::{AtomicUsize, Ordering};

use fast_litellm_tokens::{CountCache, Encoding, EncodingName};
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

/// Texts shorter than this (in bytes) are counted without releasing the GIL: releasing and
/// re-acquiring it costs more than counting a few hundred bytes.
const DETACH_MIN_BYTES: usize = 4096;

/// A tiktoken encoding with a native implementation.
#[pyclass(module = "fast_litellm._native", name = "Encoding", frozen)]
pub struct PyEncoding {
    inner: &'static Encoding,
}

impl PyEncoding {
    pub fn inner(&self) -> &'static Encoding {
        self.inner
    }
}

#[pymethods]
impl PyEncoding {
    /// The encoding called `name` ("cl100k_base" or "o200k_base"); loads its vocabulary once.
    #[staticmethod]
    fn get(py: Python<'_>, name: &str) -> PyResult<Self> {
        let name: EncodingName =
            name.parse()
                .map_err(|e: fast_litellm_tokens::UnknownEncoding| {
                    PyValueError::new_err(e.to_string())
                })?;
        // Loading the vocabulary takes a while the first time: let other threads run.
        let inner = py.detach(|| {
            let encoding = Encoding::get(name);
            encoding.count("warm");
            encoding
        });
        Ok(Self { inner })
    }

    #[getter]
    fn name(&self) -> &'static str {
        self.inner.name().as_str()
    }

    #[getter]
    fn max_token_value(&self) -> u32 {
        self.inner.max_token_value()
    }

    /// Tokens of `text` counted in independent chunks of `chunk_chars` code points.
    ///
    /// Raises UnicodeEncodeError when `text` holds lone surrogates (not valid UTF-8).
    fn count_chunked(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        chunk_chars: usize,
    ) -> PyResult<usize> {
        let text = text.to_str()?;
        Ok(count_chunked_text(py, self.inner, text, chunk_chars))
    }

    /// LiteLLM's message walk for the shapes native supports: `(tokens, strings_left)` where
    /// `strings_left` must still be counted by the caller (longer than `max_exact_chars`, or
    /// holding lone surrogates); `None` when a message has a shape native does not handle.
    #[pyo3(signature = (messages, tokens_per_message, tokens_per_name, chunk_chars, max_exact_chars))]
    fn count_messages<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyList>,
        tokens_per_message: i64,
        tokens_per_name: i64,
        chunk_chars: usize,
        max_exact_chars: usize,
    ) -> Option<(i64, Vec<Bound<'py, PyString>>)> {
        crate::messages::count_messages(
            py,
            self.inner,
            messages,
            tokens_per_message,
            tokens_per_name,
            chunk_chars,
            max_exact_chars,
        )
    }

    /// Tokens of `text` as one piece, without chunking.
    fn count(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<usize> {
        let text = text.to_str()?;
        if text.len() < DETACH_MIN_BYTES {
            return Ok(self.inner.count(text));
        }
        Ok(py.detach(|| self.inner.count(text)))
    }

    /// Token ids of `text`, special-token text encoded as ordinary text.
    fn encode(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<Vec<u32>> {
        let text = text.to_str()?;
        if text.len() < DETACH_MIN_BYTES {
            return Ok(self.inner.encode(text));
        }
        Ok(py.detach(|| self.inner.encode(text)))
    }

    /// The bytes of `tokens`; KeyError if an id is not in the vocabulary.
    fn decode_bytes<'py>(
        &self,
        py: Python<'py>,
        tokens: Vec<u32>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py
            .detach(|| self.inner.decode_bytes(&tokens))
            .ok_or_else(|| PyKeyError::new_err("token id not in the vocabulary"))?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn __repr__(&self) -> String {
        format!(
            "<fast_litellm._native.Encoding {:?}>",
            self.inner.name().as_str()
        )
    }
}

pub fn count_chunked_text(
    py: Python<'_>,
    encoding: &'static Encoding,
    text: &str,
    chunk_chars: usize,
) -> usize {
    if text.len() < DETACH_MIN_BYTES {
        return counted(encoding, text, chunk_chars);
    }
    py.detach(|| counted(encoding, text, chunk_chars))
}

/// The bounded count cache of one encoding; it only answers for the chunk size it was
/// configured with (LiteLLM's), since a count depends on the chunking.
struct CacheSlot {
    cache: CountCache,
    chunk_chars: AtomicUsize,
}

static CACHES: [CacheSlot; 2] = [
    CacheSlot {
        cache: CountCache::new(0),
        chunk_chars: AtomicUsize::new(0),
    },
    CacheSlot {
        cache: CountCache::new(0),
        chunk_chars: AtomicUsize::new(0),
    },
];

fn cache_slot(name: EncodingName) -> &'static CacheSlot {
    match name {
        EncodingName::Cl100kBase => &CACHES[0],
        EncodingName::O200kBase => &CACHES[1],
    }
}

/// `count_chunked`, answered from the count cache for repeated long strings.
pub fn counted(encoding: &'static Encoding, text: &str, chunk_chars: usize) -> usize {
    let slot = cache_slot(encoding.name());
    if slot.chunk_chars.load(Ordering::Relaxed) != chunk_chars {
        return encoding.count_chunked(text, chunk_chars);
    }
    slot.cache
        .count_with(text, |text| encoding.count_chunked(text, chunk_chars))
}

/// Set the count cache's byte budget per encoding (0 disables it) and the chunk size it
/// serves; drops every cached count.
#[pyfunction]
fn configure_count_cache(budget_bytes: u64, chunk_chars: usize) {
    for slot in &CACHES {
        slot.chunk_chars.store(chunk_chars, Ordering::Relaxed);
        slot.cache.set_budget(budget_bytes);
    }
}

/// Hits, misses, entries, bytes and budget of the count caches, summed over encodings.
#[pyfunction]
fn count_cache_stats<'py>(py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let dict = pyo3::types::PyDict::new(py);
    let stats: Vec<_> = CACHES.iter().map(|slot| slot.cache.stats()).collect();
    dict.set_item("hits", stats.iter().map(|s| s.hits).sum::<u64>())?;
    dict.set_item("misses", stats.iter().map(|s| s.misses).sum::<u64>())?;
    dict.set_item("entries", stats.iter().map(|s| s.entries).sum::<usize>())?;
    dict.set_item("bytes", stats.iter().map(|s| s.bytes).sum::<usize>())?;
    dict.set_item("budget_bytes_per_encoding", stats[0].budget_bytes)?;
    Ok(dict)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEncoding>()?;
    m.add_function(wrap_pyfunction!(configure_count_cache, m)?)?;
    m.add_function(wrap_pyfunction!(count_cache_stats, m)?)?;
    Ok(())
}
