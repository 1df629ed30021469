//! Usage-based routing, v1 (`LowestTPMLoggingHandler.get_available_deployments` of LiteLLM
//! 1.110.2): the pass over the minute's tpm map, natively, on the router's own Python objects.
//!
//! LiteLLM looks each tpm-map entry's deployment up by scanning every healthy deployment
//! (quadratic in the deployment count). Here the deployments are indexed by id once; entries
//! keyed by anything but an exact str are still matched by `==` against every id, as LiteLLM
//! does. Limits, comparisons and the map's in-place filling are the same Python operations in
//! LiteLLM's order: same values, same exceptions. No Rust lock exists here.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyList, PyString};

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
fn deployment_for<'py>(
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
fn unpack_pair<'py>(entry: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
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
    let index = PyDict::new(py);
    for (deployment, id) in healthy.iter().zip(ids.iter()) {
        index.set_item(id, deployment)?;
    }
    let entries = match tpm_map.cast_exact::<PyDict>() {
        Ok(dict) => dict.items(),
        Err(_) => tpm_map
            .call_method0(intern!(py, "items"))?
            .try_iter()?
            .collect::<PyResult<Vec<_>>>()
            .and_then(|items| PyList::new(py, items))?,
    };
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(plain_deployment_ids, m)?)?;
    m.add_function(wrap_pyfunction!(lowest_tpm_pick, m)?)?;
    Ok(())
}
