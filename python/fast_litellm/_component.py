"""Per-component run-time state: mode, rollout, counters and sampled latencies.

One `Component` per accelerated area (tokens, cache, rate_limit, routing). Dispatch code reads
`mode` and bumps counters on every call, so both are plain attributes: no locks, no properties.
Counters are exact under the GIL; latencies are sampled (one call in `LATENCY_SAMPLE_EVERY`)
because timing every sub-microsecond call would cost more than the call.
"""

from __future__ import annotations

import os
import random
from typing import Final

from fast_litellm import _native

COMPONENTS: Final = ("tokens", "cache", "rate_limit", "routing")
MODES: Final = ("auto", "rust", "python", "shadow")
LATENCY_SAMPLE_EVERY: Final = 32


def parse_mode(value: str, source: str) -> str:
    mode = value.strip().lower()
    if mode not in MODES:
        raise ValueError(f"{source}: unknown mode {value!r}; expected one of {', '.join(MODES)}")
    return mode


def parse_rollout(value: str, source: str) -> float:
    try:
        percent = float(value)
    except ValueError:
        raise ValueError(f"{source}: rollout must be a number from 0 to 100, got {value!r}") from None
    if not 0.0 <= percent <= 100.0:
        raise ValueError(f"{source}: rollout must be from 0 to 100, got {value!r}")
    return percent


class Component:
    """Mode, rollout and counters of one accelerated component."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.mode = "auto"
        self.mode_source = "default"
        self.rollout_percent = 100.0
        # Smallest payload size (per payload class) from which native wins; None: never native.
        self.thresholds: dict[str, int | None] = {}
        self.thresholds_source = "shipped default"
        self.config_errors: list[str] = []
        self.rust_calls = 0
        self.python_calls = 0
        self.unsupported_calls = 0  # on Python because native does not handle that payload
        self.fallbacks = 0  # native raised; LiteLLM's function answered instead
        self.shadow_calls = 0
        self.shadow_mismatches = 0
        self.last_fallback_error: str | None = None
        self._sample_tick = 0
        self.rust_latency = _native.LatencyHistogram()
        self.python_latency = _native.LatencyHistogram()

    def configure_from_env(self, environ: os._Environ[str] | dict[str, str]) -> None:
        """Read FAST_LITELLM_<NAME> and FAST_LITELLM_ROLLOUT_<NAME>; bad values are reported, not fatal."""
        key = self.name.upper()
        mode_var, rollout_var = f"FAST_LITELLM_{key}", f"FAST_LITELLM_ROLLOUT_{key}"
        if mode_var in environ:
            try:
                self.mode = parse_mode(environ[mode_var], mode_var)
                self.mode_source = f"env {mode_var}"
            except ValueError as error:
                self.config_errors.append(f"{error}; using {self.mode!r}")
        if rollout_var in environ:
            try:
                self.rollout_percent = parse_rollout(environ[rollout_var], rollout_var)
            except ValueError as error:
                self.config_errors.append(f"{error}; using {self.rollout_percent}")

    def auto_wants_native(self, payload_class: str, size: int) -> bool:
        """`auto` mode: native when the payload is at least the calibrated crossover, within rollout."""
        threshold = self.thresholds.get(payload_class, 0)
        if threshold is None or size < threshold:
            return False
        percent = self.rollout_percent
        return percent >= 100.0 or random.random() * 100.0 < percent

    def should_sample(self) -> bool:
        self._sample_tick += 1
        return self._sample_tick % LATENCY_SAMPLE_EVERY == 0

    def record_fallback(self, error: BaseException) -> None:
        self.fallbacks += 1
        self.last_fallback_error = f"{type(error).__name__}: {error}"

    def reset_stats(self) -> None:
        self.rust_calls = self.python_calls = self.unsupported_calls = 0
        self.fallbacks = self.shadow_calls = self.shadow_mismatches = 0
        self.last_fallback_error = None
        self.rust_latency.reset()
        self.python_latency.reset()

    def stats(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "calls_rust": self.rust_calls,
            "calls_python": self.python_calls + self.unsupported_calls,
            "calls_python_unsupported": self.unsupported_calls,
            "fallbacks": self.fallbacks,
            "last_fallback_error": self.last_fallback_error,
            "shadow_calls": self.shadow_calls,
            "shadow_mismatches": self.shadow_mismatches,
            "latency_sample_every": LATENCY_SAMPLE_EVERY,
            "latency_ns_rust": self.rust_latency.summary(),
            "latency_ns_python": self.python_latency.summary(),
        }
