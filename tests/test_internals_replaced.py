"""A replaced LiteLLM internal (a test's mock, an application's monkeypatch) sees every call.

While any function the native path reproduces is not LiteLLM's own, token counting takes
LiteLLM's path, so the replacement is called and its effect is visible; once it is put back,
counting is native again.
"""

from __future__ import annotations

import types
from unittest import mock

import litellm
import litellm.litellm_core_utils.token_counter as core
import litellm.utils
import pytest
import tiktoken

import fast_litellm
from fast_litellm import tokens

from test_patching import run_python

CHAT = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]


def native_calls() -> int:
    return fast_litellm.stats()["tokens"]["calls_rust"]


@pytest.mark.parametrize(
    "name", ["_encoding_count", "_get_count_function", "get_encoding", "openai_tokenizer_encoding"]
)
def test_a_wrapped_counting_function_is_called_for_text(mode, name):
    mode("rust")
    original = getattr(core, name)
    with mock.patch.object(core, name, wraps=original) as spy:
        assert tokens.internals_replaced == [f"{core.__name__}.{name}"]
        before = native_calls()
        count = litellm.token_counter(model="gpt-4o", text="hello world, counted by LiteLLM")
        assert spy.call_count >= 1
        assert native_calls() == before
    assert tokens.internals_replaced == []
    assert count == tokens.original_token_counter(model="gpt-4o", text="hello world, counted by LiteLLM")
    before = native_calls()
    assert litellm.token_counter(model="gpt-4o", text="hello world") == 2
    assert native_calls() == before + 1


def test_a_replacement_that_changes_the_answer_changes_ours(mode):
    mode("rust")
    with mock.patch.object(core, "_encoding_count", return_value=7):
        assert litellm.token_counter(model="gpt-4o", text="one two three") == 7
        assert litellm.utils.token_counter(model="gpt-4o", messages=CHAT) == 7 * 4 + 3 * 2 + 3
    assert litellm.token_counter(model="gpt-4o", text="one two three") == 3


def test_the_message_counter_replaced_with_monkeypatch(mode, monkeypatch):
    mode("auto")
    seen = []
    original = core._count_messages

    def observed(*args, **kwargs):
        seen.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(core, "_count_messages", observed)
    expected = tokens.original_token_counter(model="gpt-4o", messages=CHAT)
    assert litellm.token_counter(model="gpt-4o", messages=CHAT) == expected
    assert seen and seen[-1] == CHAT
    monkeypatch.undo()
    assert tokens.internals_replaced == []


@pytest.mark.parametrize(
    ("module", "name"),
    [(litellm.utils, "select_tokenizer"), (litellm.utils, "convert_list_message_to_dict"), (tiktoken, "get_encoding")],
)
def test_other_watched_modules(mode, module, name):
    mode("rust")
    with mock.patch.object(module, name, wraps=getattr(module, name)):
        assert tokens.internals_replaced == [f"{module.__name__}.{name}"]
        before = native_calls()
        litellm.token_counter(model="gpt-3.5-turbo", messages=CHAT)
        litellm.encode(model="gpt-4o", text="hello")
        assert native_calls() == before
    assert tokens.internals_replaced == []


def test_deleting_a_watched_function_sends_calls_to_litellm(mode):
    mode("rust")
    original = core._count_extra
    del core._count_extra
    try:
        assert tokens.internals_replaced == [f"{core.__name__}._count_extra"]
        before = native_calls()
        with pytest.raises(NameError):  # LiteLLM's own error for its missing function
            litellm.token_counter(model="gpt-4o", messages=CHAT)
        assert native_calls() == before
    finally:
        core._count_extra = original
    assert tokens.internals_replaced == []


def test_status_names_what_is_replaced(mode):
    with mock.patch.object(core, "_count_messages"):
        assert fast_litellm.status()["token_settings"]["litellm_internals_replaced"] == [
            f"{core.__name__}._count_messages"
        ]
    assert fast_litellm.status()["token_settings"]["litellm_internals_replaced"] == []


def test_watched_modules_are_still_modules():
    assert isinstance(core, types.ModuleType) and repr(type(core)) == "<class 'module'>"
    assert core.token_counter is tokens.token_counter


def test_unpatch_gives_the_modules_their_own_class_back():
    result = run_python(
        """
import json, types
import fast_litellm, litellm
import litellm.litellm_core_utils.token_counter as core
watched = type(core) is not types.ModuleType
fast_litellm.unpatch()
plain = type(core) is types.ModuleType and type(litellm.utils) is types.ModuleType
fast_litellm.patch()
print(json.dumps({"watched": watched, "plain": plain, "again": type(core) is not types.ModuleType}))
"""
    )
    assert result == {"watched": True, "plain": True, "again": True}
