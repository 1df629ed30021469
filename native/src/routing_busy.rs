//! Least-busy routing (`LeastBusyLoggingHandler._select` of LiteLLM 1.110.2): the
//! per-deployment part of a pick natively, on the handler's own Python objects.
//!
//! Per deployment LiteLLM reads the reservation store, validates what it holds with a pydantic
//! adapter, drops expired picks and adds the count; then `min` over the positions. Here the
//! values LiteLLM itself writes (None, or tuples of `(float, str | None)` pairs) skip the
//! adapter, whose result for them equals them; any other value goes through the adapter.
//! Arithmetic and comparisons are the same Python operations. No Rust lock exists here.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyString, PyTuple};

const RESERVATION_KEY_PREFIX: &str = "least_busy_reservations:";

/// Whether `value` is a tuple of `(float, str | None)` tuples, exactly as LiteLLM stores them.
fn is_stored_picks(value: &Bound<'_, PyAny>) -> bool {
    let Ok(picks) = value.cast_exact::<PyTuple>() else {
        return false;
    };
    picks.iter().all(|pick| {
        let Ok(pick) = pick.cast_exact::<PyTuple>() else {
            return false;
        };
        pick.len() == 2
            && pick
                .get_item(0)
                .is_ok_and(|at| at.is_exact_instance_of::<PyFloat>())
            && pick
                .get_item(1)
                .is_ok_and(|tag| tag.is_none() || tag.is_exact_instance_of::<PyString>())
    })
}

/// `_live_reservations` for every deployment and `_least_busy_index` of the counts plus live
/// picks: (the live picks per deployment, the index of the first least busy deployment).
/// `ids` are exact str deployment ids, `counts` this worker's (or the shared) in-flight counts,
/// as many as `ids`.
#[pyfunction]
fn least_busy_pass<'py>(
    store: &Bound<'py, PyAny>,
    ids: &Bound<'py, PyTuple>,
    counts: &Bound<'py, PyTuple>,
    now: &Bound<'py, PyAny>,
    picks_adapter: &Bound<'py, PyAny>,
    ttl: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyTuple>, usize)> {
    let py = store.py();
    let get_cache = store.getattr(intern!(py, "get_cache"))?;
    let validate = picks_adapter.getattr(intern!(py, "validate_python"))?;
    let mut live_per_deployment = Vec::with_capacity(ids.len());
    let prefix = PyString::new(py, RESERVATION_KEY_PREFIX);
    let mut least: Option<(usize, Bound<'py, PyAny>)> = None;
    for (position, (id, count)) in ids.iter().zip(counts.iter()).enumerate() {
        let key = prefix.add(id)?; // `f"least_busy_reservations:{id}"` of a str id
        let stored = get_cache.call1((key,))?;
        let picks = if stored.is_none() {
            PyTuple::empty(py).into_any()
        } else if is_stored_picks(&stored) {
            stored
        } else {
            let validated = validate.call1((stored,))?;
            if validated.is_truthy()? {
                validated
            } else {
                PyTuple::empty(py).into_any()
            }
        };
        let mut live = Vec::new();
        for pick in picks.try_iter()? {
            let pick = pick?;
            if now.sub(pick.get_item(0)?)?.lt(ttl)? {
                live.push(pick);
            }
        }
        let busy = count.add(live.len())?;
        let less = match &least {
            None => true,
            Some((_, lowest)) => busy.lt(lowest)?,
        };
        if less {
            least = Some((position, busy));
        }
        live_per_deployment.push(PyTuple::new(py, live)?);
    }
    let Some((index, _)) = least else {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "min() iterable argument is empty",
        ));
    };
    Ok((PyTuple::new(py, live_per_deployment)?, index))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(least_busy_pass, m)?)?;
    Ok(())
}
