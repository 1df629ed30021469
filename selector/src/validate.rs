//! Validation: every error names the field and the value, so a person can fix the file.

use std::fmt;

use crate::policy::{Policy, POLICY_VERSION};

pub const COMPONENTS: [&str; 4] = ["tokens", "cache", "rate_limit", "routing"];

#[derive(Debug, Clone, PartialEq)]
pub enum PolicyError {
    /// Not parseable (YAML/JSON syntax, wrong types, unknown fields).
    Syntax(String),
    /// Parsed, but a value is not allowed.
    Invalid(Vec<String>),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Syntax(message) => write!(f, "policy is not readable: {message}"),
            PolicyError::Invalid(problems) => {
                write!(f, "policy is invalid: {}", problems.join("; "))
            }
        }
    }
}

impl std::error::Error for PolicyError {}

impl Policy {
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut problems = Vec::new();
        if self.version != POLICY_VERSION {
            problems.push(format!(
                "version {} is not supported (expected {POLICY_VERSION})",
                self.version
            ));
        }
        if self.host.cores == 0 {
            problems.push("host.cores must be at least 1".to_owned());
        }
        if !(0.0..1.0).contains(&self.margin) {
            problems.push(format!("margin {} must be in [0, 1)", self.margin));
        }
        for (name, component) in &self.components {
            if !COMPONENTS.contains(&name.as_str()) {
                problems.push(format!(
                    "unknown component {name:?} (expected one of {COMPONENTS:?})"
                ));
            }
            let rollout = component.rollout_percent;
            if !(0.0..=100.0).contains(&rollout) {
                problems.push(format!(
                    "components.{name}.rollout_percent {rollout} must be in [0, 100]"
                ));
            }
            for (class, points) in &component.measurements {
                if points.windows(2).any(|pair| pair[0].size >= pair[1].size) {
                    problems.push(format!(
                        "components.{name}.measurements.{class}: sizes must increase"
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PolicyError::Invalid(problems))
        }
    }
}
