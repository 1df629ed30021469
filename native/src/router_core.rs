//! The per-candidate Python glue around LiteLLM 1.110.2's own native router core
//! (`litellm/router_rust`), which every strategy pick runs whatever the strategy:
//!
//! * `routing_stores._cooldown_ids`: parses one `deployment:<id>:cooldown` key per candidate to
//!   look up cooldowns;
//! * `RustCore._strategy_inputs`: builds one deployment dict per candidate by converting the
//!   router core's record again (`handle.deployment(id)`), about 2.5 µs each;
//! * `HostRegistry._rows`: reads one stored model-list entry per lookup row (the async pick
//!   lists the group's deployments this way).
//!
//! Records are converted once per registry version (the key LiteLLM's own model list and
//! indexes re-read the registry by) and handed out as fresh deep copies, so a strategy or
//! callback that mutates its candidates sees what it saw before. No Rust lock exists here.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

const DEPLOYMENT_PREFIX: &str = "deployment:";
const COOLDOWN_SUFFIX: &str = ":cooldown";
/// Deeper records are converted by LiteLLM on every pick rather than copied recursively here.
const MAX_COPY_DEPTH: usize = 32;

/// `_cooldown_ids(keys)` when `keys` is a list or tuple of exact strs: the ids of
/// `deployment:<id>:cooldown` keys, or None when `keys` is empty or any key is another kind.
/// `unhandled` for other inputs (LiteLLM's function then runs, and raises where it raises).
#[pyfunction]
fn cooldown_ids<'py>(
    keys: &Bound<'py, PyAny>,
    unhandled: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = keys.py();
    let items: Vec<Bound<'py, PyAny>> = if let Ok(list) = keys.cast_exact::<PyList>() {
        list.iter().collect()
    } else if let Ok(tuple) = keys.cast_exact::<PyTuple>() {
        tuple.iter().collect()
    } else {
        return Ok(unhandled.clone());
    };
    let mut ids = Vec::with_capacity(items.len());
    let mut all_cooldowns = !items.is_empty();
    for key in &items {
        let Ok(key) = key.cast_exact::<PyString>() else {
            return Ok(unhandled.clone());
        };
        if !all_cooldowns {
            continue; // every key is still checked for its type: LiteLLM's parse raises on non-strs
        }
        let Ok(text) = key.to_cow() else {
            return Ok(unhandled.clone()); // lone surrogates: not UTF-8
        };
        match text
            .strip_prefix(DEPLOYMENT_PREFIX)
            .and_then(|rest| rest.strip_suffix(COOLDOWN_SUFFIX))
        {
            Some(id) => ids.push(PyString::new(py, id)),
            None => all_cooldowns = false,
        }
    }
    if !all_cooldowns {
        return Ok(py.None().into_bound(py));
    }
    Ok(PyTuple::new(py, ids)?.into_any())
}

/// Whether `value` holds only what a JSON conversion produces (exact dicts with str keys, lists,
/// strs, ints, floats, bools, None), nested at most `MAX_COPY_DEPTH` deep.
fn is_json_like(value: &Bound<'_, PyAny>, depth: usize) -> bool {
    if depth > MAX_COPY_DEPTH {
        return false;
    }
    if let Ok(dict) = value.cast_exact::<PyDict>() {
        return dict.iter().all(|(key, item)| {
            key.is_exact_instance_of::<PyString>() && is_json_like(&item, depth + 1)
        });
    }
    if let Ok(list) = value.cast_exact::<PyList>() {
        return list.iter().all(|item| is_json_like(&item, depth + 1));
    }
    value.is_none()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyFloat>()
        || value.is_exact_instance_of::<PyBool>()
}

/// A fresh copy of a JSON-like value: new dicts and lists, the immutable leaves shared. Each
/// container is cloned whole (`dict.copy()`, a full slice), then its nested containers replaced
/// by their own copies.
fn deep_copy<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(dict) = value.cast_exact::<PyDict>() {
        let copy = dict.copy()?;
        for (key, item) in dict.iter() {
            if is_container(&item) {
                copy.set_item(key, deep_copy(&item)?)?;
            }
        }
        return Ok(copy.into_any());
    }
    if let Ok(list) = value.cast_exact::<PyList>() {
        let copy = list.get_slice(0, list.len());
        for (index, item) in list.iter().enumerate() {
            if is_container(&item) {
                copy.set_item(index, deep_copy(&item)?)?;
            }
        }
        return Ok(copy.into_any());
    }
    Ok(value.clone())
}

fn is_container(value: &Bound<'_, PyAny>) -> bool {
    value.is_exact_instance_of::<PyDict>() || value.is_exact_instance_of::<PyList>()
}

/// The candidate deployment dicts of a strategy step, as `_strategy_inputs` builds them
/// (`dict(as_str_mapping(handle.deployment(str(id))) or {})` per id), from `records`: each id's
/// record as the handle converted it at this registry version, filled here on first use. None,
/// for LiteLLM's own conversion, when an id is not an exact str or a record is not JSON-like.
#[pyfunction]
fn deployment_records<'py>(
    handle: &Bound<'py, PyAny>,
    ids: &Bound<'py, PyList>,
    records: &Bound<'py, PyDict>,
) -> PyResult<Option<Bound<'py, PyList>>> {
    let py = handle.py();
    let candidates = PyList::empty(py);
    for id in ids.iter() {
        if !id.is_exact_instance_of::<PyString>() {
            return Ok(None);
        }
        let record = match records.get_item(&id)? {
            Some(record) => record,
            None => {
                let record = handle.call_method1(intern!(py, "deployment"), (&id,))?;
                let cacheable = record.is_none()
                    || (record.is_exact_instance_of::<PyDict>() && is_json_like(&record, 0));
                if !cacheable {
                    return Ok(None);
                }
                records.set_item(&id, &record)?;
                record
            }
        };
        if record.is_none() {
            candidates.append(PyDict::new(py))?;
        } else {
            candidates.append(deep_copy(&record)?)?;
        }
    }
    Ok(Some(candidates))
}

/// `HostRegistry._rows(rows)` when every row is `{"at": <int>}` (a stored entry read at its
/// position, LiteLLM's common row): `[model_list[row["at"]] for row in rows]`, the entries
/// themselves, through the list's own item lookup. `unhandled` for any other row (named, grouped,
/// raw or pattern rows, or positions of other types), which LiteLLM's method reads.
#[pyfunction]
fn registry_rows<'py>(
    model_list: &Bound<'py, PyAny>,
    rows: &Bound<'py, PyAny>,
    unhandled: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = rows.py();
    let Ok(rows) = rows.cast_exact::<PyList>() else {
        return Ok(unhandled.clone());
    };
    let mut positions = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        let Ok(row) = row.cast_exact::<PyDict>() else {
            return Ok(unhandled.clone());
        };
        let position = match row.get_item(intern!(py, "at"))? {
            Some(position) if row.len() == 1 && position.is_exact_instance_of::<PyInt>() => {
                position
            }
            _ => return Ok(unhandled.clone()),
        };
        positions.push(position);
    }
    let entries = positions
        .iter()
        .map(|position| model_list.get_item(position))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, entries)?.into_any())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cooldown_ids, m)?)?;
    m.add_function(wrap_pyfunction!(deployment_records, m)?)?;
    m.add_function(wrap_pyfunction!(registry_rows, m)?)?;
    Ok(())
}
