//! `LLMClientCache.get_cache` (LiteLLM's cache of HTTP/SDK clients) as a native method.
//!
//! LiteLLM's method scopes the key to the running event loop (`f"{key}-{token}"`, the token
//! from `running_loop_token()`), lets the evicted-client closer reap what is due, and reads the
//! scoped key through `InMemoryCache.get_cache`. Outside an event loop the token costs a raised
//! and caught `RuntimeError`; inside one, a `WeakKeyDictionary` lookup. Here the same steps are
//! native: the running loop from `asyncio._get_running_loop()` (None instead of the exception),
//! its token read from LiteLLM's `_LOOP_TOKENS` the way `WeakKeyDictionary.get` reads it, the
//! reap skipped exactly when LiteLLM's `reap()` returns at once (nothing pending), and the read
//! through the store method.
//!
//! Everything else is LiteLLM's method, decided before any step: another class, a replaced
//! helper or module global, attributes set on the instance, keyword arguments besides `key` and
//! `loop_bound`, a key that is not a str, a loop without a token yet (LiteLLM's function assigns
//! it), or the cache component's Python route.

use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString, PyType};
use std::ffi::CStr;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::memory_cache::{instance_dict, version_tag, CheckedVersions, MemoryCacheOps};
use crate::store_methods::{
    get_routed_native, method_descriptor, store_ops, vectorcall_method, Arguments, Installed,
};

static CLIENT_OPS: Installed<ClientCacheOps> = Installed::new();

/// The last running loop this thread scoped a key to: a weak reference to it (looked up in
/// `_LOOP_TOKENS.data` as a new one would be: equal, with the same hash), its token and the
/// `"-{token}"` made for it, so that a loop's keys do not each allocate both.
struct LoopMemo {
    reference: Py<PyAny>,
    token: i64,
    suffix: Py<PyString>,
}

impl LoopMemo {
    fn refers_to(&self, running: &Bound<'_, PyAny>) -> bool {
        let mut referent = std::ptr::null_mut();
        // SAFETY: `reference` is a weak reference; on 1 `referent` is a new strong reference.
        unsafe {
            match ffi::compat::PyWeakref_GetRef(self.reference.as_ptr(), &mut referent) {
                1 => {}
                0 => return false, // the loop is gone
                _ => {
                    ffi::PyErr_Clear(); // not a weak reference: never, as made here
                    return false;
                }
            }
            ffi::Py_DECREF(referent);
        }
        referent == running.as_ptr()
    }
}

thread_local! {
    static RUNNING_LOOP: std::cell::Cell<Option<LoopMemo>> = const { std::cell::Cell::new(None) };
}

#[pyclass(module = "fast_litellm._native", name = "ClientCacheOps", frozen)]
pub struct ClientCacheOps {
    class: Py<PyType>,
    /// (name, what `self.<name>` must find on the class).
    class_helpers: Vec<(Py<PyString>, Py<PyAny>)>,
    /// `InMemoryCache.get_cache` must be the store method (`super().get_cache`).
    base_class: Py<PyType>,
    base_get_cache: Py<PyAny>,
    checked_version: AtomicU32,
    /// The three module namespaces' versions when last found as installed.
    checked_globals: CheckedVersions<3>,
    instance_attributes: usize,
    /// `llm_caching_handler`'s globals, where `running_loop_token` must be LiteLLM's.
    handler_globals: Py<PyDict>,
    running_loop_token: Py<PyAny>,
    /// `evicted_client_closer`'s globals: `asyncio` and `_LOOP_TOKENS` as installed.
    closer_globals: Py<PyDict>,
    asyncio: Py<PyAny>,
    asyncio_globals: Py<PyDict>,
    loop_tokens: Py<PyAny>,
    /// `asyncio.get_running_loop` as installed, and `asyncio._get_running_loop`.
    get_running_loop: Py<PyAny>,
    current_loop: Py<PyAny>,
    /// `EvictedClientCloser` and its version tag when installed (its `reap` LiteLLM's).
    closer_type: Py<PyType>,
    closer_tag: u32,
    original: Py<PyAny>,
}

impl ClientCacheOps {
    fn class_unchanged(&self, py: Python<'_>) -> PyResult<bool> {
        let class = self.class.bind(py);
        let tag = version_tag(class);
        if tag != 0 && self.checked_version.load(Ordering::Acquire) == tag {
            return Ok(true);
        }
        for (name, expected) in &self.class_helpers {
            match class.getattr_opt(name.bind(py))? {
                Some(found) if found.is(expected.bind(py)) => {}
                _ => return Ok(false),
            }
        }
        let base = self.base_class.bind(py).getattr(intern!(py, "__dict__"))?;
        if !base
            .get_item(intern!(py, "get_cache"))?
            .is(self.base_get_cache.bind(py))
        {
            return Ok(false);
        }
        self.checked_version.store(tag, Ordering::Release);
        Ok(true)
    }

    fn global_is(
        globals: &Bound<'_, PyDict>,
        name: &Bound<'_, PyString>,
        expected: &Py<PyAny>,
    ) -> PyResult<bool> {
        Ok(globals
            .get_item(name)?
            .is_some_and(|found| found.is(expected.bind(globals.py()))))
    }

    /// Whether the module globals `running_loop_token()` reads are still the ones installed.
    /// Up to CPython 3.11 unchanged dict versions spare the lookups (see `dict_version`).
    fn globals_as_installed(&self, py: Python<'_>) -> PyResult<bool> {
        let namespaces = [
            self.handler_globals.bind(py),
            self.closer_globals.bind(py),
            self.asyncio_globals.bind(py),
        ];
        let [handler_globals, closer_globals, asyncio_globals] = namespaces;
        self.checked_globals.passes(namespaces, || {
            Ok(Self::global_is(
                handler_globals,
                intern!(py, "running_loop_token"),
                &self.running_loop_token,
            )? && Self::global_is(closer_globals, intern!(py, "asyncio"), &self.asyncio)?
                && Self::global_is(
                    closer_globals,
                    intern!(py, "_LOOP_TOKENS"),
                    &self.loop_tokens,
                )?
                && Self::global_is(
                    asyncio_globals,
                    intern!(py, "get_running_loop"),
                    &self.get_running_loop,
                )?)
        })
    }

    /// What `_scoped_key` appends for the running loop when it can be told without running
    /// `running_loop_token()`: Some(None) outside a loop (nothing), Some(`"-{token}"`) for a loop
    /// that has an int token; None otherwise (LiteLLM's method runs).
    fn loop_suffix<'py>(&self, py: Python<'py>) -> PyResult<Option<Option<Bound<'py, PyString>>>> {
        if !self.globals_as_installed(py)? {
            return Ok(None);
        }
        let running = self.current_loop.bind(py).call0()?;
        if running.is_none() {
            return Ok(Some(None));
        }
        // `WeakKeyDictionary.get(loop)`: `self.data.get(ref(loop))`.
        let Ok(data) = self
            .loop_tokens
            .bind(py)
            .getattr(intern!(py, "data"))?
            .cast_into_exact::<PyDict>()
        else {
            return Ok(None);
        };
        let memo = RUNNING_LOOP.with(|memo| memo.take());
        let reference = match memo.as_ref().filter(|memo| memo.refers_to(&running)) {
            Some(memo) => memo.reference.bind(py).clone(),
            // SAFETY: `running` is live; a new reference, or NULL with an exception set (a loop
            // that cannot be weakly referenced: LiteLLM's function handles that).
            None => match unsafe {
                Bound::from_owned_ptr_or_err(
                    py,
                    ffi::PyWeakref_NewRef(running.as_ptr(), std::ptr::null_mut()),
                )
            } {
                Ok(reference) => reference,
                Err(_) => return Ok(None),
            },
        };
        // A token is an exact int, as `next(itertools.count())` makes it.
        let token = data
            .get_item(&reference)?
            .and_then(|token| token.cast_exact::<PyInt>().ok()?.extract::<i64>().ok());
        let Some(token) = token else {
            return Ok(None);
        };
        let suffix = match memo.filter(|memo| memo.token == token && memo.reference.is(&reference))
        {
            Some(memo) => memo.suffix.into_bound(py),
            None => PyString::new(py, &format!("-{token}")),
        };
        // The memo holds a weak reference: it keeps no loop alive. Dropped outside the cell.
        let previous = RUNNING_LOOP.with(|memo| {
            memo.replace(Some(LoopMemo {
                reference: reference.unbind(),
                token,
                suffix: suffix.clone().unbind(),
            }))
        });
        drop(previous);
        Ok(Some(Some(suffix)))
    }

    /// LiteLLM's method would `reap()` nothing: the closer is LiteLLM's, unchanged, with nothing
    /// pending.
    fn nothing_to_reap(&self, closer: &Bound<'_, PyAny>) -> PyResult<bool> {
        let py = closer.py();
        let closer_type = self.closer_type.bind(py);
        if !closer.get_type().is(closer_type) || version_tag(closer_type) != self.closer_tag {
            return Ok(false);
        }
        let Some(attributes) = instance_dict(closer) else {
            return Ok(false);
        };
        if attributes.contains(intern!(py, "reap"))? {
            return Ok(false);
        }
        match attributes.get_item(intern!(py, "_pending_count"))? {
            Some(pending) if pending.is_exact_instance_of::<PyInt>() => Ok(!pending.is_truthy()?),
            _ => Ok(false),
        }
    }

    /// The native steps, or None before any of them when LiteLLM's method must run.
    fn get<'py>(
        &self,
        store: &MemoryCacheOps,
        call: &Arguments<'_, 'py>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = call.py;
        let instance = call.instance.to_owned();
        let (key_name, loop_bound_name) = (intern!(py, "key"), intern!(py, "loop_bound"));
        if call.positional.len() > 2
            || !call.keywords_within(&[key_name, loop_bound_name])?
            || !instance.get_type().is(self.class.bind(py))
            || !self.class_unchanged(py)?
        {
            return Ok(None);
        }
        let Some(key) = call.required(0, key_name)? else {
            return Ok(None);
        };
        let loop_bound = match (call.positional.get(1), call.keyword(loop_bound_name)?) {
            (Some(_), Some(_)) => return Ok(None),
            (Some(&value), None) => Some(call.value(value)),
            (None, given) => given,
        };
        let Ok(key) = key.cast_into_exact::<PyString>() else {
            return Ok(None);
        };
        let Some(attributes) = instance_dict(&instance) else {
            return Ok(None);
        };
        if attributes.len() != self.instance_attributes {
            return Ok(None);
        }
        let Some(closer) = attributes.get_item(intern!(py, "evicted_client_closer"))? else {
            return Ok(None);
        };
        // `_scoped_key(key, loop_bound)`.
        let loop_bound = match loop_bound {
            Some(value) => value.is_truthy()?,
            None => true,
        };
        let scoped_key = if loop_bound {
            match self.loop_suffix(py)? {
                None => return Ok(None),
                Some(None) => key.into_any(),
                // f"{key}-{token}" of an exact str and an exact int: one concatenation.
                Some(Some(suffix)) => key.add(suffix)?,
            }
        } else {
            key.into_any()
        };
        if !self.nothing_to_reap(&closer)? {
            closer.call_method0(intern!(py, "reap"))?;
        }
        get_routed_native(store, &instance, &scoped_key).map(Some)
    }
}

unsafe extern "C" fn client_get_cache(
    instance: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython's vectorcall arguments for this method.
    unsafe { vectorcall_method(instance, args, nargs, kwnames, client_get_cache_call) }
}

fn client_get_cache_call<'py>(call: &Arguments<'_, 'py>) -> PyResult<Bound<'py, PyAny>> {
    let py = call.py;
    let ops = CLIENT_OPS.current("client cache method is")?.get();
    if let Some(store) = store_ops().map(|store| store.get()) {
        if store.goes_native(py)? {
            if let Some(result) = ops.get(store, call)? {
                return Ok(result);
            }
        }
    }
    call.forward(ops.original.bind(py))
}

const DOC: &CStr =
    c"get_cache($self, key, loop_bound=True, **kwargs)\n--\n\nLLMClientCache.get_cache, native (fast_litellm).";

#[pymethods]
impl ClientCacheOps {
    /// `class_helpers`: (name, the class attribute `self.<name>` must give); `modules`: the
    /// globals of `llm_caching_handler` and `evicted_client_closer`; `loop_functions`:
    /// LiteLLM's `running_loop_token`, `asyncio.get_running_loop`, `asyncio._get_running_loop`.
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        class: Py<PyType>,
        class_helpers: Vec<(Py<PyString>, Py<PyAny>)>,
        base: (Py<PyType>, Py<PyAny>),
        instance_attributes: usize,
        modules: (Py<PyDict>, Py<PyDict>),
        asyncio: (Py<PyAny>, Py<PyDict>),
        loop_tokens: Py<PyAny>,
        loop_functions: (Py<PyAny>, Py<PyAny>, Py<PyAny>),
        closer_type: Py<PyType>,
        original: Py<PyAny>,
    ) -> Self {
        let (base_class, base_get_cache) = base;
        let (handler_globals, closer_globals) = modules;
        let (running_loop_token, get_running_loop, current_loop) = loop_functions;
        let closer_tag = Python::attach(|py| version_tag(closer_type.bind(py)));
        let (asyncio, asyncio_globals) = asyncio;
        Self {
            class,
            class_helpers,
            base_class,
            base_get_cache,
            checked_version: AtomicU32::new(0),
            checked_globals: CheckedVersions::new(),
            instance_attributes,
            handler_globals,
            running_loop_token,
            closer_globals,
            asyncio,
            asyncio_globals,
            loop_tokens,
            get_running_loop,
            current_loop,
            closer_type,
            closer_tag,
            original,
        }
    }
}

/// `LLMClientCache.get_cache` as a native method descriptor (runs the current ClientCacheOps).
#[pyfunction]
fn client_get_cache_method(py: Python<'_>) -> PyResult<Py<PyAny>> {
    Ok(method_descriptor(py, c"get_cache", client_get_cache, DOC)?.unbind())
}

/// Makes `ops` what the client cache method runs from now on.
#[pyfunction]
fn use_client_cache_ops(ops: Py<ClientCacheOps>) {
    CLIENT_OPS.install(ops);
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ClientCacheOps>()?;
    m.add_function(wrap_pyfunction!(client_get_cache_method, m)?)?;
    m.add_function(wrap_pyfunction!(use_client_cache_ops, m)?)?;
    Ok(())
}
