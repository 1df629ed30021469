//! The v3 limiter's in-memory check (`_PROXY_MaxParallelRequestsHandler_v3.should_rate_limit`
//! of LiteLLM 1.110.2 without Redis): the windowed rpm/tpm counters and the parallel-request
//! gauges in one native pass over LiteLLM's own store handle (`NativeRateLimits`).
//!
//! The steps, their order, every store read and write, every clock call and the response are
//! LiteLLM's. The store is LiteLLM's native handle, called through its Python methods with the
//! entry objects LiteLLM's own types build. Before the clock is read and before any write, the
//! values the check reads first (each counter's window and count, each gauge) are checked to be
//! of the kinds LiteLLM writes (None, ints, floats, numeric strs, slot registries of float
//! timestamps); anything else returns None and the caller runs LiteLLM's method, which raises
//! or handles what it finds. No Rust lock exists here.

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PyString, PyTuple, PyType};

/// Floats are exact in f64 below 2**53, so comparisons of such ints with floats agree with Python's.
const EXACT_FLOAT_INT: i64 = 1 << 53;

/// `int(value)` as an i64, when Python's `int()` gives one.
fn as_i64(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    if value.is_exact_instance_of::<PyInt>() {
        return value.extract();
    }
    // SAFETY: PyNumber_Long returns a new reference or NULL with an exception set.
    let number = unsafe {
        Bound::from_owned_ptr_or_err(value.py(), pyo3::ffi::PyNumber_Long(value.as_ptr()))?
    };
    number.extract()
}

/// A window start or count LiteLLM writes: None, an int, a finite float or a numeric str whose
/// `int()` fits an i64. (`_scalar` raises for a slot registry here; that runs LiteLLM's code.)
fn is_plain_scalar(value: &Bound<'_, PyAny>) -> bool {
    if value.is_none() {
        return true;
    }
    if value.is_exact_instance_of::<PyFloat>() {
        return value
            .extract::<f64>()
            .is_ok_and(|float| float.is_finite() && float.abs() < 9.0e18);
    }
    (value.is_exact_instance_of::<PyInt>() || value.is_exact_instance_of::<PyString>())
        && as_i64(value).is_ok()
}

/// A gauge LiteLLM writes: None, a count (as for counters) or a slot registry of exact str ids to
/// float (or small int) timestamps.
fn is_plain_gauge(value: &Bound<'_, PyAny>) -> bool {
    let Ok(registry) = value.cast_exact::<PyDict>() else {
        return is_plain_scalar(value);
    };
    registry.iter().all(|(slot, at)| {
        slot.is_exact_instance_of::<PyString>()
            && (at.is_exact_instance_of::<PyFloat>()
                || (at.is_exact_instance_of::<PyInt>()
                    && at
                        .extract::<i64>()
                        .is_ok_and(|int| int.abs() < EXACT_FLOAT_INT)))
    })
}

/// `ts >= cutoff` as Python compares them.
fn at_or_after(at: &Bound<'_, PyAny>, cutoff: &Bound<'_, PyAny>) -> PyResult<bool> {
    if let (Ok(at), Ok(cutoff)) = (at.cast_exact::<PyFloat>(), cutoff.cast_exact::<PyFloat>()) {
        return Ok(at.value() >= cutoff.value());
    }
    at.ge(cutoff)
}

/// The store entries of one descriptor scope, as LiteLLM's types build them. They are frozen
/// dataclasses the handle reads by attribute, so equal ones are interchangeable: they are kept in
/// the caller's `entry_cache` (`{key: {value: entries}}`) instead of being rebuilt per check.
struct ScopeEntries<'py> {
    requests: Bound<'py, PyAny>,
    tokens: Bound<'py, PyAny>,
    window: Bound<'py, PyAny>,
    gauge: Bound<'py, PyAny>,
}

/// Scopes per descriptor key, and descriptor keys, kept before the cache starts afresh.
const ENTRY_CACHE_LIMIT: usize = 4096;

impl<'py> ScopeEntries<'py> {
    fn of(
        cache: &Bound<'py, PyDict>,
        scope_type: &Bound<'py, PyAny>,
        key: &Bound<'py, PyString>,
        value: &Bound<'py, PyString>,
    ) -> PyResult<Self> {
        let py = cache.py();
        let per_key = match cache.get_item(key)? {
            Some(per_key) => per_key.cast_into_exact::<PyDict>()?,
            None => {
                if cache.len() >= ENTRY_CACHE_LIMIT {
                    cache.clear();
                }
                let per_key = PyDict::new(py);
                cache.set_item(key, &per_key)?;
                per_key
            }
        };
        if let Some(cached) = per_key.get_item(value)? {
            let (requests, tokens, window, gauge) = cached.extract()?;
            return Ok(Self {
                requests,
                tokens,
                window,
                gauge,
            });
        }
        let scope = scope_type.call1((key, value))?;
        let requests = scope.call_method1(intern!(py, "counter"), (intern!(py, "requests"),))?;
        let tokens = scope.call_method1(intern!(py, "counter"), (intern!(py, "tokens"),))?;
        let window = requests.getattr(intern!(py, "window"))?;
        let gauge = scope.getattr(intern!(py, "gauge"))?;
        if per_key.len() >= ENTRY_CACHE_LIMIT {
            per_key.clear();
        }
        per_key.set_item(value, (&requests, &tokens, &window, &gauge))?;
        Ok(Self {
            requests,
            tokens,
            window,
            gauge,
        })
    }
}

/// The scopes one call uses, each with one set of entries: the store reads a call remembers are
/// keyed by entry object, so a scope seen twice in a call must reuse its entries.
struct Scopes<'py> {
    known: Vec<(
        Bound<'py, PyString>,
        Bound<'py, PyString>,
        ScopeEntries<'py>,
    )>,
}

impl<'py> Scopes<'py> {
    fn new() -> Self {
        Self { known: Vec::new() }
    }

    /// The index of the scope `(key, value)`, its entries taken from `cache` when first seen.
    fn index(
        &mut self,
        cache: &Bound<'py, PyDict>,
        scope_type: &Bound<'py, PyAny>,
        key: &Bound<'py, PyString>,
        value: &Bound<'py, PyString>,
    ) -> PyResult<usize> {
        for (index, (known_key, known_value, _)) in self.known.iter().enumerate() {
            if known_key.as_any().eq(key)? && known_value.as_any().eq(value)? {
                return Ok(index);
            }
        }
        let entries = ScopeEntries::of(cache, scope_type, key, value)?;
        self.known.push((key.clone(), value.clone(), entries));
        Ok(self.known.len() - 1)
    }

    fn entries(&self, index: usize) -> &ScopeEntries<'py> {
        &self.known[index].2
    }
}

struct Counter {
    /// Index of the scope's metadata.
    meta: usize,
    /// Index of the scope's entries.
    scope: usize,
    requests: bool,
}

struct ScopeMeta<'py> {
    key: Bound<'py, PyString>,
    value: Bound<'py, PyString>,
    requests_limit: Option<i64>,
    tokens_limit: Option<i64>,
}

struct Gauge<'py> {
    /// Index of the scope's entries.
    scope: usize,
    limit: i64,
    key: Bound<'py, PyString>,
}

/// A rate-limit descriptor as LiteLLM's callers build it: a dict with str `key` and `value` and a
/// dict (or falsy) `rate_limit`.
struct Descriptor<'py> {
    key: Bound<'py, PyString>,
    value: Bound<'py, PyString>,
    rate_limit: Option<Bound<'py, PyDict>>,
}

impl<'py> Descriptor<'py> {
    /// None for anything else (LiteLLM's code then runs, raising what it raises).
    fn parse(descriptor: &Bound<'py, PyAny>) -> PyResult<Option<Self>> {
        let py = descriptor.py();
        let Ok(descriptor) = descriptor.cast_exact::<PyDict>() else {
            return Ok(None);
        };
        let (Some(key), Some(value)) = (
            descriptor.get_item(intern!(py, "key"))?,
            descriptor.get_item(intern!(py, "value"))?,
        ) else {
            return Ok(None);
        };
        let (Ok(key), Ok(value)) = (
            key.cast_into_exact::<PyString>(),
            value.cast_into_exact::<PyString>(),
        ) else {
            return Ok(None);
        };
        let rate_limit = match descriptor.get_item(intern!(py, "rate_limit"))? {
            Some(limits) if limits.is_truthy()? => match limits.cast_into_exact::<PyDict>() {
                Ok(limits) => Some(limits),
                Err(_) => return Ok(None),
            },
            _ => None,
        };
        Ok(Some(Self {
            key,
            value,
            rate_limit,
        }))
    }

    /// `rate_limit.get(name)`, None when absent or None.
    fn limit(&self, name: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match &self.rate_limit {
            Some(limits) => Ok(limits.get_item(name)?.filter(|limit| !limit.is_none())),
            None => Ok(None),
        }
    }

    /// `int(rate_limit.get("window_size") or default)`; None when int() refuses it.
    fn window_size(&self, default: &Bound<'py, PyAny>) -> PyResult<Option<i64>> {
        let size = match self.limit(intern!(default.py(), "window_size"))? {
            Some(size) if size.is_truthy()? => size,
            _ => default.clone(),
        };
        Ok(as_i64(&size).ok())
    }
}

/// What `_collect_windowed_keys_and_gauges` returns, with the scopes' entries.
struct Collected<'py> {
    counters: Vec<Counter>,
    metas: Vec<ScopeMeta<'py>>,
    gauges: Vec<Gauge<'py>>,
    scopes: Scopes<'py>,
}

/// `int(limit)` of a present limit; None when int() refuses it or the result exceeds an i64.
fn convert_limit(limit: Option<Bound<'_, PyAny>>) -> Option<Option<i64>> {
    match limit {
        None => Some(None),
        Some(limit) => as_i64(&limit).ok().map(Some),
    }
}

/// `_collect_windowed_keys_and_gauges`: the counters (with the index of their scope's metadata;
/// a later descriptor of the same scope replaces it, as LiteLLM's dict does), the metadata and the
/// gauges. None when a descriptor is not a plain dict of str key and value with a dict (or falsy)
/// `rate_limit` and limits int() converts.
fn collect<'py>(
    descriptors: &Bound<'py, PyAny>,
    entry_cache: &Bound<'py, PyDict>,
    scope_type: &Bound<'py, PyAny>,
    skip_tpm_check: bool,
    default_window_size: &Bound<'py, PyAny>,
) -> PyResult<Option<Collected<'py>>> {
    let py = descriptors.py();
    let mut collected = Collected {
        counters: Vec::new(),
        metas: Vec::new(),
        gauges: Vec::new(),
        scopes: Scopes::new(),
    };
    // The metadata index of each scope (index into `collected.scopes`), once it has some.
    let mut meta_of_scope: Vec<Option<usize>> = Vec::new();
    for descriptor in descriptors.try_iter()? {
        let Some(descriptor) = Descriptor::parse(&descriptor?)? else {
            return Ok(None);
        };
        let Some(requests_limit) =
            convert_limit(descriptor.limit(intern!(py, "requests_per_unit"))?)
        else {
            return Ok(None);
        };
        let tokens_limit = if skip_tpm_check {
            Some(None)
        } else {
            convert_limit(descriptor.limit(intern!(py, "tokens_per_unit"))?)
        };
        let Some(tokens_limit) = tokens_limit else {
            return Ok(None);
        };
        let Some(parallel_limit) =
            convert_limit(descriptor.limit(intern!(py, "max_parallel_requests"))?)
        else {
            return Ok(None);
        };
        // `int(rate_limit.get("window_size") or self.window_size)`: unused by this check, but
        // LiteLLM converts it, so a value int() refuses goes to LiteLLM's code.
        if descriptor.window_size(default_window_size)?.is_none() {
            return Ok(None);
        }
        let (key, value) = (&descriptor.key, &descriptor.value);
        let scope = collected
            .scopes
            .index(entry_cache, scope_type, key, value)?;
        if let Some(limit) = parallel_limit {
            collected.gauges.push(Gauge {
                scope,
                limit,
                key: key.clone(),
            });
        }
        meta_of_scope.resize(collected.scopes.known.len(), None);
        let meta = meta_of_scope[scope].unwrap_or(collected.metas.len());
        for (present, requests) in [
            (requests_limit.is_some(), true),
            (tokens_limit.is_some(), false),
        ] {
            if present {
                collected.counters.push(Counter {
                    meta,
                    scope,
                    requests,
                });
            }
        }
        if requests_limit.is_none() && tokens_limit.is_none() {
            continue;
        }
        let scope_meta = ScopeMeta {
            key: key.clone(),
            value: value.clone(),
            requests_limit,
            tokens_limit,
        };
        if meta == collected.metas.len() {
            collected.metas.push(scope_meta);
            meta_of_scope[scope] = Some(meta);
        } else {
            collected.metas[meta] = scope_meta;
        }
    }
    Ok(Some(collected))
}

fn status<'py>(
    py: Python<'py>,
    code: &str,
    limit: i64,
    remaining: i128,
    kind: &Bound<'py, PyString>,
    key: &Bound<'py, PyString>,
    value: Option<&Bound<'py, PyString>>,
) -> PyResult<Bound<'py, PyDict>> {
    let status = status_dict(py)?;
    status.set_item(intern!(py, "code"), code_str(py, code))?;
    status.set_item(intern!(py, "current_limit"), limit)?;
    status.set_item(intern!(py, "limit_remaining"), int_of(py, remaining)?)?;
    status.set_item(intern!(py, "rate_limit_type"), kind)?;
    status.set_item(intern!(py, "descriptor_key"), key)?;
    if let Some(value) = value {
        status.set_item(intern!(py, "descriptor_value"), value)?;
    }
    Ok(status)
}

/// An empty dict sized for a status's six items (as LiteLLM's dict literal is), so filling it
/// never resizes.
fn status_dict(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    // SAFETY: returns a new reference to an empty dict, or NULL with an exception set.
    let dict = unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::_PyDict_NewPresized(6))? };
    Ok(dict.cast_into_exact::<PyDict>()?)
}

/// A status or response code as a str LiteLLM's literals equal, interned.
fn code_str<'py>(py: Python<'py>, code: &str) -> Bound<'py, PyString> {
    match code {
        "OK" => intern!(py, "OK").clone(),
        "OVER_LIMIT" => intern!(py, "OVER_LIMIT").clone(),
        other => PyString::new(py, other),
    }
}

/// A Python int of `value` (through an i64 when it fits, the cheaper conversion).
fn int_of(py: Python<'_>, value: i128) -> PyResult<Bound<'_, PyAny>> {
    Ok(match i64::try_from(value) {
        Ok(small) => small.into_pyobject(py)?.into_any(),
        Err(_) => value.into_pyobject(py)?.into_any(),
    })
}

fn response<'py>(
    py: Python<'py>,
    over_limit: bool,
    statuses: &Bound<'py, PyList>,
) -> PyResult<Bound<'py, PyDict>> {
    let response = PyDict::new(py);
    let code = if over_limit { "OVER_LIMIT" } else { "OK" };
    response.set_item(intern!(py, "overall_code"), code_str(py, code))?;
    response.set_item(intern!(py, "statuses"), statuses)?;
    Ok(response)
}

/// `is_cache_list_over_limit(..., read_only=False)` over each counter's count (None: unset).
fn over_limit_statuses<'py>(
    py: Python<'py>,
    collected: &Collected<'py>,
    counts: &[Option<i128>],
) -> PyResult<(bool, Bound<'py, PyList>)> {
    let statuses = PyList::empty(py);
    let mut over = false;
    for (counter, count) in collected.counters.iter().zip(counts) {
        // Every counter's scope has metadata (a counter implies a limit on its descriptor).
        let meta = &collected.metas[counter.meta];
        let (limit, kind) = if counter.requests {
            (meta.requests_limit, intern!(py, "requests"))
        } else {
            (meta.tokens_limit, intern!(py, "tokens"))
        };
        let Some(limit) = limit else { continue };
        let item_over = count.is_some_and(|count| count > i128::from(limit));
        over |= item_over;
        let remaining = count.map_or(i128::from(limit), |count| i128::from(limit) - count);
        let code = if item_over { "OVER_LIMIT" } else { "OK" };
        statuses.append(status(
            py,
            code,
            limit,
            remaining,
            kind,
            &meta.key,
            Some(&meta.value),
        )?)?;
    }
    Ok((over, statuses))
}

/// `int(_scalar(value))` of a present value.
fn scalar_count(value: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
    if value.is_none() {
        return Ok(None);
    }
    if value.is_exact_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(
            "a rate-limit counter in memory holds a slot registry",
        ));
    }
    as_i64(value).map(Some)
}

/// LiteLLM's store handle, remembering what this check read and wrote per entry: a value read
/// again within the check is the one read or written before (the same value LiteLLM's re-read
/// finds), without another call.
struct Store<'py> {
    handle: Bound<'py, PyAny>,
    known: Vec<(*mut pyo3::ffi::PyObject, Bound<'py, PyAny>)>,
}

impl<'py> Store<'py> {
    fn new(handle: &Bound<'py, PyAny>) -> Self {
        Self {
            handle: handle.clone(),
            known: Vec::new(),
        }
    }

    fn remember(&mut self, entry: &Bound<'py, PyAny>, value: Bound<'py, PyAny>) {
        match self
            .known
            .iter_mut()
            .find(|(known, _)| *known == entry.as_ptr())
        {
            Some(slot) => slot.1 = value,
            None => self.known.push((entry.as_ptr(), value)),
        }
    }

    fn get(&mut self, entry: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        if let Some((_, value)) = self
            .known
            .iter()
            .find(|(known, _)| *known == entry.as_ptr())
        {
            return Ok(value.clone());
        }
        let py = entry.py();
        let value = self
            .handle
            .call_method1(intern!(py, "get_local"), (entry,))?;
        self.remember(entry, value.clone());
        Ok(value)
    }

    fn set(
        &mut self,
        entry: &Bound<'py, PyAny>,
        value: Bound<'py, PyAny>,
        ttl: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        let py = entry.py();
        self.handle
            .call_method1(intern!(py, "set_local"), (entry, &value, ttl))?;
        self.remember(entry, value);
        Ok(())
    }
}

/// `_in_memory_cache_sliding_window`: each counter's count after its increment.
fn sliding_window<'py>(
    store: &mut Store<'py>,
    collected: &Collected<'py>,
    now_int: i64,
    window_size: &Bound<'py, PyAny>,
) -> PyResult<Vec<Option<i128>>> {
    let py = window_size.py();
    let size = i128::from(as_i64(window_size)?);
    let zero = 0i64.into_pyobject(py)?.into_any();
    let one = 1i64.into_pyobject(py)?.into_any();
    let mut counts = Vec::with_capacity(collected.counters.len());
    for counter in &collected.counters {
        let entries = &collected.scopes.entries(counter.scope);
        let entry = if counter.requests {
            &entries.requests
        } else {
            &entries.tokens
        };
        let start = scalar_count(&store.get(&entries.window)?)?;
        let expired = start.is_none_or(|start| i128::from(now_int) - i128::from(start) >= size);
        if expired {
            store.set(&entries.requests, zero.clone(), window_size)?;
            store.set(&entries.tokens, zero.clone(), window_size)?;
            let start = PyString::new(py, &now_int.to_string()).into_any();
            store.set(&entries.window, start, window_size)?;
            store.set(entry, one.clone(), window_size)?;
            counts.push(Some(1));
            continue;
        }
        let current = scalar_count(&store.get(entry)?)?.unwrap_or(0);
        let next = i128::from(current) + 1;
        store.set(entry, next.into_pyobject(py)?.into_any(), window_size)?;
        counts.push(Some(next));
    }
    Ok(counts)
}

/// `_gauge_in_flight_from_cache_value` of each gauge value, in order.
fn gauge_counts<'py>(
    clock: &Bound<'py, PyAny>,
    values: &[Bound<'py, PyAny>],
    slot_ttl: &Bound<'py, PyAny>,
) -> PyResult<Vec<i64>> {
    let py = clock.py();
    values
        .iter()
        .map(|value| {
            if value.is_none() {
                return Ok(0);
            }
            if let Ok(registry) = value.cast_exact::<PyDict>() {
                let now = clock.call0()?.call_method0(intern!(py, "timestamp"))?;
                let cutoff = now.sub(slot_ttl)?;
                let mut live = 0;
                for at in registry.values() {
                    live += i64::from(at_or_after(&at, &cutoff)?);
                }
                return Ok(live);
            }
            Ok(as_i64(value)?.max(0))
        })
        .collect()
}

fn gauge_status<'py>(
    py: Python<'py>,
    gauge: &Gauge<'py>,
    in_flight: i128,
    code: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let remaining = (i128::from(gauge.limit) - in_flight).max(0);
    let kind = intern!(py, "max_parallel_requests");
    status(py, code, gauge.limit, remaining, kind, &gauge.key, None)
}

/// `_check_parallel_request_gauges(read_only=False)` without Redis: the local pre-check, then
/// `_acquire_parallel_slots_in_memory`. (over limit, the gauge statuses).
fn acquire_gauges<'py>(
    store: &mut Store<'py>,
    clock: &Bound<'py, PyAny>,
    collected: &Collected<'py>,
    slot_id: &Bound<'py, PyAny>,
    slot_ttl: &Bound<'py, PyAny>,
) -> PyResult<(bool, Vec<Bound<'py, PyDict>>)> {
    let py = clock.py();
    let gauges = &collected.gauges;
    let entry = |gauge: &Gauge<'py>| collected.scopes.entries(gauge.scope).gauge.clone();
    let read_all = |store: &mut Store<'py>| {
        gauges
            .iter()
            .map(|gauge| store.get(&entry(gauge)))
            .collect::<PyResult<Vec<_>>>()
    };
    let local = gauge_counts(clock, &read_all(store)?, slot_ttl)?;
    for (gauge, &in_flight) in gauges.iter().zip(&local) {
        if in_flight >= gauge.limit {
            return Ok((
                true,
                vec![gauge_status(
                    py,
                    gauge,
                    i128::from(in_flight),
                    "OVER_LIMIT",
                )?],
            ));
        }
    }
    let now = clock.call0()?.call_method0(intern!(py, "timestamp"))?;
    let cutoff = now.sub(slot_ttl)?;
    let mut states = Vec::with_capacity(gauges.len());
    for (gauge, raw) in gauges.iter().zip(read_all(store)?) {
        let (registry, in_flight) = if let Ok(stored) = raw.cast_exact::<PyDict>() {
            let registry = PyDict::new(py);
            for (slot, at) in stored.iter() {
                if at_or_after(&at, &cutoff)? {
                    registry.set_item(slot, at)?;
                }
            }
            let in_flight = registry.len() as i64;
            (Some(registry), in_flight)
        } else if raw.is_none() {
            (Some(PyDict::new(py)), 0)
        } else {
            (None, as_i64(&raw)?.max(0))
        };
        if i128::from(in_flight) + 1 > i128::from(gauge.limit) {
            return Ok((
                true,
                vec![gauge_status(
                    py,
                    gauge,
                    i128::from(in_flight),
                    "OVER_LIMIT",
                )?],
            ));
        }
        states.push((registry, in_flight));
    }
    let mut statuses = Vec::with_capacity(gauges.len());
    for (gauge, (registry, in_flight)) in gauges.iter().zip(states) {
        let value = match registry {
            Some(registry) => {
                registry.set_item(slot_id, &now)?;
                registry.into_any()
            }
            None => (i128::from(in_flight) + 1).into_pyobject(py)?.into_any(),
        };
        store.set(&entry(gauge), value, slot_ttl)?;
        statuses.push(gauge_status(py, gauge, i128::from(in_flight) + 1, "OK")?);
    }
    Ok((false, statuses))
}

/// `should_rate_limit(descriptors, read_only=False, ...)` of a handler without Redis whose
/// check-and-increment lock is free. `clock` is the handler's bound `_get_current_time`,
/// `window_size` its `window_size`, `new_slot_id` makes LiteLLM's default slot id,
/// `entry_cache` a dict this module keeps the scopes' store entries in.
/// None (before any clock call or write): run LiteLLM's method.
#[allow(clippy::too_many_arguments)]
pub(crate) fn limiter_should_rate_limit<'py>(
    handle: &Bound<'py, PyAny>,
    entry_cache: &Bound<'py, PyDict>,
    scope_type: &Bound<'py, PyAny>,
    clock: &Bound<'py, PyAny>,
    descriptors: &Bound<'py, PyAny>,
    skip_tpm_check: &Bound<'py, PyAny>,
    window_size: &Bound<'py, PyAny>,
    parallel_slot_id: &Bound<'py, PyAny>,
    skip_parallel_check: &Bound<'py, PyAny>,
    new_slot_id: &Bound<'py, PyAny>,
    slot_ttl: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let py = handle.py();
    if !window_size.is_exact_instance_of::<PyInt>() || as_i64(window_size).is_err() {
        return Ok(None);
    }
    let skip_tpm_check = skip_tpm_check.is_truthy()?;
    let Some(collected) = collect(
        descriptors,
        entry_cache,
        scope_type,
        skip_tpm_check,
        window_size,
    )?
    else {
        return Ok(None);
    };
    let mut store = Store::new(handle);
    // `_local_counter_states`: every window and count, read before anything is written.
    let mut local_counts = Vec::with_capacity(collected.counters.len());
    for counter in &collected.counters {
        let entries = &collected.scopes.entries(counter.scope);
        let start = store.get(&entries.window)?;
        let count = store.get(if counter.requests {
            &entries.requests
        } else {
            &entries.tokens
        })?;
        if !is_plain_scalar(&start) || !is_plain_scalar(&count) {
            return Ok(None);
        }
        local_counts.push(scalar_count(&count)?.map(i128::from));
    }
    let gauges_checked = !collected.gauges.is_empty() && !skip_parallel_check.is_truthy()?;
    if gauges_checked {
        for gauge in &collected.gauges {
            if !is_plain_gauge(&store.get(&collected.scopes.entries(gauge.scope).gauge)?) {
                return Ok(None);
            }
        }
    }

    let now = clock.call0()?.call_method0(intern!(py, "timestamp"))?;
    let now_int = as_i64(&now)?;
    let mut windowed = PyList::empty(py);
    if !collected.counters.is_empty() {
        let (over, statuses) = over_limit_statuses(py, &collected, &local_counts)?;
        if over {
            return response(py, true, &statuses).map(Some);
        }
        let counts = sliding_window(&mut store, &collected, now_int, window_size)?;
        let (over, statuses) = over_limit_statuses(py, &collected, &counts)?;
        if over {
            return response(py, true, &statuses).map(Some);
        }
        windowed = statuses;
    }
    if !gauges_checked {
        return response(py, false, &windowed).map(Some);
    }
    let slot_id = if parallel_slot_id.is_truthy()? {
        parallel_slot_id.clone()
    } else {
        new_slot_id.call0()?
    };
    let (over, gauge_statuses) = acquire_gauges(&mut store, clock, &collected, &slot_id, slot_ttl)?;
    for status in gauge_statuses {
        windowed.append(status)?;
    }
    response(py, over, &windowed).map(Some)
}

/// The version tag of a class: unchanged while its attributes and its bases' are (0: none yet).
#[pyfunction]
fn type_version_tag(class: &Bound<'_, PyType>) -> u32 {
    crate::memory_cache::version_tag(class)
}

/// One counter of `_atomic_check_and_increment_in_memory`'s `per_counter_meta`.
struct AtomicMeta<'py> {
    counter: Bound<'py, PyAny>,
    /// Index of the counter's scope.
    scope: usize,
    requests: bool,
    limit: i64,
    increment: i64,
    ttl: Bound<'py, PyAny>,
    window_size: Bound<'py, PyAny>,
    window_size_int: i64,
    /// The status fields: `rate_limit_type`, `descriptor_key`, `descriptor_value`.
    kind: Bound<'py, PyAny>,
    key: Bound<'py, PyAny>,
    value: Bound<'py, PyAny>,
}

/// The counters of one all-or-nothing reservation, with their scopes' store entries.
pub(crate) struct AtomicPlan<'py> {
    scopes: Scopes<'py>,
    metas: Vec<AtomicMeta<'py>>,
}

impl<'py> AtomicPlan<'py> {
    pub(crate) fn is_empty(&self) -> bool {
        self.metas.is_empty()
    }

    /// The `per_counter_meta` list LiteLLM's `atomic_check_and_increment_by_n` builds for its
    /// in-memory step: one dict per counter, fields in LiteLLM's order.
    pub(crate) fn meta_dicts(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let metas = PyList::empty(py);
        for meta in &self.metas {
            let dict = PyDict::new(py);
            dict.set_item(intern!(py, "descriptor_key"), &meta.key)?;
            dict.set_item(intern!(py, "descriptor_value"), &meta.value)?;
            dict.set_item(intern!(py, "current_limit"), meta.limit)?;
            dict.set_item(intern!(py, "rate_limit_type"), &meta.kind)?;
            dict.set_item(intern!(py, "counter"), &meta.counter)?;
            dict.set_item(intern!(py, "increment"), meta.increment)?;
            dict.set_item(intern!(py, "ttl"), &meta.ttl)?;
            dict.set_item(intern!(py, "window_size"), &meta.window_size)?;
            metas.append(dict)?;
        }
        Ok(metas)
    }
}

/// `meta` when it is what `_build_descriptor_atomic_payload` builds: a dict whose counter is a
/// `RateLimitCounter` of a `RateLimitScope` with str key and value, with int limit, increment,
/// ttl and window size, and the status fields.
fn atomic_meta<'py>(
    meta: Bound<'py, PyAny>,
    scopes: &mut Scopes<'py>,
    entry_cache: &Bound<'py, PyDict>,
    scope_type: &Bound<'py, PyAny>,
    counter_type: &Bound<'py, PyAny>,
) -> PyResult<Option<AtomicMeta<'py>>> {
    let py = meta.py();
    let Ok(meta) = meta.cast_into_exact::<PyDict>() else {
        return Ok(None);
    };
    let field = |name: &Bound<'py, PyString>| meta.get_item(name);
    let (Some(counter), Some(limit), Some(increment), Some(ttl), Some(window_size)) = (
        field(intern!(py, "counter"))?,
        field(intern!(py, "current_limit"))?,
        field(intern!(py, "increment"))?,
        field(intern!(py, "ttl"))?,
        field(intern!(py, "window_size"))?,
    ) else {
        return Ok(None);
    };
    let (Some(kind_field), Some(key_field), Some(value_field)) = (
        field(intern!(py, "rate_limit_type"))?,
        field(intern!(py, "descriptor_key"))?,
        field(intern!(py, "descriptor_value"))?,
    ) else {
        return Ok(None);
    };
    let exact_int = |value: &Bound<'py, PyAny>| {
        value
            .is_exact_instance_of::<PyInt>()
            .then(|| value.extract::<i64>().ok())
            .flatten()
    };
    let (Some(limit), Some(increment), Some(_), Some(window_size_int)) = (
        exact_int(&limit),
        exact_int(&increment),
        exact_int(&ttl),
        exact_int(&window_size),
    ) else {
        return Ok(None);
    };
    if !counter.get_type().is(counter_type) {
        return Ok(None);
    }
    let scope = counter.getattr(intern!(py, "scope"))?;
    let kind = counter.getattr(intern!(py, "kind"))?;
    if !scope.get_type().is(scope_type) {
        return Ok(None);
    }
    let requests = match kind.cast_exact::<PyString>().map(|kind| kind.to_cow()) {
        Ok(Ok(kind)) if kind == "requests" => true,
        Ok(Ok(kind)) if kind == "tokens" => false,
        _ => return Ok(None),
    };
    let key = scope.getattr(intern!(py, "descriptor_key"))?;
    let value = scope.getattr(intern!(py, "descriptor_value"))?;
    let (Ok(key), Ok(value)) = (key.cast_exact::<PyString>(), value.cast_exact::<PyString>())
    else {
        return Ok(None);
    };
    let scope = scopes.index(entry_cache, scope_type, key, value)?;
    Ok(Some(AtomicMeta {
        counter,
        scope,
        requests,
        limit,
        increment,
        ttl,
        window_size,
        window_size_int,
        kind: kind_field,
        key: key_field,
        value: value_field,
    }))
}

/// `_build_descriptor_atomic_payload` of every descriptor with its increments, flattened: the
/// counters `atomic_check_and_increment_by_n` hands its in-memory step (the Lua counters it also
/// builds are unused there). None when a descriptor or an increment is not of the kinds
/// LiteLLM's callers pass, or a value int() refuses: run LiteLLM's method.
pub(crate) fn plan_reservation<'py>(
    entry_cache: &Bound<'py, PyDict>,
    scope_type: &Bound<'py, PyAny>,
    descriptors: &Bound<'py, PyAny>,
    increments: &Bound<'py, PyAny>,
    default_window_size: &Bound<'py, PyAny>,
) -> PyResult<Option<AtomicPlan<'py>>> {
    let py = entry_cache.py();
    let mut scopes = Scopes::new();
    let mut metas = Vec::new();
    for (descriptor, amounts) in descriptors.try_iter()?.zip(increments.try_iter()?) {
        let (descriptor, amounts) = (descriptor?, amounts?);
        let (Some(descriptor), Ok(amounts)) = (
            Descriptor::parse(&descriptor)?,
            amounts.cast_exact::<PyDict>(),
        ) else {
            return Ok(None);
        };
        let Some(window_size_int) = descriptor.window_size(default_window_size)? else {
            return Ok(None);
        };
        let window_size = window_size_int.into_pyobject(py)?.into_any();
        let (key, value) = (&descriptor.key, &descriptor.value);
        let scope = scopes.index(entry_cache, scope_type, key, value)?;
        for (requests, kind, limit_name) in [
            (
                true,
                intern!(py, "requests"),
                intern!(py, "requests_per_unit"),
            ),
            (false, intern!(py, "tokens"), intern!(py, "tokens_per_unit")),
        ] {
            let limit_value = descriptor.limit(limit_name)?;
            // `int(increment_amounts.get(kind, 0) or 0)`, converted before the limit is looked at.
            let increment = match amounts.get_item(kind)? {
                Some(amount) if amount.is_truthy()? => match as_i64(&amount) {
                    Ok(amount) => amount,
                    Err(_) => return Ok(None),
                },
                _ => 0,
            };
            let Some(limit_value) = limit_value else {
                continue;
            };
            if increment < 0 {
                continue;
            }
            let Ok(limit) = as_i64(&limit_value) else {
                return Ok(None);
            };
            let entries = scopes.entries(scope);
            let counter = if requests {
                &entries.requests
            } else {
                &entries.tokens
            };
            metas.push(AtomicMeta {
                counter: counter.clone(),
                scope,
                requests,
                limit,
                increment,
                ttl: window_size.clone(),
                window_size: window_size.clone(),
                window_size_int,
                kind: kind.clone().into_any(),
                key: key.clone().into_any(),
                value: value.clone().into_any(),
            });
        }
    }
    Ok(Some(AtomicPlan { scopes, metas }))
}

/// `_atomic_check_and_increment_in_memory(per_counter_meta)` of a handler without Redis (its
/// caller holds the lock): all or nothing, every counter checked before any is incremented.
/// None (before the clock is read or anything is written): run LiteLLM's method.
#[pyfunction]
pub(crate) fn limiter_atomic_check_and_increment<'py>(
    handle: &Bound<'py, PyAny>,
    entry_cache: &Bound<'py, PyDict>,
    scope_type: &Bound<'py, PyAny>,
    counter_type: &Bound<'py, PyAny>,
    clock: &Bound<'py, PyAny>,
    per_counter_meta: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let mut scopes = Scopes::new();
    let mut metas = Vec::new();
    for meta in per_counter_meta.try_iter()? {
        match atomic_meta(meta?, &mut scopes, entry_cache, scope_type, counter_type)? {
            Some(meta) => metas.push(meta),
            None => return Ok(None),
        }
    }
    apply_reservation(handle, clock, &AtomicPlan { scopes, metas })
}

/// The in-memory step of a reservation over LiteLLM's store: the response, or None (before the
/// clock is read or anything is written) when a stored value is not of a kind LiteLLM writes.
pub(crate) fn apply_reservation<'py>(
    handle: &Bound<'py, PyAny>,
    clock: &Bound<'py, PyAny>,
    plan: &AtomicPlan<'py>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let py = handle.py();
    let (scopes, metas) = (&plan.scopes, &plan.metas);
    let mut store = Store::new(handle);
    let window_entry = |meta: &AtomicMeta<'py>| &scopes.entries(meta.scope).window;
    let counter_entry = |meta: &AtomicMeta<'py>| {
        let entries = scopes.entries(meta.scope);
        if meta.requests {
            &entries.requests
        } else {
            &entries.tokens
        }
    };
    // Everything pass 1 may read, read before the clock: nothing is written before pass 2.
    for meta in metas {
        let start = store.get(window_entry(meta))?;
        let count = store.get(counter_entry(meta))?;
        if !is_plain_scalar(&start) || !is_plain_scalar(&count) {
            return Ok(None);
        }
    }
    let now_int = as_i64(&clock.call0()?.call_method0(intern!(py, "timestamp"))?)?;

    // Pass 1: each counter's state; the first over its limit answers alone.
    let mut states = Vec::with_capacity(metas.len());
    for meta in metas {
        let start = scalar_count(&store.get(window_entry(meta))?)?;
        let expired = start.is_none_or(|start| {
            i128::from(now_int) - i128::from(start) >= i128::from(meta.window_size_int)
        });
        let current = if expired {
            0
        } else {
            scalar_count(&store.get(counter_entry(meta))?)?.unwrap_or(0)
        };
        let over = if meta.increment > 0 {
            i128::from(current) + i128::from(meta.increment) > i128::from(meta.limit)
        } else {
            current >= meta.limit
        };
        if over {
            let remaining = (i128::from(meta.limit) - i128::from(current)).max(0);
            let status = atomic_status(py, "OVER_LIMIT", meta, remaining)?;
            let statuses = PyList::new(py, [status])?;
            return response(py, true, &statuses).map(Some);
        }
        let window_start = match start {
            Some(start) if !expired => start,
            _ => now_int,
        };
        states.push((expired, current, window_start));
    }

    // Pass 2: the expired windows' counters reset, then every increment applied.
    let zero = 0i64.into_pyobject(py)?.into_any();
    // `{scope: window_size}` of the expired counters: first-seen order, last window size.
    let mut expired_scopes: Vec<(usize, &Bound<'py, PyAny>)> = Vec::new();
    for (meta, state) in metas.iter().zip(&states) {
        if !state.0 {
            continue;
        }
        match expired_scopes
            .iter_mut()
            .find(|(scope, _)| *scope == meta.scope)
        {
            Some(seen) => seen.1 = &meta.window_size,
            None => expired_scopes.push((meta.scope, &meta.window_size)),
        }
    }
    for (scope, window_size) in expired_scopes {
        let entries = scopes.entries(scope);
        store.set(&entries.requests, zero.clone(), window_size)?;
        store.set(&entries.tokens, zero.clone(), window_size)?;
    }
    let statuses = PyList::empty(py);
    let mut windows = Vec::with_capacity(metas.len());
    for (meta, (expired, current, window_start)) in metas.iter().zip(states) {
        let next = if expired {
            i128::from(meta.increment)
        } else {
            i128::from(current) + i128::from(meta.increment)
        };
        let start = PyString::new(py, &window_start.to_string());
        if expired {
            let now = PyString::new(py, &now_int.to_string()).into_any();
            store.set(window_entry(meta), now, &meta.window_size)?;
        }
        store.set(counter_entry(meta), int_of(py, next)?, &meta.ttl)?;
        let remaining = (i128::from(meta.limit) - next).max(0);
        statuses.append(atomic_status(py, "OK", meta, remaining)?)?;
        windows.push(PyTuple::new(
            py,
            [
                meta.counter.clone(),
                start.into_any(),
                intern!(py, "local").clone().into_any(),
            ],
        )?);
    }
    let response = response(py, false, &statuses)?;
    response.set_item(
        intern!(py, "reservation_windows"),
        PyFrozenSet::new(py, &windows)?,
    )?;
    Ok(Some(response))
}

/// A status of the atomic path, with the meta's own status fields.
fn atomic_status<'py>(
    py: Python<'py>,
    code: &str,
    meta: &AtomicMeta<'py>,
    remaining: i128,
) -> PyResult<Bound<'py, PyDict>> {
    let status = status_dict(py)?;
    status.set_item(intern!(py, "code"), code_str(py, code))?;
    status.set_item(intern!(py, "current_limit"), meta.limit)?;
    status.set_item(intern!(py, "limit_remaining"), int_of(py, remaining)?)?;
    status.set_item(intern!(py, "rate_limit_type"), &meta.kind)?;
    status.set_item(intern!(py, "descriptor_key"), &meta.key)?;
    status.set_item(intern!(py, "descriptor_value"), &meta.value)?;
    Ok(status)
}

/// `_release_parallel_request_slots_in_memory(gauges, slot_id)` of a handler without Redis whose
/// lock is free: `slot_id` leaves each gauge's registry (a mirrored count drops by one). False
/// (before any write) when a scope is not LiteLLM's with str key and value, or a gauge holds a
/// value LiteLLM does not write: run LiteLLM's method.
pub(crate) fn limiter_release_slots<'py>(
    handle: &Bound<'py, PyAny>,
    entry_cache: &Bound<'py, PyDict>,
    scope_type: &Bound<'py, PyAny>,
    gauges: &Bound<'py, PyAny>,
    slot_id: &Bound<'py, PyAny>,
    slot_ttl: &Bound<'py, PyAny>,
) -> PyResult<bool> {
    let py = handle.py();
    let mut scopes = Scopes::new();
    let mut entries = Vec::new();
    for scope in gauges.try_iter()? {
        let scope = scope?;
        if !scope.get_type().is(scope_type) {
            return Ok(false);
        }
        let key = scope.getattr(intern!(py, "descriptor_key"))?;
        let value = scope.getattr(intern!(py, "descriptor_value"))?;
        let (Ok(key), Ok(value)) = (key.cast_exact::<PyString>(), value.cast_exact::<PyString>())
        else {
            return Ok(false);
        };
        let index = scopes.index(entry_cache, scope_type, key, value)?;
        entries.push(scopes.entries(index).gauge.clone());
    }
    let mut store = Store::new(handle);
    for entry in &entries {
        if !is_plain_gauge(&store.get(entry)?) {
            return Ok(false);
        }
    }
    for entry in &entries {
        let raw = store.get(entry)?;
        let released = if let Ok(registry) = raw.cast_exact::<PyDict>() {
            if !registry.contains(slot_id)? {
                continue;
            }
            let kept = PyDict::new(py);
            for (slot, at) in registry.iter() {
                if !slot.eq(slot_id)? {
                    kept.set_item(slot, at)?;
                }
            }
            kept.into_any()
        } else if raw.is_none() {
            continue;
        } else {
            as_i64(&raw)?
                .saturating_sub(1)
                .max(0)
                .into_pyobject(py)?
                .into_any()
        };
        store.set(entry, released, slot_ttl)?;
    }
    Ok(true)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(limiter_atomic_check_and_increment, m)?)?;
    m.add_function(wrap_pyfunction!(type_version_tag, m)?)?;
    Ok(())
}
