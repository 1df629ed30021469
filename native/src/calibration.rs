//! Bindings of the policy (selector), the crossover search (calibrate) and report rendering.
//! Policies cross the boundary as JSON text; Python turns them into dicts with `json`.

use fast_litellm_calibrate::{find_crossover as search, LadderPoint};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Parse and validate a YAML policy; returns it as JSON text. ValueError names every problem.
#[pyfunction]
fn policy_yaml_to_json(yaml: &str) -> PyResult<String> {
    let policy =
        fast_litellm_selector::from_yaml(yaml).map_err(|e| PyValueError::new_err(e.to_string()))?;
    fast_litellm_selector::to_json(&policy).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Validate a JSON policy and serialize it as YAML. ValueError names every problem.
#[pyfunction]
fn policy_json_to_yaml(json: &str) -> PyResult<String> {
    let policy =
        fast_litellm_selector::from_json(json).map_err(|e| PyValueError::new_err(e.to_string()))?;
    fast_litellm_selector::to_yaml(&policy).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Smallest ladder size from which native wins consistently by `margin`; 0 for always,
/// None for never. `points` are (size, python_ns, native_ns).
#[pyfunction]
fn find_crossover(points: Vec<(u64, f64, f64)>, margin: f64) -> PyResult<Option<u64>> {
    if !(0.0..1.0).contains(&margin) {
        return Err(PyValueError::new_err(format!(
            "margin {margin} must be in [0, 1)"
        )));
    }
    let ladder: Vec<LadderPoint> = points
        .into_iter()
        .map(|(size, python_ns, native_ns)| LadderPoint {
            size,
            python_ns,
            native_ns,
        })
        .collect();
    Ok(search(&ladder, margin).threshold())
}

/// Render the HTML report from its JSON description.
#[pyfunction]
fn render_report(py: Python<'_>, json: &str) -> PyResult<String> {
    let json = json.to_owned();
    py.detach(move || fast_litellm_reports::render_json(&json))
        .map_err(PyValueError::new_err)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(policy_yaml_to_json, m)?)?;
    m.add_function(wrap_pyfunction!(policy_json_to_yaml, m)?)?;
    m.add_function(wrap_pyfunction!(find_crossover, m)?)?;
    m.add_function(wrap_pyfunction!(render_report, m)?)?;
    Ok(())
}
