"""pytest-benchmark suite set-up: LiteLLM offline and patched; each benchmark picks its mode."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402,F401

import fast_litellm  # noqa: E402,F401
