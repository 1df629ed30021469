"""The `rate_limit` component: the proxy's v3 limiter without Redis, in native passes.

LiteLLM 1.110.2 keeps the v3 limiter's counters in its own native store (`NativeRateLimits`), but
the code around it is Python: per request it builds the counters, pre-checks them, runs the
sliding window and acquires the parallel-request slots under one `asyncio.Lock`, checks the
limits again (about 20-60 µs), reserves the estimated tokens all or nothing, and after the call
releases the slots. These methods of `_PROXY_MaxParallelRequestsHandler_v3` are replaced on the
class: `should_rate_limit`, `atomic_check_and_increment_by_n` with its in-memory step
`_atomic_check_and_increment_in_memory`, and `_release_parallel_request_slots_in_memory`.

Each replacement (`_native.limiter_*`) takes the same steps in the same order on the same store,
with the store calls, clock calls and responses of LiteLLM's method. LiteLLM's method runs
instead when: the component is in `python` mode or below its threshold, the check is read-only,
Redis is configured (the shared counters and their scripts stay LiteLLM's), the lock is held or
awaited (LiteLLM's method then waits its turn), the store or one of the methods the check calls
is not LiteLLM's (a subclass, a mock on the instance), or the descriptors or stored values are of
kinds LiteLLM itself does not write. That last decision is made before the clock is read and
before anything is written. For LiteLLM's own handler class these eligibility checks are made
natively too (`_native.LimiterGate`; they cost as much as a rejected check in Python); for any
other class the gate asks the Python checks below.

With the lock free, LiteLLM's methods run from their first line to their return without
yielding to the event loop, so skipping the lock's acquire and release changes nothing another
coroutine can see. The clock is read after the first store reads rather than before: the reads
change nothing, and the clock is LiteLLM's `datetime.now` or the handler's injected time provider.
"""

from __future__ import annotations

from typing import Any, Final

from fast_litellm import _native
from fast_litellm._component import Component

COMPONENT: Final = Component("rate_limit")
MODULE: Final = "litellm.proxy.hooks.parallel_request_limiter_v3"
CLASS: Final = "_PROXY_MaxParallelRequestsHandler_v3"
TARGET: Final = f"{CLASS}.should_rate_limit"
RELEASE_TARGET: Final = f"{CLASS}._release_parallel_request_slots_in_memory"
ATOMIC_TARGET: Final = f"{CLASS}._atomic_check_and_increment_in_memory"
RESERVE_TARGET: Final = f"{CLASS}.atomic_check_and_increment_by_n"
# The methods the check calls, which a subclass or a mock on the instance may replace.
_METHOD_NAMES: Final = (
    "_get_current_time",
    "_collect_windowed_keys_and_gauges",
    "_local_counter_states",
    "is_cache_list_over_limit",
    "in_memory_cache_sliding_window",
    "_in_memory_cache_sliding_window",
    "_check_parallel_request_gauges",
    "_read_local_gauge_counts",
    "_gauge_in_flight_from_cache_value",
    "_acquire_parallel_slots_in_memory",
    "_gauge_status",
    "_build_descriptor_atomic_payload",
)

_STORE_METHOD_NAMES: Final = ("local", "set_local", "has_redis")
_INSTANCE_OVERRIDES: Final = frozenset(
    ("should_rate_limit", "atomic_check_and_increment_by_n", "_atomic_check_and_increment_in_memory", *_METHOD_NAMES)
)

_module: Any = None
_original: Any = None
_original_release: Any = None
_original_atomic: Any = None
_original_reserve: Any = None
_counter_type: Any = None
_methods: tuple[Any, ...] = ()
_store_type: Any = None
_store_methods: tuple[Any, ...] = ()
_handle_type: Any = None
_scope_type: Any = None
_scalar: Any = None
# Classes whose methods were checked to be LiteLLM's, with their version tag then.
_checked_classes: dict[type, tuple[int, int]] = {}
# The store entries of each descriptor scope (the native passes fill it, bounded).
_entry_cache: dict[str, dict[str, tuple[Any, ...]]] = {}
# The checks below, made natively for LiteLLM's own handler class (`_native.LimiterGate`).
_gate: Any = None


class _Route:
    """The smallest descriptor count that goes native with no further checks (infinity: ask
    `COMPONENT.wants_native` per call); refreshed when the component's mode changes."""

    native_from: float = float("inf")


_ROUTE: Final = _Route()


def _refresh_route() -> None:
    _ROUTE.native_from = COMPONENT._native_from("check")


COMPONENT.on_refresh = _refresh_route
_refresh_route()


def install() -> None:
    import asyncio

    from litellm.proxy.hooks import parallel_request_limiter_v3 as module
    from litellm.redis.stores.rate_limits import RateLimitCounter, RateLimitScope, RateLimitStore
    from litellm.rust_bridge._native import NativeRateLimits

    global _module, _original, _original_release, _original_atomic, _original_reserve, _methods
    global _store_type, _store_methods, _handle_type, _scope_type, _counter_type, _scalar
    _module = module
    handler = getattr(module, CLASS)
    _original = vars(handler)["should_rate_limit"]
    _original_release = vars(handler)["_release_parallel_request_slots_in_memory"]
    _original_atomic = vars(handler)["_atomic_check_and_increment_in_memory"]
    _original_reserve = vars(handler)["atomic_check_and_increment_by_n"]
    _counter_type = RateLimitCounter
    _methods = tuple(getattr(handler, name) for name in _METHOD_NAMES)
    _store_type, _handle_type, _scope_type = RateLimitStore, NativeRateLimits, RateLimitScope
    _store_methods = tuple(vars(RateLimitStore)[name] for name in _STORE_METHOD_NAMES)
    _scalar = module._scalar
    global _gate
    _gate = _native.LimiterGate(
        handler,
        sorted(_INSTANCE_OVERRIDES),
        vars(module),
        _scalar,
        RateLimitScope,
        RateLimitStore,
        NativeRateLimits,
        asyncio.Lock,
        (_is_litellms, _methods_are_litellms, _lock_free),
        _entry_cache,
        _new_slot_id,
    )
    COMPONENT.native_counters = _gate


def _new_slot_id() -> str:
    return _module.uuid.uuid4().hex  # looked up where LiteLLM looks it up, so mocks apply


def _lock_free(lock: Any) -> bool:
    """Whether `async with lock` would enter without yielding: unlocked and nobody waiting."""
    return not lock.locked() and not getattr(lock, "_waiters", None)


def _methods_are_litellms(cls: type) -> bool:
    """Whether the check's methods on `cls` and on the store class are LiteLLM's; remembered for
    the classes' version tags, which change whenever an attribute of theirs (or a base's) does."""
    tags = _native.type_version_tag(cls), _native.type_version_tag(_store_type)
    if tags[0] and tags[1] and _checked_classes.get(cls) == tags:
        return True
    if (
        any(getattr(cls, name) is not method for name, method in zip(_METHOD_NAMES, _methods, strict=True))
        # the reservation's in-memory step, replaced by this module, which a subclass may replace
        or cls._atomic_check_and_increment_in_memory is not atomic_check_and_increment_in_memory
        or any(
            vars(_store_type).get(name) is not method
            for name, method in zip(_STORE_METHOD_NAMES, _store_methods, strict=True)
        )
    ):
        return False
    _checked_classes[cls] = _native.type_version_tag(cls), _native.type_version_tag(_store_type)
    return True


def _memory_only_handle(handler: Any) -> Any:
    """The handler's store handle when both are LiteLLM's and no Redis is configured, else None."""
    store = getattr(handler, "rate_limits", None)
    if type(store) is not _store_type:
        return None
    handle = store._handle
    if type(handle) is not _handle_type or handle.has_redis:
        return None
    return handle


def _is_litellms(handler: Any) -> Any:
    """LiteLLM's store handle when the check is LiteLLM's own over LiteLLM's memory-only store."""
    if (
        not _INSTANCE_OVERRIDES.isdisjoint(vars(handler))
        or _module._scalar is not _scalar
        or _module.RateLimitScope is not _scope_type
        or not _methods_are_litellms(type(handler))
    ):
        return None
    return _memory_only_handle(handler)


async def should_rate_limit(
    self: Any,
    descriptors: Any,
    parent_otel_span: Any = None,
    read_only: bool = False,
    skip_tpm_check: bool = False,
    parallel_slot_id: str | None = None,
    skip_parallel_check: bool = False,
) -> Any:
    if not read_only and (len(descriptors) >= _ROUTE.native_from or COMPONENT.wants_native("check", len(descriptors))):
        response = _gate.should_rate_limit(self, descriptors, skip_tpm_check, parallel_slot_id, skip_parallel_check)
        if response is not None:  # counted by the gate
            return response
    COMPONENT.python_calls += 1
    return await _original(
        self,
        descriptors,
        parent_otel_span=parent_otel_span,
        read_only=read_only,
        skip_tpm_check=skip_tpm_check,
        parallel_slot_id=parallel_slot_id,
        skip_parallel_check=skip_parallel_check,
    )


async def release_parallel_request_slots_in_memory(self: Any, gauges: Any, slot_id: str) -> None:
    """`_release_parallel_request_slots_in_memory`: this request's slot leaves each gauge."""
    if (len(gauges) >= _ROUTE.native_from or COMPONENT.wants_native("check", len(gauges))) and _gate.release(
        self, gauges, slot_id
    ):
        return  # counted by the gate
    COMPONENT.python_calls += 1
    await _original_release(self, gauges, slot_id)


def atomic_check_and_increment_in_memory(self: Any, per_counter_meta: Any) -> Any:
    """`_atomic_check_and_increment_in_memory` (its caller holds the lock): the tpm reservation's
    all-or-nothing check and increment of every counter, natively over LiteLLM's store."""
    handle = None
    if COMPONENT.wants_native("check", len(per_counter_meta)):
        handle = _gate.memory_only_handle(self)
    if handle is not None:
        response = _native.limiter_atomic_check_and_increment(
            handle, _entry_cache, _scope_type, _counter_type, self._get_current_time, per_counter_meta
        )
        if response is not None:
            COMPONENT.rust_calls += 1
            return response
    COMPONENT.python_calls += 1
    return _original_atomic(self, per_counter_meta)


async def atomic_check_and_increment_by_n(
    self: Any, descriptors: Any, increments: Any, parent_otel_span: Any = None
) -> Any:
    """`atomic_check_and_increment_by_n` without Redis: the per-counter meta LiteLLM builds, then
    its in-memory all-or-nothing step, both native."""
    if len(descriptors) == len(increments) and (
        len(descriptors) >= _ROUTE.native_from or COMPONENT.wants_native("check", len(descriptors))
    ):
        outcome = _gate.reserve(self, descriptors, increments)
        if outcome is not None:
            response, per_counter_meta = outcome
            if response is not None:  # counted by the gate
                return response
            # The meta LiteLLM builds, whose in-memory step (its lock free) is LiteLLM's own.
            COMPONENT.python_calls += 1
            return _original_atomic(self, per_counter_meta)
    COMPONENT.python_calls += 1
    return await _original_reserve(self, descriptors, increments, parent_otel_span=parent_otel_span)
