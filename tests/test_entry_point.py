"""The native entry point LiteLLM's `token_counter` bindings are patched with behaves like
LiteLLM's function as a Python callable: parameters, defaults, errors, and a panic fallback."""

from __future__ import annotations

import inspect
import pickle

import litellm
import pytest

import fast_litellm
from fast_litellm import tokens

CHAT = [{"role": "system", "content": "You count tokens."}, {"role": "user", "content": "How many? 日本語 😀"}]


@pytest.mark.parametrize(
    "args, kwargs",
    [
        (("gpt-4o", None, "positional text"), {}),
        (("gpt-4o", None, None, CHAT), {}),
        (("gpt-4o", None, None, CHAT, True), {}),
        (("gpt-4o", None, None, CHAT, None), {}),  # None is not False: no reply primer
        ((), {"text": "no model given: LiteLLM's default model ''"}),
        ((), {"model": None, "text": "model=None is not the default ''"}),
        ((), {"model": None, "messages": CHAT}),
        ((), {"messages": CHAT, "count_response_tokens": None}),
        ((), {"model": "gpt-4o", "messages": CHAT, "use_default_image_token_count": None}),
        ((), {"model": "gpt-3.5-turbo-0301", "messages": [{"role": "user", "content": "hi", "name": "ann"}]}),
        (("gpt-4o",), {"messages": CHAT, "tools": []}),
        (("gpt-4o",), {"messages": CHAT, "tool_choice": ""}),
    ],
)
def test_same_answer_as_litellm_for_every_way_of_passing_arguments(mode, litellm_count, args, kwargs):
    mode("rust")
    assert litellm.token_counter(*args, **kwargs) == litellm_count(*args, **kwargs)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((), {"model": "gpt-4o", "txt": "misspelt keyword"}),
        (("gpt-4o", None, "x", None, False, None, None, False, None, "tenth"), {}),
        (("gpt-4o",), {"model": "gpt-4o", "text": "model given twice"}),
    ],
)
def test_bad_calls_raise_type_error_like_litellm(litellm_count, args, kwargs):
    with pytest.raises(TypeError):
        litellm_count(*args, **kwargs)
    with pytest.raises(TypeError):
        litellm.token_counter(*args, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": "gpt-4o", "text": "a", "messages": CHAT},
        {"model": "gpt-4o"},
        {"model": "gpt-4o", "text": "tools with text", "tools": [{"type": "function"}]},
    ],
)
def test_litellm_errors_come_back_unchanged(mode, litellm_count, kwargs):
    mode("rust")
    with pytest.raises(ValueError) as expected:
        litellm_count(**kwargs)
    with pytest.raises(ValueError) as got:
        litellm.token_counter(**kwargs)
    assert str(got.value) == str(expected.value)


def test_common_calls_take_the_fast_path(mode):
    mode("rust")
    litellm.token_counter(model="gpt-4o", text="resolve the model once")
    fast_litellm.reset_stats()
    litellm.token_counter(model="gpt-4o", text="plain text")
    litellm.token_counter(model="gpt-4o", messages=CHAT)
    assert tokens.FAST_PATH.calls == 2
    assert fast_litellm.stats()["tokens"]["calls_rust"] == 2


def test_python_mode_never_counts_natively(mode):
    mode("python")
    litellm.token_counter(model="gpt-4o", messages=CHAT)
    stats = fast_litellm.stats()["tokens"]
    assert stats["calls_rust"] == 0 and stats["calls_python"] == 1


def test_panic_in_fast_path_goes_the_long_way_and_turns_it_off(mode, litellm_count):
    mode("rust")
    litellm.token_counter(model="gpt-4o", messages=CHAT)  # the model is resolved
    fast_litellm.reset_stats()
    tokens.FAST_PATH._panic_on_next_call_for_tests()
    assert litellm.token_counter(model="gpt-4o", messages=CHAT) == litellm_count(model="gpt-4o", messages=CHAT)
    assert litellm.token_counter(model="gpt-4o", text="after") == litellm_count(model="gpt-4o", text="after")
    stats = fast_litellm.stats()["tokens"]
    assert stats["fast_path_panics"] == 1
    assert tokens.FAST_PATH.calls == 0  # off: both calls were counted by the Python dispatch
    assert stats["calls_rust"] == 2
    tokens.configure_fast_path()  # what a mode change or registry change does
    litellm.token_counter(model="gpt-4o", text="back on")
    assert tokens.FAST_PATH.calls == 1


def test_signature_shows_litellm_s_parameters_and_defaults():
    def described(function):
        return [(name, p.default, p.kind) for name, p in inspect.signature(function).parameters.items()]

    assert described(litellm.token_counter) == described(tokens.original_wrapper_token_counter)
    assert described(tokens.token_counter) == described(tokens.original_token_counter)


def test_pickles_by_reference_like_a_function(mode, litellm_count):
    """Sending token_counter to a worker process pickles it, as it did LiteLLM's function."""
    mode("rust")
    restored = pickle.loads(pickle.dumps(litellm.token_counter))
    assert restored == litellm.token_counter
    assert restored(model="gpt-4o", messages=CHAT) == litellm_count(model="gpt-4o", messages=CHAT)


def test_patched_functions_are_distinct_objects_named_like_litellm_s():
    assert tokens.token_counter is not tokens.wrapper_token_counter
    assert tokens.token_counter.__name__ == "token_counter"
    assert litellm.token_counter is tokens.wrapper_token_counter
