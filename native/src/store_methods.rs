//! `InMemoryCache`'s store methods as native method descriptors.
//!
//! A Python function standing in for `get_cache` costs a frame and a few attribute loads per call,
//! about as much as the native get itself. These methods are what CPython's own C methods are
//! (`method_descriptor` with the vectorcall convention), installed on the class in place of
//! LiteLLM's functions: `store.get_cache(key)` reaches the native operation with no Python frame.
//!
//! Each call goes to the current `MemoryCacheOps` (`use_store_ops`), which decides the route
//! (native, LiteLLM, or per call) and counts the call. Calls the native operations do not take
//! (arguments LiteLLM's signature would reject, instances or classes not handled, the Python
//! route) are forwarded to LiteLLM's function with the same arguments, so they behave, and fail,
//! exactly as LiteLLM's method does. The descriptors apply to any object, as a Python function
//! does.

use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::memory_cache::{MemoryCacheOps, Method};

/// The operations the descriptors call (`use_store_ops`).
static STORE_OPS: Installed<MemoryCacheOps> = Installed::new();

/// The operations a native method runs, read on every call with one atomic load. An install
/// replaces them whole; the ones replaced are kept alive, never freed, so a call that loaded them
/// may finish with them (an install happens once per patching of LiteLLM, a few times per
/// process at most).
pub(crate) struct Installed<T: 'static> {
    current: AtomicPtr<Py<T>>,
}

impl<T> Installed<T> {
    pub(crate) const fn new() -> Self {
        Self {
            current: AtomicPtr::new(ptr::null_mut()),
        }
    }

    pub(crate) fn install(&self, ops: Py<T>) {
        self.current
            .store(Box::into_raw(Box::new(ops)), Ordering::Release);
    }

    pub(crate) fn get(&self) -> Option<&'static Py<T>> {
        // SAFETY: a non-null pointer comes from `install`'s `Box::into_raw` and is never freed.
        unsafe { self.current.load(Ordering::Acquire).as_ref() }
    }

    /// The installed operations; an error naming `what` before any install.
    pub(crate) fn current(&self, what: &str) -> PyResult<&'static Py<T>> {
        self.get()
            .ok_or_else(|| PyRuntimeError::new_err(format!("fast_litellm's {what} not installed")))
    }
}

/// One call's arguments as CPython passes them to a `METH_FASTCALL | METH_KEYWORDS` method.
pub(crate) struct Arguments<'a, 'py> {
    pub(crate) py: Python<'py>,
    pub(crate) instance: Borrowed<'a, 'py, PyAny>,
    pub(crate) positional: &'a [*mut ffi::PyObject],
    keyword_names: Option<Borrowed<'a, 'py, PyTuple>>,
    keyword_values: &'a [*mut ffi::PyObject],
}

impl<'a, 'py> Arguments<'a, 'py> {
    /// # Safety
    /// The pointers are those CPython passes to a vectorcall method: `instance` live, `args`
    /// holding `nargs` positional values followed by one value per name in `kwnames` (a tuple
    /// or NULL), all borrowed for the call.
    pub(crate) unsafe fn new(
        py: Python<'py>,
        instance: *mut ffi::PyObject,
        args: *const *mut ffi::PyObject,
        nargs: ffi::Py_ssize_t,
        kwnames: *mut ffi::PyObject,
    ) -> Self {
        let keyword_names = (!kwnames.is_null()).then(|| {
            // SAFETY: a non-NULL kwnames is a live tuple of str, borrowed for the call.
            unsafe { Borrowed::from_ptr(py, kwnames).cast_unchecked::<PyTuple>() }
        });
        let keywords = keyword_names.map_or(0, |names| names.len());
        let total = nargs as usize + keywords;
        let all: &[*mut ffi::PyObject] = if total == 0 {
            &[]
        } else {
            // SAFETY: `args` holds `nargs + len(kwnames)` values (the vectorcall convention).
            unsafe { std::slice::from_raw_parts(args, total) }
        };
        let (positional, keyword_values) = all.split_at(nargs as usize);
        Self {
            py,
            // SAFETY: the instance is live for the call.
            instance: unsafe { Borrowed::from_ptr(py, instance) },
            positional,
            keyword_names,
            keyword_values,
        }
    }

    pub(crate) fn value(&self, pointer: *mut ffi::PyObject) -> Bound<'py, PyAny> {
        // SAFETY: every pointer in the argument arrays is a live object borrowed for the call.
        unsafe { Borrowed::from_ptr(self.py, pointer) }.to_owned()
    }

    /// The keyword argument `name`, if given.
    pub(crate) fn keyword(
        &self,
        name: &Bound<'py, PyString>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(names) = self.keyword_names else {
            return Ok(None);
        };
        for (index, given) in names.iter().enumerate() {
            // Names in code are interned, as `name` is: identity first, then equality.
            if given.is(name) || given.eq(name)? {
                return Ok(Some(self.value(self.keyword_values[index])));
            }
        }
        Ok(None)
    }

    /// Whether every keyword argument given is one of `allowed`.
    pub(crate) fn keywords_within(&self, allowed: &[&Bound<'py, PyString>]) -> PyResult<bool> {
        let Some(names) = self.keyword_names else {
            return Ok(true);
        };
        for given in names.iter() {
            let mut known = false;
            for name in allowed {
                if given.is(*name) || given.eq(*name)? {
                    known = true;
                    break;
                }
            }
            if !known {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub(crate) fn keyword_count(&self) -> usize {
        self.keyword_values.len()
    }

    /// The required parameter at `position` (positional or by keyword); None when it is missing
    /// or given twice, which LiteLLM's function rejects.
    pub(crate) fn required(
        &self,
        position: usize,
        name: &Bound<'py, PyString>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let by_keyword = self.keyword(name)?;
        match self.positional.get(position) {
            Some(&value) if by_keyword.is_none() => Ok(Some(self.value(value))),
            Some(_) => Ok(None),
            None => Ok(by_keyword),
        }
    }

    /// `function(instance, *args, **kwargs)` with this call's arguments.
    pub(crate) fn forward(&self, function: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let mut all = Vec::with_capacity(1 + self.positional.len() + self.keyword_values.len());
        all.push(self.instance.as_ptr());
        all.extend_from_slice(self.positional);
        all.extend_from_slice(self.keyword_values);
        let names = self
            .keyword_names
            .map_or(ptr::null_mut(), |names| names.as_ptr());
        // SAFETY: `all` holds 1 + len(positional) live objects then one per keyword name; the
        // call borrows them and returns a new reference or NULL with an exception set.
        unsafe {
            Bound::from_owned_ptr_or_err(
                self.py,
                ffi::PyObject_Vectorcall(
                    function.as_ptr(),
                    all.as_ptr(),
                    1 + self.positional.len(),
                    names,
                ),
            )
        }
    }
}

/// The native operation for `method`, or None when it does not take this call.
fn run_native<'py>(
    ops: &MemoryCacheOps,
    method: Method,
    call: &Arguments<'_, 'py>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = call.py;
    let instance = call.instance.to_owned();
    let key = intern!(py, "key");
    match method {
        Method::Get => match (call.positional.len() <= 1, call.required(0, key)?) {
            (true, Some(key)) => ops.get(&instance, &key),
            _ => Ok(None),
        },
        Method::BatchGet => {
            // Keyword arguments reach each `get_cache` call: LiteLLM's loop handles them.
            if call.positional.len() != 1 || call.keyword_count() != 0 {
                return Ok(None);
            }
            ops.batch_get(&instance, &call.value(call.positional[0]))
        }
        Method::Set | Method::Increment => {
            if call.positional.len() > 2 {
                return Ok(None);
            }
            let (Some(key), Some(value)) = (
                call.required(0, key)?,
                call.required(1, intern!(py, "value"))?,
            ) else {
                return Ok(None);
            };
            let ttl = call.keyword(intern!(py, "ttl"))?;
            if matches!(method, Method::Set) {
                ops.set(&instance, &key, &value, ttl.as_ref())
            } else {
                ops.increment(&instance, &key, &value, ttl.as_ref())
            }
        }
    }
}

/// The current store operations (None before `use_store_ops`).
pub(crate) fn store_ops() -> Option<&'static Py<MemoryCacheOps>> {
    STORE_OPS.get()
}

/// `InMemoryCache.get_cache(instance, key)` for a call already routed native (`goes_native`):
/// the native get, or LiteLLM's for an instance `ops` does not handle.
pub(crate) fn get_routed_native<'py>(
    ops: &MemoryCacheOps,
    instance: &Bound<'py, PyAny>,
    key: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    if let Some(result) = ops.get(instance, key)? {
        ops.count(true);
        return Ok(result);
    }
    ops.count(false);
    ops.original(instance.py(), Method::Get)
        .call1((instance, key))
}

fn dispatch<'py>(method: Method, call: &Arguments<'_, 'py>) -> PyResult<Bound<'py, PyAny>> {
    let py = call.py;
    let ops = STORE_OPS.current("cache store methods are")?.get();
    if ops.goes_native(py)? {
        if let Some(result) = run_native(ops, method, call)? {
            ops.count(true);
            return Ok(result);
        }
    }
    ops.count(false);
    call.forward(ops.original(py, method))
}

/// The body of a `METH_FASTCALL | METH_KEYWORDS` C method: `body` gets the call's arguments;
/// errors and panics become a raised exception.
///
/// # Safety
/// The pointers are those CPython passes to the method (see `Arguments::new`).
pub(crate) unsafe fn vectorcall_method(
    instance: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
    body: impl for<'py> FnOnce(&Arguments<'_, 'py>) -> PyResult<Bound<'py, PyAny>>,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a method descriptor's function on an attached thread.
    let py = unsafe { Python::assume_attached() };
    // SAFETY: the caller passes CPython's vectorcall arguments.
    let call = unsafe { Arguments::new(py, instance, args, nargs, kwnames) };
    match catch_unwind(AssertUnwindSafe(|| body(&call))) {
        Ok(Ok(result)) => result.into_ptr(),
        Ok(Err(error)) => {
            error.restore(py);
            ptr::null_mut()
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|text| text.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic in fast_litellm's cache methods".to_owned());
            PanicException::new_err(message).restore(py);
            ptr::null_mut()
        }
    }
}

macro_rules! store_method {
    ($function:ident, $method:expr) => {
        unsafe extern "C" fn $function(
            instance: *mut ffi::PyObject,
            args: *const *mut ffi::PyObject,
            nargs: ffi::Py_ssize_t,
            kwnames: *mut ffi::PyObject,
        ) -> *mut ffi::PyObject {
            // SAFETY: CPython's vectorcall arguments for this method.
            unsafe {
                vectorcall_method(instance, args, nargs, kwnames, |call| {
                    dispatch($method, call)
                })
            }
        }
    };
}

store_method!(get_cache, Method::Get);
store_method!(set_cache, Method::Set);
store_method!(increment_cache, Method::Increment);
store_method!(batch_get_cache, Method::BatchGet);

/// (name, function, docstring with the signature `inspect` reads).
const METHODS: [(&CStr, ffi::PyCFunctionFastWithKeywords, &CStr); 4] = [
    (
        c"get_cache",
        get_cache,
        c"get_cache($self, key, **kwargs)\n--\n\nInMemoryCache.get_cache, native (fast_litellm).",
    ),
    (
        c"set_cache",
        set_cache,
        c"set_cache($self, key, value, **kwargs)\n--\n\nInMemoryCache.set_cache, native (fast_litellm).",
    ),
    (
        c"increment_cache",
        increment_cache,
        c"increment_cache($self, key, value, **kwargs)\n--\n\nInMemoryCache.increment_cache, native (fast_litellm).",
    ),
    (
        c"batch_get_cache",
        batch_get_cache,
        c"batch_get_cache($self, keys, **kwargs)\n--\n\nInMemoryCache.batch_get_cache, native (fast_litellm).",
    ),
];

/// A `method_descriptor` applying to any object, calling `function` with the vectorcall
/// convention.
pub(crate) fn method_descriptor<'py>(
    py: Python<'py>,
    name: &'static CStr,
    function: ffi::PyCFunctionFastWithKeywords,
    doc: &'static CStr,
) -> PyResult<Bound<'py, PyAny>> {
    // A descriptor keeps a pointer to its definition for good: leaked (a few per process).
    let definition = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: function,
        },
        ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        ml_doc: doc.as_ptr(),
    }));
    // SAFETY: `object` is a static type and `definition` lives for the process; the call
    // returns a new reference or NULL with an exception set.
    unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyDescr_NewMethod(ptr::addr_of_mut!(ffi::PyBaseObject_Type), definition),
        )
    }
}

/// The method descriptors, by name: `get_cache`, `set_cache`, `increment_cache`,
/// `batch_get_cache`.
#[pyfunction]
fn store_methods(py: Python<'_>) -> PyResult<Vec<(&'static str, Py<PyAny>)>> {
    let mut descriptors = Vec::with_capacity(METHODS.len());
    for (name, function, doc) in METHODS {
        let descriptor = method_descriptor(py, name, function, doc)?;
        let name = name
            .to_str()
            .map_err(|error| PyTypeError::new_err(error.to_string()))?;
        descriptors.push((name, descriptor.unbind()));
    }
    Ok(descriptors)
}

/// Makes `ops` the operations every store method calls from now on.
#[pyfunction]
fn use_store_ops(ops: Py<MemoryCacheOps>) {
    STORE_OPS.install(ops);
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(store_methods, m)?)?;
    m.add_function(wrap_pyfunction!(use_store_ops, m)?)?;
    Ok(())
}
