//! One self-contained HTML page (no scripts, no CDN): per component and payload class a log-log
//! chart of Python, native and auto latency across the ladder with the crossover marked, a
//! p50/p99 table with speedups, the host fingerprint, and the end-to-end proxy benchmark.

mod chart;
mod html;
mod model;
mod proxy;

pub use model::{
    Benchmark, ClassReport, ComponentReport, Latency, Point, ProxyReport, ProxyScenario, Report,
};

/// Render a report from its JSON description (see [`Report`]).
pub fn render_json(json: &str) -> Result<String, String> {
    let report: Report =
        serde_json::from_str(json).map_err(|e| format!("report data is not valid: {e}"))?;
    Ok(html::render(&report))
}
