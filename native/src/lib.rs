//! `fast_litellm._native`: thin PyO3 bindings over the fast-litellm Rust cores.
//!
//! Policy (what to accelerate, when, and fallbacks) lives in the Python package; this module
//! only converts arguments, releases the GIL around heavy work and maps errors.

use pyo3::prelude::*;

mod calibration;
mod client_cache;
mod deployment_pricing;
mod fast_path;
mod latency;
mod limiter;
mod limiter_gate;
mod memory_cache;
mod messages;
mod router_core;
mod routing;
mod routing_busy;
mod routing_cost;
mod routing_usage;
mod store_methods;
mod tokens;

/// `gil_used = false`: nothing here relies on the GIL for memory safety. Shared state is
/// atomics, snapshots swapped whole, and locks that are never held while touching Python.
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    fast_litellm_tokens::install_fork_handlers();
    tokens::register(m)?;
    latency::register(m)?;
    calibration::register(m)?;
    fast_path::register(m)?;
    memory_cache::register(m)?;
    store_methods::register(m)?;
    client_cache::register(m)?;
    routing::register(m)?;
    router_core::register(m)?;
    routing_usage::register(m)?;
    routing_busy::register(m)?;
    routing_cost::register(m)?;
    limiter::register(m)?;
    limiter_gate::register(m)?;
    Ok(())
}
