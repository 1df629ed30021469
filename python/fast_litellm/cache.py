"""The `cache` component: LiteLLM's `InMemoryCache` operations run natively, and `DualCache`
without debug formatting.

**The store.** `InMemoryCache.get_cache`, `set_cache`, `increment_cache` and `batch_get_cache`
(and through them the async methods and pipelines, which call these) are replaced on the class by
native method descriptors (`_native.store_methods`: C methods, no Python frame per call). Each
runs `_native.MemoryCacheOps`, which does the same steps as LiteLLM's method on the instance's own
`cache_dict`, `ttl_dict` and `expiration_heap`, so every reader of those sees the same state. It
handles `InMemoryCache` and `LLMClientCache` instances whose helper methods are LiteLLM's and that
carry no attributes of their own; anything else (other subclasses, a mocked method, a replaced
dict, argument shapes LiteLLM's signature rejects, the `python` route) is forwarded to LiteLLM's
function with the same arguments. Exceptions are LiteLLM's: the native steps are the same dict,
clock and comparison operations, so they raise what LiteLLM's code raises, and a mutating
operation is never run twice.

**The front.**

`DualCache` formats a debug f-string of every value it gets or sets (`print_verbose(f"...
{value}")`), and `print_verbose` prints it only when `litellm._logging.set_verbose` is on: the
formatting is paid on every call either way. With latency-based routing the cached value is the
router's whole latency map, formatted several times per request: 1.7 ms of CPU per request in
the proxy profile (`benchmarks/proxy`), growing with the map.

The replacements below do what LiteLLM's methods do on their in-memory path, without the
formatting. Whenever output could differ they run LiteLLM's own method instead: verbose output
on (it prints as before), a Redis cache attached (LiteLLM's batching and backfill logic), the
component in `python` mode, or an exception (LiteLLM's method handles and logs it). One
difference remains by design: a value whose `str()` raises made LiteLLM's methods log an error
and return None while verbose output was off; here the value is returned.

"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from fast_litellm import _native
from fast_litellm._component import Component

COMPONENT: Final = Component("cache")


class _FrontCalls:
    """Calls the front answered without LiteLLM's method (Python code: not `calls_rust`)."""

    calls = 0


FRONT: Final = _FrontCalls()
MODULE: Final = "litellm.caching.dual_cache"
METHODS: Final = ("get_cache", "async_get_cache", "async_set_cache", "async_set_cache_pipeline")
STORE_MODULE: Final = "litellm.caching.in_memory_cache"
STORE_METHODS: Final = ("get_cache", "set_cache", "increment_cache", "batch_get_cache", "async_batch_get_cache")

# LiteLLM's methods and its logging module, bound by install().
_logging: Any = None
_original: dict[str, Callable[..., Any]] = {}
_store_original: dict[str, Callable[..., Any]] = {}


class _Store:
    """The native store operations (`_native.MemoryCacheOps`), once install() has run."""

    ops: Any = None


STORE: Final = _Store()

# InMemoryCache's store methods as installed on the class: native method descriptors (no Python
# frame per call) that run `STORE.ops` or forward the call to LiteLLM's function.
_DESCRIPTORS: Final = dict(_native.store_methods())
store_get_cache: Final = _DESCRIPTORS["get_cache"]
store_set_cache: Final = _DESCRIPTORS["set_cache"]
store_increment_cache: Final = _DESCRIPTORS["increment_cache"]
store_batch_get_cache: Final = _DESCRIPTORS["batch_get_cache"]
# LLMClientCache.get_cache, native too: its loop-scoped key, reap and read (`ClientCacheOps`).
client_get_cache: Final = _native.client_get_cache_method()
CLIENT_MODULE: Final = "litellm.caching.llm_caching_handler"


def _refresh_store() -> None:
    if STORE.ops is None:
        return
    if COMPONENT._native_from("store") == 0:
        route = "native"
    elif COMPONENT.mode == "auto" and COMPONENT.thresholds.get("store", 0) == 0 and COMPONENT.rollout_percent < 100.0:
        route = "per_call"  # auto during a partial rollout: decided per call
    else:
        route = "python"
    STORE.ops.set_route(route)


COMPONENT.on_refresh = _refresh_store


def install() -> None:
    import asyncio
    import heapq
    import json
    import sys
    import time

    import litellm._logging
    from litellm.caching import evicted_client_closer, in_memory_cache, llm_caching_handler
    from litellm.caching.dual_cache import DualCache
    from litellm.caching.in_memory_cache import InMemoryCache
    from litellm.caching.llm_caching_handler import LLMClientCache

    global _logging
    _logging = litellm._logging
    for name in METHODS:
        _original[name] = vars(DualCache)[name]
    for name in STORE_METHODS:
        _store_original[name] = vars(InMemoryCache)[name]
    client_original = vars(LLMClientCache)["get_cache"]
    # What each helper LiteLLM's code calls through `self` will resolve to once the classes are
    # patched: a later change of any of them sends calls to LiteLLM's methods.
    replaced: dict[type, dict[str, Any]] = {
        InMemoryCache: {name: globals()[f"store_{name}"] for name in STORE_METHODS},
        LLMClientCache: {"get_cache": client_get_cache},
    }
    base = vars(InMemoryCache)
    classes = []
    for cls in (InMemoryCache, LLMClientCache):
        lineage = [klass for klass in cls.__mro__ if issubclass(klass, InMemoryCache)]
        helpers = [_resolve(lineage, name, replaced) for name in _native.MemoryCacheOps.helper_names]
        plain = {name: _resolve(lineage, name, {}) is base[name] for name in ("_remove_key", "get_cache", "set_cache")}
        attributes = len(vars(cls()))
        classes.append(
            (cls, lineage, helpers, attributes, plain["_remove_key"], plain["get_cache"] and plain["set_cache"])
        )
    tools = (json.loads, sys.getsizeof, heapq.heappush, heapq.heappop, heapq.heapify, base["check_value_size"])
    max_kb = in_memory_cache.MAX_SIZE_PER_ITEM_IN_MEMORY_CACHE_IN_KB
    lambdas = [const for const in InMemoryCache.__init__.__code__.co_consts if _is_clock_lambda(const)]
    default_clock = (lambdas[0], vars(in_memory_cache), time, vars(time), time.time) if len(lambdas) == 1 else None
    originals = tuple(_store_original[f"{name}_cache"] for name in ("get", "set", "increment", "batch_get"))
    STORE.ops = ops = _native.MemoryCacheOps(classes, tools, max_kb, default_clock, originals, _store_native)
    _native.use_store_ops(ops)
    COMPONENT.native_counters = ops
    _refresh_store()
    client_helpers = [
        (name, getattr(LLMClientCache, name)) for name in ("_scoped_key", "update_cache_key_with_event_loop")
    ]
    _native.use_client_cache_ops(
        _native.ClientCacheOps(
            LLMClientCache,
            [*client_helpers, ("get_cache", client_get_cache)],
            (InMemoryCache, store_get_cache),
            len(vars(LLMClientCache())),
            (vars(llm_caching_handler), vars(evicted_client_closer)),
            (asyncio, vars(asyncio)),
            evicted_client_closer._LOOP_TOKENS,
            (llm_caching_handler.running_loop_token, asyncio.get_running_loop, asyncio._get_running_loop),
            evicted_client_closer.EvictedClientCloser,
            client_original,
        )
    )


def _is_clock_lambda(const: object) -> bool:
    """The code of `lambda: time.time()` in `InMemoryCache.__init__`."""
    code = getattr(const, "co_name", None) == "<lambda>" and const
    return bool(code) and code.co_names == ("time",) and code.co_argcount == 0  # type: ignore[union-attr]


def _resolve(lineage: list[type], name: str, replaced: dict[type, dict[str, Any]]) -> Any:
    """`name` as `self.name` finds it on the lineage, with the classes' replaced methods swapped in."""
    for klass in lineage:
        if name in vars(klass):
            return replaced.get(klass, {}).get(name, vars(klass)[name])
    raise AttributeError(f"{lineage[0].__name__} has no {name}")


def _store_native() -> bool:
    """The per-call decision during a partial rollout (asked by the store methods)."""
    return COMPONENT.wants_native("store", 0)


async def store_async_batch_get_cache(self: Any, keys: list[Any], **kwargs: Any) -> list[Any]:
    # LiteLLM's async batch get is its sync loop (`self.get_cache` per key) inside a coroutine:
    # the batch get method runs it (natively, or LiteLLM's loop).
    if not kwargs and STORE.ops is not None and COMPONENT.wants_native("store", 0):
        return store_batch_get_cache(self, keys)  # type: ignore[no-any-return]
    COMPONENT.python_calls += 1
    return await _store_original["async_batch_get_cache"](self, keys, **kwargs)  # type: ignore[no-any-return]


def _front_for(cache: Any) -> bool:
    """Whether this call may skip the formatting: output identical to LiteLLM's."""
    if _logging.set_verbose or cache.redis_cache is not None or cache.in_memory_cache is None:
        return False
    mode = COMPONENT.mode
    return mode == "rust" or (mode == "auto" and COMPONENT.wants_native("front", 0))


def _litellm(name: str, *args: Any, **kwargs: Any) -> Any:
    """LiteLLM's own method (for a coroutine function: its coroutine)."""
    COMPONENT.python_calls += 1
    return _original[name](*args, **kwargs)


def get_cache(self: Any, key: Any, parent_otel_span: Any = None, local_only: bool = False, **kwargs: Any) -> Any:
    if not _front_for(self):
        return _litellm("get_cache", self, key, parent_otel_span, local_only, **kwargs)
    try:
        result = self.in_memory_cache.get_cache(key, **kwargs)
    except Exception:  # LiteLLM's method meets the same error and logs it
        return _litellm("get_cache", self, key, parent_otel_span, local_only, **kwargs)
    FRONT.calls += 1
    return result


async def async_get_cache(
    self: Any, key: Any, parent_otel_span: Any = None, local_only: bool = False, **kwargs: Any
) -> Any:
    if not _front_for(self):
        return await _litellm("async_get_cache", self, key, parent_otel_span, local_only, **kwargs)
    try:
        result = await self.in_memory_cache.async_get_cache(key, **kwargs)
    except Exception:
        return await _litellm("async_get_cache", self, key, parent_otel_span, local_only, **kwargs)
    FRONT.calls += 1
    return result


def _with_default_ttl(cache: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    if "ttl" not in kwargs and cache.default_in_memory_ttl is not None:
        return {**kwargs, "ttl": cache.default_in_memory_ttl}
    return kwargs


async def async_set_cache(self: Any, key: Any, value: Any, local_only: bool = False, **kwargs: Any) -> None:
    if not _front_for(self):
        return await _litellm("async_set_cache", self, key, value, local_only, **kwargs)
    try:
        await self.in_memory_cache.async_set_cache(key, value, **_with_default_ttl(self, kwargs))
    except Exception:  # setting the same value again is harmless; LiteLLM's method logs the error
        return await _litellm("async_set_cache", self, key, value, local_only, **kwargs)
    FRONT.calls += 1
    return None


async def async_set_cache_pipeline(
    self: Any, cache_list: Sequence[tuple[str, object]], local_only: bool = False, **kwargs: Any
) -> None:
    if not _front_for(self):
        return await _litellm("async_set_cache_pipeline", self, cache_list, local_only, **kwargs)
    try:
        await self.in_memory_cache.async_set_cache_pipeline(cache_list=cache_list, **_with_default_ttl(self, kwargs))
    except Exception:
        return await _litellm("async_set_cache_pipeline", self, cache_list, local_only, **kwargs)
    FRONT.calls += 1
    return None
