"""Differential tests: the native path returns exactly what LiteLLM's own functions return."""

from __future__ import annotations

import random
from typing import Any

import litellm
import litellm.litellm_core_utils.token_counter as core
import pytest
from litellm.types.utils import Message

import fast_litellm
from fast_litellm import tokens

from corpus import (
    ALPHABETS,
    HF_MODELS,
    TEXT_MODELS,
    _from_alphabet,
    huge_text_cases,
    message_cases,
    random_text,
    text_cases,
)

TEXT_CASES = 10_000
MESSAGE_CASES = 2_500


def outcome(function: Any, **kwargs: Any) -> tuple[str, Any]:
    """A call's result, or the type of the exception it raised."""
    try:
        return "ok", function(**kwargs)
    except Exception as error:  # the comparison is of LiteLLM's and our behaviour, errors included
        return "raised", type(error)


def test_every_corpus_model_resolves_to_a_native_encoding():
    for model in TEXT_MODELS:
        assert tokens.plan_for(model) is not None, model
    for model in HF_MODELS:
        assert tokens.plan_for(model) is None, model


def test_text_corpus_matches_litellm(mode, litellm_count):
    mode("rust")
    mismatches = []
    for case_id, model, text in text_cases(TEXT_CASES):
        expected = litellm_count(model=model, text=text)
        got = litellm.token_counter(model=model, text=text)
        if got != expected:
            mismatches.append((case_id, model, text[:80], expected, got))
    assert mismatches == []
    stats = fast_litellm.stats()["tokens"]
    assert stats["calls_rust"] == TEXT_CASES, {k: v for k, v in stats.items() if "latency" not in k}
    assert stats["calls_python"] == 0 and stats["fallbacks"] == 0


def test_text_as_list_matches_litellm(mode, litellm_count):
    mode("rust")
    for case_id, model, text in text_cases(500, seed=77):
        pieces: list[Any] = [text[: len(text) // 2], 42, text[len(text) // 2 :], None, "tail"]
        assert core.token_counter(model=model, text=pieces) == litellm_count(model=model, text=pieces), case_id
    assert fast_litellm.stats()["tokens"]["calls_rust"] == 500


@pytest.mark.parametrize("case_id,model,text", list(huge_text_cases()), ids=lambda value: str(value)[:20])
def test_huge_texts_match_litellm(mode, litellm_count, case_id, model, text):
    mode("rust")
    assert litellm.token_counter(model=model, text=text) == litellm_count(model=model, text=text)
    assert fast_litellm.stats()["tokens"]["calls_rust"] == 1


def test_message_corpus_matches_litellm(mode, litellm_count):
    mode("rust")
    mismatches = []
    for case_id, kwargs in message_cases(MESSAGE_CASES):
        expected = outcome(litellm_count, **kwargs)
        got = outcome(litellm.token_counter, **kwargs)
        if got != expected:
            mismatches.append((case_id, kwargs["model"], expected, got))
    assert mismatches == []
    stats = fast_litellm.stats()["tokens"]
    assert stats["calls_rust"] == MESSAGE_CASES, stats
    assert stats["fallbacks"] == 0


def test_message_objects_match_litellm(mode, litellm_count):
    mode("rust")
    for case_id, kwargs in message_cases(300, seed=5):
        objects = [
            Message(**message)
            if message["role"] == "assistant" and not isinstance(message.get("content"), list)
            else message
            for message in kwargs["messages"]
        ]
        kwargs = {**kwargs, "messages": objects}
        assert outcome(litellm.token_counter, **kwargs) == outcome(litellm_count, **kwargs), case_id


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": "gpt-4o", "text": "a", "messages": [{"role": "user", "content": "b"}]},
        {"model": "gpt-4o"},
        {"model": "gpt-4o", "text": "hi", "tools": [{"type": "function", "function": {"name": "f"}}]},
        {"model": "gpt-4o", "text": ("tuple", "of", "text")},
        {"model": "gpt-4o", "messages": [{"role": "user", "content": [{"kind": "no type"}]}]},
        {"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
        {"model": "gpt-4o", "messages": [{"role": "assistant", "tool_calls": "not a list"}]},
        {"model": "gpt-4o", "messages": [{"role": "assistant", "tool_calls": [{"id": "x"}]}]},
        {"model": "gpt-4o", "messages": [{"role": "assistant", "function_call": "str"}]},
        {"model": "gpt-4o", "messages": ["not a message"]},
        {"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]},
        {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": [{"type": "mystery"}]}],
            "default_token_count": 7,
        },
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "x", "provider_specific_fields": {}}]},
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "tool_choice": {"name": "pick"}},
        {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hello"}]},
        {"model": ["unhashable"], "text": "x"},
        {"model": 42, "text": "x"},
        {"model": "gpt-4o", "text": "x", "custom_tokenizer": None},
    ],
)
def test_edge_inputs_match_litellm_result_or_error(mode, litellm_count, kwargs):
    mode("rust")
    assert outcome(litellm.token_counter, **kwargs) == outcome(litellm_count, **kwargs)
    assert fast_litellm.stats()["tokens"]["fallbacks"] == 0


def test_disable_token_counter_returns_zero(mode, monkeypatch):
    mode("rust")
    monkeypatch.setattr(litellm, "disable_token_counter", True)
    assert litellm.token_counter(model="gpt-4o", text="hello") == 0


def test_registered_model_changes_resolution(mode, litellm_count):
    mode("rust")
    model = "fast-litellm-test/gpt-4o-custom"
    before = litellm.token_counter(model=model, text="hello world " * 50)
    assert before == litellm_count(model=model, text="hello world " * 50)
    litellm.register_model({model: {"litellm_provider": "openai", "mode": "chat", "max_tokens": 10}})
    try:
        text = "日本語のテキスト hello world " * 20
        assert litellm.token_counter(model=model, text=text) == litellm_count(model=model, text=text)
    finally:
        litellm.model_cost.pop(model, None)


def test_encode_and_decode_match_litellm(mode):
    mode("rust")
    for case_id, model, text in text_cases(2000, seed=11):
        expected = tokens.original_encode(model=model or "", text=text)
        got = litellm.encode(model=model or "", text=text)
        assert got == expected, case_id
        assert litellm.decode(model=model or "", tokens=got) == tokens.original_decode(model=model or "", tokens=got)
    assert fast_litellm.stats()["tokens"]["calls_rust"] == 4000


@pytest.mark.parametrize("bad", [[10**12], [-1], ["a"], [100257, 100276, 200000]])
def test_decode_bad_tokens_behaves_like_litellm(mode, bad):
    mode("rust")
    assert outcome(litellm.decode, model="gpt-4", tokens=bad) == outcome(
        tokens.original_decode, model="gpt-4", tokens=bad
    )


def test_shadow_mode_returns_litellm_answer_and_counts(mode):
    mode("shadow")
    for _, model, text in text_cases(50, seed=3):
        assert litellm.token_counter(model=model, text=text) == tokens.original_token_counter(model=model, text=text)
    stats = fast_litellm.stats()["tokens"]
    assert stats["shadow_calls"] == 50 and stats["shadow_mismatches"] == 0


class LoudStr(str):
    """A str subclass whose str() differs from its content."""

    def __str__(self) -> str:
        return "LOUD " + self


class DictSubclass(dict):
    pass


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "assistant", "tool_calls": [{"function": {"arguments": LoudStr("{}")}}]}],
        [{"role": "assistant", "function_call": {"arguments": LoudStr("x")}}],
        [{"role": LoudStr("user"), "content": LoudStr("content counted as is")}],
        [{"role": "user", "content": [{"type": "text", "text": LoudStr("block")}]}],
        [{"role": "user", "content": [{"type": "text", "text": 0}, {"type": "text", "text": []}]}],
        [{"role": "user", "content": [{"type": "text", "text": 12345}, {"type": "thinking", "thinking": 1.5}]}],
        [{"role": "user", "content": [{"type": "text"}, "plain part", ""]}],
        [{"role": "user", 7: "non-str key with str value", ("t",): 3}],
        [{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}],
        [{"role": "assistant", "tool_calls": [{"function": {"arguments": None}}]}],
        [{"role": "assistant", "tool_calls": []}],
        [DictSubclass(role="user", content="dict subclass")],
        [{"role": "user", "content": "x", "name": LoudStr("n")}],
        [{"role": "user", "content": ["a", {"type": "compaction", "content": "summary"}]}],
        [{"role": "user", "search_results": "a str is counted"}],
        [{"role": "user", "provider_specific_fields": "a str is counted"}],
        [{"role": "user", "content": "\ud800 lone surrogate in a message"}],
    ],
)
def test_message_walk_edge_shapes_match_litellm(mode, litellm_count, messages):
    mode("rust")
    for response in (False, True):
        kwargs = {"model": "gpt-4o", "messages": messages, "count_response_tokens": response}
        assert outcome(litellm.token_counter, **kwargs) == outcome(litellm_count, **kwargs)
    assert fast_litellm.stats()["tokens"]["fallbacks"] == 0


def test_count_cache_hits_give_litellm_answer(mode, litellm_count):
    mode("rust")
    tokens.configure_count_cache(tokens.DEFAULT_COUNT_CACHE_MB)  # also empties the cache
    history = [{"role": "system", "content": "You are helpful. " * 200}]
    for turn in range(6):
        history.append({"role": "user", "content": f"question {turn} " * 40})
        assert litellm.token_counter(model="gpt-4o", messages=history) == litellm_count(
            model="gpt-4o", messages=history
        )
        text = history[0]["content"] + str(turn % 2)
        assert litellm.token_counter(model="gpt-4o", text=text) == litellm_count(model="gpt-4o", text=text)
    cache = fast_litellm.stats()["tokens"]["count_cache"]
    assert cache["hits"] >= 5 + 4 and cache["entries"] > 0


def test_count_cache_can_be_disabled(mode):
    mode("rust")
    tokens.configure_count_cache(0)
    try:
        text = "repeated content " * 100
        assert litellm.token_counter(model="gpt-4o", text=text) == litellm.token_counter(model="gpt-4o", text=text)
        assert fast_litellm.stats()["tokens"]["count_cache"]["entries"] == 0
    finally:
        tokens.configure_count_cache(tokens.DEFAULT_COUNT_CACHE_MB)


def test_large_chats_match_litellm_across_the_detach_boundary(mode, litellm_count):
    """Chats with 64K code points of text or more are counted without the GIL; strings with lone
    surrogates are left to Python in chats on both sides of that boundary."""
    mode("rust")
    rng = random.Random(11)
    chat = [{"role": "system", "content": random_text(rng, 30_000)}]
    chat.append({"role": "user", "content": "before the boundary \ud800 lone surrogate"})
    chat.append({"role": "assistant", "content": _from_alphabet(rng, ALPHABETS["cjk"], 40_000), "name": "bot"})
    chat += [{"role": "user", "content": random_text(rng, 3_000)} for _ in range(20)]
    chat.append({"role": "user", "content": [{"type": "text", "text": random_text(rng, 100_000)}]})
    chat.append({"role": "user", "content": "after the boundary \udfff lone surrogate"})
    for first in (chat, chat[2:], [{"role": "user", "content": random_text(rng, 70_000)}, *chat]):
        assert litellm.token_counter(model="gpt-4o", messages=first) == litellm_count(model="gpt-4o", messages=first)
    assert fast_litellm.stats()["tokens"]["fallbacks"] == 0
