"""Property tests (hypothesis): native counts equal LiteLLM's on arbitrary text and chats."""

from __future__ import annotations

import litellm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fast_litellm
from fast_litellm import tokens

MODELS = st.sampled_from(["gpt-4o", "gpt-4", "gpt-3.5-turbo-0301", None, "o1"])
# Every code point class, lone surrogates included, with extra weight on the tricky ones.
ANY_CHAR = st.characters(codec=None, exclude_categories=())
TRICKY = st.sampled_from(list(" \t\n\r\u00a0\u3000'sStTlLdDmM0123456789ſK<|>endoftx😀日本\u0301\ud800\udfff"))
TEXT = st.text(st.one_of(ANY_CHAR, TRICKY), max_size=3000)
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(model=MODELS, text=TEXT)
def test_text_count_equals_litellm(model, text):
    fast_litellm.set_mode("tokens", "rust")
    assert litellm.token_counter(model=model, text=text) == tokens.original_token_counter(model=model, text=text)


@SETTINGS
@given(text=TEXT)
def test_encode_decode_equal_litellm(text):
    fast_litellm.set_mode("tokens", "rust")
    ids = litellm.encode(model="gpt-4o", text=text)
    assert ids == tokens.original_encode(model="gpt-4o", text=text)
    assert litellm.decode(model="gpt-4o", tokens=ids) == tokens.original_decode(model="gpt-4o", tokens=ids)


@SETTINGS
@given(text=st.text(st.one_of(ANY_CHAR, TRICKY), min_size=1, max_size=5000), cut=st.integers(0, 5))
def test_count_is_additive_over_chunk_boundaries(text, cut):
    """LiteLLM counts 1024-character chunks independently, so a split at a chunk boundary adds."""
    fast_litellm.set_mode("tokens", "rust")
    boundary = min(len(text), cut * tokens.chunk_chars())
    whole = litellm.token_counter(model="gpt-4o", text=text)
    left = litellm.token_counter(model="gpt-4o", text=text[:boundary])
    right = litellm.token_counter(model="gpt-4o", text=text[boundary:])
    assert whole == left + right


MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": st.one_of(st.none(), TEXT)},
    optional={
        "name": st.text(max_size=20),
        "tool_calls": st.lists(
            st.fixed_dictionaries({"id": st.text(max_size=5), "function": st.fixed_dictionaries({"arguments": TEXT})}),
            max_size=3,
        ),
    },
)


@SETTINGS
@given(model=MODELS, messages=st.lists(MESSAGE, max_size=8), response=st.sampled_from([False, True, None]))
def test_message_count_equals_litellm(model, messages, response):
    fast_litellm.set_mode("tokens", "rust")
    kwargs = {"model": model, "messages": messages, "count_response_tokens": response}
    assert litellm.token_counter(**kwargs) == tokens.original_token_counter(**kwargs)
