"""Per-component run-time state: mode, rollout, counters and sampled latencies.

One `Component` per accelerated area (tokens, cache, rate_limit, routing). Dispatch code reads
`mode` and bumps counters on every call, so both are plain attributes: no locks, no properties.
Counters are exact under the GIL; latencies are sampled (one call in `LATENCY_SAMPLE_EVERY`)
because timing every sub-microsecond call would cost more than the call.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final, Protocol

from fast_litellm import _native

COMPONENTS: Final = ("tokens", "cache", "rate_limit", "routing")
MODES: Final = ("auto", "rust", "python", "shadow")
LATENCY_SAMPLE_EVERY: Final = 32
# Rollout draws come from a generator of our own: drawing from the `random` module's would shift
# a seeded application's stream (and LiteLLM's routing picks with it).
_ROLLOUT_DRAWS: Final = random.Random()
if hasattr(os, "register_at_fork"):  # forked workers draw apart, as `random`'s own generator does
    os.register_at_fork(after_in_child=_ROLLOUT_DRAWS.seed)


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


class Breaker:
    """Opens after `max_failures` native failures within `window_s`; after `cooldown_s` one trial
    call may go native: success closes it, failure opens it again for another cool-down.

    `open_until` is 0.0 while closed, so the hot path checks one float."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 60.0,
        cooldown_s: float = 30.0,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.max_failures, self.window_s, self.cooldown_s = max_failures, window_s, cooldown_s
        self._on_change = on_change
        self.failure_times: deque[float] = deque(maxlen=max_failures)
        self.open_until = 0.0
        self.trial_in_flight = False
        self.times_opened = 0
        self._lock = threading.Lock()

    def record_failure(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self.trial_in_flight:  # the trial failed: open again
                self.trial_in_flight = False
                self._open(now)
                return
            self.failure_times.append(now)
            recent = [t for t in self.failure_times if now - t <= self.window_s]
            if len(recent) >= self.max_failures:
                self._open(now)

    def record_success(self) -> None:
        if self.trial_in_flight:
            with self._lock:
                self.trial_in_flight = False
                self.open_until = 0.0
                self.failure_times.clear()
            if self._on_change is not None:
                self._on_change()

    def allow_trial(self) -> bool:
        """While open: False until the cool-down ends, then True for exactly one caller."""
        with self._lock:
            if self.open_until == 0.0:
                return True
            if self.trial_in_flight or time.monotonic() < self.open_until:
                return False
            self.trial_in_flight = True
            return True

    def _open(self, now: float) -> None:
        self.open_until = now + self.cooldown_s
        self.failure_times.clear()
        self.times_opened += 1
        if self._on_change is not None:
            self._on_change()

    def after_fork_in_child(self) -> None:
        """A forked child has only the forking thread: a lock another thread held is dead."""
        self._lock = threading.Lock()

    def state(self) -> dict[str, object]:
        if self.open_until == 0.0:
            state = "closed"
        elif self.trial_in_flight:
            state = "half-open"
        else:
            state = "open"
        return {"state": state, "times_opened": self.times_opened}


class _NativeCounters(Protocol):
    def counts(self) -> tuple[int, int]: ...
    def reset_counts(self) -> None: ...


class Component:
    """Mode, rollout and counters of one accelerated component."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._mode = "auto"
        self.mode_source = "default"
        self._rollout_percent = 100.0
        # Smallest payload size (per payload class) from which native wins; None: never native.
        self._thresholds: dict[str, int | None] = {}
        self.thresholds_source = "shipped default"
        # Hot-path shortcuts: a "text" / "messages" payload at least this large goes native with
        # no further checks (mode rust, or auto at full rollout with the breaker closed);
        # infinity sends calls through wants_native().
        self.text_native_from: float = math.inf
        self.messages_native_from: float = math.inf
        # Called after the shortcuts change (the tokens component mirrors them natively).
        self.on_refresh: Callable[[], None] | None = None
        self.config_errors: list[str] = []
        self.rust_calls = 0
        self.python_calls = 0
        self.unsupported_calls = 0  # on Python because native does not handle that payload
        self.fallbacks = 0  # native raised; LiteLLM's function answered instead
        self.shadow_calls = 0
        self.shadow_mismatches = 0
        self.last_fallback_error: str | None = None
        # Calls counted natively (methods with no Python frame): `counts()` -> (rust, python).
        self.native_counters: _NativeCounters | None = None
        self.sample_tick = 0
        self.breaker = Breaker(on_change=self._refresh)
        self.rust_latency = _native.LatencyHistogram()
        self.python_latency = _native.LatencyHistogram()
        self._refresh()

    def configure_from_env(self, environ: Mapping[str, str], modes: bool = True) -> None:
        """Read FAST_LITELLM_<NAME> (unless `modes` is False) and FAST_LITELLM_ROLLOUT_<NAME>; bad
        values are reported, not fatal."""
        key = self.name.upper()
        mode_var, rollout_var = f"FAST_LITELLM_{key}", f"FAST_LITELLM_ROLLOUT_{key}"
        if modes and mode_var in environ:
            try:
                self.mode = parse_mode(environ[mode_var], mode_var)
                self.mode_source = f"env {mode_var}"
            except ValueError as error:
                self._config_error(f"{error}; using {self.mode!r}")
        if rollout_var in environ:
            try:
                self.rollout_percent = parse_rollout(environ[rollout_var], rollout_var)
            except ValueError as error:
                self._config_error(f"{error}; using {self.rollout_percent}")

    def _config_error(self, message: str) -> None:
        if message not in self.config_errors:  # the environment is read again by reload_policy()
            self.config_errors.append(message)

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        self._mode = value
        self._refresh()

    @property
    def thresholds(self) -> dict[str, int | None]:
        return self._thresholds

    @thresholds.setter
    def thresholds(self, value: dict[str, int | None]) -> None:
        self._thresholds = dict(value)
        self._refresh()

    @property
    def rollout_percent(self) -> float:
        return self._rollout_percent

    @rollout_percent.setter
    def rollout_percent(self, value: float) -> None:
        self._rollout_percent = value
        self._refresh()

    def _refresh(self) -> None:
        self.text_native_from = self._native_from("text")
        self.messages_native_from = self._native_from("messages")
        if self.on_refresh is not None:
            self.on_refresh()

    def _native_from(self, payload_class: str) -> float:
        if self.breaker.open_until != 0.0 or self._mode not in ("rust", "auto"):
            return math.inf
        if self._mode == "rust":
            return 0
        if self._rollout_percent < 100.0:
            return math.inf
        threshold = self._thresholds.get(payload_class, 0)
        return math.inf if threshold is None else threshold

    def wants_native(self, payload_class: str, size: int) -> bool:
        """The per-call decision: mode, then (auto) size vs threshold and rollout, then breaker."""
        mode = self._mode
        if mode == "python":
            return False
        if mode == "auto":
            threshold = self._thresholds.get(payload_class, 0)
            if threshold is None or size < threshold:
                return False
            percent = self._rollout_percent
            if percent < 100.0 and _ROLLOUT_DRAWS.random() * 100.0 >= percent:
                return False
        return self.breaker.open_until == 0.0 or self.breaker.allow_trial()

    def record_fallback(self, error: BaseException) -> None:
        self.fallbacks += 1
        self.last_fallback_error = f"{type(error).__name__}: {error}"
        self.breaker.record_failure()

    def reset_stats(self) -> None:
        self.rust_calls = self.python_calls = self.unsupported_calls = 0
        self.fallbacks = self.shadow_calls = self.shadow_mismatches = 0
        self.last_fallback_error = None
        if self.native_counters is not None:
            self.native_counters.reset_counts()
        self.breaker = Breaker(on_change=self._refresh)
        self._refresh()
        self.rust_latency.reset()
        self.python_latency.reset()

    def stats(self) -> dict[str, object]:
        native_rust, native_python = self.native_counters.counts() if self.native_counters is not None else (0, 0)
        return {
            "mode": self.mode,
            "calls_rust": self.rust_calls + native_rust,
            "calls_python": self.python_calls + native_python + self.unsupported_calls,
            "calls_python_unsupported": self.unsupported_calls,
            "fallbacks": self.fallbacks,
            "last_fallback_error": self.last_fallback_error,
            "shadow_calls": self.shadow_calls,
            "shadow_mismatches": self.shadow_mismatches,
            "breaker": self.breaker.state(),
            "latency_sample_every": LATENCY_SAMPLE_EVERY,
            "latency_ns_rust": self.rust_latency.summary(),
            "latency_ns_python": self.python_latency.summary(),
        }
