//! The policy's data model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const POLICY_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Auto,
    Rust,
    Python,
    Shadow,
}

/// The machine and software a policy was measured on; a policy from another host is not used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFingerprint {
    pub cpu_model: String,
    pub cores: u32,
    pub python: String,
    pub litellm: String,
    pub fast_litellm: String,
}

/// One ladder point's summary: latencies in nanoseconds from HdrHistograms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasuredPoint {
    pub size: u64,
    pub samples: u64,
    pub python_p50_ns: u64,
    pub python_p99_ns: u64,
    pub native_p50_ns: u64,
    pub native_p99_ns: u64,
    /// `auto` mode with the chosen threshold, measured in a verification pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_p50_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_p99_ns: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentPolicy {
    #[serde(default = "default_mode")]
    pub mode: Mode,
    #[serde(default = "full_rollout")]
    pub rollout_percent: f64,
    /// Per payload class: the smallest size from which native wins (`null`: never native).
    #[serde(default)]
    pub thresholds: BTreeMap<String, Option<u64>>,
    /// Per payload class: the ladder the thresholds were derived from.
    #[serde(default)]
    pub measurements: BTreeMap<String, Vec<MeasuredPoint>>,
}

fn default_mode() -> Mode {
    Mode::Auto
}

fn full_rollout() -> f64 {
    100.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub version: u32,
    pub host: HostFingerprint,
    /// RFC 3339 UTC time of the measurement.
    pub measured_at: String,
    #[serde(default)]
    pub quick: bool,
    /// Safety margin the thresholds were chosen with (0.05: native must be 5% faster).
    #[serde(default)]
    pub margin: f64,
    /// Cost of one per-call selector decision, measured by calibrate (nanoseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector_overhead_ns: Option<f64>,
    pub components: BTreeMap<String, ComponentPolicy>,
}
