//! HdrHistogram of call latencies in nanoseconds, for `fast_litellm.stats()`.

use hdrhistogram::Histogram;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Mutex;

/// 1 ns to 100 s at 3 significant digits.
const HIGHEST_NS: u64 = 100_000_000_000;

#[pyclass(module = "fast_litellm._native", name = "LatencyHistogram", frozen)]
pub struct LatencyHistogram {
    inner: Mutex<Histogram<u64>>,
}

#[pymethods]
impl LatencyHistogram {
    #[new]
    fn new() -> PyResult<Self> {
        let histogram = Histogram::new_with_bounds(1, HIGHEST_NS, 3)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        Ok(Self {
            inner: Mutex::new(histogram),
        })
    }

    /// Record one latency; values outside 1 ns..100 s are clamped.
    pub fn record(&self, nanoseconds: u64) {
        let value = nanoseconds.clamp(1, HIGHEST_NS);
        if let Ok(mut histogram) = self.inner.lock() {
            histogram.saturating_record(value);
        }
    }

    fn reset(&self) {
        if let Ok(mut histogram) = self.inner.lock() {
            histogram.reset();
        }
    }

    #[getter]
    fn count(&self) -> u64 {
        self.inner.lock().map(|h| h.len()).unwrap_or(0)
    }

    /// The value at `quantile` (0..=1), in nanoseconds; 0 when empty.
    fn value_at_quantile(&self, quantile: f64) -> u64 {
        self.inner
            .lock()
            .map(|h| h.value_at_quantile(quantile.clamp(0.0, 1.0)))
            .unwrap_or(0)
    }

    /// count, min, p50, p90, p99, max (ns), as a dict.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        let histogram = self.inner.lock().map_err(|_| {
            pyo3::exceptions::PyRuntimeError::new_err("latency histogram lock poisoned")
        })?;
        let count = histogram.len();
        dict.set_item("count", count)?;
        let empty = count == 0;
        dict.set_item("min", if empty { 0 } else { histogram.min() })?;
        for (key, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
            dict.set_item(
                key,
                if empty {
                    0
                } else {
                    histogram.value_at_quantile(q)
                },
            )?;
        }
        dict.set_item("max", if empty { 0 } else { histogram.max() })?;
        Ok(dict)
    }
}

/// Raise a Rust panic inside native code; tests use it to prove panics fall back to Python.
#[pyfunction]
fn _panic_for_tests(message: &str) {
    panic!("{message}");
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LatencyHistogram>()?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    Ok(())
}
