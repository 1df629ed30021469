//! Latency-based routing (`LowestLatencyLoggingHandler._get_available_deployments` of LiteLLM
//! 1.110.2): the per-deployment pass, natively, on the router's own Python state.
//!
//! LiteLLM finds each candidate's deployment by scanning every healthy deployment (quadratic in
//! the deployment count) and interprets the rest per candidate. Here the deployments are indexed
//! by id once, and each candidate's limits, latency samples, percentile or mean, debug map entry
//! and tpm/rpm filter are the same Python operations done through the C API, in LiteLLM's order:
//! same values, same exceptions. The random steps (`random.sample`, `random.choice`) stay in
//! Python, called as LiteLLM calls them, so a seeded `random` gives the same pick.
//!
//! No Rust lock exists here.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// `container.get(key, default)`: a dict lookup for exact dicts (the default built only when
/// the key is missing), the method otherwise.
pub(crate) fn get<'py>(
    container: &Bound<'py, PyAny>,
    key: &Bound<'py, PyAny>,
    default: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(dict) = container.cast_exact::<PyDict>() {
        return match dict.get_item(key)? {
            Some(value) => Ok(value),
            None => default(),
        };
    }
    container.call_method1(intern!(container.py(), "get"), (key, default()?))
}

/// `d.get(name) or d.get("litellm_params", {}).get(name) or d.get("model_info", {}).get(name)
/// or float("inf")`: a deployment's tpm or rpm limit as latency- and cost-based routing read it.
pub(crate) fn truthy_limit<'py>(
    deployment: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = deployment.py();
    let none = || Ok(py.None().into_bound(py));
    let value = get(deployment, name.as_any(), none)?;
    if value.is_truthy()? {
        return Ok(value);
    }
    for nested in [intern!(py, "litellm_params"), intern!(py, "model_info")] {
        let nested = get(deployment, nested.as_any(), || {
            Ok(PyDict::new(py).into_any())
        })?;
        let value = get(&nested, name.as_any(), none)?;
        if value.is_truthy()? {
            return Ok(value);
        }
    }
    Ok(PyFloat::new(py, f64::INFINITY).into_any())
}

/// `d["model_info"]["id"]` when every step is an exact dict and the id an exact str.
pub(crate) fn plain_id<'py>(
    deployment: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyString>>> {
    let py = deployment.py();
    let Ok(deployment) = deployment.cast_exact::<PyDict>() else {
        return Ok(None);
    };
    let Some(info) = deployment.get_item(intern!(py, "model_info"))? else {
        return Ok(None);
    };
    let Ok(info) = info.cast_into_exact::<PyDict>() else {
        return Ok(None);
    };
    let Some(id) = info.get_item(intern!(py, "id"))? else {
        return Ok(None);
    };
    Ok(id.cast_into_exact::<PyString>().ok())
}

/// The first steps of a pick: every healthy deployment indexed by id (the last one with an id
/// wins, as in LiteLLM's scan), and deployments not yet in the latency map added to it. None,
/// with nothing changed, unless every deployment is a dict whose `model_info` is a dict with a
/// str `id` (LiteLLM's code then runs, and raises where it raises).
#[pyfunction]
fn lowest_latency_prepare<'py>(
    healthy: &Bound<'py, PyAny>,
    latency_map: &Bound<'py, PyAny>,
    precise_minute: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let py = healthy.py();
    let (Ok(healthy), Ok(latency_map)) = (
        healthy.cast_exact::<PyList>(),
        latency_map.cast_exact::<PyDict>(),
    ) else {
        return Ok(None);
    };
    let index = PyDict::new(py);
    let mut order = Vec::with_capacity(healthy.len());
    for deployment in healthy.iter() {
        let Some(id) = plain_id(&deployment)? else {
            return Ok(None);
        };
        index.set_item(&id, &deployment)?;
        order.push(id);
    }
    for id in order {
        if !latency_map.contains(&id)? {
            let usage = PyDict::new(py);
            usage.set_item(intern!(py, "tpm"), 0)?;
            usage.set_item(intern!(py, "rpm"), 0)?;
            let entry = PyDict::new(py);
            entry.set_item(intern!(py, "latency_normalized"), PyList::new(py, [0])?)?;
            entry.set_item(precise_minute, usage)?;
            latency_map.set_item(&id, entry)?;
        }
    }
    Ok(Some(index))
}

/// `_usable_latency_samples`, `_average_latency`, `_percentile_latency`, `sum`, `sorted`, `math.ceil`.
type SampleFunctions<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
);

/// LiteLLM's module-level helpers, called for samples that are not plain floats and ints.
struct SampleHelpers<'py> {
    usable: Bound<'py, PyAny>,
    average: Bound<'py, PyAny>,
    percentile: Bound<'py, PyAny>,
    sum: Bound<'py, PyAny>,
    sorted: Bound<'py, PyAny>,
    ceil: Bound<'py, PyAny>,
}

impl<'py> SampleHelpers<'py> {
    /// `_usable_latency_samples`: finite, non-negative samples, as a tuple.
    fn usable(&self, samples: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = samples.py();
        let items = if let Ok(list) = samples.cast_exact::<PyList>() {
            list.iter().collect::<Vec<_>>()
        } else if let Ok(tuple) = samples.cast_exact::<PyTuple>() {
            tuple.iter().collect::<Vec<_>>()
        } else {
            return self.usable.call1((samples,));
        };
        let mut kept = Vec::with_capacity(items.len());
        for sample in items {
            let value = if let Ok(float) = sample.cast_exact::<PyFloat>() {
                float.value()
            } else if let Ok(int) = sample.cast_exact::<PyInt>() {
                match int.extract::<i64>() {
                    Ok(value) if value.unsigned_abs() < 1 << 53 => value as f64,
                    _ => return self.usable.call1((samples,)), // isfinite of a huge int raises
                }
            } else {
                return self.usable.call1((samples,));
            };
            if value.is_finite() && value >= 0.0 {
                kept.push(sample);
            }
        }
        Ok(PyTuple::new(py, kept)?.into_any())
    }

    /// `_average_latency` of usable samples.
    fn average(&self, samples: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let Ok(tuple) = samples.cast_exact::<PyTuple>() else {
            return self.average.call1((samples,));
        };
        if tuple.is_empty() {
            return Ok(PyFloat::new(samples.py(), 0.0).into_any());
        }
        self.sum.call1((tuple,))?.div(tuple.len())
    }

    /// `_percentile_latency` of usable samples.
    fn percentile(
        &self,
        samples: &Bound<'py, PyAny>,
        percentile: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let Ok(tuple) = samples.cast_exact::<PyTuple>() else {
            return self.percentile.call1((samples, percentile));
        };
        let values = self.sorted.call1((tuple,))?;
        let index = self
            .ceil
            .call1((tuple.len().into_pyobject(samples.py())?.mul(percentile)?,))?
            .sub(1)?;
        values.get_item(index)
    }
}

/// The per-candidate pass of a pick over `sampled` ((id, latency entry) pairs in LiteLLM's
/// random order): the candidates within the latency buffer, ready for `random.choice`, and the
/// per-api-base latency map LiteLLM puts in the request metadata. `candidates` is empty when no
/// deployment passes the tpm/rpm limits (LiteLLM then returns None).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn lowest_latency_candidates<'py>(
    sampled: &Bound<'py, PyAny>,
    index: &Bound<'py, PyDict>,
    precise_minute: &Bound<'py, PyString>,
    input_tokens: &Bound<'py, PyAny>,
    stream: bool,
    ttft_percentile: &Bound<'py, PyAny>,
    buffer_fraction: &Bound<'py, PyAny>,
    helpers: SampleFunctions<'py>,
    latency_key: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
    let py = sampled.py();
    let (usable, average, percentile, sum, sorted, ceil) = helpers;
    let helpers = SampleHelpers {
        usable,
        average,
        percentile,
        sum,
        sorted,
        ceil,
    };
    let empty_dict = || Ok(PyDict::new(py).into_any());
    let empty_list = || Ok(PyList::empty(py).into_any());
    let zero = || Ok(0i64.into_pyobject(py)?.into_any());
    let latency_per_deployment = PyDict::new(py);
    let potential = PyList::empty(py);
    for pair in sampled.try_iter()? {
        let pair = pair?;
        let (item, item_map): (Bound<'py, PyAny>, Bound<'py, PyAny>) = pair.extract()?;
        let Some(deployment) = index.get_item(&item)? else {
            continue;
        };
        let litellm_params = || {
            get(
                &deployment,
                intern!(py, "litellm_params").as_any(),
                empty_dict,
            )
        };
        let tpm_limit = truthy_limit(&deployment, intern!(py, "tpm"))?;
        let rpm_limit = truthy_limit(&deployment, intern!(py, "rpm"))?;
        let latencies = get(
            &item_map,
            intern!(py, "latency_normalized").as_any(),
            empty_list,
        )?;
        let ttft = get(
            &item_map,
            intern!(py, "time_to_first_token_seconds").as_any(),
            empty_list,
        )?;
        let minute = || get(&item_map, precise_minute.as_any(), empty_dict);
        let rpm = get(&minute()?, intern!(py, "rpm").as_any(), zero)?;
        let tpm = get(&minute()?, intern!(py, "tpm").as_any(), zero)?;
        let ttft_samples = helpers.usable(&ttft)?;
        let use_ttft = stream && ttft_samples.len()? > 0;
        let selected = if use_ttft && !ttft_percentile.is_none() {
            helpers.percentile(&ttft_samples, ttft_percentile)?
        } else if use_ttft {
            helpers.average(&ttft_samples)?
        } else {
            helpers.average(&helpers.usable(&latencies)?)?
        };
        let api_base = get(&litellm_params()?, intern!(py, "api_base").as_any(), || {
            Ok(PyString::new(py, "").into_any())
        })?;
        if !api_base.is_none() {
            latency_per_deployment.set_item(api_base, &selected)?;
        }
        if tpm.add(input_tokens)?.gt(&tpm_limit)? || rpm.add(1i64)?.gt(&rpm_limit)? {
            continue;
        }
        potential.append(PyTuple::new(py, [deployment.clone(), selected])?)?;
    }
    if potential.is_empty() {
        return Ok((PyTuple::empty(py), latency_per_deployment));
    }
    // A stable sort by latency, then the deployments within the buffer of the lowest.
    let ordered = helpers.sorted.call(
        (&potential,),
        Some(&[("key", latency_key)].into_py_dict(py)?),
    )?;
    let ordered = ordered.cast_into::<PyList>()?;
    let lowest = ordered.get_item(0)?.get_item(1)?;
    let buffer = buffer_fraction.mul(&lowest)?;
    let mut valid = Vec::with_capacity(ordered.len());
    for entry in ordered.iter() {
        if entry.get_item(1)?.le(lowest.add(&buffer)?)? {
            valid.push(entry);
        }
    }
    let candidates = if valid.is_empty() {
        PyTuple::new(py, ordered.iter())?
    } else {
        PyTuple::new(py, valid)?
    };
    Ok((candidates, latency_per_deployment))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(lowest_latency_prepare, m)?)?;
    m.add_function(wrap_pyfunction!(lowest_latency_candidates, m)?)?;
    Ok(())
}
