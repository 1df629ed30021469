//! Whether a v3 limiter call may take the native passes (`limiter.rs`): the checks `limiter.py`
//! would otherwise make in Python on every request, which cost about as much as a rejected check.
//!
//! For the handler class LiteLLM defines (exactly), the gate checks natively that the instance
//! replaces none of the check's methods, that the limiter module's `_scalar` and `RateLimitScope`
//! are still the ones installed, that the class and the store class still have the methods found
//! to be LiteLLM's (by their version tags; a change asks `limiter.py` again), and that the store
//! is LiteLLM's memory-only one; it then returns the store's handle. Other classes, and anything
//! unexpected, go to `limiter.py`'s own checks, so the answer is always theirs.

use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString, PyType};

use crate::memory_cache::{instance_dict, version_tag, CheckedVersions};

#[pyclass(module = "fast_litellm._native", name = "LimiterGate", frozen)]
pub struct LimiterGate {
    handler_class: Py<PyType>,
    /// Method names an instance attribute would replace.
    overrides: Vec<Py<PyString>>,
    module_globals: Py<PyDict>,
    scalar: Py<PyAny>,
    scope_type: Py<PyAny>,
    store_type: Py<PyType>,
    handle_type: Py<PyType>,
    lock_type: Py<PyType>,
    /// `asyncio.Lock`'s version tag when installed, its `locked()` being `self._locked`.
    lock_tag: u32,
    /// `limiter._entry_cache` and `limiter._new_slot_id` (see `limiter::limiter_should_rate_limit`).
    entry_cache: Py<PyDict>,
    new_slot_id: Py<PyAny>,
    /// `limiter.py`'s checks: handler -> handle or None; class -> bool; lock -> bool.
    python_handle: Py<PyAny>,
    python_methods_check: Py<PyAny>,
    python_lock_free: Py<PyAny>,
    /// The handler class's and the store class's version tags when the methods last passed
    /// `python_methods_check` (0: not yet).
    checked_tags: AtomicU64,
    /// The last instance dict found to replace none of the methods, and the module's globals
    /// last found as installed: an unchanged dict need not be searched again.
    clean_attributes: CheckedVersions<1>,
    clean_globals: CheckedVersions<1>,
    /// Checks, reservations and releases answered natively (the component's stats add them).
    native_calls: AtomicU64,
}

impl LimiterGate {
    fn count(&self, native: bool) {
        if native {
            self.native_calls.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The limiter module's `PARALLEL_REQUEST_SLOT_TTL_SECONDS`, read where LiteLLM reads it.
    fn slot_ttl<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.module_globals
            .bind(py)
            .get_item(intern!(py, "PARALLEL_REQUEST_SLOT_TTL_SECONDS"))
    }

    /// Whether the handler's check-and-increment lock would be entered without yielding.
    fn handler_lock_free(&self, handler: &Bound<'_, PyAny>) -> PyResult<bool> {
        let lock = handler.getattr(intern!(handler.py(), "_check_and_increment_lock"))?;
        self.lock_free(&lock)
    }

    fn methods_unchanged(&self, py: Python<'_>) -> PyResult<bool> {
        let class = self.handler_class.bind(py);
        let tags = |class: &Bound<'_, PyType>, store: &Bound<'_, PyType>| {
            (u64::from(version_tag(class)) << 32) | u64::from(version_tag(store))
        };
        let store = self.store_type.bind(py);
        let before = tags(class, store);
        let valid = before >> 32 != 0 && before & 0xffff_ffff != 0;
        if valid && self.checked_tags.load(Ordering::Acquire) == before {
            return Ok(true);
        }
        if !self
            .python_methods_check
            .bind(py)
            .call1((class,))?
            .is_truthy()?
        {
            return Ok(false);
        }
        // Recorded only if neither class changed while Python checked them.
        if valid && tags(class, store) == before {
            self.checked_tags.store(before, Ordering::Release);
        }
        Ok(true)
    }

    /// `limiter._memory_only_handle`: the store's handle when both are LiteLLM's and no Redis is
    /// configured.
    fn memory_only<'py>(&self, handler: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = handler.py();
        let Some(store) = handler.getattr_opt(intern!(py, "rate_limits"))? else {
            return Ok(None);
        };
        if !store.get_type().is(self.store_type.bind(py)) {
            return Ok(None);
        }
        let handle = store.getattr(intern!(py, "_handle"))?;
        if !handle.get_type().is(self.handle_type.bind(py))
            || handle.getattr(intern!(py, "has_redis"))?.is_truthy()?
        {
            return Ok(None);
        }
        Ok(Some(handle))
    }

    fn globals_unchanged(&self, py: Python<'_>) -> PyResult<bool> {
        let globals = self.module_globals.bind(py);
        self.clean_globals.passes([globals], || {
            let is = |name: &Bound<'_, PyString>, expected: &Py<PyAny>| -> PyResult<bool> {
                Ok(globals
                    .get_item(name)?
                    .is_some_and(|found| found.is(expected.bind(py))))
            };
            Ok(is(intern!(py, "_scalar"), &self.scalar)?
                && is(intern!(py, "RateLimitScope"), &self.scope_type)?)
        })
    }

    /// Whether the instance's attributes replace none of the check's methods.
    fn no_overrides(&self, attributes: &Bound<'_, PyDict>) -> PyResult<bool> {
        let py = attributes.py();
        self.clean_attributes.passes([attributes], || {
            for name in &self.overrides {
                if attributes.contains(name.bind(py))? {
                    return Ok(false);
                }
            }
            Ok(true)
        })
    }
}

#[pymethods]
impl LimiterGate {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        handler_class: Py<PyType>,
        overrides: Vec<Py<PyString>>,
        module_globals: Py<PyDict>,
        scalar: Py<PyAny>,
        scope_type: Py<PyAny>,
        store_type: Py<PyType>,
        handle_type: Py<PyType>,
        lock_type: Py<PyType>,
        python_checks: (Py<PyAny>, Py<PyAny>, Py<PyAny>),
        entry_cache: Py<PyDict>,
        new_slot_id: Py<PyAny>,
    ) -> Self {
        let (python_handle, python_methods_check, python_lock_free) = python_checks;
        let lock_tag = Python::attach(|py| version_tag(lock_type.bind(py)));
        Self {
            handler_class,
            overrides,
            module_globals,
            scalar,
            scope_type,
            store_type,
            handle_type,
            lock_type,
            lock_tag,
            entry_cache,
            new_slot_id,
            python_handle,
            python_methods_check,
            python_lock_free,
            checked_tags: AtomicU64::new(0),
            clean_attributes: CheckedVersions::new(),
            clean_globals: CheckedVersions::new(),
            native_calls: AtomicU64::new(0),
        }
    }

    /// LiteLLM's store handle when the check and the store are LiteLLM's own and memory-only,
    /// else None (`limiter._is_litellms`).
    fn handle<'py>(&self, handler: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = handler.py();
        if !handler.get_type().is(self.handler_class.bind(py)) {
            let handle = self.python_handle.bind(py).call1((handler,))?;
            return Ok((!handle.is_none()).then_some(handle));
        }
        let Some(attributes) = instance_dict(handler) else {
            return Ok(None);
        };
        if !self.no_overrides(&attributes)?
            || !self.globals_unchanged(py)?
            || !self.methods_unchanged(py)?
        {
            return Ok(None);
        }
        self.memory_only(handler)
    }

    /// The store's handle for the reservation's in-memory step: module globals as installed and
    /// a memory-only LiteLLM store.
    fn memory_only_handle<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        if !self.globals_unchanged(handler.py())? {
            return Ok(None);
        }
        self.memory_only(handler)
    }

    /// `should_rate_limit(descriptors, read_only=False, ...)` in one native pass when the handler
    /// is LiteLLM's own over a memory-only store and its lock is free; None: run LiteLLM's method.
    fn should_rate_limit<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
        descriptors: &Bound<'py, PyAny>,
        skip_tpm_check: &Bound<'py, PyAny>,
        parallel_slot_id: &Bound<'py, PyAny>,
        skip_parallel_check: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let py = handler.py();
        let Some(handle) = self.reserve_handle(handler)? else {
            return Ok(None);
        };
        let Some(slot_ttl) = self.slot_ttl(py)? else {
            return Ok(None);
        };
        let response = crate::limiter::limiter_should_rate_limit(
            &handle,
            self.entry_cache.bind(py),
            self.scope_type.bind(py),
            &handler.getattr(intern!(py, "_get_current_time"))?,
            descriptors,
            skip_tpm_check,
            &handler.getattr(intern!(py, "window_size"))?,
            parallel_slot_id,
            skip_parallel_check,
            self.new_slot_id.bind(py),
            &slot_ttl,
        )?;
        self.count(response.is_some());
        Ok(response)
    }

    /// `atomic_check_and_increment_by_n(descriptors, increments)` without Redis, lock free:
    /// (response, None) when done natively; (None, per_counter_meta) when the meta is built and
    /// its in-memory step must be LiteLLM's; None (nothing done): run LiteLLM's method.
    #[allow(clippy::type_complexity)]
    fn reserve<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
        descriptors: &Bound<'py, PyAny>,
        increments: &Bound<'py, PyAny>,
    ) -> PyResult<Option<(Option<Bound<'py, PyDict>>, Option<Bound<'py, PyList>>)>> {
        let py = handler.py();
        let Some(handle) = self.reserve_handle(handler)? else {
            return Ok(None);
        };
        let window_size = handler.getattr(intern!(py, "window_size"))?;
        let Some(plan) = crate::limiter::plan_reservation(
            self.entry_cache.bind(py),
            self.scope_type.bind(py),
            descriptors,
            increments,
            &window_size,
        )?
        else {
            return Ok(None);
        };
        if plan.is_empty() {
            let response = PyDict::new(py);
            response.set_item(intern!(py, "overall_code"), intern!(py, "OK"))?;
            response.set_item(intern!(py, "statuses"), PyList::empty(py))?;
            self.count(true);
            return Ok(Some((Some(response), None)));
        }
        let clock = handler.getattr(intern!(py, "_get_current_time"))?;
        let response = crate::limiter::apply_reservation(&handle, &clock, &plan)?;
        self.count(response.is_some());
        Ok(Some(match response {
            Some(response) => (Some(response), None),
            None => (None, Some(plan.meta_dicts(py)?)),
        }))
    }

    /// `_release_parallel_request_slots_in_memory(gauges, slot_id)` natively when the module's
    /// globals are as installed, the store LiteLLM's memory-only one and the handler's lock free;
    /// False (nothing written): run LiteLLM's method.
    fn release(
        &self,
        handler: &Bound<'_, PyAny>,
        gauges: &Bound<'_, PyAny>,
        slot_id: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let py = handler.py();
        let Some(handle) = self.memory_only_handle(handler)? else {
            return Ok(false);
        };
        if !self.handler_lock_free(handler)? {
            return Ok(false);
        }
        let Some(slot_ttl) = self.slot_ttl(py)? else {
            return Ok(false);
        };
        let released = crate::limiter::limiter_release_slots(
            &handle,
            self.entry_cache.bind(py),
            self.scope_type.bind(py),
            gauges,
            slot_id,
            &slot_ttl,
        )?;
        self.count(released);
        Ok(released)
    }

    /// `handle(handler)` when the handler's check-and-increment lock is also free.
    fn reserve_handle<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(handle) = self.handle(handler)? else {
            return Ok(None);
        };
        Ok(self.handler_lock_free(handler)?.then_some(handle))
    }

    /// (checks, reservations and releases answered natively, 0): the calls `limiter.py` does not
    /// count.
    fn counts(&self) -> (u64, u64) {
        (self.native_calls.load(Ordering::Relaxed), 0)
    }

    fn reset_counts(&self) {
        self.native_calls.store(0, Ordering::Relaxed);
    }

    /// Whether `async with lock` would enter without yielding (`limiter._lock_free`).
    fn lock_free(&self, lock: &Bound<'_, PyAny>) -> PyResult<bool> {
        let py = lock.py();
        let class = self.lock_type.bind(py);
        if lock.get_type().is(class) && self.lock_tag != 0 && version_tag(class) == self.lock_tag {
            if let Some(attributes) = instance_dict(lock) {
                let locked = attributes.get_item(intern!(py, "_locked"))?;
                let waiters = attributes.get_item(intern!(py, "_waiters"))?;
                if let (Some(locked), Some(waiters)) = (locked, waiters) {
                    if locked.is_exact_instance_of::<PyBool>() {
                        return Ok(!locked.is_truthy()? && !waiters.is_truthy()?);
                    }
                }
            }
        }
        self.python_lock_free.bind(py).call1((lock,))?.is_truthy()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LimiterGate>()
}
