//! Usage-based routing of LiteLLM 1.110.2, natively, on the router's own Python objects.
//!
//! * v1 (`LowestTPMLoggingHandler.get_available_deployments`): LiteLLM looks each tpm-map
//!   entry's deployment up by scanning every healthy deployment (quadratic in the deployment
//!   count). Here the deployments are indexed by id once; entries keyed by anything but an exact
//!   str are still matched by `==` against every id, as LiteLLM does.
//! * v2 (`LowestTPMLoggingHandler_v2`): the counter keys of every deployment, the tpm/rpm maps
//!   built from the counters read, and the pass collecting the lowest-tpm deployments.
//!
//! Limits, comparisons and the maps' filling are the same Python operations in LiteLLM's order:
//! same values, same exceptions. No Rust lock exists here.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString};

use crate::routing::{get, plain_id};

/// The healthy deployments' ids when every deployment is a dict whose `model_info` is a dict
/// with an exact str `id` (the deployments the native passes take); None otherwise.
#[pyfunction]
fn plain_deployment_ids<'py>(healthy: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyList>>> {
    let py = healthy.py();
    let Ok(healthy) = healthy.cast_exact::<PyList>() else {
        return Ok(None);
    };
    let ids = PyList::empty(py);
    for deployment in healthy.iter() {
        let Some(id) = plain_id(&deployment)? else {
            return Ok(None);
        };
        ids.append(id)?;
    }
    Ok(Some(ids))
}

/// `d.get(name)`, then `d.get("litellm_params", {}).get(name)`, then
/// `d.get("model_info", {}).get(name)`, the first that is not None, else infinity.
fn usage_limit<'py>(
    deployment: &Bound<'py, PyDict>,
    name: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = deployment.py();
    if let Some(value) = deployment.get_item(name)? {
        if !value.is_none() {
            return Ok(value);
        }
    }
    let empty_dict = || Ok(PyDict::new(py).into_any());
    for nested in [intern!(py, "litellm_params"), intern!(py, "model_info")] {
        let nested = get(deployment.as_any(), nested.as_any(), empty_dict)?;
        let value = get(&nested, name.as_any(), || Ok(py.None().into_bound(py)))?;
        if !value.is_none() {
            return Ok(value);
        }
    }
    Ok(PyFloat::new(py, f64::INFINITY).into_any())
}

/// The deployment an entry of the tpm map names: the last healthy deployment whose id equals it.
pub(crate) fn deployment_for<'py>(
    item: &Bound<'py, PyAny>,
    index: &Bound<'py, PyDict>,
    healthy: &Bound<'py, PyList>,
    ids: &Bound<'py, PyList>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    if item.is_exact_instance_of::<PyString>() {
        // exact strs are equal exactly when their dict lookups match
        return Ok(index
            .get_item(item)?
            .map(|found| found.cast_into::<PyDict>())
            .transpose()?);
    }
    let mut found = None;
    for (position, id) in ids.iter().enumerate() {
        if item.eq(&id)? {
            found = Some(healthy.get_item(position)?.cast_into::<PyDict>()?);
        }
    }
    Ok(found)
}

/// `item, value = entry`, for tuples and any other iterable of two.
pub(crate) fn unpack_pair<'py>(
    entry: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    if let Ok(pair) = entry.extract::<(Bound<'py, PyAny>, Bound<'py, PyAny>)>() {
        return Ok(pair);
    }
    let values = entry.try_iter()?.collect::<PyResult<Vec<_>>>()?;
    match <[Bound<'py, PyAny>; 2]>::try_from(values) {
        Ok([item, value]) => Ok((item, value)),
        Err(values) => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "expected 2 values to unpack, got {}",
            values.len()
        ))),
    }
}

/// Deployments by id, the last one with an id winning (LiteLLM's scans keep the last match).
pub(crate) fn index_by_id<'py>(
    healthy: &Bound<'py, PyList>,
    ids: &Bound<'py, PyList>,
) -> PyResult<Bound<'py, PyDict>> {
    let index = PyDict::new(healthy.py());
    for (deployment, id) in healthy.iter().zip(ids.iter()) {
        index.set_item(id, deployment)?;
    }
    Ok(index)
}

/// `map.items()` as a list: the dict's own items for exact dicts, the method's otherwise.
pub(crate) fn map_items<'py>(map: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    if let Ok(dict) = map.cast_exact::<PyDict>() {
        return Ok(dict.items());
    }
    let items = map
        .call_method0(intern!(map.py(), "items"))?
        .try_iter()?
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(map.py(), items)
}

/// The pick of usage-based routing (v1) after its cache reads and token count: the map filled
/// with 0 for healthy deployments it lacks (in place, as LiteLLM does; a new dict when it is
/// None), then the deployment with the lowest tpm whose tpm and rpm limits the request fits,
/// the first such in map order; None when none fits. `ids` are `plain_deployment_ids(healthy)`.
#[pyfunction]
fn lowest_tpm_pick<'py>(
    healthy: &Bound<'py, PyList>,
    ids: &Bound<'py, PyList>,
    tpm_map: &Bound<'py, PyAny>,
    rpm_map: &Bound<'py, PyAny>,
    input_tokens: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let py = healthy.py();
    let tpm_map = if tpm_map.is_none() {
        let fresh = PyDict::new(py);
        for id in ids.iter() {
            fresh.set_item(id, 0)?;
        }
        fresh.into_any()
    } else {
        for id in ids.iter() {
            if !tpm_map.contains(&id)? {
                tpm_map.set_item(&id, 0)?;
            }
        }
        tpm_map.clone()
    };
    let index = index_by_id(healthy, ids)?;
    let entries = map_items(&tpm_map)?;
    let (tpm_name, rpm_name) = (intern!(py, "tpm"), intern!(py, "rpm"));
    let mut lowest_tpm = PyFloat::new(py, f64::INFINITY).into_any();
    let mut picked = None;
    for entry in entries.iter() {
        let (item, item_tpm) = unpack_pair(&entry)?;
        let Some(deployment) = deployment_for(&item, &index, healthy, ids)? else {
            continue;
        };
        let tpm_limit = usage_limit(&deployment, tpm_name)?;
        let rpm_limit = usage_limit(&deployment, rpm_name)?;
        if item_tpm.add(input_tokens)?.gt(&tpm_limit)? {
            continue;
        }
        if !rpm_map.is_none()
            && rpm_map.contains(&item)?
            && rpm_map.get_item(&item)?.add(1)?.ge(&rpm_limit)?
        {
            continue;
        }
        if item_tpm.lt(&lowest_tpm)? {
            lowest_tpm = item_tpm;
            picked = Some(deployment);
        }
    }
    Ok(picked)
}

/// Appends `str(value)` for a key part: None, a str or an int; false for anything else (or a
/// str that is not valid UTF-8), for which LiteLLM's own method runs.
fn push_key_part(key: &mut String, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    if value.is_none() {
        key.push_str("None");
    } else if let Ok(text) = value.cast_exact::<PyString>() {
        let Ok(text) = text.to_cow() else {
            return Ok(false);
        };
        key.push_str(&text);
    } else if value.is_exact_instance_of::<PyInt>() {
        let Ok(text) = value.str() else {
            return Ok(false); // past the int printing limit: LiteLLM's f-string raises
        };
        key.push_str(&text.to_cow()?);
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// `value` as a dict whose `get` is `dict.get` (exact dicts, and subclasses such as LiteLLM's
/// model-list entries that override only the mutators): `get` then reads the dict's own items.
fn plain_get_dict<'a, 'py>(
    value: &'a Bound<'py, PyAny>,
    dict_get: &Bound<'py, PyAny>,
) -> PyResult<Option<&'a Bound<'py, PyDict>>> {
    let Ok(dict) = value.cast::<PyDict>() else {
        return Ok(None);
    };
    if value.is_exact_instance_of::<PyDict>()
        || value
            .get_type()
            .getattr(intern!(value.py(), "get"))?
            .is(dict_get)
    {
        return Ok(Some(dict));
    }
    Ok(None)
}

/// `m.get(name, {}).get(field)` for dicts with `dict.get`; None when another `get` would run.
fn nested_field<'py>(
    deployment: &Bound<'py, PyDict>,
    name: &Bound<'py, PyString>,
    field: &Bound<'py, PyString>,
    dict_get: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = deployment.py();
    let Some(nested) = deployment.get_item(name)? else {
        return Ok(Some(py.None().into_bound(py))); // `{}.get(field)`
    };
    let Some(nested) = plain_get_dict(&nested, dict_get)? else {
        return Ok(None);
    };
    Ok(Some(
        nested
            .get_item(field)?
            .unwrap_or_else(|| py.None().into_bound(py)),
    ))
}

/// `usage_counter_keys` (v2) once the minute is known: `<id>:<model>:tpm:<minute>` and
/// `<id>:<model>:rpm:<minute>` for every dict deployment. None, for LiteLLM's own method, unless
/// `healthy` is a list of dicts with `dict.get` (or non-dicts, which LiteLLM skips) whose
/// `model_info` and `litellm_params` are too, and whose id and model are strs, ints or None.
#[pyfunction]
fn usage_counter_keys<'py>(
    healthy: &Bound<'py, PyAny>,
    minute: &str,
) -> PyResult<Option<(Bound<'py, PyList>, Bound<'py, PyList>)>> {
    let py = healthy.py();
    let Ok(healthy) = healthy.cast_exact::<PyList>() else {
        return Ok(None);
    };
    let (model_info, id) = (intern!(py, "model_info"), intern!(py, "id"));
    let (litellm_params, model) = (intern!(py, "litellm_params"), intern!(py, "model"));
    let dict_get = py.get_type::<PyDict>().getattr(intern!(py, "get"))?;
    let (tpm_keys, rpm_keys) = (PyList::empty(py), PyList::empty(py));
    let mut key = String::with_capacity(96);
    for deployment in healthy.iter() {
        if !deployment.is_instance_of::<PyDict>() {
            continue; // LiteLLM skips what is not a dict
        }
        let Some(deployment) = plain_get_dict(&deployment, &dict_get)? else {
            return Ok(None); // a dict subclass with its own `get`
        };
        let parts = (
            nested_field(deployment, model_info, id, &dict_get)?,
            nested_field(deployment, litellm_params, model, &dict_get)?,
        );
        let (Some(id), Some(model)) = parts else {
            return Ok(None);
        };
        // Both keys share `<id>:<model>`, built once in a reused buffer.
        key.clear();
        if !push_key_part(&mut key, &id)? {
            return Ok(None);
        }
        key.push(':');
        if !push_key_part(&mut key, &model)? {
            return Ok(None);
        }
        let prefix = key.len();
        for (suffix, keys) in [(":tpm:", &tpm_keys), (":rpm:", &rpm_keys)] {
            key.truncate(prefix);
            key.push_str(suffix);
            key.push_str(minute);
            keys.append(PyString::new(py, &key))?;
        }
    }
    Ok(Some((tpm_keys, rpm_keys)))
}

/// `key.split(":")[0]`.
fn before_colon<'py>(key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = key.py();
    if let Ok(text) = key.cast_exact::<PyString>() {
        if let Ok(text) = text.to_cow() {
            let head = text.split(':').next().unwrap_or("");
            return Ok(PyString::new(py, head).into_any());
        }
    }
    key.call_method1(intern!(py, "split"), (":",))?.get_item(0)
}

/// `{keys[i].split(":")[0]: values[i] for i in range(len(keys))}`, filled in LiteLLM's order.
fn counter_map<'py>(
    keys: &Bound<'py, PyAny>,
    values: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let map = PyDict::new(keys.py());
    for index in 0..keys.len()? {
        let id = before_colon(&keys.get_item(index)?)?;
        map.set_item(id, values.get_item(index)?)?;
    }
    Ok(map)
}

/// The v2 tpm and rpm maps (id -> counter) from the counter keys and the values read for them.
#[pyfunction]
fn usage_v2_maps<'py>(
    tpm_keys: &Bound<'py, PyAny>,
    tpm_values: &Bound<'py, PyAny>,
    rpm_keys: &Bound<'py, PyAny>,
    rpm_values: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
    Ok((
        counter_map(tpm_keys, tpm_values)?,
        counter_map(rpm_keys, rpm_values)?,
    ))
}

/// The rest of a v2 pick after the token count: the tpm map filled with 0 for deployments it
/// lacks or holds None for, then `_return_potential_deployments`: the deployments within their
/// tpm and rpm limits that share the lowest tpm, in map order.
#[pyfunction]
fn usage_v2_potential<'py>(
    healthy: &Bound<'py, PyList>,
    ids: &Bound<'py, PyList>,
    tpm_map: &Bound<'py, PyDict>,
    rpm_map: &Bound<'py, PyDict>,
    input_tokens: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let py = healthy.py();
    for id in ids.iter() {
        let missing = match tpm_map.get_item(&id)? {
            None => true,
            Some(value) => value.is_none(),
        };
        if missing {
            tpm_map.set_item(&id, 0)?;
        }
    }
    let lookup = index_by_id(healthy, ids)?;
    let (tpm_name, rpm_name) = (intern!(py, "tpm"), intern!(py, "rpm"));
    let mut lowest_tpm = PyFloat::new(py, f64::INFINITY).into_any();
    let potential = PyList::empty(py);
    for (item, item_tpm) in tpm_map
        .items()
        .iter()
        .map(|entry| unpack_pair(&entry))
        .collect::<PyResult<Vec<_>>>()?
    {
        let item = before_colon(&item)?;
        let Some(deployment) = lookup.get_item(&item)? else {
            continue;
        };
        if item_tpm.is_none() {
            continue;
        }
        let deployment = deployment.cast_into::<PyDict>()?;
        let tpm_limit = usage_limit(&deployment, tpm_name)?;
        let rpm_limit = usage_limit(&deployment, rpm_name)?;
        if item_tpm.add(input_tokens)?.gt(&tpm_limit)? {
            continue;
        }
        if let Some(requests) = rpm_map.get_item(&item)? {
            if !requests.is_none() && requests.add(1)?.ge(&rpm_limit)? {
                continue;
            }
        }
        if item_tpm.eq(&lowest_tpm)? {
            potential.append(deployment)?;
        } else if item_tpm.lt(&lowest_tpm)? {
            lowest_tpm = item_tpm;
            potential.call_method0(intern!(py, "clear"))?;
            potential.append(deployment)?;
        }
    }
    Ok(potential)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(plain_deployment_ids, m)?)?;
    m.add_function(wrap_pyfunction!(lowest_tpm_pick, m)?)?;
    m.add_function(wrap_pyfunction!(usage_counter_keys, m)?)?;
    m.add_function(wrap_pyfunction!(usage_v2_maps, m)?)?;
    m.add_function(wrap_pyfunction!(usage_v2_potential, m)?)?;
    Ok(())
}
