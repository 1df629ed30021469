"""Drop-in replacements of LiteLLM's `token_counter`, `encode` and `decode`.

The native path reproduces `litellm.litellm_core_utils.token_counter.token_counter` for the
inputs it supports: OpenAI-tokenizer models on cl100k_base / o200k_base, `text` as str or list,
and messages whose values are strings, text content parts, tool calls and function calls.
Everything else (HF/anthropic tokenizers, `custom_tokenizer`, images, documents, unknown block
types, malformed input that LiteLLM answers with an error) goes to LiteLLM's own function, so
the answer (or the exception) is always LiteLLM's.

Model resolution uses LiteLLM's own functions once per model name and is cached; the cache is
dropped when the model registry changes (`litellm.model_cost` replaced or resized, as
`register_model` does) or `disable_hf_tokenizer_download` flips. Editing LiteLLM's model lists
in place without touching `model_cost` is not detected.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from fast_litellm import _native
from fast_litellm._component import LATENCY_SAMPLE_EVERY, Component
from fast_litellm._watch import AttributeWatch

logger: Final = logging.getLogger("fast_litellm")

NATIVE_ENCODINGS: Final = ("cl100k_base", "o200k_base")

# LiteLLM's functions, bound by `install()` once litellm is importable.
_litellm: Any = None
_core: Any = None  # litellm.litellm_core_utils.token_counter
_utils: Any = None  # litellm.utils
original_token_counter: Callable[..., int] | None = None
original_wrapper_token_counter: Callable[..., int] | None = None
original_encode: Callable[..., Any] | None = None
original_decode: Callable[..., Any] | None = None

COMPONENT: Final = Component("tokens")
COMPONENT.on_refresh = lambda: configure_fast_path()

# Chunk size and exact-count limit, read from LiteLLM's own count functions (their defaults are
# LiteLLM's constants as configured in this process).
_chunk_chars = 1024
_max_exact_chars = 4_000_000

_encodings: dict[str, _native.Encoding] = {}

# LiteLLM functions whose work the native path reproduces. While any of them is replaced (a
# test's mock, an application's monkeypatch), every call goes to LiteLLM so the replacement
# sees it. Methods of LiteLLM's classes are not watched.
WATCHED_INTERNALS: Final = {
    "litellm.litellm_core_utils.token_counter": (
        "_get_count_function", "_get_exact_count_function", "_get_tiktoken_count_function",
        "_get_extrapolating_count_function", "_evenly_spaced_samples", "_encoding_count",
        "openai_tokenizer_encoding", "openai_tokenizer_encoding_name", "get_encoding",
        "get_default_encoding", "_MessageCountParams", "_count_messages",
        "_count_function_call_tokens", "_count_content_list", "_count_extra",
        "_count_tool_definitions", "_count_tool_choice", "uses_legacy_message_accounting",
        "chat_template_tool_section", "_fix_model_name",
    ),
    "litellm.utils": (
        "select_tokenizer", "_select_tokenizer", "_select_tokenizer_helper", "_return_openai_tokenizer",
        "convert_list_message_to_dict", "get_token_counter_new", "huggingface_tokenizer_kind",
    ),
    "litellm.rust_bridge.tokenizer": ("get_encoding",),
    "tiktoken": ("get_encoding", "encoding_for_model", "encoding_name_for_model"),
}  # fmt: skip
# Qualified names of the watched internals that are replaced right now.
internals_replaced: list[str] = []


def _internals_changed(replaced: list[str]) -> None:
    global internals_replaced
    first = replaced and not internals_replaced
    internals_replaced = replaced
    if first:
        logger.info("fast_litellm: LiteLLM internals replaced (%s); tokens go to LiteLLM", ", ".join(replaced))
    configure_fast_path()


_internals_watch: Final = AttributeWatch(_internals_changed)


@dataclass(frozen=True, slots=True)
class ModelPlan:
    """How LiteLLM counts for one model name, resolved once with LiteLLM's own functions."""

    encoding: _native.Encoding
    tokens_per_message: int
    tokens_per_name: int
    tool_section: object  # ChatTemplateToolSection | None


_NOT_NATIVE: Final = object()  # cached: this model is counted by LiteLLM's Python code
_plans: dict[object, object] = {}
# The resolved plans the native fast path may use: model (str or None) -> (encoding, tokens per
# message, tokens per name). Filled as models resolve, emptied with `_plans`.
_fast_plans: dict[object, tuple[_native.Encoding, int, int]] = {}
_plans_cost: object = None
_plans_cost_len = -1
_plans_hf_flag: object = None


def install() -> None:
    """Bind LiteLLM's originals; called when litellm.utils and the token counter module exist."""
    global _litellm, _core, _utils, original_token_counter, original_wrapper_token_counter
    global original_encode, original_decode, _chunk_chars, _max_exact_chars
    import litellm
    import litellm.litellm_core_utils.token_counter as core
    import litellm.utils as utils

    _litellm, _core, _utils = litellm, core, utils
    original_token_counter = core.token_counter
    original_wrapper_token_counter = utils.token_counter
    original_encode = utils.encode
    original_decode = utils.decode
    _chunk_chars = _default_of(core._get_tiktoken_count_function, "chunk_size")
    _max_exact_chars = _default_of(core._get_extrapolating_count_function, "max_exact_chars")
    # Plans are made lazily: litellm may still be initialising when this runs (import hook).
    _forget_plans()
    configure_count_cache(count_cache_mb)
    _internals_watch.watch(WATCHED_INTERNALS)


def release() -> None:
    """Undo `install()`'s watch (unpatch)."""
    _internals_watch.unwatch()
    _internals_changed([])


def _default_of(function: Callable[..., object], parameter: str) -> int:
    value = inspect.signature(function).parameters[parameter].default
    if not isinstance(value, int) or value <= 0:
        raise RuntimeError(f"unexpected default {parameter}={value!r} in LiteLLM's {function.__name__}")
    return value


DEFAULT_COUNT_CACHE_MB: Final = 16
count_cache_mb = DEFAULT_COUNT_CACHE_MB


def configure_count_cache(megabytes: float) -> None:
    """Budget of the cache of counts of repeated long strings, per encoding (0 disables it).

    Keyed by the whole text, so a hit is the count a fresh count would give."""
    global count_cache_mb
    if megabytes < 0:
        raise ValueError(f"count cache size must be >= 0 MB, got {megabytes}")
    count_cache_mb = megabytes
    _native.configure_count_cache(int(megabytes * 1024 * 1024), _chunk_chars)


def chunk_chars() -> int:
    return _chunk_chars


def max_exact_chars() -> int:
    return _max_exact_chars


def encoding(name: str) -> _native.Encoding:
    found = _encodings.get(name)
    if found is None:
        found = _encodings[name] = _native.Encoding.get(name)
    return found


# ---- model resolution ---------------------------------------------------------------------


def _registry_changed() -> bool:
    """Has LiteLLM's model registry (or the HF-download switch) changed since plans were made?

    `register_model` and a reloaded cost map replace or grow `litellm.model_cost` (and extend
    the OpenAI/Azure lists with it), so its identity and size stand for the registry."""
    litellm = _litellm
    cost = litellm.model_cost
    return (
        cost is not _plans_cost
        or len(cost) != _plans_cost_len
        or litellm.disable_hf_tokenizer_download is not _plans_hf_flag
    )


def _reset_plans() -> None:
    global _plans_cost, _plans_cost_len, _plans_hf_flag
    _plans.clear()
    _fast_plans.clear()
    litellm = _litellm
    _plans_cost = litellm.model_cost
    _plans_cost_len = len(_plans_cost)
    _plans_hf_flag = litellm.disable_hf_tokenizer_download
    configure_fast_path()


def _forget_plans() -> None:
    global _plans_cost
    _plans.clear()
    _fast_plans.clear()
    _plans_cost = None  # the next plan_for() sees a changed registry and starts afresh
    FAST_PATH.reset()


def configure_fast_path() -> None:
    """Tell the native fast path the current registry snapshot, plans and selector shortcuts."""
    if _litellm is None or _plans_cost is None or internals_replaced:
        FAST_PATH.reset()
        return
    FAST_PATH.configure(
        _litellm,
        _plans_cost,
        _plans_cost_len,
        _plans_hf_flag,
        _fast_plans,
        float(COMPONENT.text_native_from),
        float(COMPONENT.messages_native_from),
        _chunk_chars,
        _max_exact_chars,
    )


def plan_for(model: object) -> ModelPlan | None:
    """The native plan for `model`, or None when LiteLLM's Python code must count it."""
    if _registry_changed():
        _reset_plans()
    try:
        plan = _plans.get(model)
    except TypeError:  # unhashable model: LiteLLM decides what happens
        return None
    if plan is None:
        plan = _plans[model] = _resolve(model)
        if isinstance(plan, ModelPlan) and (model is None or type(model) is str):
            _fast_plans[model] = (plan.encoding, plan.tokens_per_message, plan.tokens_per_name)
    return None if plan is _NOT_NATIVE else plan  # type: ignore[return-value]


def _resolve(model: object) -> object:
    """Mirror `_get_exact_count_function` and `_MessageCountParams` with LiteLLM's own helpers."""
    core, utils = _core, _utils
    if model is None:
        name = "cl100k_base"  # LiteLLM's default encoding
    elif not isinstance(model, str):
        return _NOT_NATIVE
    else:
        hf_possible = _litellm.disable_hf_tokenizer_download is not True
        if hf_possible and utils.huggingface_tokenizer_kind(model) is not None:
            return _NOT_NATIVE  # a Hugging Face tokenizer may answer; it stays on Python
        name = core.openai_tokenizer_encoding_name(model)
    if name not in NATIVE_ENCODINGS:
        return _NOT_NATIVE
    legacy = core.uses_legacy_message_accounting(model)
    return ModelPlan(
        encoding=encoding(name),
        tokens_per_message=4 if legacy else 3,
        tokens_per_name=-1 if legacy else 1,
        tool_section=core.chat_template_tool_section(model),
    )


# ---- counting strings ---------------------------------------------------------------------


def _repair_surrogates(text: str) -> str:
    """What tiktoken encodes for a str that is not valid UTF-8: surrogate pairs joined, lone ones
    replaced with U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _count_exact(enc: _native.Encoding, text: str) -> int:
    """LiteLLM's exact count: independent chunks of `_chunk_chars` code points."""
    try:
        return enc.count_chunked(text, _chunk_chars)
    except UnicodeEncodeError:
        size = _chunk_chars
        return sum(enc.count(_repair_surrogates(text[i : i + size])) for i in range(0, len(text), size))


def count_text(enc: _native.Encoding, text: str) -> int:
    """LiteLLM's count function for one string: exact up to the limit, sampled above it."""
    if len(text) <= _max_exact_chars:
        return _count_exact(enc, text)
    return _core._get_extrapolating_count_function(lambda piece: _count_exact(enc, piece), _max_exact_chars)(text)


# ---- messages -----------------------------------------------------------------------------


class Unsupported(Exception):
    """The payload has a shape the native path does not reproduce; LiteLLM's function answers."""


def _walk_messages(plan: ModelPlan, messages: list[Any]) -> int | None:
    """Native `_count_messages` (without reply primer and tools), or None if unsupported."""
    walked = plan.encoding.count_messages(
        messages, plan.tokens_per_message, plan.tokens_per_name, _chunk_chars, _max_exact_chars
    )
    if walked is None:
        return None
    tokens, left_over = walked
    for text in left_over:  # very long strings (sampled) or strings with lone surrogates
        tokens += count_text(plan.encoding, text)
    return tokens


def count_messages_native(
    plan: ModelPlan,
    messages: object,
    count_response_tokens: object,
    tools: object,
    tool_choice: object,
) -> int:
    message_dicts: Any = messages
    total = _walk_messages(plan, messages) if type(messages) is list else None
    if total is None:
        # LiteLLM first turns pydantic messages (litellm.Message) into dicts; so do we.
        if not isinstance(messages, (list, tuple)):
            raise Unsupported
        try:
            message_dicts = _utils.convert_list_message_to_dict(messages)
        except Exception:
            raise Unsupported from None  # LiteLLM raises its own error for this input
        total = _walk_messages(plan, message_dicts)
        if total is None:
            raise Unsupported
    if count_response_tokens is False:
        if not tools and tool_choice is None:
            total += 3  # reply primer
        else:
            enc = plan.encoding
            includes_system = any(message.get("role", None) == "system" for message in message_dicts)
            total += _core._count_extra(
                lambda text: count_text(enc, text), tools, tool_choice, includes_system, plan.tool_section
            )
    return total


# ---- the drop-ins -------------------------------------------------------------------------


def _native_count(
    model: object,
    custom_tokenizer: object,
    text: object,
    messages: object,
    count_response_tokens: object,
    tools: object,
    tool_choice: object,
) -> int:
    """The native answer, or raises Unsupported."""
    if custom_tokenizer is not None or internals_replaced:
        raise Unsupported
    plan = plan_for(model)
    if plan is None:
        raise Unsupported
    if text is not None:
        if messages is not None or tools or tool_choice:
            raise Unsupported  # LiteLLM raises ValueError
        if isinstance(text, str):
            return count_text(plan.encoding, text)
        if isinstance(text, list):
            return count_text(plan.encoding, "".join(t for t in text if isinstance(t, str)))
        raise Unsupported
    if messages is None:
        raise Unsupported
    return count_messages_native(plan, messages, count_response_tokens, tools, tool_choice)


def token_counter_long_way(
    model: Any = "",
    custom_tokenizer: Any = None,
    text: Any = None,
    messages: Any = None,
    count_response_tokens: Any = False,
    tools: Any = None,
    tool_choice: Any = None,
    use_default_image_token_count: Any = False,
    default_token_count: Any = None,
) -> int:
    """LiteLLM's `token_counter`, counted natively where the answer is provably the same.

    The patched bindings are `FastPath.token_counter`, which counts the commonest calls (a plain
    str, or a list of plain message dicts, for a model already resolved, in a mode that sends
    them native) in one native call and sends every other call here."""
    if _litellm.disable_token_counter is True:
        return 0
    component = COMPONENT
    if type(text) is str:
        wanted = component.wants_native("text", len(text))
    elif type(messages) is list:
        wanted = component.wants_native("messages", len(messages))
    else:
        wanted = component.wants_native("other", 0)
    if not wanted:
        return _python_count(
            component, model, custom_tokenizer, text, messages, count_response_tokens, tools,
            tool_choice, use_default_image_token_count, default_token_count,
        )  # fmt: skip
    tick = component.sample_tick = component.sample_tick + 1
    started = 0 if tick % LATENCY_SAMPLE_EVERY else time.perf_counter_ns()
    try:
        result = _native_count(model, custom_tokenizer, text, messages, count_response_tokens, tools, tool_choice)
    except Unsupported:
        component.unsupported_calls += 1
        return original_token_counter(  # type: ignore[misc]
            model, custom_tokenizer, text, messages, count_response_tokens, tools,
            tool_choice, use_default_image_token_count, default_token_count,
        )  # fmt: skip
    except BaseException as error:  # incl. pyo3 PanicException, which is not an Exception
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        _note_fallback(component, error)
        return original_token_counter(  # type: ignore[misc]
            model, custom_tokenizer, text, messages, count_response_tokens, tools,
            tool_choice, use_default_image_token_count, default_token_count,
        )  # fmt: skip
    if started:
        component.rust_latency.record(time.perf_counter_ns() - started)
    component.rust_calls += 1
    if component.breaker.open_until:
        component.breaker.record_success()
    if component.mode == "shadow":
        return _shadow_compare(
            component, result, original_token_counter, model, custom_tokenizer, text, messages,
            count_response_tokens, tools, tool_choice, use_default_image_token_count, default_token_count,
        )  # fmt: skip
    return result


def _fast_path() -> _native.FastPath:
    """This process's fast path (what a pickled `token_counter` refers to)."""
    return FAST_PATH


FAST_PATH: Final = _native.FastPath(COMPONENT.rust_latency, token_counter_long_way, _fast_path)

# What LiteLLM's `token_counter` bindings are patched with: the core function and the
# `litellm.utils` wrapper (a thin wrapper with the same signature) behave alike, and a distinct
# object per target lets unpatch() put back the right original wherever a module bound either.
token_counter: Final = FAST_PATH.token_counter
wrapper_token_counter: Final = FAST_PATH.token_counter


def _python_count(component: Component, *args: Any) -> int:
    component.python_calls += 1
    tick = component.sample_tick = component.sample_tick + 1
    if not tick % LATENCY_SAMPLE_EVERY:
        started = time.perf_counter_ns()
        result = original_token_counter(*args)  # type: ignore[misc]
        component.python_latency.record(time.perf_counter_ns() - started)
        return result
    return original_token_counter(*args)  # type: ignore[misc]


def _shadow_compare(component: Component, native_result: object, original: Any, *args: Any) -> Any:
    """Shadow mode: LiteLLM's answer is returned; a different native answer is counted and logged."""
    component.shadow_calls += 1
    expected = original(*args)
    if expected != native_result:
        component.shadow_mismatches += 1
        logger.warning("fast_litellm shadow mismatch in tokens: native=%r litellm=%r", native_result, expected)
    return expected


def _note_fallback(component: Component, error: BaseException) -> None:
    first = component.fallbacks == 0
    component.record_fallback(error)
    if first:
        logger.warning("fast_litellm: native tokens call failed, LiteLLM answered instead: %r", error)


def encode(model: Any = "", text: Any = "", custom_tokenizer: Any = None) -> Any:
    """LiteLLM's `encode`: cl100k_base token ids for OpenAI-tokenizer models."""
    component = COMPONENT
    if custom_tokenizer is not None or type(text) is not str or not component.wants_native("text", len(text)):
        return _python_call(component, original_encode, model, text, custom_tokenizer)
    if internals_replaced or plan_for(model) is None:  # a Hugging Face tokenizer may be selected: LiteLLM decides
        component.unsupported_calls += 1
        return original_encode(model, text, custom_tokenizer)  # type: ignore[misc]
    try:
        enc = encoding("cl100k_base")  # LiteLLM encodes with its default encoding for every model
        try:
            result = enc.encode(text)
        except UnicodeEncodeError:
            result = enc.encode(_repair_surrogates(text))
    except BaseException as error:
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        _note_fallback(component, error)
        return original_encode(model, text, custom_tokenizer)  # type: ignore[misc]
    component.rust_calls += 1
    if component.mode == "shadow":
        return _shadow_compare(component, result, original_encode, model, text, custom_tokenizer)
    return result


def decode(model: Any = "", tokens: Any = (), custom_tokenizer: Any = None, skip_special_tokens: bool = True) -> Any:
    """LiteLLM's `decode`: cl100k_base tokens to text (invalid UTF-8 replaced)."""
    component = COMPONENT
    args = (model, tokens, custom_tokenizer, skip_special_tokens)
    if custom_tokenizer is not None or not component.wants_native("other", 0):
        return _python_call(component, original_decode, *args)
    if internals_replaced or plan_for(model) is None:
        component.unsupported_calls += 1
        return original_decode(*args)  # type: ignore[misc]
    try:
        data = encoding("cl100k_base").decode_bytes(tokens)
    except (TypeError, KeyError, OverflowError, ValueError):
        component.unsupported_calls += 1  # not a sequence of known ids: LiteLLM raises its own error
        return original_decode(*args)  # type: ignore[misc]
    except BaseException as error:
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        _note_fallback(component, error)
        return original_decode(*args)  # type: ignore[misc]
    component.rust_calls += 1
    result = data.decode("utf-8", errors="replace")
    if component.mode == "shadow":
        return _shadow_compare(component, result, original_decode, *args)
    return result


def _python_call(component: Component, function: Any, *args: Any) -> Any:
    component.python_calls += 1
    return function(*args)
