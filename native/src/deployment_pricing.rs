//! LiteLLM 1.110.2's `_deployment_cost_map_rates` (`router_strategy/lowest_cost.py`, with its
//! helpers in `litellm_core_utils/deployment_pricing.py`) for plain inputs: the per-token input
//! and output prices of the first cost-map row, among the deployment's pricing models, that
//! declares one.
//!
//! LiteLLM validates every dict it reads (the deployment, its `litellm_params` and `model_info`,
//! each cost-map row) with pydantic as `dict[str, object]`: for an exact dict whose keys are all
//! exact strs that returns the same items, and for None it fails and LiteLLM reads an empty
//! mapping. Those are the inputs taken here, with strs or None where a model name is read and
//! builtin numbers, strs or None as prices; anything else returns None and the caller runs
//! LiteLLM's function for that deployment. No Python code runs here.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

/// `(input rate, output rate)` as LiteLLM returns them (floats or None), or None when LiteLLM's
/// function must run for `deployment`. `model_cost` is `litellm.model_cost`.
pub(crate) fn cost_map_rates<'py>(
    deployment: &Bound<'py, PyAny>,
    model_cost: &Bound<'py, PyDict>,
) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    let py = deployment.py();
    let Some(Some(view)) = str_keyed(deployment) else {
        return Ok(None);
    };
    let Some(params) = str_keyed_item(&view, intern!(py, "litellm_params"))? else {
        return Ok(None);
    };
    let Some(info) = str_keyed_item(&view, intern!(py, "model_info"))? else {
        return Ok(None);
    };
    let base_model = intern!(py, "base_model");
    // `info.get("base_model") or params.get("base_model")`
    let base = match item(info.as_ref(), base_model)? {
        None => item(params.as_ref(), base_model)?,
        Some(value) => {
            let Ok(text) = value.cast_exact::<PyString>() else {
                return Ok(None); // another truthiness test, made by LiteLLM's `or`
            };
            if text.len()? == 0 {
                item(params.as_ref(), base_model)?
            } else {
                Some(value)
            }
        }
    };
    let model = item(params.as_ref(), intern!(py, "model"))?;
    // `pricing_models`: the non-empty strs among (base, model), without repeats.
    let mut models: Vec<Bound<'py, PyString>> = Vec::with_capacity(2);
    for candidate in [base, model].into_iter().flatten() {
        let Ok(name) = candidate.cast_into_exact::<PyString>() else {
            return Ok(None); // LiteLLM's isinstance test may read a `__class__` of its own
        };
        let mut repeated = false;
        for seen in &models {
            repeated |= seen.as_any().eq(name.as_any())?;
        }
        if name.len()? > 0 && !repeated {
            models.push(name);
        }
    }
    for name in models {
        let row = model_cost
            .get_item(name)?
            .unwrap_or_else(|| py.None().into_bound(py));
        let Some(row) = str_keyed(&row) else {
            return Ok(None);
        };
        let Some(row) = row else {
            continue; // an empty mapping declares no price
        };
        let input = row.get_item(intern!(py, "input_cost_per_token"))?;
        let output = row.get_item(intern!(py, "output_cost_per_token"))?;
        let declared =
            |value: &Option<Bound<'py, PyAny>>| value.as_ref().is_some_and(|v| !v.is_none());
        if !declared(&input) && !declared(&output) {
            continue;
        }
        let (Some(input), Some(output)) = (as_rate(py, input), as_rate(py, output)) else {
            return Ok(None);
        };
        return Ok(Some((input, output)));
    }
    let none = py.None().into_bound(py);
    Ok(Some((none.clone(), none)))
}

/// `str_keyed(value)`: Some(Some(dict)) for an exact dict with exact str keys, Some(None) for
/// None (pydantic refuses it: an empty mapping), None for what pydantic must judge.
fn str_keyed<'py>(value: &Bound<'py, PyAny>) -> Option<Option<Bound<'py, PyDict>>> {
    if value.is_none() {
        return Some(None);
    }
    let dict = value.cast_exact::<PyDict>().ok()?;
    // Iterated in place (no list of the keys): the type tests run no Python code.
    dict.iter()
        .all(|(key, _)| key.is_exact_instance_of::<PyString>())
        .then(|| Some(dict.clone()))
}

/// `str_keyed(view.get(name))`, as `str_keyed`.
fn str_keyed_item<'py>(
    view: &Bound<'py, PyDict>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Option<Bound<'py, PyDict>>>> {
    Ok(match view.get_item(name)? {
        None => Some(None),
        Some(value) => str_keyed(&value),
    })
}

/// `mapping.get(name)` on a str-keyed view (None for the empty mapping), None also for a None
/// value: both read as unset.
fn item<'py>(
    mapping: Option<&Bound<'py, PyDict>>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Some(mapping) = mapping else {
        return Ok(None);
    };
    Ok(mapping.get_item(name)?.filter(|value| !value.is_none()))
}

/// `_as_rate(value)`: `float(value)` for an int or float that is not a bool, else None (a
/// missing key reads as None). None instead for values whose isinstance test or conversion
/// LiteLLM must make (other types; ints past the float range, which LiteLLM's raises on).
fn as_rate<'py>(py: Python<'py>, value: Option<Bound<'py, PyAny>>) -> Option<Bound<'py, PyAny>> {
    let Some(value) = value else {
        return Some(py.None().into_bound(py));
    };
    if value.is_none()
        || value.is_exact_instance_of::<PyBool>()
        || value.is_exact_instance_of::<PyString>()
    {
        return Some(py.None().into_bound(py));
    }
    if value.is_exact_instance_of::<PyFloat>() {
        return Some(value);
    }
    if value.is_exact_instance_of::<PyInt>() {
        return value
            .extract::<f64>()
            .ok()
            .map(|rate| PyFloat::new(py, rate).into_any());
    }
    None
}
