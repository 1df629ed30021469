"""InMemoryCache operations: LiteLLM's methods against fast-litellm's, same process, interleaved.

    python benchmarks/bench_cache.py [--rounds 7] [--json out.json]

Each operation runs on two instances filled alike, one through LiteLLM's own methods (the
originals the patch replaced) and one through the patched class; rounds alternate between them
and the best round of each is reported (the VM's noise only ever adds time).
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

from litellm.caching.in_memory_cache import InMemoryCache  # noqa: E402
from litellm.caching.llm_caching_handler import LLMClientCache  # noqa: E402

import fast_litellm  # noqa: E402,F401  (patches LiteLLM)
from fast_litellm import cache  # noqa: E402


def _filled(keys: int, cls: type = InMemoryCache) -> Any:
    store = cls(max_size_in_memory=keys * 2)
    for index in range(keys):
        store.set_cache(f"key-{index}", {"deployment": index, "latency": [0.1 * index]})
    store.set_cache("counter", 1)
    return store


def _operations() -> dict[str, Callable[[Any], Callable[[], Any]]]:
    """name -> instance -> one call, made as LiteLLM's callers make it (a method call)."""
    batch = [f"key-{index}" for index in range(10)]
    return {
        "get (dict value)": lambda store: lambda: store.get_cache("key-5"),
        "get (JSON string)": lambda store: lambda: store.get_cache("json"),
        "get (miss)": lambda store: lambda: store.get_cache("absent"),
        "set (int, key present)": lambda store: lambda: store.set_cache("key-7", 7),
        "set (dict, ttl)": lambda store: lambda: store.set_cache("key-8", {"a": 1}, ttl=60),
        "increment": lambda store: lambda: store.increment_cache("counter", 1),
        "batch get (10 keys)": lambda store: lambda: store.batch_get_cache(batch),
    }


def _litellm_class() -> type:
    """InMemoryCache with LiteLLM's own methods (the originals the patch replaced) on a subclass:
    its instances are called exactly as patched ones are."""
    return type("InMemoryCache", (InMemoryCache,), dict(cache._store_original))


def _best_ns(call: Callable[[], Any], calls: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        call()
    return (time.perf_counter_ns() - started) / calls


def _threads_ns(call: Callable[[], Any], calls: int, threads: int) -> float:
    """Wall time per call with `threads` threads each making `calls` calls."""
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for _ in range(calls):
            call()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter_ns()
    for worker in workers:
        worker.join()
    return (time.perf_counter_ns() - started) / (calls * threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=1_000)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    litellm_store, fast_store = _filled(args.keys, _litellm_class()), _filled(args.keys)
    for store in (litellm_store, fast_store):
        store.set_cache("json", '{"model": "gpt-4o", "tpm": 10}')
    results = []
    for name, make in _operations().items():
        calls = (make(litellm_store), make(fast_store))
        best = [float("inf"), float("inf")]
        for _ in range(args.rounds):
            for side in (0, 1):
                best[side] = min(best[side], _best_ns(calls[side], args.calls))
        two = [min(_threads_ns(calls[side], args.calls // 2, 2) for _ in range(3)) for side in (0, 1)]
        results.append({"operation": name, "litellm_ns": best[0], "fast_ns": best[1], "threads2_litellm_ns": two[0],
                        "threads2_fast_ns": two[1]})  # fmt: skip

    # LLMClientCache hit, outside and inside an event loop (the proxy's case: the key is scoped
    # to the loop). LiteLLM's side runs with fast-litellm unpatched, alternating with the patched.
    client_cache, client = LLMClientCache(), object()
    client_cache.set_cache("client", client)

    async def in_loop() -> float:
        client_cache.set_cache("client", client)
        return _best_ns(lambda: client_cache.get_cache("client"), args.calls)

    for name, measure in (
        ("LLMClientCache hit", lambda: _best_ns(lambda: client_cache.get_cache("client"), args.calls)),
        ("LLMClientCache hit (loop)", lambda: asyncio.run(in_loop())),
    ):
        best = [float("inf"), float("inf")]
        for _ in range(args.rounds):
            for side in (0, 1):
                (fast_litellm.unpatch if side == 0 else fast_litellm.patch)()
                best[side] = min(best[side], measure())
        results.append({"operation": name, "litellm_ns": best[0], "fast_ns": best[1]})

    print(f"{'operation':26s} {'LiteLLM':>9s} {'fast':>9s} {'ratio':>6s}   2 threads (wall ns/call)")
    for row in results:
        ratio = row["litellm_ns"] / row["fast_ns"]
        line = f"{row['operation']:26s} {row['litellm_ns']:8.0f}n {row['fast_ns']:8.0f}n {ratio:5.1f}x"
        if "threads2_fast_ns" in row:
            ratio = row["threads2_litellm_ns"] / row["threads2_fast_ns"]
            line += f"   {row['threads2_litellm_ns']:8.0f}n {row['threads2_fast_ns']:8.0f}n {ratio:5.1f}x"
        print(line)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"keys": args.keys, "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
