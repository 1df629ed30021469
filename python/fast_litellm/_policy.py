"""Selector policy: per-component thresholds used by `auto` mode.

Until a calibrated policy is loaded, the shipped default applies. For tokens it sends every
supported payload to native: measured on 2-core x86_64 hosts, native wins from the smallest
input up (see README, "Benchmarks"). Components without a native implementation stay on Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fast_litellm._component import Component

SHIPPED_DEFAULT: dict[str, dict[str, int | None]] = {
    "tokens": {"text": 0, "messages": 0, "other": 0},
    "cache": {},
    "rate_limit": {},
    "routing": {},
}


def load_into(components: Mapping[str, Component], environ: Mapping[str, str]) -> dict[str, Any]:
    """Apply the policy to `components`; return what status() reports about it."""
    for name, component in components.items():
        component.thresholds = dict(SHIPPED_DEFAULT.get(name, {}))
        component.thresholds_source = "shipped default"
    return {"source": "shipped default", "path": None, "problems": []}
