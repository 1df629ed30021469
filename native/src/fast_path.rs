//! The commonest token-counting calls, decided and counted in one native call.
//!
//! Python resolves each model once (with LiteLLM's own helpers) and tells this object which
//! encoding a model counts with, the registry snapshot those resolutions hold for, and from
//! which sizes the selector sends payloads native. A call that matches all of it is counted
//! here; anything else answers `None` and the Python dispatch decides the long way. This
//! object makes no policy of its own: it only applies what Python decided.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::latency::LatencyHistogram;
use crate::tokens::{count_chunked_text, PyEncoding};

/// One call in this many is timed for the latency histogram.
const SAMPLE_EVERY: u64 = 32;

struct Snapshot {
    litellm: Py<PyAny>,
    /// `litellm.model_cost` and its size, and `litellm.disable_hf_tokenizer_download`, as they
    /// were when the resolutions in `encodings` were made.
    model_cost: Py<PyAny>,
    model_cost_len: usize,
    hf_flag: Py<PyAny>,
    /// model (str or None) -> (Encoding, tokens_per_message, tokens_per_name)
    encodings: Py<PyDict>,
    text_from: f64,
    messages_from: f64,
    chunk_chars: usize,
    max_exact_chars: usize,
}

#[pyclass(module = "fast_litellm._native", name = "FastPath", frozen)]
pub struct FastPath {
    snapshot: Mutex<Option<Snapshot>>,
    calls: AtomicU64,
    latency: Py<LatencyHistogram>,
}

#[pymethods]
impl FastPath {
    #[new]
    fn new(latency: Py<LatencyHistogram>) -> Self {
        FastPath {
            snapshot: Mutex::new(None),
            calls: AtomicU64::new(0),
            latency,
        }
    }

    /// Install what Python decided; `encodings` maps a model to (Encoding, tokens per
    /// message, tokens per name) and is shared with Python, which fills it as it resolves.
    #[allow(clippy::too_many_arguments)]
    fn configure(
        &self,
        litellm: Py<PyAny>,
        model_cost: Py<PyAny>,
        model_cost_len: usize,
        hf_flag: Py<PyAny>,
        encodings: Py<PyDict>,
        text_from: f64,
        messages_from: f64,
        chunk_chars: usize,
        max_exact_chars: usize,
    ) {
        let snapshot = Snapshot {
            litellm,
            model_cost,
            model_cost_len,
            hf_flag,
            encodings,
            text_from,
            messages_from,
            chunk_chars,
            max_exact_chars,
        };
        if let Ok(mut slot) = self.snapshot.lock() {
            *slot = Some(snapshot);
        }
    }

    /// Forget everything: every call answers None until `configure` runs again.
    fn reset(&self) {
        if let Ok(mut slot) = self.snapshot.lock() {
            *slot = None;
        }
    }

    /// Calls counted here since the last `reset_calls`.
    #[getter]
    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn reset_calls(&self) {
        self.calls.store(0, Ordering::Relaxed);
    }

    /// The count of `text` for `model`, or None when the Python dispatch must decide.
    fn count_text(
        &self,
        py: Python<'_>,
        model: &Bound<'_, PyAny>,
        text: &Bound<'_, PyAny>,
    ) -> Option<usize> {
        let text = text.cast_exact::<PyString>().ok()?;
        let found = self.lookup(py, model, text.len().ok()?, PayloadClass::Text)?;
        let utf8 = text.to_str().ok()?; // lone surrogates: Python repairs them
        let started = self.start_sample();
        let tokens = count_chunked_text(py, found.encoding, utf8, found.chunk_chars);
        self.finish(py, started);
        Some(tokens)
    }

    /// The count of a list of plain message dicts plus the reply primer (if
    /// `count_response_tokens is False`), or None when the Python dispatch must decide.
    fn count_messages(
        &self,
        py: Python<'_>,
        model: &Bound<'_, PyAny>,
        messages: &Bound<'_, PyAny>,
        count_response_tokens: &Bound<'_, PyAny>,
    ) -> Option<i64> {
        let messages = messages.cast_exact::<PyList>().ok()?;
        let found = self.lookup(py, model, messages.len(), PayloadClass::Messages)?;
        let started = self.start_sample();
        let (tokens, left_over) = crate::messages::count_messages(
            py,
            found.encoding,
            messages,
            found.tokens_per_message,
            found.tokens_per_name,
            found.chunk_chars,
            found.max_exact_chars,
        )?;
        if !left_over.is_empty() {
            return None; // sampled or surrogate strings: Python counts those
        }
        self.finish(py, started);
        let primer = if count_response_tokens.is(pyo3::types::PyBool::new(py, false)) {
            3
        } else {
            0
        };
        Some(tokens + primer)
    }
}

/// What a call needs from the snapshot, copied out so the lock is not held while counting.
struct Found {
    encoding: &'static fast_litellm_tokens::Encoding,
    tokens_per_message: i64,
    tokens_per_name: i64,
    chunk_chars: usize,
    max_exact_chars: usize,
}

#[derive(Clone, Copy)]
enum PayloadClass {
    Text,
    Messages,
}

impl FastPath {
    /// The encoding and message constants for `model`, if the snapshot still holds and the
    /// payload size is one the selector sends native.
    fn lookup(
        &self,
        py: Python<'_>,
        model: &Bound<'_, PyAny>,
        size: usize,
        class: PayloadClass,
    ) -> Option<Found> {
        let guard = self.snapshot.lock().ok()?;
        let snapshot = guard.as_ref()?;
        let from = match class {
            PayloadClass::Text => {
                if size > snapshot.max_exact_chars {
                    return None;
                }
                snapshot.text_from
            }
            PayloadClass::Messages => snapshot.messages_from,
        };
        if (size as f64) < from {
            return None;
        }
        let litellm = snapshot.litellm.bind(py);
        let cost = litellm.getattr(pyo3::intern!(py, "model_cost")).ok()?;
        if !cost.is(&snapshot.model_cost) || cost.len().ok()? != snapshot.model_cost_len {
            return None;
        }
        let hf_flag = litellm
            .getattr(pyo3::intern!(py, "disable_hf_tokenizer_download"))
            .ok()?;
        if !hf_flag.is(&snapshot.hf_flag) {
            return None;
        }
        if !(model.is_none() || model.is_exact_instance_of::<PyString>()) {
            return None;
        }
        let entry = snapshot.encodings.bind(py).get_item(model).ok()??;
        let (encoding, tokens_per_message, tokens_per_name): (Bound<'_, PyEncoding>, i64, i64) =
            entry.extract().ok()?;
        Some(Found {
            encoding: encoding.get().inner(),
            tokens_per_message,
            tokens_per_name,
            chunk_chars: snapshot.chunk_chars,
            max_exact_chars: snapshot.max_exact_chars,
        })
    }

    /// A start time for one call in `SAMPLE_EVERY` (decided before the call is known to
    /// succeed; `finish` counts it).
    fn start_sample(&self) -> Option<Instant> {
        let call = self.calls.load(Ordering::Relaxed) + 1;
        (call % SAMPLE_EVERY == 0).then(Instant::now)
    }

    fn finish(&self, py: Python<'_>, started: Option<Instant>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(started) = started {
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.latency.bind(py).get().record(nanos);
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FastPath>()?;
    Ok(())
}
