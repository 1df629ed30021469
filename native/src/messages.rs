//! Walking LiteLLM chat messages (lists of dicts) in native code.
//!
//! Mirrors `litellm.litellm_core_utils.token_counter._count_messages` for the shapes the native
//! path supports: every str value (role included) counts, `name` adds `tokens_per_name`, tool
//! and function calls count `str(arguments)`, content lists count their text-like blocks.
//! Any other shape, and any Python error raised while reading the input, makes the walk answer
//! `None`, and LiteLLM's own function counts the call instead (what was counted before the
//! walk met it is thrown away: supported shapes are the common case).

use fast_litellm_tokens::Encoding;

use crate::tokens::counted;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

/// Beyond this many bytes of text, strings are counted without the GIL (after the walk).
const DETACH_MIN_BYTES: usize = 64 * 1024;

/// Why a walk stopped: the shape is not supported natively.
struct Unsupported;

/// Counts the strings of a walk as they come: until `DETACH_MIN_BYTES` have been seen, and
/// for strings shorter than that, at once (a chat turn costs no allocation); the rest after
/// the walk, without the GIL. Strings LiteLLM samples (too long) or that are not valid UTF-8
/// are left to the caller.
struct Walk<'py> {
    encoding: &'static Encoding,
    chunk_chars: usize,
    max_exact_chars: usize,
    /// Per-message and per-name constants.
    constant: i64,
    tokens: usize,
    bytes_seen: usize,
    deferred: Vec<Bound<'py, PyString>>,
    left_over: Vec<Bound<'py, PyString>>,
}

impl<'py> Walk<'py> {
    fn push(&mut self, text: &Bound<'py, PyString>) {
        let too_long = text
            .len()
            .map_or(true, |chars| chars > self.max_exact_chars);
        let utf8 = match text.to_str() {
            Ok(utf8) if !too_long => utf8,
            _ => return self.left_over.push(text.clone()),
        };
        if self.bytes_seen >= DETACH_MIN_BYTES || utf8.len() >= DETACH_MIN_BYTES {
            self.deferred.push(text.clone());
        } else {
            self.tokens += counted(self.encoding, utf8, self.chunk_chars);
        }
        self.bytes_seen += utf8.len();
    }

    /// Counts the deferred strings without the GIL; the total and the strings left over.
    fn finish(self, py: Python<'py>) -> (i64, Vec<Bound<'py, PyString>>) {
        let mut tokens = self.tokens;
        if !self.deferred.is_empty() {
            // Valid UTF-8 (checked in `push`); the strings stay alive, and Python strings
            // never change, while the GIL is released.
            let texts: Vec<&str> = self
                .deferred
                .iter()
                .filter_map(|t| t.to_str().ok())
                .collect();
            let (encoding, chunk_chars) = (self.encoding, self.chunk_chars);
            tokens += py.detach(|| {
                texts
                    .iter()
                    .map(|text| counted(encoding, text, chunk_chars))
                    .sum::<usize>()
            });
        }
        (self.constant + tokens as i64, self.left_over)
    }
}

fn text_field(block_type: &str) -> Option<&'static str> {
    match block_type {
        "text" => Some("text"),
        "thinking" | "redacted_thinking" => Some("thinking"),
        "compaction" => Some("content"),
        _ => None,
    }
}

fn exact_dict<'py>(value: &Bound<'py, PyAny>) -> Result<Bound<'py, PyDict>, Unsupported> {
    value
        .cast_exact::<PyDict>()
        .cloned()
        .map_err(|_| Unsupported)
}

/// `str(value)` as Python computes it (a str subclass may override `__str__`).
fn python_str<'py>(value: &Bound<'py, PyAny>) -> Result<Bound<'py, PyString>, Unsupported> {
    match value.cast_exact::<PyString>() {
        Ok(text) => Ok(text.clone()),
        Err(_) => value.str().map_err(|_| Unsupported),
    }
}

fn collect_call_arguments<'py>(
    call: &Bound<'py, PyAny>,
    out: &mut Walk<'py>,
) -> Result<(), Unsupported> {
    let function = exact_dict(call)?
        .get_item("function")
        .map_err(|_| Unsupported)?
        .ok_or(Unsupported)?;
    let function = exact_dict(&function)?;
    let arguments = function.get_item("arguments").map_err(|_| Unsupported)?;
    if let Some(arguments) = arguments {
        out.push(&python_str(&arguments)?); // a missing one counts as "": no tokens
    }
    Ok(())
}

fn collect_content<'py>(
    parts: &Bound<'py, PyList>,
    out: &mut Walk<'py>,
) -> Result<(), Unsupported> {
    for part in parts.iter() {
        if let Ok(text) = part.cast::<PyString>() {
            out.push(text);
            continue;
        }
        let part = exact_dict(&part)?;
        let block_type = part
            .get_item("type")
            .map_err(|_| Unsupported)?
            .ok_or(Unsupported)?;
        let block_type = block_type
            .cast_exact::<PyString>()
            .map_err(|_| Unsupported)?;
        let field = text_field(block_type.to_str().map_err(|_| Unsupported)?).ok_or(Unsupported)?;
        // LiteLLM: str(block.get(field) or "") and skip it when empty.
        if let Some(value) = part.get_item(field).map_err(|_| Unsupported)? {
            if value.is_truthy().map_err(|_| Unsupported)? {
                let text = python_str(&value)?;
                if text.len().map_err(|_| Unsupported)? > 0 {
                    out.push(&text);
                }
            }
        }
    }
    Ok(())
}

fn walk_messages<'py>(
    messages: &Bound<'py, PyList>,
    tokens_per_message: i64,
    tokens_per_name: i64,
    out: &mut Walk<'py>,
) -> Result<(), Unsupported> {
    for message in messages.iter() {
        let message = exact_dict(&message)?;
        out.constant += tokens_per_message;
        for (key, value) in message.iter() {
            if value.is_none() {
                continue;
            }
            // Keys are compared as borrowed text: no allocation per key.
            let key_text = key.cast::<PyString>().ok();
            let key = key_text.as_ref().and_then(|k| k.to_str().ok());
            match key {
                Some("tool_calls") => {
                    let calls = value.cast_exact::<PyList>().map_err(|_| Unsupported)?;
                    for call in calls.iter() {
                        collect_call_arguments(&call, out)?;
                    }
                }
                Some("function_call") => {
                    let function = exact_dict(&value)?;
                    if let Some(arguments) =
                        function.get_item("arguments").map_err(|_| Unsupported)?
                    {
                        out.push(&python_str(&arguments)?);
                    }
                }
                _ => {
                    if let Ok(text) = value.cast::<PyString>() {
                        out.push(text);
                        if key == Some("name") {
                            out.constant += tokens_per_name;
                        }
                    } else if key == Some("content") {
                        if let Ok(parts) = value.cast::<PyList>() {
                            collect_content(parts, out)?;
                        }
                    } else if key == Some("provider_specific_fields")
                        || (key == Some("search_results") && value.cast::<PyList>().is_ok())
                    {
                        return Err(Unsupported);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Token count of `messages` without the reply primer or tools, plus the strings the caller
/// must count itself (longer than `max_exact_chars`, or not valid UTF-8); `None` when the
/// shape is not supported natively.
pub fn count_messages<'py>(
    py: Python<'py>,
    encoding: &'static Encoding,
    messages: &Bound<'py, PyList>,
    tokens_per_message: i64,
    tokens_per_name: i64,
    chunk_chars: usize,
    max_exact_chars: usize,
) -> Option<(i64, Vec<Bound<'py, PyString>>)> {
    let mut walk = Walk {
        encoding,
        chunk_chars,
        max_exact_chars,
        constant: 0,
        tokens: 0,
        bytes_seen: 0,
        deferred: Vec::new(),
        left_over: Vec::new(),
    };
    walk_messages(messages, tokens_per_message, tokens_per_name, &mut walk).ok()?;
    Some(walk.finish(py))
}
