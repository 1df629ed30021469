"""Shared set-up: LiteLLM offline, patched by fast_litellm, modes restored after each test."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
import pytest  # noqa: E402

import fast_litellm  # noqa: E402
from fast_litellm import tokens  # noqa: E402


@pytest.fixture
def mode():
    """Set the tokens mode for one test; restores auto and clears stats afterwards."""
    before = fast_litellm.get_mode("tokens")

    def set_mode(value: str) -> None:
        fast_litellm.set_mode("tokens", value)
        fast_litellm.reset_stats()

    yield set_mode
    fast_litellm.set_mode("tokens", before)
    fast_litellm.reset_stats()


@pytest.fixture
def litellm_count():
    """LiteLLM's own token_counter (the unpatched core function)."""
    assert tokens.original_token_counter is not None
    return tokens.original_token_counter


__all__ = ["litellm"]
