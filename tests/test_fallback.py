"""A failing native path (exception or Rust panic) returns LiteLLM's answer and is counted."""

from __future__ import annotations

import litellm
import pytest

import fast_litellm
from fast_litellm import _native, tokens


class BrokenEncoding:
    """Stands in for a native encoding whose every call fails."""

    def __init__(self, failure):
        self._failure = failure

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            self._failure()

        return fail


def raise_runtime_error():
    raise RuntimeError("native failure injected by the test")


def raise_panic():
    _native._panic_for_tests("panic injected by the test")


@pytest.fixture
def broken_native(monkeypatch):
    def install(failure):
        # plans hold encodings (the native fast path's too): none may outlive the test
        tokens._fast_plans.clear()
        monkeypatch.setattr(tokens, "_plans", {})
        monkeypatch.setattr(tokens, "count_text", lambda enc, text: BrokenEncoding(failure).count(text))
        monkeypatch.setattr(tokens, "encoding", lambda name: BrokenEncoding(failure))

    yield install
    tokens._fast_plans.clear()


def test_panic_surfaces_as_base_exception_not_crash():
    with pytest.raises(BaseException, match="panic injected"):
        _native._panic_for_tests("panic injected by the test")


@pytest.mark.parametrize("failure", [raise_runtime_error, raise_panic], ids=["exception", "panic"])
def test_text_falls_back_to_litellm(mode, broken_native, failure):
    mode("rust")
    broken_native(failure)
    text = "fallback keeps the answer exact 日本語 😀"
    assert litellm.token_counter(model="gpt-4o", text=text) == tokens.original_token_counter(model="gpt-4o", text=text)
    stats = fast_litellm.stats()["tokens"]
    assert stats["fallbacks"] == 1 and stats["calls_rust"] == 0
    assert "injected" in stats["last_fallback_error"]


@pytest.mark.parametrize("failure", [raise_runtime_error, raise_panic], ids=["exception", "panic"])
def test_messages_fall_back_to_litellm(mode, broken_native, failure):
    mode("rust")
    broken_native(failure)
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello", "name": "bob"}]
    expected = tokens.original_token_counter(model="gpt-4", messages=messages)
    assert litellm.token_counter(model="gpt-4", messages=messages) == expected
    assert fast_litellm.stats()["tokens"]["fallbacks"] == 1


@pytest.mark.parametrize("failure", [raise_runtime_error, raise_panic], ids=["exception", "panic"])
def test_encode_decode_fall_back_to_litellm(mode, broken_native, failure):
    mode("rust")
    broken_native(failure)
    ids = litellm.encode(model="gpt-4", text="hello world")
    assert ids == tokens.original_encode(model="gpt-4", text="hello world")
    assert litellm.decode(model="gpt-4", tokens=ids) == "hello world"
    assert fast_litellm.stats()["tokens"]["fallbacks"] == 2


def test_python_mode_never_calls_native(mode, broken_native):
    mode("python")
    broken_native(raise_runtime_error)
    assert litellm.token_counter(model="gpt-4o", text="hello") == 1
    stats = fast_litellm.stats()["tokens"]
    assert stats["calls_python"] == 1 and stats["fallbacks"] == 0 and stats["calls_rust"] == 0


def test_unsupported_payload_goes_to_litellm_without_fallback(mode):
    mode("rust")
    messages = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png", "detail": "low"}}]}
    ]
    expected = tokens.original_token_counter(model="gpt-4o", messages=messages)
    assert litellm.token_counter(model="gpt-4o", messages=messages) == expected
    stats = fast_litellm.stats()["tokens"]
    assert stats["calls_python_unsupported"] == 1 and stats["fallbacks"] == 0
