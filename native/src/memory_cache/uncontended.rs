//! `set_cache` and `increment_cache` on a key already held, done without LiteLLM's locks when
//! nothing could tell the difference.
//!
//! LiteLLM takes the instance's `_write_lock` (and `_increment_lock`) so that no other thread's
//! set or increment runs between the steps of one. With the GIL, no other thread runs at all
//! between steps that run no Python code, do not release the GIL and allocate nothing a garbage
//! collection could start from (the only ways another thread gets to run). So when the locks are
//! plain `_thread.lock`s that nobody holds, and the whole operation is made of such steps, it is
//! done here in one stretch, and it is as if the locks were taken and released around it:
//!
//! - the key is an exact str held in `cache_dict`, with an exact float expiry not passed (no
//!   eviction of it, no new expiry, so no heap push and no tuple allocated);
//! - the heap's root is current and not expired, the heap is not due for compaction and the cache
//!   is below its size: LiteLLM's eviction pass changes nothing;
//! - the clock is the builtin `time.time`, read once: LiteLLM reads it two or three times within a
//!   microsecond, and one reading is what a clock not advancing in between would give;
//! - the values are sized natively (builtin types, through builtin methods called without a new
//!   tuple), and an increment adds builtin numbers;
//! - the value replaced stays referenced until the stretch is over (its finalisers may run Python).
//!
//! A str key's lookup could still run Python code if the dict also held a key of another type
//! with an equal hash and an `__eq__` of its own: the get path makes the same assumption.
//!
//! Anything else returns None before any change, and the caller takes the locks as LiteLLM does.
//! Free-threaded builds always take the locks.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::{exact_i64, MemoryCacheOps, State};

impl MemoryCacheOps {
    /// `set_cache(key, value)` for a key held and not expired, when uncontended: Some(()) done,
    /// None not done (nothing changed).
    pub(super) fn set_uncontended<'py>(
        &self,
        state: &State<'_, 'py>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Option<()>> {
        let py = key.py();
        if value.is_exact_instance_of::<PyBytes>() {
            return Ok(None); // sized by `sys.getsizeof`, which takes its argument in a new tuple
        }
        let Some(replaced) = self.uncontended_current(state, key, &[intern!(py, "_write_lock")])?
        else {
            return Ok(None);
        };
        let Some(acceptable) = self.native_value_size_ok(state, value)? else {
            return Ok(None);
        };
        if acceptable {
            state.cache_dict.set_item(key, value)?;
        }
        drop(replaced); // released once the operation is done
        Ok(Some(()))
    }

    /// `increment_cache(key, amount)` for a key held, not expired and holding a builtin number,
    /// when uncontended: the new value, or None (nothing changed).
    pub(super) fn increment_uncontended<'py>(
        &self,
        state: &State<'_, 'py>,
        key: &Bound<'py, PyAny>,
        amount: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = key.py();
        if !is_builtin_number(amount) {
            return Ok(None);
        }
        let locks = [intern!(py, "_increment_lock"), intern!(py, "_write_lock")];
        let Some(current) = self.uncontended_current(state, key, &locks)? else {
            return Ok(None);
        };
        if !is_builtin_number(&current) {
            return Ok(None); // a str is JSON-decoded by get_cache; anything else may run Python
        }
        // `self.get_cache(key) or 0`: a number as stored is what get_cache returns.
        let initial = if current.is_truthy()? {
            current.clone()
        } else {
            0i64.into_pyobject(py)?.into_any()
        };
        let total = initial.add(amount)?;
        // A total whose size LiteLLM's check must tell (an int past i64) is left to the locked
        // path; nothing is changed yet.
        let Some(acceptable) = self.native_value_size_ok(state, &total)? else {
            return Ok(None);
        };
        if acceptable {
            state.cache_dict.set_item(key, &total)?;
        }
        drop(current);
        Ok(Some(total))
    }

    /// The checks both operations share (see the module's documentation), read-only: the key's
    /// current value if the operation on `key` can be done without taking `locks`.
    fn uncontended_current<'py>(
        &self,
        state: &State<'_, 'py>,
        key: &Bound<'py, PyAny>,
        locks: &[&Bound<'py, PyString>],
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        if cfg!(Py_GIL_DISABLED) || !key.is_exact_instance_of::<PyString>() {
            return Ok(None);
        }
        let py = key.py();
        for name in locks {
            let lock = state.attribute(name)?;
            if !lock.get_type().is(self.lock_type.bind(py)) {
                return Ok(None);
            }
            // `_thread.lock.locked` is a builtin method: no Python code, nothing allocated.
            if self.lock_state.is_held(&lock)? {
                return Ok(None);
            }
        }
        let Some(max_size) = exact_i64(&state.attribute(intern!(py, "max_size_in_memory"))?) else {
            return Ok(None);
        };
        if max_size <= 0 {
            return Ok(None);
        }
        let Some(now) = state.builtin_clock_seconds()? else {
            return Ok(None);
        };
        let Some(current) = state.cache_dict.get_item(key)? else {
            return Ok(None); // a new key gets an expiry pushed on the heap
        };
        // Not expired (`now > expiry` false) and no new expiry (`expiry < now` false); a NaN
        // expiry is neither, as in LiteLLM.
        match float_value(state.ttl_dict.get_item(key)?) {
            Some(expiry) if now.partial_cmp(&expiry) != Some(std::cmp::Ordering::Greater) => {}
            _ => return Ok(None),
        }
        let Ok(heap) = state
            .attribute(intern!(py, "expiration_heap"))?
            .cast_into_exact::<PyList>()
        else {
            return Ok(None);
        };
        let length = heap.len() as i128;
        if length == 0
            || length > 2 * i128::from(max_size)
            || state.cache_dict.len() as i128 >= i128::from(max_size)
        {
            return Ok(None);
        }
        // The eviction pass stops at once: its root is current (`expiration_time ==
        // ttl_dict.get(key)`) and not expired (`expiration_time <= now` false).
        let root = heap.get_item(0)?;
        let Ok(root) = root.cast_exact::<PyTuple>() else {
            return Ok(None);
        };
        if root.len() != 2 {
            return Ok(None);
        }
        let (root_expiry, root_key) = (root.get_item(0)?, root.get_item(1)?);
        if !root_key.is_exact_instance_of::<PyString>() {
            return Ok(None);
        }
        let current_root_expiry = float_value(state.ttl_dict.get_item(&root_key)?);
        match (float_value(Some(root_expiry)), current_root_expiry) {
            (Some(root_expiry), Some(current)) if root_expiry == current && root_expiry > now => {}
            _ => return Ok(None),
        }
        Ok(Some(current))
    }
}

/// An exact int (not a bool) or an exact float: adding two runs no Python code.
fn is_builtin_number(value: &Bound<'_, PyAny>) -> bool {
    value.is_exact_instance_of::<PyInt>() || value.is_exact_instance_of::<PyFloat>()
}

/// The value of an exact float.
fn float_value(value: Option<Bound<'_, PyAny>>) -> Option<f64> {
    value?
        .cast_exact::<PyFloat>()
        .ok()
        .map(|float| float.value())
}
