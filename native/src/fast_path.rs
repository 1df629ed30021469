//! The commonest token-counting calls, decided and counted in one native call.
//!
//! Python resolves each model once (with LiteLLM's own helpers) and tells this object which
//! encoding a model counts with, the registry snapshot those resolutions hold for, and from
//! which sizes the selector sends payloads native. A call that matches all of it is counted
//! here; anything else goes the long way, to the Python dispatch. This object makes no policy
//! of its own: it only applies what Python decided.
//!
//! `FastPath.token_counter` is what LiteLLM's `token_counter` bindings are patched with: a
//! native entry point saves the Python frame of a wrapper (0.1-0.3 µs, about what counting
//! a dozen tokens costs).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwapOption;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString};

use crate::latency::LatencyHistogram;
use crate::tokens::{count_chunked_text, PyEncoding};

/// One call in this many is timed for the latency histogram.
const SAMPLE_EVERY: u64 = 32;

struct Snapshot {
    /// The namespace of the `litellm` module: its settings are read as dict items, cheaper
    /// than attribute lookups through the module type.
    litellm: Py<PyDict>,
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
    /// Swapped whole by `configure`/`reset`, read without a lock: a call touches Python
    /// (dict items, lengths) while it uses the snapshot, and a lock held there could be
    /// waited for by a thread that holds the GIL while this one waits for the GIL.
    snapshot: ArcSwapOption<Snapshot>,
    calls: AtomicU64,
    /// Panics caught in the fast path (the call then went the long way).
    panics: AtomicU64,
    /// Set by tests: the next fast-path call panics.
    panic_next: AtomicBool,
    latency: Py<LatencyHistogram>,
    /// The Python dispatch, called with all nine arguments for what the fast path does not take.
    long_way: Py<PyAny>,
    /// A function of no arguments returning this object in any process: pickling
    /// `token_counter` (e.g. to send it to a worker process) pickles a reference to it.
    restore: Py<PyAny>,
}

/// An argument that may have been left out. Unlike `Option`, an explicit `None` is `Given`:
/// LiteLLM's defaults for these parameters are not `None`.
pub enum Arg<'py> {
    Missing,
    Given(Bound<'py, PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Arg<'py> {
    type Error = std::convert::Infallible;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> Result<Self, Self::Error> {
        Ok(Arg::Given(obj.to_owned()))
    }
}

impl<'py> Arg<'py> {
    fn or_default(self, default: impl FnOnce() -> Bound<'py, PyAny>) -> Bound<'py, PyAny> {
        match self {
            Arg::Given(value) => value,
            Arg::Missing => default(),
        }
    }
}

/// `not value` in Python is true for None and for falsy values; errors count as "not sure".
fn surely_falsy(value: Option<&Bound<'_, PyAny>>) -> bool {
    match value {
        None => true,
        Some(value) => value.is_truthy().map(|truthy| !truthy).unwrap_or(false),
    }
}

#[pymethods]
impl FastPath {
    #[new]
    fn new(latency: Py<LatencyHistogram>, long_way: Py<PyAny>, restore: Py<PyAny>) -> Self {
        FastPath {
            snapshot: ArcSwapOption::empty(),
            calls: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            panic_next: AtomicBool::new(false),
            latency,
            long_way,
            restore,
        }
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> (Bound<'py, PyAny>, ()) {
        (self.restore.bind(py).clone(), ())
    }

    /// LiteLLM's `token_counter` (same parameters, same defaults): plain text or plain message
    /// dicts for a resolved model are counted here, every other call goes the long way.
    #[pyo3(signature = (
        model=Arg::Missing,
        custom_tokenizer=None,
        text=None,
        messages=None,
        count_response_tokens=Arg::Missing,
        tools=None,
        tool_choice=None,
        use_default_image_token_count=Arg::Missing,
        default_token_count=None,
    ))]
    #[pyo3(
        text_signature = "($self, model='', custom_tokenizer=None, text=None, messages=None, \
                          count_response_tokens=False, tools=None, tool_choice=None, \
                          use_default_image_token_count=False, default_token_count=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn token_counter<'py>(
        &self,
        py: Python<'py>,
        model: Arg<'py>,
        custom_tokenizer: Option<&Bound<'py, PyAny>>,
        text: Option<&Bound<'py, PyAny>>,
        messages: Option<&Bound<'py, PyAny>>,
        count_response_tokens: Arg<'py>,
        tools: Option<&Bound<'py, PyAny>>,
        tool_choice: Option<&Bound<'py, PyAny>>,
        use_default_image_token_count: Arg<'py>,
        default_token_count: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let model = model.or_default(|| pyo3::intern!(py, "").clone().into_any());
        let false_ = || PyBool::new(py, false).to_owned().into_any();
        let count_response_tokens = count_response_tokens.or_default(false_);
        if custom_tokenizer.is_none() && surely_falsy(tools) && surely_falsy(tool_choice) {
            let fast = catch_unwind(AssertUnwindSafe(|| {
                // A load first: a swap on every call would be a locked instruction.
                if self.panic_next.load(Ordering::Relaxed)
                    && self.panic_next.swap(false, Ordering::Relaxed)
                {
                    panic!("fast path panic requested by a test");
                }
                match (text, messages) {
                    (Some(text), None) => self.count_text(py, &model, text).map(|n| n as i64),
                    (None, Some(messages)) => {
                        self.count_messages(py, &model, messages, &count_response_tokens)
                    }
                    _ => None,
                }
            }));
            match fast {
                Ok(Some(tokens)) => return Ok(tokens.into_pyobject(py)?.into_any()),
                Ok(None) => {}
                // The fast path turns itself off until Python configures it again; this call
                // and the next go the long way, where the Python dispatch counts natively
                // again and falls back to LiteLLM (counting the failure) if that fails too.
                Err(_) => {
                    self.panics.fetch_add(1, Ordering::Relaxed);
                    self.reset();
                }
            }
        }
        self.long_way.bind(py).call1((
            model,
            custom_tokenizer,
            text,
            messages,
            count_response_tokens,
            tools,
            tool_choice,
            use_default_image_token_count.or_default(false_),
            default_token_count,
        ))
    }

    /// Install what Python decided; `encodings` maps a model to (Encoding, tokens per
    /// message, tokens per name) and is shared with Python, which fills it as it resolves.
    #[allow(clippy::too_many_arguments)]
    fn configure(
        &self,
        py: Python<'_>,
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
        let Ok(namespace) = litellm
            .bind(py)
            .getattr(pyo3::intern!(py, "__dict__"))
            .and_then(|namespace| Ok(namespace.cast_into_exact::<PyDict>()?))
        else {
            self.reset(); // not a plain module: every call goes the long way
            return;
        };
        let snapshot = Snapshot {
            litellm: namespace.unbind(),
            model_cost,
            model_cost_len,
            hf_flag,
            encodings,
            text_from,
            messages_from,
            chunk_chars,
            max_exact_chars,
        };
        self.snapshot.store(Some(Arc::new(snapshot)));
    }

    /// Forget everything: every call answers None until `configure` runs again.
    fn reset(&self) {
        self.snapshot.store(None);
    }

    /// Calls counted here since the last `reset_calls`.
    #[getter]
    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Panics caught in the fast path since the last `reset_calls`.
    #[getter]
    fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    /// Make the next fast-path call panic (tests of the fallback).
    fn _panic_on_next_call_for_tests(&self) {
        self.panic_next.store(true, Ordering::Relaxed);
    }

    fn reset_calls(&self) {
        self.calls.store(0, Ordering::Relaxed);
        self.panics.store(0, Ordering::Relaxed);
    }
}

/// What a call needs from the snapshot, copied out before counting.
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
        let primer = if count_response_tokens.is(PyBool::new(py, false)) {
            3
        } else {
            0
        };
        Some(tokens + primer)
    }

    /// The encoding and message constants for `model`, if the snapshot still holds and the
    /// payload size is one the selector sends native.
    fn lookup(
        &self,
        py: Python<'_>,
        model: &Bound<'_, PyAny>,
        size: usize,
        class: PayloadClass,
    ) -> Option<Found> {
        let guard = self.snapshot.load();
        let snapshot = guard.as_deref()?;
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
        let setting = |name| litellm.get_item(name).ok().flatten();
        let disabled = setting(pyo3::intern!(py, "disable_token_counter"))?;
        if disabled.is(PyBool::new(py, true)) {
            return None; // the long way answers 0, as LiteLLM does
        }
        let cost = setting(pyo3::intern!(py, "model_cost"))?;
        if !cost.is(&snapshot.model_cost) || cost.len().ok()? != snapshot.model_cost_len {
            return None;
        }
        let hf_flag = setting(pyo3::intern!(py, "disable_hf_tokenizer_download"))?;
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
