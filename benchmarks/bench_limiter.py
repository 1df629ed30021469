"""The proxy's v3 limiter check without Redis: LiteLLM's `should_rate_limit` against fast-litellm's,
same process, interleaved.

    python benchmarks/bench_limiter.py [--rounds 7] [--calls 4000] [--json out.json]

Each scenario runs checks on a fresh handler per side (`rate_limit` mode `python`, then `rust`,
alternating per round), inside one event loop, as the proxy's pre-call hook makes them; the best
round of each side is reported (the VM's noise only ever adds time). "2 threads": two threads,
each with its own handler and event loop (as two proxy workers would), wall time per check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import fast_litellm  # noqa: E402

fast_litellm._patcher.expect_proxy()  # this process plays the proxy's part

from litellm import DualCache  # noqa: E402
from litellm.proxy.hooks.parallel_request_limiter_v3 import _PROXY_MaxParallelRequestsHandler_v3  # noqa: E402
from litellm.proxy.utils import InternalUsageCache  # noqa: E402
from litellm.redis.stores.rate_limits import RateLimitScope  # noqa: E402

HIGH = 10**12


def _key(value: str, **limits: int) -> dict[str, Any]:
    return {"key": "api_key", "value": value, "rate_limit": limits}


# name -> (descriptors, should_rate_limit keyword arguments, release the parallel slot afterwards);
# a "reserve" scenario calls the tpm reservation (`atomic_check_and_increment_by_n`) instead.
SCENARIOS: dict[str, tuple[list[dict[str, Any]], dict[str, Any], bool]] = {
    "key rpm": ([_key("k", requests_per_unit=HIGH)], {}, False),
    "key rpm + tpm": ([_key("k", requests_per_unit=HIGH, tokens_per_unit=HIGH)], {}, False),
    "key rpm + tpm + parallel, as the proxy (tpm reserved apart)": (
        [_key("k", requests_per_unit=HIGH, tokens_per_unit=HIGH, max_parallel_requests=1000)],
        {"skip_tpm_check": True},
        True,
    ),
    "key, user, team: rpm + tpm each": (
        [
            _key("k", requests_per_unit=HIGH, tokens_per_unit=HIGH),
            {"key": "user", "value": "u", "rate_limit": {"requests_per_unit": HIGH, "tokens_per_unit": HIGH}},
            {"key": "team", "value": "t", "rate_limit": {"requests_per_unit": HIGH, "tokens_per_unit": HIGH}},
        ],
        {},
        False,
    ),
    "over the rpm limit (rejected)": ([_key("k", requests_per_unit=1)], {}, False),
    "reserve 40 tokens on key and user tpm (all or nothing)": (
        [_key("k", tokens_per_unit=HIGH), {"key": "user", "value": "u", "rate_limit": {"tokens_per_unit": HIGH}}],
        {"reserve": 40},
        False,
    ),
}


def _checks(scenario: str, calls: int) -> Callable[[], float]:
    """A fresh handler, warmed up; returns a function timing `calls` checks (ns per check)."""
    descriptors, kwargs, release = SCENARIOS[scenario]
    handler = _PROXY_MaxParallelRequestsHandler_v3(InternalUsageCache(DualCache()))
    gauges = tuple(RateLimitScope(d["key"], d["value"]) for d in descriptors)
    loop = asyncio.new_event_loop()

    reserve = kwargs.get("reserve")
    increments = [{"tokens": reserve} for _ in descriptors]

    async def run(count: int) -> None:
        for index in range(count):
            if reserve is not None:
                await handler.atomic_check_and_increment_by_n(descriptors, increments)
                continue
            await handler.should_rate_limit(descriptors, parallel_slot_id=f"slot-{index}", **kwargs)
            if release:
                await handler._release_parallel_request_slots_in_memory(gauges, f"slot-{index}")

    loop.run_until_complete(run(50))

    def timed() -> float:
        started = time.perf_counter_ns()
        loop.run_until_complete(run(calls))
        return (time.perf_counter_ns() - started) / calls

    return timed


def _two_threads_ns(scenario: str, calls: int) -> float:
    timers = [_checks(scenario, calls) for _ in range(2)]
    barrier = threading.Barrier(3)

    def work(timed: Callable[[], float]) -> None:
        barrier.wait()
        timed()

    threads = [threading.Thread(target=work, args=(timed,)) for timed in timers]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter_ns()
    for thread in threads:
        thread.join()
    return (time.perf_counter_ns() - started) / (2 * calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    results = []
    for scenario in SCENARIOS:
        best = {"python": float("inf"), "rust": float("inf")}
        two = {"python": float("inf"), "rust": float("inf")}
        for round_ in range(args.rounds):
            for mode in ("python", "rust") if round_ % 2 == 0 else ("rust", "python"):
                fast_litellm.set_mode("rate_limit", mode)
                best[mode] = min(best[mode], _checks(scenario, args.calls)())
                if round_ < 3:
                    two[mode] = min(two[mode], _two_threads_ns(scenario, args.calls // 2))
        results.append(
            {
                "scenario": scenario,
                "litellm_ns": round(best["python"]),
                "fast_ns": round(best["rust"]),
                "threads2_litellm_ns": round(two["python"]),
                "threads2_fast_ns": round(two["rust"]),
            }
        )
    fast_litellm.set_mode("rate_limit", "auto")
    assert fast_litellm.stats()["rate_limit"]["calls_rust"] > 0, "the native check never ran"
    print(f"{'scenario':62s} {'LiteLLM':>9s} {'fast':>9s} {'ratio':>6s}   2 threads (wall ns/check)")
    for row in results:
        ratio = row["litellm_ns"] / row["fast_ns"]
        ratio2 = row["threads2_litellm_ns"] / row["threads2_fast_ns"]
        print(
            f"{row['scenario']:62s} {row['litellm_ns']:8d}n {row['fast_ns']:8d}n {ratio:5.1f}x"
            f"   {row['threads2_litellm_ns']:8d}n {row['threads2_fast_ns']:8d}n {ratio2:5.1f}x"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
