//! `fast_litellm._native`: thin PyO3 bindings over the fast-litellm Rust cores.
//!
//! Policy (what to accelerate, when, and fallbacks) lives in the Python package; this module
//! only converts arguments, releases the GIL around heavy work and maps errors.

use pyo3::prelude::*;

mod calibration;
mod fast_path;
mod latency;
mod messages;
mod tokens;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    tokens::register(m)?;
    latency::register(m)?;
    calibration::register(m)?;
    fast_path::register(m)?;
    Ok(())
}
