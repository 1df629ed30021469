//! Whether a `_thread.lock` is held, without calling its `locked()` method.
//!
//! Up to CPython 3.11, `locked()` returns the lock object's `locked` byte, which `acquire` sets and
//! `release` clears. Where that layout is confirmed at start-up (the type's size, and the byte
//! followed through an acquire and a release of a fresh lock), the byte is read directly; anywhere
//! else, and if the probe disagrees, `locked()` is called.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// `lockobject` of CPython 3.11's `Modules/_threadmodule.c`.
#[cfg(not(any(Py_3_12, Py_GIL_DISABLED, PyPy, GraalPy)))]
#[repr(C)]
struct LockObject {
    ob_base: pyo3::ffi::PyObject,
    lock_lock: *mut std::ffi::c_void,
    in_weakreflist: *mut pyo3::ffi::PyObject,
    locked: std::ffi::c_char,
}

pub(super) struct LockState {
    /// The `locked` byte was confirmed where `LockObject` places it (never, where it is not read).
    #[cfg_attr(any(Py_3_12, Py_GIL_DISABLED, PyPy, GraalPy), allow(dead_code))]
    byte_confirmed: bool,
}

impl LockState {
    /// Checks the layout on a fresh lock of `lock_type` (`_thread.LockType`).
    pub(super) fn probe(lock_type: &Bound<'_, PyType>) -> PyResult<Self> {
        #[cfg(not(any(Py_3_12, Py_GIL_DISABLED, PyPy, GraalPy)))]
        {
            let py = lock_type.py();
            // SAFETY: a type object's `tp_basicsize` is a plain field.
            let size = unsafe { (*lock_type.as_type_ptr()).tp_basicsize };
            if usize::try_from(size).ok() != Some(std::mem::size_of::<LockObject>()) {
                return Ok(Self {
                    byte_confirmed: false,
                });
            }
            let lock = py
                .import("_thread")?
                .call_method0(intern!(py, "allocate_lock"))?;
            if !lock.get_type().is(lock_type) {
                return Ok(Self {
                    byte_confirmed: false,
                });
            }
            // SAFETY: `lock` is an instance of exactly this type, whose size matches `LockObject`.
            let byte = || unsafe { (*lock.as_ptr().cast::<LockObject>()).locked };
            let before = byte();
            lock.call_method0(intern!(py, "acquire"))?;
            let held = byte();
            let reported = lock.call_method0(intern!(py, "locked"))?.is_truthy()?;
            lock.call_method0(intern!(py, "release"))?;
            let after = byte();
            Ok(Self {
                byte_confirmed: before == 0 && held == 1 && reported && after == 0,
            })
        }
        #[cfg(any(Py_3_12, Py_GIL_DISABLED, PyPy, GraalPy))]
        {
            let _ = lock_type;
            Ok(Self {
                byte_confirmed: false,
            })
        }
    }

    /// `lock.locked()` for an exact `_thread.lock` (the caller checks the type).
    pub(super) fn is_held(&self, lock: &Bound<'_, PyAny>) -> PyResult<bool> {
        #[cfg(not(any(Py_3_12, Py_GIL_DISABLED, PyPy, GraalPy)))]
        if self.byte_confirmed {
            // SAFETY: an exact `_thread.lock` (caller), whose layout `probe` confirmed; the byte
            // is written only under the GIL this thread holds.
            return Ok(unsafe { (*lock.as_ptr().cast::<LockObject>()).locked } != 0);
        }
        lock.call_method0(intern!(lock.py(), "locked"))?.is_truthy()
    }
}
