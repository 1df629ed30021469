//! Writing policies as YAML that YAML 1.1 readers (PyYAML, which LiteLLM uses for its config)
//! and YAML 1.2 readers (serde_norway) read identically.
//!
//! Plain scalars are where the two disagree (`on`, `yes`, `no` are booleans in 1.1; dates are
//! timestamps in PyYAML), so every string is written double-quoted with JSON escapes, which both
//! versions accept. Numbers, booleans and null are written in their one shared spelling.

use serde_json::Value;

pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        other => {
            out.push_str(&scalar_or_flow(other));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&key_text(key));
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                write_map(out, inner, indent + 2);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                for item in items {
                    out.push_str(&" ".repeat(indent + 2));
                    out.push_str("- ");
                    out.push_str(&scalar_or_flow(item));
                    out.push('\n');
                }
            }
            other => {
                out.push(' ');
                out.push_str(&scalar_or_flow(other));
                out.push('\n');
            }
        }
    }
}

/// Scalars, and nested collections in flow style (`{a: 1}`, `[1, 2]`).
fn scalar_or_flow(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => quote(text),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(scalar_or_flow)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(key, value)| format!("{}: {}", key_text(key), scalar_or_flow(value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Words YAML 1.1 resolves to booleans or null when plain.
const YAML11_SPECIAL: [&str; 11] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
];

/// Keys that are lowercase identifiers (all of the schema's) stay plain; others are quoted.
fn key_text(key: &str) -> String {
    let identifier = key.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if identifier && !YAML11_SPECIAL.contains(&key) {
        key.to_owned()
    } else {
        quote(key)
    }
}

/// A double-quoted scalar: JSON string syntax is valid YAML 1.1 and 1.2 double-quoted syntax.
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}
