//! Walking LiteLLM chat messages (lists of dicts) in native code.
//!
//! Mirrors `litellm.litellm_core_utils.token_counter._count_messages` for the shapes the native
//! path supports: every str value (role included) counts, `name` adds `tokens_per_name`, tool
//! and function calls count `str(arguments)`, content lists count their text-like blocks.
//! Any other shape, and any Python error raised while reading the input, makes the walk answer
//! `None`, and LiteLLM's own function counts the call instead.

use fast_litellm_tokens::Encoding;

use crate::tokens::counted;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

/// From this much text (in code points) on, the strings are counted without the GIL.
const DETACH_MIN_CHARS: usize = 64 * 1024;
/// Strings a walk keeps without allocating: a chat turn's roles and contents.
const INLINE_STRINGS: usize = 8;

/// Why a walk stopped: the shape is not supported natively.
struct Unsupported;

/// The strings a walk met and the per-message/per-name constants. Nothing is counted until
/// the whole walk has succeeded: a shape found unsupported late costs no counting, LiteLLM
/// counts that call.
#[derive(Default)]
struct Collected<'py> {
    constant: i64,
    inline: [Option<Bound<'py, PyString>>; INLINE_STRINGS],
    inline_len: usize,
    more: Vec<Bound<'py, PyString>>,
    chars: usize,
}

impl<'py> Collected<'py> {
    fn push(&mut self, text: &Bound<'py, PyString>) {
        self.chars += text.len().unwrap_or(0);
        if self.inline_len < INLINE_STRINGS {
            self.inline[self.inline_len] = Some(text.clone());
            self.inline_len += 1;
        } else {
            self.more.push(text.clone());
        }
    }

    fn texts(&self) -> impl Iterator<Item = &Bound<'py, PyString>> {
        self.inline[..self.inline_len]
            .iter()
            .flatten()
            .chain(&self.more)
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
    out: &mut Collected<'py>,
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
    out: &mut Collected<'py>,
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
    out: &mut Collected<'py>,
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

/// The text of a string counted exactly, or `None` (and the string goes to `left_to_caller`)
/// when LiteLLM samples it (too long) or it is not valid UTF-8 (lone surrogates).
fn exact_utf8<'a, 'py>(
    text: &'a Bound<'py, PyString>,
    max_exact_chars: usize,
    left_to_caller: &mut Vec<Bound<'py, PyString>>,
) -> Option<&'a str> {
    let too_long = text.len().map_or(true, |chars| chars > max_exact_chars);
    match text.to_str() {
        Ok(utf8) if !too_long => Some(utf8),
        _ => {
            left_to_caller.push(text.clone());
            None
        }
    }
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
    let mut collected = Collected::default();
    walk_messages(
        messages,
        tokens_per_message,
        tokens_per_name,
        &mut collected,
    )
    .ok()?;
    let mut left_to_caller = Vec::new();
    let tokens: usize = if collected.chars < DETACH_MIN_CHARS {
        let mut tokens = 0;
        for text in collected.texts() {
            if let Some(utf8) = exact_utf8(text, max_exact_chars, &mut left_to_caller) {
                tokens += counted(encoding, utf8, chunk_chars);
            }
        }
        tokens
    } else {
        // The strings stay alive (`collected` holds them) and Python strings never change
        // while the GIL is released.
        let texts: Vec<&str> = collected
            .texts()
            .filter_map(|text| exact_utf8(text, max_exact_chars, &mut left_to_caller))
            .collect();
        py.detach(|| {
            texts
                .iter()
                .map(|text| counted(encoding, text, chunk_chars))
                .sum()
        })
    };
    Some((collected.constant + tokens as i64, left_to_caller))
}
