//! LiteLLM's `InMemoryCache` operations, run natively on the instance's own state.
//!
//! The store stays LiteLLM's: `cache_dict`, `ttl_dict` and `expiration_heap` are the instance's
//! Python dicts and list, so code that reads or writes them (LiteLLM's tests do) sees every
//! change, and a call taking LiteLLM's Python path in between sees the same state. What is native
//! is the interpretation: each operation does the same dict, heap, clock and comparison steps as
//! LiteLLM 1.110.2's methods, in the same order, without Python bytecode.
//!
//! An operation is done here only for the classes registered (`InMemoryCache` and subclasses whose
//! overrides are known), while every helper method LiteLLM's code would call through `self` is
//! still LiteLLM's own (checked per class, re-checked whenever the class is modified) and the
//! instance has no attributes of its own beyond LiteLLM's (no per-instance mocks). Otherwise it
//! returns None and the caller (`store_methods`) runs LiteLLM's method.
//!
//! No Rust lock exists here: everything touches Python. LiteLLM's own `threading.Lock`s of the
//! instance (`_write_lock`, `_increment_lock`) are taken exactly where LiteLLM takes them, except
//! by a set or increment that `uncontended` shows no other thread can observe.

mod lock_state;
mod remembered;
mod uncontended;

use std::cell::OnceCell;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};

/// Helpers LiteLLM's methods call through `self`: each must resolve to what it resolved to when
/// the class was registered.
const HELPERS: [&str; 9] = [
    "get_cache",
    "set_cache",
    "evict_cache",
    "check_value_size",
    "allow_ttl_override",
    "_is_key_expired",
    "evict_element_if_expired",
    "_remove_key",
    "_cache_keys",
];

/// A class whose instances the operations handle.
struct KnownClass {
    class: Py<PyType>,
    /// The class then its bases up to `InMemoryCache`: where `self.<helper>` is looked up.
    lineage: Vec<Py<PyType>>,
    /// What each of `HELPERS` resolved to at registration.
    helpers: Vec<Py<PyAny>>,
    /// `len(instance.__dict__)` right after LiteLLM's `__init__`.
    instance_attributes: usize,
    /// `_remove_key` is `InMemoryCache`'s: done here (otherwise the override is called).
    plain_remove: bool,
    /// `get_cache` and `set_cache` are `InMemoryCache`'s (for `increment_cache`).
    plain_get_set: bool,
    /// The class's version tag when its helpers were last checked (0: not checked).
    checked_version: AtomicU32,
}

#[pyclass(module = "fast_litellm._native", name = "MemoryCacheOps", frozen)]
pub struct MemoryCacheOps {
    classes: Vec<KnownClass>,
    json_loads: Py<PyAny>,
    getsizeof: Py<PyAny>,
    heappush: Py<PyAny>,
    heappop: Py<PyAny>,
    heapify: Py<PyAny>,
    /// `MAX_SIZE_PER_ITEM_IN_MEMORY_CACHE_IN_KB` as LiteLLM's module has it.
    max_kb: i64,
    /// LiteLLM's `check_value_size`, for values this module does not size itself.
    check_value_size: Py<PyAny>,
    default_clock: Option<DefaultClock>,
    /// LiteLLM's methods, indexed by `Method`.
    originals: [Py<PyAny>; 4],
    /// `_thread.LockType`: the locks `uncontended` checks without taking.
    lock_type: Py<PyType>,
    lock_state: lock_state::LockState,
    /// `remembered::NAMES`, interned.
    remembered_names: [Py<PyString>; remembered::NAMES.len()],
    decide: Py<PyAny>,
    /// A `Route`.
    route: AtomicU8,
    rust_calls: AtomicU64,
    python_calls: AtomicU64,
}

/// LiteLLM's default clock is `lambda: time.time()` (a Python frame per reading). While an
/// instance's clock is that lambda and `time.time` is still the builtin it resolves to, the
/// builtin is called directly: the same reading without the frame.
struct DefaultClock {
    code: Py<PyAny>,
    /// Where the lambda looks up `time` (LiteLLM's module namespace), and `time`'s namespace.
    globals: Py<PyDict>,
    time_module: Py<PyAny>,
    time_namespace: Py<PyDict>,
    time_time: Py<PyAny>,
    /// Whether `time_time` is the time module's builtin `time` (not a replacement made before
    /// fast-litellm was installed): its readings are then computed natively (`system_clock_seconds`).
    time_time_is_builtin: bool,
    /// The two namespaces' versions when last found as installed: unchanged namespaces need not
    /// be searched again.
    checked_versions: CheckedVersions<2>,
}

impl DefaultClock {
    fn reads_time_time(&self, clock: &Bound<'_, PyAny>) -> PyResult<bool> {
        let py = clock.py();
        // SAFETY: `clock` is live; PyFunction_GetCode returns a borrowed reference for functions.
        let is_default_lambda = unsafe {
            ffi::PyFunction_Check(clock.as_ptr()) != 0
                && ffi::PyFunction_GetCode(clock.as_ptr()) == self.code.as_ptr()
        };
        if !is_default_lambda {
            return Ok(false);
        }
        let (globals, time_namespace) = (self.globals.bind(py), self.time_namespace.bind(py));
        self.checked_versions.passes([globals, time_namespace], || {
            let time_module = globals.get_item(intern!(py, "time"))?;
            let time_time = time_namespace.get_item(intern!(py, "time"))?;
            Ok(
                time_module.is_some_and(|module| module.is(&self.time_module))
                    && time_time.is_some_and(|function| function.is(&self.time_time)),
            )
        })
    }
}

/// Whether `function` is the builtin `time` of `time_module` (a C function bound to the module).
fn is_builtin_time_time(function: &Bound<'_, PyAny>, time_module: &Bound<'_, PyAny>) -> bool {
    let py = function.py();
    // SAFETY: `function` is live; PyCFunction_Check reads its type only.
    let is_c_function = unsafe { ffi::PyCFunction_Check(function.as_ptr()) != 0 };
    is_c_function
        && function
            .getattr(intern!(py, "__self__"))
            .is_ok_and(|owner| owner.is(time_module))
        && function
            .getattr(intern!(py, "__name__"))
            .is_ok_and(|name| name.eq("time").unwrap_or(false))
        && time_module
            .getattr(intern!(py, "__name__"))
            .is_ok_and(|name| name.eq("time").unwrap_or(false))
}

/// `time.time()` as CPython computes it: the system clock in integer nanoseconds, then seconds
/// as `_PyTime_AsSecondsDouble` converts them (whole seconds exactly, otherwise ns / 1e9). None
/// before 1970 or past an i64 of nanoseconds (then `time.time` itself is called).
fn system_clock_seconds() -> Option<f64> {
    const NS_PER_SECOND: i64 = 1_000_000_000;
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    let ns = i64::try_from(since_epoch.as_nanos()).ok()?;
    Some(if ns % NS_PER_SECOND == 0 {
        (ns / NS_PER_SECOND) as f64
    } else {
        ns as f64 / 1e9
    })
}

/// One instance's state, read from its `__dict__` for one operation.
struct State<'a, 'py> {
    instance: Bound<'py, PyAny>,
    /// What reads the clock: the instance's `_clock`, or `time.time` itself (see DefaultClock);
    /// looked up at the first reading.
    clock: OnceCell<Bound<'py, PyAny>>,
    default_clock: Option<&'a DefaultClock>,
    class: &'a KnownClass,
    attributes: Bound<'py, PyDict>,
    /// Lookups in `attributes` remembered at an earlier version (see `remembered`).
    remembered: Option<remembered::Remembered>,
    remembered_names: &'a [Py<PyString>; remembered::NAMES.len()],
    cache_dict: Bound<'py, PyDict>,
    ttl_dict: Bound<'py, PyDict>,
}

impl<'py> State<'_, 'py> {
    fn attribute(&self, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        self.optional_attribute(name)?
            .ok_or_else(|| PyTypeError::new_err("InMemoryCache attribute missing"))
    }

    /// `self.__dict__.get(name)`, from what was remembered while the dict is unchanged.
    fn optional_attribute(
        &self,
        name: &Bound<'py, PyString>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let recalled = self.remembered.as_ref().and_then(|remembered| {
            remembered.value(
                &self.attributes,
                remembered::position(self.remembered_names, name)?,
            )
        });
        match recalled {
            Some(found) => Ok(found),
            None => self.attributes.get_item(name),
        }
    }

    fn now(&self) -> PyResult<Bound<'py, PyAny>> {
        self.read(self.clock()?)
    }

    /// What reads the clock, looked up at the first use (no Python code runs in the lookup).
    fn clock(&self) -> PyResult<&Bound<'py, PyAny>> {
        if let Some(clock) = self.clock.get() {
            return Ok(clock);
        }
        let py = self.instance.py();
        let mut clock = self.attribute(intern!(py, "_clock"))?;
        if let Some(default_clock) = self.default_clock {
            if default_clock.reads_time_time(&clock)? {
                clock = default_clock.time_time.bind(py).clone();
            }
        }
        Ok(self.clock.get_or_init(|| clock))
    }

    /// A reading of `clock`; the builtin `time.time`'s computed as it computes it, without a call.
    fn read(&self, clock: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(seconds) = self
            .is_builtin_clock(clock)
            .then(system_clock_seconds)
            .flatten()
        {
            return Ok(PyFloat::new(clock.py(), seconds).into_any());
        }
        clock.call0()
    }

    /// Whether the clock read so far is the builtin `time.time` (no Python code runs in it).
    fn reads_builtin_clock(&self) -> bool {
        self.clock
            .get()
            .is_some_and(|clock| self.is_builtin_clock(clock))
    }

    fn is_builtin_clock(&self, clock: &Bound<'py, PyAny>) -> bool {
        self.default_clock
            .is_some_and(|default| default.time_time_is_builtin && clock.is(&default.time_time))
    }

    /// A reading of the clock when it is the builtin `time.time`, without calling anything;
    /// None for any other clock (not read).
    fn builtin_clock_seconds(&self) -> PyResult<Option<f64>> {
        let clock = self.clock()?;
        Ok(self
            .is_builtin_clock(clock)
            .then(system_clock_seconds)
            .flatten())
    }

    /// Whether `expiration_heap` is a list (`set_cache` works on it with heapq).
    fn heap_is_list(&self) -> PyResult<bool> {
        let heap = self.optional_attribute(intern!(self.instance.py(), "expiration_heap"))?;
        Ok(heap.is_some_and(|heap| heap.is_exact_instance_of::<PyList>()))
    }

    /// `self.expiration_heap`, read again after each step as LiteLLM's code does.
    fn heap(&self) -> PyResult<Bound<'py, PyList>> {
        Ok(self
            .attribute(intern!(self.instance.py(), "expiration_heap"))?
            .cast_into::<PyList>()?)
    }

    fn remove_key(&self, key: &Bound<'py, PyAny>) -> PyResult<()> {
        if !self.class.plain_remove {
            self.instance
                .call_method1(intern!(self.instance.py(), "_remove_key"), (key,))?;
            return Ok(());
        }
        // `cache_dict.pop(key, None)` then `ttl_dict.pop(key, None)`; the values are released
        // after both (their finalisers may run Python).
        let value = pop(&self.cache_dict, key)?;
        let expiry = pop(&self.ttl_dict, key)?;
        drop((value, expiry));
        Ok(())
    }
}

fn pop<'py>(
    dict: &Bound<'py, PyDict>,
    key: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let value = dict.get_item(key)?;
    if value.is_some() {
        dict.del_item(key)?;
    }
    Ok(value)
}

/// A Python lock held for the guard's lifetime (`with lock:`).
struct Held<'py>(Bound<'py, PyAny>);

impl<'py> Held<'py> {
    fn take(lock: Bound<'py, PyAny>) -> PyResult<Self> {
        lock.call_method0(intern!(lock.py(), "acquire"))?;
        Ok(Self(lock))
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Err(error) = self.0.call_method0(intern!(self.0.py(), "release")) {
            error.write_unraisable(self.0.py(), Some(&self.0));
        }
    }
}

/// The version tag of a type: unique to its current contents, 0 once it is modified.
pub(crate) fn version_tag(class: &Bound<'_, PyType>) -> u32 {
    // SAFETY: `tp_version_tag` is a `c_uint` field of a live type object; it is read atomically
    // because free-threaded CPython may reassign it concurrently.
    unsafe {
        let field = std::ptr::addr_of!((*class.as_type_ptr()).tp_version_tag) as *const AtomicU32;
        (*field).load(Ordering::Acquire)
    }
}

/// A dict's version (PEP 509): up to CPython 3.11 a dict gets a new value, unique in the
/// process, whenever its contents change, so an unchanged version means unchanged keys and
/// values. None from 3.12 on, where the field is deprecated and not kept up to date on every
/// path (3.13 stores an attribute into a materialized instance dict without a new version; 3.14
/// removed it), and on free-threaded builds.
pub(crate) fn dict_version(dict: &Bound<'_, PyDict>) -> Option<u64> {
    #[cfg(not(any(Py_3_12, Py_GIL_DISABLED, PyPy, GraalPy)))]
    {
        // SAFETY: a live dict, whose version is written only under the GIL this thread holds.
        let version = unsafe { (*dict.as_ptr().cast::<ffi::PyDictObject>()).ma_version_tag };
        Some(version)
    }
    #[cfg(any(Py_3_12, Py_GIL_DISABLED, PyPy, GraalPy))]
    {
        let _ = dict;
        None
    }
}

/// The versions (`dict_version`) of some dicts when a check over them last passed (0: not yet):
/// while none of them has changed since, the check is not made again. Where versions are not
/// kept (None), the check is made every time.
pub(crate) struct CheckedVersions<const N: usize>([AtomicU64; N]);

impl<const N: usize> CheckedVersions<N> {
    pub(crate) fn new() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }

    /// Whether `check` passes for `dicts`: made only when one of them has a version other than
    /// at the last pass. Versions are read before the check, so a dict that changes during it
    /// is checked again next time.
    pub(crate) fn passes(
        &self,
        dicts: [&Bound<'_, PyDict>; N],
        check: impl FnOnce() -> PyResult<bool>,
    ) -> PyResult<bool> {
        let versions = dicts.map(dict_version);
        let unchanged = versions
            .iter()
            .zip(&self.0)
            .all(|(now, checked)| now.is_some_and(|now| now == checked.load(Ordering::Relaxed)));
        if unchanged {
            return Ok(true);
        }
        let passed = check()?;
        if passed {
            for (now, checked) in versions.iter().zip(&self.0) {
                checked.store(now.unwrap_or(0), Ordering::Relaxed);
            }
        }
        Ok(passed)
    }
}

/// `vars(instance)` when it is a dict.
pub(crate) fn instance_dict<'py>(instance: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    // SAFETY: `instance` is live; a new reference or NULL with an exception set (no `__dict__`:
    // not an object handled here).
    let attributes = unsafe {
        Bound::from_owned_ptr_or_err(
            instance.py(),
            ffi::PyObject_GenericGetDict(instance.as_ptr(), std::ptr::null_mut()),
        )
    };
    attributes
        .ok()
        .and_then(|found| found.cast_into_exact::<PyDict>().ok())
}

/// `name` as `self.name` would find it on the class (None if no class in `lineage` has it).
fn resolve<'py>(
    lineage: &[Py<PyType>],
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = name.py();
    for class in lineage {
        let namespace = class.bind(py).getattr(intern!(py, "__dict__"))?;
        if let Ok(found) = namespace.get_item(name) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// An instance's class and attributes, checked, with its `cache_dict`.
struct InstanceParts<'a, 'py> {
    class: &'a KnownClass,
    attributes: Bound<'py, PyDict>,
    remembered: Option<remembered::Remembered>,
    cache_dict: Bound<'py, PyDict>,
}

impl<'a, 'py> InstanceParts<'a, 'py> {
    /// The whole state, once `ttl_dict` is found to be an exact dict (None otherwise).
    fn with_ttl_dict(
        self,
        ops: &'a MemoryCacheOps,
        instance: &Bound<'py, PyAny>,
    ) -> PyResult<Option<State<'a, 'py>>> {
        let py = instance.py();
        let ttl_dict = match self
            .remembered
            .as_ref()
            .and_then(|remembered| remembered.value(&self.attributes, remembered::TTL_DICT))
        {
            Some(found) => found.and_then(|value| value.cast_into_exact::<PyDict>().ok()),
            None => exact_dict_attribute(&self.attributes, intern!(py, "ttl_dict"))?,
        };
        let Some(ttl_dict) = ttl_dict else {
            return Ok(None);
        };
        Ok(Some(State {
            instance: instance.clone(),
            clock: OnceCell::new(),
            default_clock: ops.default_clock.as_ref(),
            class: self.class,
            attributes: self.attributes,
            remembered: self.remembered,
            remembered_names: &ops.remembered_names,
            cache_dict: self.cache_dict,
            ttl_dict,
        }))
    }
}

/// `attributes[name]` when it is an exact dict.
fn exact_dict_attribute<'py>(
    attributes: &Bound<'py, PyDict>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    Ok(attributes
        .get_item(name)?
        .and_then(|value| value.cast_into_exact::<PyDict>().ok()))
}

impl MemoryCacheOps {
    /// The instance's state if this module may run the operation on it.
    fn state<'a, 'py>(&'a self, instance: &Bound<'py, PyAny>) -> PyResult<Option<State<'a, 'py>>> {
        let Some(parts) = self.instance_parts(instance)? else {
            return Ok(None);
        };
        parts.with_ttl_dict(self, instance)
    }

    /// The checks of `state` up to `cache_dict`, which a miss needs alone.
    fn instance_parts<'a, 'py>(
        &'a self,
        instance: &Bound<'py, PyAny>,
    ) -> PyResult<Option<InstanceParts<'a, 'py>>> {
        let py = instance.py();
        let class_ptr = instance.get_type().as_type_ptr();
        let Some(class) = self
            .classes
            .iter()
            .find(|known| known.class.as_ptr() as *mut ffi::PyTypeObject == class_ptr)
        else {
            return Ok(None);
        };
        if !self.helpers_unchanged(class, &instance.get_type())? {
            return Ok(None);
        }
        let Some(attributes) = instance_dict(instance) else {
            return Ok(None);
        };
        let class_address = class_ptr as usize;
        // Remembered only for a dict that passed the checks below, unchanged since.
        if let Some(remembered) = remembered::recall(&attributes, class_address) {
            if let Some(Some(cache_dict)) = remembered.value(&attributes, remembered::CACHE_DICT) {
                if let Ok(cache_dict) = cache_dict.cast_into_exact::<PyDict>() {
                    return Ok(Some(InstanceParts {
                        class,
                        attributes,
                        remembered: Some(remembered),
                        cache_dict,
                    }));
                }
            }
        }
        if attributes.len() != class.instance_attributes {
            return Ok(None); // something set on the instance (a mock of a method, say)
        }
        let Some(cache_dict) = exact_dict_attribute(&attributes, intern!(py, "cache_dict"))? else {
            return Ok(None);
        };
        let remembered = remembered::remember(&attributes, class_address, &self.remembered_names)?;
        Ok(Some(InstanceParts {
            class,
            attributes,
            remembered,
            cache_dict,
        }))
    }

    fn helpers_unchanged(
        &self,
        class: &KnownClass,
        bound_class: &Bound<'_, PyType>,
    ) -> PyResult<bool> {
        let py = bound_class.py();
        let tag = version_tag(bound_class);
        if tag != 0 && class.checked_version.load(Ordering::Acquire) == tag {
            return Ok(true);
        }
        for (name, expected) in HELPERS.iter().zip(&class.helpers) {
            match resolve(&class.lineage, &PyString::intern(py, name))? {
                Some(found) if found.is(expected.bind(py)) => {}
                _ => return Ok(false),
            }
        }
        class.checked_version.store(tag, Ordering::Release);
        Ok(true)
    }

    /// `InMemoryCache.get_cache` (after the instance checks).
    fn get_in<'py>(
        &self,
        state: &State<'_, 'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.get_found(state, key, None)
    }

    /// `get_in`, given what `key in self.cache_dict` found when the caller has looked already.
    fn get_found<'py>(
        &self,
        state: &State<'_, 'py>,
        key: &Bound<'py, PyAny>,
        found: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = key.py();
        // `key in self.cache_dict`, keeping what it found.
        let found = match found {
            Some(found) => found,
            None => match state.cache_dict.get_item(key)? {
                Some(found) => found,
                None => return Ok(py.None().into_bound(py)),
            },
        };
        // evict_element_if_expired -> _is_key_expired: the clock is read before the TTL lookup.
        let now = state.now()?;
        let expiry = state.ttl_dict.get_item(key)?;
        if let Some(expiry) = &expiry {
            if compare(&now, expiry, CompareOp::Gt)? {
                state.remove_key(key)?;
                return Ok(py.None().into_bound(py));
            }
        }
        // LiteLLM reads `self.cache_dict[key]` again here. Unless Python code could have run in
        // between (a key with its own hash or equality, a clock of the instance's own, an
        // expiry compared by Python code), that read finds what the first one found.
        let nothing_ran = key.is_exact_instance_of::<PyString>()
            && state.reads_builtin_clock()
            && expiry
                .as_ref()
                .is_none_or(|expiry| expiry.is_exact_instance_of::<PyFloat>());
        let value = if nothing_ran {
            found
        } else {
            drop(found);
            let Some(value) = state.cache_dict.get_item(key)? else {
                return Ok(py.None().into_bound(py));
            };
            value
        };
        // json.loads accepts only str, bytes and bytearray (TypeError otherwise, which LiteLLM
        // catches): other values are returned as they are without the call.
        if value.is_instance_of::<PyString>()
            || value.is_instance_of::<PyBytes>()
            || value.is_instance_of::<PyByteArray>()
        {
            match self.json_loads.bind(py).call1((&value,)) {
                Ok(decoded) => return Ok(decoded),
                Err(error) if !error.is_instance_of::<pyo3::exceptions::PyException>(py) => {
                    return Err(error)
                }
                Err(_) => {} // not JSON: the string itself, as LiteLLM's `except Exception`
            }
        }
        Ok(value)
    }

    /// `InMemoryCache.set_cache` (after the instance checks).
    fn set_in<'py>(
        &self,
        state: &State<'_, 'py>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
        ttl: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<()> {
        let py = key.py();
        let max_size = state.attribute(intern!(py, "max_size_in_memory"))?;
        if compare(&max_size, 0i64.into_pyobject(py)?.as_any(), CompareOp::Eq)? {
            return Ok(());
        }
        let _write = Held::take(state.attribute(intern!(py, "_write_lock"))?)?;
        self.evict_in(state, &max_size)?;
        if !self.value_size_ok(state, value)? {
            return Ok(());
        }
        state.cache_dict.set_item(key, value)?;
        // allow_ttl_override: the clock is read only when a TTL is set.
        let override_allowed = match state.ttl_dict.get_item(key)? {
            None => true,
            Some(expiry) => compare(&expiry, &state.now()?, CompareOp::Lt)?,
        };
        if override_allowed {
            let expiry = match ttl.filter(|ttl| !ttl.is_none()) {
                Some(ttl) => state.now()?.add(py.get_type::<PyFloat>().call1((ttl,))?)?,
                None => state
                    .now()?
                    .add(state.attribute(intern!(py, "default_ttl"))?)?,
            };
            state.ttl_dict.set_item(key, &expiry)?;
            let entry = PyTuple::new(py, [&expiry, key])?;
            self.heappush.bind(py).call1((state.heap()?, entry))?;
        }
        Ok(())
    }

    /// `InMemoryCache.evict_cache`, `max_size` being `self.max_size_in_memory` as `set_cache`
    /// read it (nothing in between may rebind it). `self.expiration_heap` is read again after
    /// each step that may rebind it: the compaction, and a `_remove_key` override.
    fn evict_in(&self, state: &State<'_, '_>, max_size: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = state.instance.py();
        let current_time = state.now()?;
        let mut heap = state.heap()?;
        while !heap.is_empty() {
            let (expiration_time, key) = unpack_entry(&heap.get_item(0)?)?;
            let current_expiry = state
                .ttl_dict
                .get_item(&key)?
                .unwrap_or_else(|| py.None().into_bound(py));
            if compare(&expiration_time, &current_expiry, CompareOp::Ne)? {
                self.heappop.bind(py).call1((&heap,))?;
            } else if compare(&expiration_time, &current_time, CompareOp::Le)? {
                self.heappop.bind(py).call1((&heap,))?;
                state.remove_key(&key)?;
                if !state.class.plain_remove {
                    heap = state.heap()?;
                }
            } else {
                break;
            }
        }
        if length_above_twice(heap.len(), max_size)? {
            let kept = PyList::empty(py);
            for entry in heap.iter() {
                let (expiration_time, key) = unpack_entry(&entry)?;
                let current = state
                    .ttl_dict
                    .get_item(&key)?
                    .unwrap_or_else(|| py.None().into_bound(py));
                if compare(&current, &expiration_time, CompareOp::Eq)? {
                    kept.append(&entry)?;
                }
            }
            state
                .instance
                .setattr(intern!(py, "expiration_heap"), &kept)?;
            heap = state.heap()?;
            self.heapify.bind(py).call1((&heap,))?;
        }
        while !heap.is_empty() && length_at_least(state.cache_dict.len(), max_size)? {
            let entry = self.heappop.bind(py).call1((&heap,))?;
            let (expiration_time, key) = unpack_entry(&entry)?;
            if let Some(current) = state.ttl_dict.get_item(&key)? {
                if compare(&current, &expiration_time, CompareOp::Eq)? {
                    state.remove_key(&key)?;
                    if !state.class.plain_remove {
                        heap = state.heap()?;
                    }
                }
            }
        }
        if heap.is_empty() {
            let untracked = state.cache_dict.keys();
            let overflow = untracked.len().into_pyobject(py)?.sub(max_size)?.add(1)?;
            let count: isize = if overflow.gt(0)? {
                overflow.extract()?
            } else {
                0
            };
            for key in untracked.iter().take(count.max(0) as usize) {
                state.remove_key(&key)?;
            }
        }
        Ok(())
    }

    /// `InMemoryCache.check_value_size`, done here for exact builtin values and by LiteLLM's
    /// method for anything else (objects may define `__sizeof__`, `__str__` or attributes).
    fn value_size_ok<'py>(
        &self,
        state: &State<'_, 'py>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<bool> {
        match self.native_value_size_ok(state, value)? {
            Some(acceptable) => Ok(acceptable),
            None => self
                .check_value_size
                .bind(value.py())
                .call1((&state.instance, value))?
                .is_truthy(),
        }
    }

    /// `check_value_size` for exact builtin values, None for what LiteLLM's method must size.
    /// Runs no Python code: the sizes are builtin methods' and the printed lengths builtin types'
    /// (ints beyond i64, whose printing may raise, are LiteLLM's).
    fn native_value_size_ok<'py>(
        &self,
        state: &State<'_, 'py>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Option<bool>> {
        let py = value.py();
        let Ok(max_per_item) = state
            .attribute(intern!(py, "max_size_per_item"))?
            .cast_into_exact::<PyInt>()
        else {
            return Ok(None);
        };
        let Ok(max_per_item) = max_per_item.extract::<i64>() else {
            return Ok(None);
        };
        const EXACT_IN_F64: i64 = 1 << 53;
        if !(-EXACT_IN_F64..EXACT_IN_F64).contains(&max_per_item) {
            return Ok(None);
        }
        let printed_length = if value.is_exact_instance_of::<PyString>() {
            Some(value.len()?)
        } else if value.is_exact_instance_of::<PyInt>() {
            match exact_i64(value) {
                Some(number) => Some(decimal_length(number)),
                None => return Ok(None),
            }
        } else if value.is_exact_instance_of::<PyBool>() || value.is_exact_instance_of::<PyFloat>()
        {
            Some(value.str()?.len()?)
        } else if value.is_exact_instance_of::<PyBytes>()
            || value.is_exact_instance_of::<PyDict>()
            || value.is_exact_instance_of::<PyList>()
            || value.is_exact_instance_of::<PyTuple>()
        {
            None
        } else {
            return Ok(None);
        };
        if let Some(length) = printed_length {
            if (length as i128) < i128::from(max_per_item) * i128::from(self.max_kb) {
                return Ok(Some(true));
            }
        }
        // bytes: sys.getsizeof(value) / 1024; the rest: value.__sizeof__() / 1024; both <= max.
        let size = if value.is_exact_instance_of::<PyBytes>() {
            self.getsizeof.bind(py).call1((value,))?
        } else {
            value.call_method0(intern!(py, "__sizeof__"))?
        };
        let size: i64 = size.extract()?;
        if !(-EXACT_IN_F64..EXACT_IN_F64).contains(&size) {
            return Ok(None);
        }
        // Exact: both below 2**53, and division by 1024 is exact in binary floating point.
        Ok(Some(size as f64 / 1024.0 <= max_per_item as f64))
    }
}

/// `expiration_time, key = entry` for the heap's (expiry, key) tuples.
fn unpack_entry<'py>(
    entry: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    if let Ok(pair) = entry.cast::<PyTuple>() {
        if pair.len() == 2 {
            return Ok((pair.get_item(0)?, pair.get_item(1)?));
        }
    }
    entry.extract()
}

/// Where calls of the store methods go (`MemoryCacheOps.set_route`).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Route {
    /// LiteLLM's method.
    Python = 0,
    /// The native operation (LiteLLM's method for instances it does not handle).
    Native = 1,
    /// Asks the component per call (auto mode during a partial rollout).
    PerCall = 2,
}

/// The store methods replaced on `InMemoryCache`, in the order of `originals`.
#[derive(Clone, Copy)]
pub(crate) enum Method {
    Get = 0,
    Set = 1,
    Increment = 2,
    BatchGet = 3,
}

impl MemoryCacheOps {
    pub(crate) fn original<'py>(&self, py: Python<'py>, method: Method) -> &Bound<'py, PyAny> {
        self.originals[method as usize].bind(py)
    }

    /// Whether this call goes native (`decide` is asked during a partial rollout).
    pub(crate) fn goes_native(&self, py: Python<'_>) -> PyResult<bool> {
        match self.route.load(Ordering::Relaxed) {
            route if route == Route::Native as u8 => Ok(true),
            route if route == Route::PerCall as u8 => self.decide.bind(py).call0()?.is_truthy(),
            _ => Ok(false),
        }
    }

    pub(crate) fn count(&self, native: bool) {
        let counter = if native {
            &self.rust_calls
        } else {
            &self.python_calls
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `instance.get_cache(key)`; None if the instance is not handled here.
    pub(crate) fn get<'py>(
        &self,
        instance: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = instance.py();
        let Some(parts) = self.instance_parts(instance)? else {
            return Ok(None);
        };
        // An exact str key's lookup runs no Python code, and LiteLLM's miss reads nothing else:
        // a miss is answered before `ttl_dict` is read.
        let found = if key.is_exact_instance_of::<PyString>() {
            match parts.cache_dict.get_item(key)? {
                Some(found) => Some(found),
                None => return Ok(Some(py.None().into_bound(py))),
            }
        } else {
            None
        };
        match parts.with_ttl_dict(self, instance)? {
            Some(state) => self.get_found(&state, key, found).map(Some),
            None => Ok(None),
        }
    }

    /// `[instance.get_cache(key) for key in keys]`; None if the instance is not handled here.
    pub(crate) fn batch_get<'py>(
        &self,
        instance: &Bound<'py, PyAny>,
        keys: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = instance.py();
        let Some(state) = self.state(instance)? else {
            return Ok(None);
        };
        if !state.class.plain_get_set {
            return Ok(None);
        }
        let values = PyList::empty(py);
        for key in keys.try_iter()? {
            values.append(self.get_in(&state, &key?)?)?;
        }
        Ok(Some(values.into_any()))
    }

    /// `instance.set_cache(key, value, ttl=ttl)`: Some(None); None if the instance is not handled
    /// here.
    pub(crate) fn set<'py>(
        &self,
        instance: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
        ttl: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = instance.py();
        match self.state(instance)? {
            Some(state) if state.heap_is_list()? => {
                if self.set_uncontended(&state, key, value)?.is_none() {
                    self.set_in(&state, key, value, ttl)?;
                }
                Ok(Some(py.None().into_bound(py)))
            }
            _ => Ok(None),
        }
    }

    /// `instance.increment_cache(key, value, ttl=ttl)`: the new value; None if the instance is
    /// not handled here.
    pub(crate) fn increment<'py>(
        &self,
        instance: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
        ttl: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = instance.py();
        let Some(state) = self.state(instance)? else {
            return Ok(None);
        };
        if !state.class.plain_get_set || !state.heap_is_list()? {
            return Ok(None);
        }
        if let Some(total) = self.increment_uncontended(&state, key, value)? {
            return Ok(Some(total));
        }
        let _increment = Held::take(state.attribute(intern!(py, "_increment_lock"))?)?;
        let current = self.get_in(&state, key)?;
        let initial = if current.is_truthy()? {
            current
        } else {
            0i64.into_pyobject(py)?.into_any()
        };
        let total = initial.add(value)?;
        self.set_in(&state, key, &total, ttl)?;
        Ok(Some(total))
    }
}

/// `a <op> b` as Python compares them; natively when both are exact floats (the clock's readings
/// and the expiries: IEEE comparison is Python's, NaN included).
fn compare(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<bool> {
    if let (Ok(a), Ok(b)) = (a.cast_exact::<PyFloat>(), b.cast_exact::<PyFloat>()) {
        let (a, b) = (a.value(), b.value());
        return Ok(match op {
            CompareOp::Lt => a < b,
            CompareOp::Le => a <= b,
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            CompareOp::Gt => a > b,
            CompareOp::Ge => a >= b,
        });
    }
    if let (Some(a), Some(b)) = (exact_i64(a), exact_i64(b)) {
        return Ok(match op {
            CompareOp::Lt => a < b,
            CompareOp::Le => a <= b,
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            CompareOp::Gt => a > b,
            CompareOp::Ge => a >= b,
        });
    }
    a.rich_compare(b, op)?.is_truthy()
}

/// The value of an exact int (not a bool) that fits in i64.
fn exact_i64(value: &Bound<'_, PyAny>) -> Option<i64> {
    value.cast_exact::<PyInt>().ok()?.extract().ok()
}

/// `len(str(number))`.
fn decimal_length(number: i64) -> usize {
    let sign = usize::from(number < 0);
    let digits = number
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |log| log as usize + 1);
    sign + digits
}

/// `length >= max_size` (`len(self.cache_dict) >= self.max_size_in_memory`).
fn length_at_least(length: usize, max_size: &Bound<'_, PyAny>) -> PyResult<bool> {
    if let Some(max) = exact_i64(max_size) {
        return Ok(length as i128 >= i128::from(max));
    }
    length.into_pyobject(max_size.py())?.ge(max_size)
}

/// `length > 2 * max_size` (`len(self.expiration_heap) > 2 * self.max_size_in_memory`).
fn length_above_twice(length: usize, max_size: &Bound<'_, PyAny>) -> PyResult<bool> {
    if let Some(max) = exact_i64(max_size) {
        return Ok(length as i128 > 2 * i128::from(max));
    }
    let py = max_size.py();
    length
        .into_pyobject(py)?
        .gt(2i64.into_pyobject(py)?.mul(max_size)?)
}

#[pymethods]
impl MemoryCacheOps {
    /// `default_clock` (None if LiteLLM's is not recognised): the code of LiteLLM's default clock
    /// lambda, the namespace it reads `time` from, the time module, its namespace and `time.time`.
    /// `classes`: per class, (class, lineage up to InMemoryCache, the objects `HELPERS` must
    /// resolve to, attributes an instance has after `__init__`, whether `_remove_key` and whether
    /// `get_cache`/`set_cache` are InMemoryCache's); `tools`: json.loads, sys.getsizeof,
    /// heapq.heappush, heapq.heappop, heapq.heapify, LiteLLM's check_value_size; `originals`:
    /// LiteLLM's get_cache, set_cache, increment_cache and batch_get_cache; `decide`: asked per
    /// call while the route is per-call.
    #[new]
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn new(
        classes: Vec<(
            Py<PyType>,
            Vec<Py<PyType>>,
            Vec<Py<PyAny>>,
            usize,
            bool,
            bool,
        )>,
        tools: (
            Py<PyAny>,
            Py<PyAny>,
            Py<PyAny>,
            Py<PyAny>,
            Py<PyAny>,
            Py<PyAny>,
        ),
        max_kb: i64,
        default_clock: Option<(Py<PyAny>, Py<PyDict>, Py<PyAny>, Py<PyDict>, Py<PyAny>)>,
        originals: (Py<PyAny>, Py<PyAny>, Py<PyAny>, Py<PyAny>),
        decide: Py<PyAny>,
    ) -> PyResult<Self> {
        let default_clock =
            default_clock.map(|(code, globals, time_module, time_namespace, time_time)| {
                let time_time_is_builtin = Python::attach(|py| {
                    is_builtin_time_time(time_time.bind(py), time_module.bind(py))
                });
                DefaultClock {
                    code,
                    globals,
                    time_module,
                    time_namespace,
                    time_time,
                    time_time_is_builtin,
                    checked_versions: CheckedVersions::new(),
                }
            });
        let (json_loads, getsizeof, heappush, heappop, heapify, check_value_size) = tools;
        let mut known = Vec::with_capacity(classes.len());
        for (class, lineage, helpers, instance_attributes, plain_remove, plain_get_set) in classes {
            if helpers.len() != HELPERS.len() {
                return Err(PyTypeError::new_err(format!(
                    "expected {} helpers: {HELPERS:?}",
                    HELPERS.len()
                )));
            }
            known.push(KnownClass {
                class,
                lineage,
                helpers,
                instance_attributes,
                plain_remove,
                plain_get_set,
                checked_version: AtomicU32::new(0),
            });
        }
        let (get, set, increment, batch_get) = originals;
        let lock_type = Python::attach(|py| -> PyResult<Py<PyType>> {
            Ok(py
                .import("_thread")?
                .getattr("LockType")?
                .cast_into::<PyType>()?
                .unbind())
        })?;
        let (lock_state, remembered_names) = Python::attach(|py| -> PyResult<_> {
            let lock_state = lock_state::LockState::probe(lock_type.bind(py))?;
            let names = remembered::NAMES.map(|name| PyString::intern(py, name).unbind());
            Ok((lock_state, names))
        })?;
        Ok(Self {
            classes: known,
            json_loads,
            getsizeof,
            heappush,
            heappop,
            heapify,
            max_kb,
            check_value_size,
            default_clock,
            originals: [get, set, increment, batch_get],
            lock_type,
            lock_state,
            remembered_names,
            decide,
            route: AtomicU8::new(Route::Python as u8),
            rust_calls: AtomicU64::new(0),
            python_calls: AtomicU64::new(0),
        })
    }

    /// The helper names whose objects `__new__` takes, in order.
    #[classattr]
    fn helper_names() -> Vec<&'static str> {
        HELPERS.to_vec()
    }

    /// Where calls go: "python", "native" or "per_call".
    fn set_route(&self, route: &str) -> PyResult<()> {
        let route = match route {
            "python" => Route::Python,
            "native" => Route::Native,
            "per_call" => Route::PerCall,
            other => return Err(PyValueError::new_err(format!("unknown route {other:?}"))),
        };
        self.route.store(route as u8, Ordering::Relaxed);
        Ok(())
    }

    /// (native calls, LiteLLM calls) made through the store methods since the last reset.
    fn counts(&self) -> (u64, u64) {
        (
            self.rust_calls.load(Ordering::Relaxed),
            self.python_calls.load(Ordering::Relaxed),
        )
    }

    fn reset_counts(&self) {
        self.rust_calls.store(0, Ordering::Relaxed);
        self.python_calls.store(0, Ordering::Relaxed);
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MemoryCacheOps>()
}
