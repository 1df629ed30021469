//! HdrHistogram of call latencies in nanoseconds, for `fast_litellm.stats()`.

use hdrhistogram::Histogram;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Mutex;

use fast_litellm_tokens::PerProcess;

/// 1 ns to 100 s at 3 significant digits.
const HIGHEST_NS: u64 = 100_000_000_000;

#[pyclass(module = "fast_litellm._native", name = "LatencyHistogram", frozen)]
pub struct LatencyHistogram {
    /// Held only for histogram arithmetic, never while touching Python (a thread holding the
    /// GIL may wait for it). Per process: without a GIL, another thread may hold it at a fork.
    inner: PerProcess<Mutex<Histogram<u64>>>,
}

/// What `summary` reports, copied out of the lock before the dict is built.
struct Summary {
    count: u64,
    min: u64,
    quantiles: [u64; 3],
    max: u64,
}

fn empty_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts (1 <= low, high >= 2 * low, 3 digits).
    Histogram::new_with_bounds(1, HIGHEST_NS, 3).expect("valid histogram bounds")
}

const SUMMARY_QUANTILES: [(&str, f64); 3] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)];

#[pymethods]
impl LatencyHistogram {
    #[new]
    fn new() -> Self {
        Self {
            inner: PerProcess::new(|| Mutex::new(empty_histogram())),
        }
    }

    /// Record one latency; values outside 1 ns..100 s are clamped.
    pub fn record(&self, nanoseconds: u64) {
        let value = nanoseconds.clamp(1, HIGHEST_NS);
        if let Ok(mut histogram) = self.inner.get().lock() {
            histogram.saturating_record(value);
        }
    }

    fn reset(&self) {
        if let Ok(mut histogram) = self.inner.get().lock() {
            histogram.reset();
        }
    }

    #[getter]
    fn count(&self) -> u64 {
        self.inner.get().lock().map(|h| h.len()).unwrap_or(0)
    }

    /// The value at `quantile` (0..=1), in nanoseconds; 0 when empty.
    fn value_at_quantile(&self, quantile: f64) -> u64 {
        self.inner
            .get()
            .lock()
            .map(|h| h.value_at_quantile(quantile.clamp(0.0, 1.0)))
            .unwrap_or(0)
    }

    /// count, min, p50, p90, p99, max (ns), as a dict.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let summary = {
            let histogram = self.inner.get().lock().map_err(|_| {
                pyo3::exceptions::PyRuntimeError::new_err("latency histogram lock poisoned")
            })?;
            let empty = histogram.is_empty();
            let at = |q| {
                if empty {
                    0
                } else {
                    histogram.value_at_quantile(q)
                }
            };
            Summary {
                count: histogram.len(),
                min: if empty { 0 } else { histogram.min() },
                quantiles: SUMMARY_QUANTILES.map(|(_, q)| at(q)),
                max: if empty { 0 } else { histogram.max() },
            }
        };
        let dict = PyDict::new(py);
        dict.set_item("count", summary.count)?;
        dict.set_item("min", summary.min)?;
        for ((key, _), value) in SUMMARY_QUANTILES.iter().zip(summary.quantiles) {
            dict.set_item(key, value)?;
        }
        dict.set_item("max", summary.max)?;
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
