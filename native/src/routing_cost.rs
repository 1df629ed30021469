//! Cost-based routing (`LowestCostLoggingHandler.async_get_available_deployments` of LiteLLM
//! 1.110.2): the pass over the cost map's entries, natively, on the router's own Python objects.
//!
//! LiteLLM looks each entry's deployment up by scanning every healthy deployment (quadratic in
//! the deployment count); here they are indexed by id once (entries keyed by anything but an
//! exact str are still matched by `==`, as LiteLLM does). Per entry the limits, the cost-map
//! lookup (`_deployment_cost_map_rates`: natively for plain deployments and rows while LiteLLM's
//! helpers are its own, see `deployment_pricing`; otherwise LiteLLM's function, called as LiteLLM
//! calls it), the prices, the debug log call and the tpm/rpm filter are the same Python
//! operations in LiteLLM's order.
//! No Rust lock exists here.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyList, PyString, PyTuple};

use crate::deployment_pricing::cost_map_rates as cost_map_rates_natively;
use crate::routing::{get, truthy_limit};
use crate::routing_usage::{deployment_for, index_by_id, map_items, unpack_pair};

/// The cost pass after the map is filled and the tokens counted: `(deployment, cost)` of every
/// entry whose deployment is healthy and within its tpm/rpm limits, in map order (LiteLLM then
/// sorts them by cost). `cost_map_rates` is LiteLLM's `_deployment_cost_map_rates`, `debug` its
/// router logger's `debug`; `model_cost` is `litellm.model_cost` when the rates may be read
/// natively (None: LiteLLM's function for every deployment).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn lowest_cost_candidates<'py>(
    healthy: &Bound<'py, PyList>,
    ids: &Bound<'py, PyList>,
    cost_map: &Bound<'py, PyAny>,
    precise_minute: &Bound<'py, PyString>,
    input_tokens: &Bound<'py, PyAny>,
    cost_map_rates: &Bound<'py, PyAny>,
    debug: &Bound<'py, PyAny>,
    model_cost: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyList>> {
    let py = healthy.py();
    let index = index_by_id(healthy, ids)?;
    let entries = map_items(cost_map)?;
    let none = || Ok(py.None().into_bound(py));
    let empty_dict = || Ok(PyDict::new(py).into_any());
    let zero = || Ok(0i64.into_pyobject(py)?.into_any());
    let default_price = || PyFloat::new(py, 5.0).into_any();
    let message = intern!(
        py,
        "item_cost: %s, item_tpm: %s, item_rpm: %s, model_id: %s"
    );
    let cost_per_api_base = PyDict::new(py); // LiteLLM's debugging map: built, never read
    let potential = PyList::empty(py);
    for entry in entries.iter() {
        let (item, item_map) = unpack_pair(&entry)?;
        let Some(deployment) = deployment_for(&item, &index, healthy, ids)? else {
            continue;
        };
        let tpm_limit = truthy_limit(deployment.as_any(), intern!(py, "tpm"))?;
        let rpm_limit = truthy_limit(deployment.as_any(), intern!(py, "rpm"))?;
        let native_rates = match model_cost {
            Some(model_cost) => cost_map_rates_natively(deployment.as_any(), model_cost)?,
            None => None,
        };
        let (map_input, map_output) = match native_rates {
            Some(rates) => rates,
            None => unpack_pair(&cost_map_rates.call1((&deployment,))?)?,
        };
        let params = || {
            get(
                deployment.as_any(),
                intern!(py, "litellm_params").as_any(),
                empty_dict,
            )
        };
        let user_price = |name: &Bound<'py, PyString>| -> PyResult<Option<Bound<'py, PyAny>>> {
            if get(&params()?, name.as_any(), none)?.is_truthy()? {
                return Ok(Some(get(&params()?, name.as_any(), none)?));
            }
            Ok(None)
        };
        let input_cost = match user_price(intern!(py, "input_cost_per_token"))? {
            Some(price) => price,
            None if !map_input.is_none() => map_input,
            None => default_price(),
        };
        let output_cost = match user_price(intern!(py, "output_cost_per_token"))? {
            Some(price) => price,
            None if !map_output.is_none() => map_output,
            None => default_price(),
        };
        let item_cost = input_cost.add(output_cost)?;
        let minute = || get(&item_map, precise_minute.as_any(), empty_dict);
        let item_rpm = get(&minute()?, intern!(py, "rpm").as_any(), zero)?;
        let item_tpm = get(&minute()?, intern!(py, "tpm").as_any(), zero)?;
        let model_info = get(
            deployment.as_any(),
            intern!(py, "model_info").as_any(),
            empty_dict,
        )?;
        let model_id = get(&model_info, intern!(py, "id").as_any(), none)?;
        debug.call1((message, &item_cost, &item_tpm, &item_rpm, model_id))?;
        let api_base = get(&params()?, intern!(py, "api_base").as_any(), || {
            Ok(PyString::new(py, "").into_any())
        })?;
        if !api_base.is_none() {
            cost_per_api_base.set_item(api_base, &item_cost)?;
        }
        if item_tpm.add(input_tokens)?.gt(&tpm_limit)? || item_rpm.add(1)?.gt(&rpm_limit)? {
            continue;
        }
        potential.append(PyTuple::new(py, [deployment.into_any(), item_cost])?)?;
    }
    Ok(potential)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(lowest_cost_candidates, m)?)?;
    Ok(())
}
