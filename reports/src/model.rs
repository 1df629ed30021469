//! What a report shows; filled in by `fast-litellm report` from a calibration run.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Latency {
    pub p50_ns: f64,
    pub p99_ns: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Point {
    pub size: u64,
    pub python: Latency,
    pub native: Latency,
    #[serde(default)]
    pub auto: Option<Latency>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClassReport {
    pub name: String,
    /// What `size` counts (characters, messages, ...).
    pub unit: String,
    /// Native from this size up; `None`: never native.
    pub threshold: Option<u64>,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ComponentReport {
    pub name: String,
    pub classes: Vec<ClassReport>,
}

/// A benchmark row (e.g. from pytest-benchmark's JSON): medians in microseconds.
#[derive(Debug, Clone, Deserialize)]
pub struct Benchmark {
    pub group: String,
    pub name: String,
    pub median_us: f64,
    #[serde(default)]
    pub rounds: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Report {
    pub title: String,
    pub generated_at: String,
    pub host: BTreeMap<String, String>,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub components: Vec<ComponentReport>,
    #[serde(default)]
    pub benchmarks: Vec<Benchmark>,
    #[serde(default)]
    pub proxy: Option<ProxyReport>,
}

/// Median and spread of one measure over a scenario's runs of one variant.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// One variant (plain LiteLLM or with fast-litellm) of a proxy scenario.
#[derive(Debug, Clone, Deserialize)]
pub struct ProxyVariant {
    pub requests_per_second: Spread,
    pub p50_ms: Spread,
    pub p99_ms: Spread,
    #[serde(default)]
    pub cpu_ms_per_request: Option<Spread>,
    pub errors: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProxyScenario {
    pub name: String,
    pub description: String,
    pub workers: u64,
    pub runs_per_variant: u64,
    pub plain: ProxyVariant,
    pub fast: ProxyVariant,
}

/// CPU by area from a sampling profile, in ms per request.
#[derive(Debug, Clone, Deserialize)]
pub struct ProfileArea {
    pub area: String,
    pub self_ms: f64,
    pub inclusive_ms: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProfileFunction {
    pub function: String,
    pub area: String,
    pub self_ms: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProxyProfile {
    pub scenario: String,
    /// "plain" (LiteLLM) or "fast" (with fast-litellm).
    #[serde(default = "plain")]
    pub variant: String,
    pub description: String,
    pub ms_per_request: f64,
    pub areas: Vec<ProfileArea>,
    pub top_functions: Vec<ProfileFunction>,
}

fn plain() -> String {
    "plain".to_owned()
}

/// The "LiteLLM proxy, end to end" section.
#[derive(Debug, Clone, Deserialize)]
pub struct ProxyReport {
    pub generated_at: String,
    #[serde(default)]
    pub notes: Vec<String>,
    pub scenarios: Vec<ProxyScenario>,
    #[serde(default)]
    pub profiles: Vec<ProxyProfile>,
}
