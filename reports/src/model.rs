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
    pub components: Vec<ComponentReport>,
    #[serde(default)]
    pub benchmarks: Vec<Benchmark>,
}
