//! Bindings of the token-counting core.

use fast_litellm_tokens::{Encoding, EncodingName};
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
        Ok(count_chunked(py, self.inner, text, chunk_chars))
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

fn count_chunked(
    py: Python<'_>,
    encoding: &'static Encoding,
    text: &str,
    chunk_chars: usize,
) -> usize {
    if text.len() < DETACH_MIN_BYTES {
        return encoding.count_chunked(text, chunk_chars);
    }
    py.detach(|| encoding.count_chunked(text, chunk_chars))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEncoding>()?;
    Ok(())
}
