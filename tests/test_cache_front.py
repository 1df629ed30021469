"""LiteLLM's DualCache with fast-litellm's front: the same results and state as LiteLLM's own
methods, LiteLLM's verbose output when it is on, LiteLLM's path whenever Redis is attached."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
from typing import Any

import litellm._logging
import pytest
from litellm.caching.dual_cache import DualCache
from litellm.caching.in_memory_cache import InMemoryCache

import fast_litellm
from fast_litellm import cache

from test_patching import run_python

VALUES: list[Any] = [
    0, 1.5, "text", "", None, [1, 2, {"a": "b"}], '{"json": "in a string"}', "[1, 2]",
    {"deployment-1": {"latency": [0.1, 0.2], "2026-12-04-10-01": {"rpm": 3}}},
]  # fmt: skip


@pytest.fixture
def cache_mode():
    def set_mode(value: str) -> None:
        fast_litellm.set_mode("cache", value)
        fast_litellm.reset_stats()

    yield set_mode
    fast_litellm.set_mode("cache", "auto")
    fast_litellm.reset_stats()


def litellm_method(name: str):
    """LiteLLM's own DualCache method, as it was before patching."""
    return cache._original[name]


async def apply(dual: DualCache, operation: tuple, ours: bool) -> Any:
    name, args, kwargs = operation
    if ours:
        method = getattr(DualCache, name)
        result = method(dual, *args, **kwargs)
    else:
        result = litellm_method(name)(dual, *args, **kwargs)
    return await result if asyncio.iscoroutine(result) else result


def random_operations(rng: random.Random, count: int) -> list[tuple]:
    keys = [f"key-{index}" for index in range(6)]
    operations = []
    for _ in range(count):
        kind = rng.randrange(5)
        key = rng.choice(keys)
        if kind == 0:
            operations.append(("get_cache", (key,), {}))
        elif kind == 1:
            operations.append(("async_get_cache", (key,), rng.choice([{}, {"local_only": True}])))
        elif kind == 2:
            ttl = rng.choice([{}, {"ttl": 60}, {"ttl": 3600}])
            operations.append(("async_set_cache", (key, rng.choice(VALUES)), ttl))
        elif kind == 3:
            pairs = [(rng.choice(keys), rng.choice(VALUES)) for _ in range(rng.randint(0, 3))]
            operations.append(("async_set_cache_pipeline", (pairs,), rng.choice([{}, {"ttl": 120}])))
        else:
            operations.append(("get_cache", ("missing",), {}))
    return operations


def state(dual: DualCache) -> tuple:
    memory = dual.in_memory_cache
    return dict(memory.cache_dict), sorted(memory.ttl_dict)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("default_ttl", [None, 30.0])
def test_same_results_and_state_as_litellm(cache_mode, seed, default_ttl):
    cache_mode("rust")
    rng = random.Random(seed)
    operations = random_operations(rng, 60)
    ours, theirs = DualCache(default_in_memory_ttl=default_ttl), DualCache(default_in_memory_ttl=default_ttl)

    async def run() -> None:
        for operation in operations:
            assert await apply(ours, operation, True) == await apply(theirs, operation, False), operation
            assert state(ours) == state(theirs), operation

    asyncio.run(run())
    assert fast_litellm.stats()["cache"]["dual_cache_front_calls"] == len(operations)


def test_verbose_output_is_litellm_s(cache_mode, monkeypatch):
    cache_mode("rust")
    monkeypatch.setattr(litellm._logging, "set_verbose", True)
    outputs = []
    for ours in (True, False):
        dual = DualCache()
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            asyncio.run(apply(dual, ("async_set_cache", ("k", {"a": 1}), {}), ours))
            asyncio.run(apply(dual, ("async_get_cache", ("k",), {}), ours))
            apply_sync = apply(dual, ("get_cache", ("k",), {}), ours)
            asyncio.run(apply_sync)
        outputs.append(printed.getvalue())
    assert outputs[0] == outputs[1] and "{'a': 1}" in outputs[0]
    assert fast_litellm.stats()["cache"]["dual_cache_front_calls"] == 0


class RecordingRedis:
    """Stands in for RedisCache: records what DualCache asks of it."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def async_get_cache(self, key: Any, **kwargs: Any) -> Any:
        self.calls.append(("get", key))
        return {"from": "redis"}

    async def async_set_cache(self, key: Any, value: Any, **kwargs: Any) -> None:
        self.calls.append(("set", key, value, kwargs.get("ttl")))

    def get_cache(self, key: Any, **kwargs: Any) -> Any:
        self.calls.append(("sync get", key))
        return None


def test_with_redis_attached_litellm_s_path_runs(cache_mode):
    cache_mode("rust")
    results = []
    for ours in (True, False):
        redis = RecordingRedis()
        dual = DualCache(redis_cache=redis)  # type: ignore[arg-type]

        async def run(dual=dual, ours=ours) -> list:
            return [
                await apply(dual, ("async_set_cache", ("k", 5), {"ttl": 10}), ours),
                await apply(dual, ("async_get_cache", ("missing",), {}), ours),
                await apply(dual, ("get_cache", ("other",), {}), ours),
            ]

        results.append((asyncio.run(run()), redis.calls, state(dual)))
    assert results[0] == results[1]
    assert fast_litellm.stats()["cache"]["dual_cache_front_calls"] == 0


def test_python_mode_runs_litellm_s_methods(cache_mode):
    cache_mode("python")
    dual = DualCache()
    asyncio.run(dual.async_set_cache("k", 1))
    assert dual.get_cache("k") == 1
    stats = fast_litellm.stats()["cache"]
    # LiteLLM's two DualCache methods, and the two InMemoryCache methods they call
    assert stats["dual_cache_front_calls"] == 0 and stats["calls_python"] == 4


class FailingMemory(InMemoryCache):
    def get_cache(self, key: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broken store")

    async def async_get_cache(self, key: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broken store")


def test_errors_of_the_store_are_handled_as_litellm_does(cache_mode):
    cache_mode("rust")
    dual = DualCache(in_memory_cache=FailingMemory())
    assert dual.get_cache("k") is None
    assert asyncio.run(dual.async_get_cache("k")) is None
    assert fast_litellm.stats()["cache"]["calls_python"] == 2


def test_subclasses_and_the_pipeline_method(cache_mode):
    cache_mode("rust")

    class RouterCache(DualCache):
        pass

    dual = RouterCache(default_in_memory_ttl=5)
    asyncio.run(DualCache.async_set_cache_pipeline(dual, [("a", 1), ("b", {"c": 2})]))
    assert dual.get_cache("a") == 1 and dual.get_cache("b") == {"c": 2}
    assert fast_litellm.stats()["cache"]["dual_cache_front_calls"] == 3


def test_unpatch_restores_dual_cache():
    result = run_python(
        """
import json
import fast_litellm, litellm
from litellm.caching.dual_cache import DualCache
patched = DualCache.async_get_cache.__module__
fast_litellm.unpatch()
restored = DualCache.async_get_cache.__module__
pipeline = type(vars(DualCache)["async_set_cache_pipeline"]).__name__
states = {t["target"]: t["state"] for t in fast_litellm.status()["targets"] if "DualCache" in t["target"]}
print(json.dumps({"patched": patched, "restored": restored, "pipeline": pipeline, "states": states}))
"""
    )
    assert result["patched"] == "fast_litellm.cache"
    assert result["restored"] == "litellm.caching.dual_cache"
    assert result["pipeline"] == "function"
    assert set(result["states"].values()) == {"unpatched"}
