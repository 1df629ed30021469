//! The selector policy: what `fast-litellm calibrate` measured and what `auto` mode decides from.
//!
//! A policy is YAML on disk and JSON across the Python boundary; both go through the same serde
//! model and the same validation, so a policy that loads is a policy the selector can use.

mod emit;
mod policy;
mod validate;

pub use policy::{ComponentPolicy, HostFingerprint, MeasuredPoint, Mode, Policy, POLICY_VERSION};
pub use validate::{PolicyError, COMPONENTS};

/// Parse and validate a policy from YAML.
pub fn from_yaml(text: &str) -> Result<Policy, PolicyError> {
    let policy: Policy =
        serde_norway::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
    policy.validate()?;
    Ok(policy)
}

/// Parse and validate a policy from JSON (the Python side's representation).
pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
    let policy: Policy =
        serde_json::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
    policy.validate()?;
    Ok(policy)
}

/// Validate and serialize as YAML that YAML 1.1 and 1.2 readers read the same way.
pub fn to_yaml(policy: &Policy) -> Result<String, PolicyError> {
    policy.validate()?;
    let value = serde_json::to_value(policy).map_err(|e| PolicyError::Syntax(e.to_string()))?;
    Ok(emit::to_yaml(&value))
}

/// Validate and serialize as JSON.
pub fn to_json(policy: &Policy) -> Result<String, PolicyError> {
    policy.validate()?;
    serde_json::to_string(policy).map_err(|e| PolicyError::Syntax(e.to_string()))
}
