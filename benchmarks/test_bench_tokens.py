"""pytest-benchmark suite: LiteLLM (python mode) vs native (rust mode) vs auto, cold inputs.

    python -m pytest benchmarks --benchmark-json=benchmarks.json
    fast-litellm report --benchmark-json benchmarks.json

Each round counts a text or chat that no earlier round has seen (pedantic mode with a setup
function builds it outside the timed region). Not part of the test suite: no assertions on time.
"""

from __future__ import annotations

import litellm
import pytest

import fast_litellm
from fast_litellm._workloads import ColdInputs

MODES = ["python", "rust", "auto"]
TEXT_TOKENS = [12, 100, 1_000, 10_000, 100_000]
CHARS_PER_TOKEN = 5  # prose of the standard library's docstrings on o200k_base, roughly
CHATS = [2, 20, 200]
INPUTS = ColdInputs(seed=11)


def rounds_for(size: int) -> int:
    return max(5, min(300, 300_000 // max(size, 1)))


@pytest.fixture(autouse=True)
def restore_mode():
    yield
    fast_litellm.set_mode("tokens", "auto")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tokens", TEXT_TOKENS)
def test_text(benchmark, mode, tokens):
    benchmark.group = f"text {tokens} tokens"
    fast_litellm.set_mode("tokens", mode)

    def fresh():
        return (), {"model": "gpt-4o", "text": INPUTS.text(tokens * CHARS_PER_TOKEN)}

    result = benchmark.pedantic(litellm.token_counter, setup=fresh, rounds=rounds_for(tokens), warmup_rounds=1)
    assert result > 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("messages", CHATS)
def test_chat(benchmark, mode, messages):
    benchmark.group = f"chat {messages} messages"
    fast_litellm.set_mode("tokens", mode)

    def fresh():
        return (), {"model": "gpt-4o", "messages": INPUTS.chat(messages)}

    result = benchmark.pedantic(litellm.token_counter, setup=fresh, rounds=rounds_for(messages * 60), warmup_rounds=1)
    assert result > 0
