"""`fast-litellm calibrate`: measure on this host where native beats LiteLLM, write a policy.

For each accelerated component and payload class, calls go through LiteLLM's public entry point
(`litellm.token_counter`, `Router.async_get_available_deployment`, patched), so the FFI crossing and
argument conversion are measured.
At every ladder size, Python and native calls alternate on inputs never seen before and land in
HdrHistograms. The crossover (smallest size from which native wins consistently by the safety
margin) becomes the threshold; a second pass then measures Python, native and `auto` with that
threshold side by side, which is what the policy records and the report shows.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fast_litellm import _host, _native, _policy
from fast_litellm._workloads import ColdInputs, make_router

MARGIN = 0.05
MODEL = "gpt-4o"


@dataclass(frozen=True)
class Ladder:
    component: str
    payload_class: str
    unit: str
    sizes: tuple[int, ...]
    quick_sizes: tuple[int, ...]
    # (size, inputs) -> a call with fresh input, ready to time
    make_call: Callable[[int, ColdInputs], Callable[[], object]]
    # This ladder's share of the budget's time per point (routing points are long and many).
    budget_scale: float = 1.0
    # Whether this host can run the ladder (the limiter needs LiteLLM's proxy extra).
    available: Callable[[], bool] = lambda: True


def _token_text_call(size: int, inputs: ColdInputs) -> Callable[[], object]:
    import litellm

    text = inputs.text(size)
    return lambda: litellm.token_counter(model=MODEL, text=text)


def _token_chat_call(size: int, inputs: ColdInputs) -> Callable[[], object]:
    import litellm

    messages = inputs.chat(size)
    return lambda: litellm.token_counter(model=MODEL, messages=messages)


class _Routers:
    """One router per strategy and deployment count, built once (a 1,000-deployment router takes
    seconds to build), and one event loop for their async picks (the proxy's path; cost-based
    routing has no sync pick); released when calibration ends."""

    def __init__(self) -> None:
        self.built: dict[tuple[str, int], Any] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def pick_call(self, strategy: str, size: int, inputs: ColdInputs) -> Callable[[], object]:
        router = self.built.get((strategy, size))
        if router is None:
            router = self.built[strategy, size] = make_router(size, strategy)
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        loop = self.loop
        messages = [{"role": "user", "content": inputs.text(48)}]  # each pick counts fresh tokens
        return lambda: loop.run_until_complete(
            router.async_get_available_deployment(model="group", messages=messages, request_kwargs={})
        )

    def release(self) -> None:
        self.built.clear()
        if self.loop is not None:
            self.loop.close()
            self.loop = None


_ROUTERS = _Routers()


class _Caches:
    """The cache ladders' instances, one per size, built once; released when calibration ends."""

    def __init__(self) -> None:
        self.stores: dict[int, Any] = {}
        self.fronts: dict[int, Any] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def store_call(self, keys: int, inputs: ColdInputs) -> Callable[[], object]:
        """A get, a set and an increment on an `InMemoryCache` holding `keys` keys."""
        from litellm.caching.in_memory_cache import InMemoryCache

        store = self.stores.get(keys)
        if store is None:
            store = self.stores[keys] = InMemoryCache(max_size_in_memory=keys * 2)
            for index in range(keys):
                store.set_cache(f"key-{index}", {"deployment": index, "latency": [0.25]}, ttl=3600)
        fresh = inputs.text(16)
        key = f"key-{sum(map(ord, fresh)) % keys}"

        def call() -> None:
            store.get_cache(key)
            store.set_cache(fresh, 1, ttl=60)
            store.increment_cache(fresh, 1)

        return call

    def front_call(self, entries: int, inputs: ColdInputs) -> Callable[[], object]:
        """`DualCache.async_get_cache` of a map of `entries` deployments (a strategy's state)."""
        from litellm import DualCache

        front = self.fronts.get(entries)
        if front is None:
            front = self.fronts[entries] = DualCache()
            front.set_cache("map", {f"deployment-{index}": {"latency": [0.25] * 10} for index in range(entries)})
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        loop = self.loop
        inputs.text(1)
        return lambda: loop.run_until_complete(front.async_get_cache("map"))

    def release(self) -> None:
        self.stores.clear()
        self.fronts.clear()
        if self.loop is not None:
            self.loop.close()
            self.loop = None


_CACHES = _Caches()


def _proxy_extra_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("fastapi") is not None


class _Limiters:
    """One v3 limiter per descriptor count (LiteLLM's proxy handler, without Redis) and one event
    loop for their checks; released when calibration ends."""

    def __init__(self) -> None:
        self.handlers: dict[int, Any] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def check_call(self, descriptors: int, inputs: ColdInputs) -> Callable[[], object]:
        """The proxy's first-pass check for a request under `descriptors` limited scopes (rpm and
        tpm each, a parallel limit on the first), then the release of its slot."""
        import fast_litellm

        fast_litellm._patcher.expect_proxy()  # calibrate plays the proxy's part
        from litellm import DualCache
        from litellm.proxy.hooks.parallel_request_limiter_v3 import _PROXY_MaxParallelRequestsHandler_v3
        from litellm.proxy.utils import InternalUsageCache
        from litellm.redis.stores.rate_limits import RateLimitScope

        handler = self.handlers.get(descriptors)
        if handler is None:
            handler = self.handlers[descriptors] = _PROXY_MaxParallelRequestsHandler_v3(InternalUsageCache(DualCache()))
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        loop = self.loop
        high = 10**15
        scopes = [{"key": "scope", "value": f"value-{index}"} for index in range(descriptors)]
        limits = [{**scope, "rate_limit": {"requests_per_unit": high, "tokens_per_unit": high}} for scope in scopes]
        limits[0]["rate_limit"]["max_parallel_requests"] = high
        slot = inputs.text(12)
        gauges = (RateLimitScope("scope", "value-0"),)

        async def check() -> None:
            await handler.should_rate_limit(limits, skip_tpm_check=True, parallel_slot_id=slot)
            await handler._release_parallel_request_slots_in_memory(gauges, slot)

        return lambda: loop.run_until_complete(check())

    def release(self) -> None:
        self.handlers.clear()
        if self.loop is not None:
            self.loop.close()
            self.loop = None


_LIMITERS = _Limiters()


def _routing_ladder(payload_class: str, strategy: str) -> Ladder:
    return Ladder(
        "routing",
        payload_class,
        "deployments",
        sizes=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
        quick_sizes=(1, 5, 50, 200),
        make_call=lambda size, inputs: _ROUTERS.pick_call(strategy, size, inputs),
        budget_scale=0.4,
    )


LADDERS = (
    Ladder(
        "tokens",
        "text",
        "characters",
        sizes=(1, 4, 16, 64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576),
        quick_sizes=(1, 16, 256, 4096, 65_536, 1_048_576),
        make_call=_token_text_call,
    ),
    Ladder(
        "tokens",
        "messages",
        "messages",
        sizes=(1, 2, 5, 10, 20, 50, 100, 200, 500),
        quick_sizes=(1, 2, 10, 50, 500),
        make_call=_token_chat_call,
    ),
    # Routing: a pick through `Router.async_get_available_deployment` per strategy. Python is
    # LiteLLM's code throughout; native also covers the router core's per-candidate glue.
    _routing_ladder("latency", "latency-based-routing"),
    _routing_ladder("usage", "usage-based-routing"),
    _routing_ladder("usage_v2", "usage-based-routing-v2"),
    _routing_ladder("least_busy", "least-busy"),
    _routing_ladder("cost", "cost-based-routing"),
    # Cache: LiteLLM's `InMemoryCache` operations (the store) and `DualCache`'s in-memory path
    # (the front). Both decide per instance, not per size: native where it wins at every size.
    Ladder(
        "cache",
        "store",
        "keys",
        sizes=(10, 1000, 100_000),
        quick_sizes=(10, 1000),
        make_call=_CACHES.store_call,
    ),
    Ladder(
        "cache",
        "front",
        "entries",
        sizes=(1, 10, 100, 1000),
        quick_sizes=(1, 100),
        make_call=_CACHES.front_call,
    ),
    # The proxy's v3 limiter: a request's check (and its slot's release) under 1-8 descriptors.
    Ladder(
        "rate_limit",
        "check",
        "descriptors",
        sizes=(1, 2, 4, 8),
        quick_sizes=(1, 4),
        make_call=_LIMITERS.check_call,
        available=_proxy_extra_installed,
    ),
)

SIDE_MODES = {"python": "python", "native": "rust", "auto": "auto"}


@dataclass
class Budget:
    seconds_per_point: float
    min_reps: int
    max_reps: int


QUICK = Budget(seconds_per_point=1.5, min_reps=3, max_reps=1000)
FULL = Budget(seconds_per_point=8.0, min_reps=5, max_reps=5000)


class Progress:
    """A bar on a terminal, one plain line per step otherwise."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def step(self, label: str) -> None:
        self.done += 1
        if self.tty:
            filled = int(30 * self.done / self.total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {label:<40}")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"calibrate {self.done}/{self.total}: {label}\n")
        self.stream.flush()


def measure_point(
    component: Any, ladder: Ladder, size: int, sides: tuple[str, ...], inputs: ColdInputs, budget: Budget
) -> dict[str, _native.LatencyHistogram]:
    """Alternate the sides (rotating who goes first) on fresh inputs until the budget is spent."""
    histograms = {side: _native.LatencyHistogram() for side in sides}
    started, reps = time.monotonic(), 0
    saved_mode = component.mode
    seconds = budget.seconds_per_point * ladder.budget_scale
    try:
        while reps < budget.min_reps or (reps < budget.max_reps and time.monotonic() - started < seconds):
            for offset in range(len(sides)):
                side = sides[(reps + offset) % len(sides)]
                call = ladder.make_call(size, inputs)
                component.mode = SIDE_MODES[side]
                begin = time.perf_counter_ns()
                call()
                histograms[side].record(time.perf_counter_ns() - begin)
            reps += 1
    finally:
        component.mode = saved_mode
    return histograms


def selector_overhead_ns(component: Any, calls: int = 200_000) -> float:
    """Nanoseconds per `auto` decision (the call as dispatch makes it, loop cost subtracted)."""
    saved = (component.mode, dict(component.thresholds))
    component.mode, component.thresholds = "auto", {"text": 64}
    decide = component.wants_native
    try:
        begin = time.perf_counter_ns()
        for _ in range(calls):
            decide("text", 100)
        decided = time.perf_counter_ns() - begin
        begin = time.perf_counter_ns()
        for _ in range(calls):
            pass
        empty = time.perf_counter_ns() - begin
    finally:
        component.mode, component.thresholds = saved[0], saved[1]
    return max(0.0, (decided - empty) / calls)


def run(quick: bool, out: Path | None, stream: Any = None) -> Path:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # noqa: F401  # calibrate times LiteLLM's public entry points

    import fast_litellm

    components = fast_litellm._components
    budget = QUICK if quick else FULL
    inputs = ColdInputs(seed=int(time.time()))
    ladders = [
        ladder
        for ladder in LADDERS
        if ladder.available() and not fast_litellm.status()["components"][ladder.component]["config_errors"]
    ]
    steps = sum(len(ladder.quick_sizes if quick else ladder.sizes) for ladder in ladders) * 2
    progress = Progress(steps, stream)
    policy_components: dict[str, Any] = {}
    for ladder in ladders:
        component = components[ladder.component]
        sizes = ladder.quick_sizes if quick else ladder.sizes
        ladder.make_call(1, inputs)()  # load encodings before timing
        saved_thresholds = dict(component.thresholds)
        first_pass = []
        for size in sizes:
            histograms = measure_point(component, ladder, size, ("python", "native"), inputs, budget)
            first_pass.append(
                (
                    size,
                    float(histograms["python"].value_at_quantile(0.5)),
                    float(histograms["native"].value_at_quantile(0.5)),
                )
            )
            progress.step(f"{ladder.component}/{ladder.payload_class} {size} {ladder.unit}")
        threshold = _native.find_crossover(first_pass, MARGIN)
        component.thresholds = {**saved_thresholds, ladder.payload_class: threshold}
        points = []
        try:
            for size in sizes:
                histograms = measure_point(component, ladder, size, ("python", "native", "auto"), inputs, budget)
                points.append(_summary(size, histograms))
                progress.step(f"{ladder.component}/{ladder.payload_class} {size} {ladder.unit} (with auto)")
        finally:
            component.thresholds = saved_thresholds
        entry = policy_components.setdefault(
            ladder.component, {"mode": "auto", "rollout_percent": 100.0, "thresholds": {}, "measurements": {}}
        )
        entry["thresholds"][ladder.payload_class] = threshold
        entry["measurements"][ladder.payload_class] = points
    policy = {
        "version": 1,
        "host": _host.fingerprint(),
        "measured_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quick": quick,
        "margin": MARGIN,
        "selector_overhead_ns": round(selector_overhead_ns(components["tokens"]), 1),
        "components": policy_components,
    }
    _ROUTERS.release()
    _CACHES.release()
    _LIMITERS.release()
    fast_litellm.reset_stats()
    path = out or _policy.default_path()
    _policy.write_policy(path, policy)
    return path


def _summary(size: int, histograms: dict[str, _native.LatencyHistogram]) -> dict[str, int]:
    return {
        "size": size,
        "samples": histograms["python"].count,
        "python_p50_ns": histograms["python"].value_at_quantile(0.5),
        "python_p99_ns": histograms["python"].value_at_quantile(0.99),
        "native_p50_ns": histograms["native"].value_at_quantile(0.5),
        "native_p99_ns": histograms["native"].value_at_quantile(0.99),
        "auto_p50_ns": histograms["auto"].value_at_quantile(0.5),
        "auto_p99_ns": histograms["auto"].value_at_quantile(0.99),
    }


def describe(path: Path) -> str:
    """A short human summary of a written policy."""
    policy = _policy.read_policy(path)
    lines = [f"policy written to {path} (measured {policy['measured_at']}, quick={policy['quick']})"]
    for name, component in policy["components"].items():
        for payload_class, threshold in component["thresholds"].items():
            verdict = (
                "never native"
                if threshold is None
                else ("always native" if threshold == 0 else f"native from {threshold}")
            )
            lines.append(f"  {name}/{payload_class}: {verdict}")
    lines.append(f"  selector decision: {policy.get('selector_overhead_ns')} ns per call")
    return "\n".join(lines)
