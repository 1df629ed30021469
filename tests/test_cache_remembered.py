"""Instance attributes remembered per `__dict__` version (CPython 3.11): whatever is assigned to an
instance's attributes between operations is what the next operation uses, across many instances,
instances created and dropped, and threads."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from litellm.caching.in_memory_cache import InMemoryCache

import fast_litellm


class Reference(InMemoryCache):
    """Not a class fast-litellm handles: every call runs LiteLLM's own methods."""


class SteppingClock:
    """A clock advancing by `step` seconds per reading, from `start`."""

    def __init__(self, start: float = 1_000_000.0, step: float = 0.25) -> None:
        self.now, self.step = start, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def apply(store: InMemoryCache, operation: tuple[Any, ...]) -> Any:
    name, key, *rest = operation
    try:
        if name == "get":
            return ("ok", store.get_cache(key))
        if name == "set":
            return ("ok", store.set_cache(key, rest[0], ttl=rest[1]))
        return ("ok", store.increment_cache(key, rest[0]))
    except Exception as error:  # compared with LiteLLM's own error below
        return ("error", type(error).__name__, str(error))


def state(store: InMemoryCache) -> tuple[Any, ...]:
    return (
        list(store.cache_dict.items()),
        dict(store.ttl_dict),
        sorted(store.expiration_heap),
    )


def operations(rng: random.Random, count: int, keys: int = 6) -> list[tuple[Any, ...]]:
    chosen = []
    for _ in range(count):
        key = f"k{rng.randrange(keys)}"
        kind = rng.choice(["get", "get", "set", "increment", "increment"])
        if kind == "get":
            chosen.append(("get", key))
        elif kind == "set":
            chosen.append(("set", key, rng.choice([1, 2.5, "v", {"a": 1}, "x" * 3000]), rng.choice([None, 30, 0.5])))
        else:
            chosen.append(("increment", key, rng.choice([1, 2, 0.5])))
    return chosen


def run_both(ours: InMemoryCache, theirs: InMemoryCache, sequence: list[tuple[Any, ...]]) -> None:
    for operation in sequence:
        assert apply(ours, operation) == apply(theirs, operation), operation
        assert state(ours) == state(theirs), operation


def clocked_pair(**options: Any) -> tuple[InMemoryCache, Reference]:
    ours, theirs = InMemoryCache(**options), Reference(**options)
    ours._clock, theirs._clock = SteppingClock(), SteppingClock()
    return ours, theirs


# Each replacement builds a fresh object per instance (a store never shares one with the other).
REPLACEMENTS: dict[str, Callable[[InMemoryCache], Any]] = {
    "cache_dict": lambda store: {"k1": 5, "k2": "7"},
    "ttl_dict": lambda store: {key: 1_000_000.5 for key in store.cache_dict},
    "expiration_heap": lambda store: [],
    "max_size_in_memory": lambda store: 2,
    "max_size_per_item": lambda store: 0,
    "default_ttl": lambda store: -1,
    "_clock": lambda store: SteppingClock(start=2_000_000.0, step=10.0),
    "_write_lock": lambda store: threading.RLock(),
    "_increment_lock": lambda store: threading.RLock(),
}


@pytest.mark.parametrize("attribute", sorted(REPLACEMENTS))
def test_reassigned_attributes_are_used_by_the_next_operation(attribute, native_cache):
    rng = random.Random(attribute)
    ours, theirs = clocked_pair(max_size_in_memory=50)
    run_both(ours, theirs, operations(rng, 40))  # the attributes are remembered by now
    for store in (ours, theirs):
        setattr(store, attribute, REPLACEMENTS[attribute](store))
    run_both(ours, theirs, operations(rng, 60))
    assert fast_litellm.stats()["cache"]["calls_rust"] > 0


@pytest.mark.parametrize("attribute", ["cache_dict", "ttl_dict", "expiration_heap", "max_size_in_memory"])
def test_attributes_reassigned_between_every_operation(attribute, native_cache):
    rng = random.Random(attribute)
    ours, theirs = clocked_pair(max_size_in_memory=50)
    for operation in operations(rng, 120):
        for store in (ours, theirs):
            current = getattr(store, attribute)
            setattr(store, attribute, current if rng.random() < 0.5 else type(current)(current))
        assert apply(ours, operation) == apply(theirs, operation)
        assert state(ours) == state(theirs)


def test_deleted_and_added_attributes_leave_litellms_behaviour(native_cache):
    ours, theirs = clocked_pair()
    run_both(ours, theirs, operations(random.Random(1), 20))
    for store in (ours, theirs):
        del store.ttl_dict
    outcomes = [apply(store, ("set", "k1", 1, None)) for store in (ours, theirs)]
    assert outcomes[0] == ("error", "AttributeError", "'InMemoryCache' object has no attribute 'ttl_dict'")
    assert outcomes[1] == ("error", "AttributeError", "'Reference' object has no attribute 'ttl_dict'")
    for store in (ours, theirs):
        store.ttl_dict = {}
        store.extra = 1  # an attribute of its own: LiteLLM's methods from now on
    run_both(ours, theirs, operations(random.Random(2), 30))


def test_many_instances_used_in_turn(native_cache):
    """More instances than a thread remembers, in random turns: each sees its own state."""
    rng = random.Random(7)
    pairs = [clocked_pair(max_size_in_memory=8) for _ in range(40)]
    for _ in range(3000):
        ours, theirs = rng.choice(pairs)
        operation = operations(rng, 1)[0]
        assert apply(ours, operation) == apply(theirs, operation)
    for ours, theirs in pairs:
        assert state(ours) == state(theirs)


def test_instances_dropped_and_created_again(native_cache):
    """A new instance's dict may take a dropped one's address: it is never mistaken for it."""
    for round_number in range(300):
        store = InMemoryCache()
        store.set_cache("k", round_number)
        assert store.get_cache("k") == round_number
        store.set_cache("k", round_number + 1)
        assert store.increment_cache("k", 1) == round_number + 2
        assert store.cache_dict == {"k": round_number + 2}
        del store


def test_threads_on_shared_instances_count_exactly(native_cache, race):
    """Threads increment counters on shared instances while another thread keeps reassigning
    their size limits (each thread remembers on its own): no increment is lost."""
    stores = [InMemoryCache(max_size_in_memory=100) for _ in range(3)]
    for store in stores:
        store.set_cache("counter", 0)
    turn = iter(range(10**9))

    def count() -> None:
        stores[next(turn) % len(stores)].increment_cache("counter", 1)

    def reassign() -> None:
        for store in stores:
            store.max_size_per_item = store.max_size_per_item
            store.max_size_in_memory = 100

    assert race(count, threads=4, rounds=2000, change=reassign) == []
    assert sum(store.get_cache("counter") for store in stores) == 4 * 2000


def test_attribute_stores_by_specialised_bytecode_are_seen(native_cache):
    """`store.attr = value` in a hot loop (CPython 3.11 specialises it to write into the instance
    dict directly): every store gives the dict a new version, so each operation after it uses the
    object just assigned, never the one it replaced (which may already be freed)."""
    ours, theirs = clocked_pair(max_size_in_memory=100)
    for round_number in range(3000):
        for store in (ours, theirs):
            store.cache_dict = {"k": round_number, f"r{round_number % 7}": round_number}
            store.ttl_dict = {"k": 2_000_000.0 + round_number}
            store.expiration_heap = [(2_000_000.0 + round_number, "k")]
            store.max_size_per_item = 1024 if round_number % 3 else 0
        operation = ("increment", "k", 1) if round_number % 2 else ("set", "k", round_number * 2, None)
        assert apply(ours, operation) == apply(theirs, operation)
        assert apply(ours, ("get", "k")) == apply(theirs, ("get", "k"))
        assert state(ours) == state(theirs)
    assert fast_litellm.stats()["cache"]["calls_rust"] >= 2 * 3000
