"""Routing picks through `Router`: LiteLLM's against fast-litellm's, same process, interleaved.

    python benchmarks/bench_routing.py [--strategies latency-based-routing,...]
        [--counts 1,5,10,50,200,1000] [--json out.json]

Per strategy and deployment count: a `Router` whose strategy state holds traffic for every
deployment (latency: ten samples and a current-minute usage bucket; usage v1 and v2: this
minute's tpm/rpm counters; least-busy: in-flight counts). Measured through
`Router.get_available_deployment` (sync) and `async_get_available_deployment` (one event loop,
awaited in a loop), with the routing component in `python` mode (LiteLLM's code throughout) and
`auto` (fast-litellm's), alternating; best round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

import fast_litellm  # noqa: E402
from fast_litellm._workloads import STRATEGIES, make_router  # noqa: E402


def per_pick_us(call: Any, picks: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(picks):
        call()
    return (time.perf_counter_ns() - started) / picks / 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--counts", default="1,5,10,50,200,1000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    messages = [{"role": "user", "content": "Which deployment answers fastest?"}]
    loop = asyncio.new_event_loop()
    results = []
    print(f"{'strategy':23s} {'deployments':>11s} {'path':5s} {'LiteLLM µs':>11s} {'fast µs':>9s} {'ratio':>6s}")
    for strategy, count in (
        (strategy, int(value)) for strategy in args.strategies.split(",") for value in args.counts.split(",")
    ):
        router = make_router(count, strategy)
        picks = max(3, min(2000, 20_000 // count))

        def sync_pick(router: litellm.Router = router) -> Any:
            return router.get_available_deployment(model="group", messages=messages)

        def async_pick(router: litellm.Router = router) -> Any:
            pick = router.async_get_available_deployment(model="group", messages=messages, request_kwargs={})
            return loop.run_until_complete(pick)

        paths = [("sync", sync_pick), ("async", async_pick)]
        if strategy == "cost-based-routing":  # LiteLLM's sync pick has no cost-based strategy
            paths = paths[1:]
        for path, call in paths:
            best = {"python": float("inf"), "auto": float("inf")}
            for _ in range(args.rounds):
                for mode in ("python", "auto"):
                    fast_litellm.set_mode("routing", mode)
                    call()  # warm
                    best[mode] = min(best[mode], per_pick_us(call, picks))
            fast_litellm.set_mode("routing", "auto")
            ratio = best["python"] / best["auto"]
            results.append(
                {
                    "strategy": strategy,
                    "deployments": count,
                    "path": path,
                    "litellm_us": best["python"],
                    "fast_us": best["auto"],
                }
            )
            print(
                f"{strategy:23s} {count:11d} {path:5s} {best['python']:11.1f} {best['auto']:9.1f} {ratio:5.1f}x",
                flush=True,
            )
    loop.close()
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
