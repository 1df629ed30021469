"""`set_cache` / `increment_cache` on a key already held, with LiteLLM's default clock: done
natively without taking the instance's locks when nobody holds them (GIL builds). The results
and state are LiteLLM's, a held lock is waited for, and LiteLLM's own locked methods running in
other threads never lose an update."""

from __future__ import annotations

import heapq
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from litellm.caching.in_memory_cache import InMemoryCache

import fast_litellm
from fast_litellm import cache


class Reference(InMemoryCache):
    """Not a class fast-litellm handles: every call runs LiteLLM's own methods."""


def litellm_method(name: str) -> Callable[..., Any]:
    """LiteLLM's own method (the original the patch replaced)."""
    return cache._store_original[name]


def aligned_pair(entries: dict[str, Any], **options: Any) -> tuple[InMemoryCache, Reference]:
    """A patched instance and a LiteLLM one holding `entries` with the very same expiries."""
    ours, theirs = InMemoryCache(**options), Reference(**options)
    for key, value in entries.items():
        ours.set_cache(key, value)
    theirs.cache_dict = dict(ours.cache_dict)
    theirs.ttl_dict = dict(ours.ttl_dict)
    theirs.expiration_heap = list(ours.expiration_heap)
    return ours, theirs


def assert_same_state(ours: InMemoryCache, theirs: InMemoryCache) -> None:
    assert list(ours.cache_dict.items()) == list(theirs.cache_dict.items())
    assert ours.ttl_dict == theirs.ttl_dict
    assert sorted(ours.expiration_heap) == sorted(theirs.expiration_heap)


AMOUNTS: list[Any] = [1, 0, -1, 2.5, -0.0, 0.0, 10**20, float("inf"), float("nan"), True, 3]
STORED: list[Any] = [0, 1, -7, 0.0, -0.0, 2.5, 10**30, float("nan"), "5", "x", None, [1], {"a": 1}, True]


@pytest.mark.parametrize("stored", STORED, ids=repr)
def test_increments_of_held_keys_match_litellm(stored, native_cache):
    ours, theirs = aligned_pair({"counter": stored, "other": 1}, max_size_in_memory=10)
    completed = 0
    for amount in AMOUNTS:
        results = []
        for store in (ours, theirs):
            try:
                results.append(("ok", store.increment_cache("counter", amount, ttl=5)))
            except Exception as error:  # compared below: LiteLLM's error is expected as it is
                results.append(("error", type(error), str(error)))
        assert repr(results[0]) == repr(results[1]), amount
        completed += results[0][0] == "ok"
        assert repr(list(ours.cache_dict.items())) == repr(list(theirs.cache_dict.items()))
        assert ours.ttl_dict == theirs.ttl_dict
    assert fast_litellm.stats()["cache"]["calls_rust"] >= completed


SET_VALUES: list[Any] = [
    7, 2.5, True, None, "", "text", "x" * 5000, b"raw", [1, 2], {"a": [0.1]}, (1, 2), {1, 2}, 10**30, 10**5000,
]  # fmt: skip


@pytest.mark.parametrize("value", SET_VALUES, ids=lambda value: type(value).__name__)
def test_sets_of_held_keys_match_litellm(value, native_cache):
    for max_size_per_item in (1024, 1, 0):
        ours, theirs = aligned_pair({"key": {"old": 1}, "next": 2}, max_size_per_item=max_size_per_item)
        for store in (ours, theirs):
            assert store.set_cache("key", value, ttl=30) is None
        assert_same_state(ours, theirs)


def test_big_int_totals_are_sized_by_litellms_check(native_cache):
    digits = sys.get_int_max_str_digits()
    ours, theirs = aligned_pair({"counter": 10**digits})
    totals = [store.increment_cache("counter", 10**digits) for store in (ours, theirs)]
    assert totals[0] == totals[1]
    assert_same_state(ours, theirs)  # LiteLLM's check cannot print it: not stored


def expiring_soon(stores: tuple[InMemoryCache, ...], key: str) -> None:
    """`key` expires in 50 ms in both stores (the heap's root), then that time passes."""
    expiry = time.time() + 0.05
    for store in stores:
        store.ttl_dict[key] = expiry
        heapq.heappush(store.expiration_heap, (expiry, key))
    time.sleep(0.1)


def assert_same_keys(ours: InMemoryCache, theirs: InMemoryCache) -> None:
    """The same entries; expiries set during the test were read from two clock readings."""
    assert list(ours.cache_dict.items()) == list(theirs.cache_dict.items())
    assert set(ours.ttl_dict) == set(theirs.ttl_dict)
    assert sorted(key for _, key in ours.expiration_heap) == sorted(key for _, key in theirs.expiration_heap)


@pytest.mark.parametrize("operation", ["increment", "set"])
def test_an_expired_key_is_evicted_as_litellm_does(operation, native_cache):
    stores = aligned_pair({"soon": 1, "later": 2}, max_size_in_memory=10)
    expiring_soon(stores, "soon")
    for store in stores:
        if operation == "increment":
            assert store.increment_cache("soon", 5) == 5  # counted from 0 again
        else:
            store.set_cache("soon", 5)
    assert_same_keys(*stores)


def test_an_expired_heap_root_is_evicted_by_a_set_of_another_key(native_cache):
    stores = aligned_pair({"soon": 1, "later": 2}, max_size_in_memory=10)
    expiring_soon(stores, "soon")
    for store in stores:
        store.set_cache("later", 3)
        store.increment_cache("later", 1)
        assert "soon" not in store.cache_dict
    assert_same_state(*stores)


def test_a_full_cache_evicts_on_a_set_of_a_held_key(native_cache):
    stores = aligned_pair({"first": 1, "second": 2, "third": 3}, max_size_in_memory=3)
    steps: list[Callable[[InMemoryCache], Any]] = [
        lambda store: store.set_cache("third", 4),
        lambda store: store.increment_cache("second", 1),
        lambda store: store.set_cache("new", 1),
    ]
    for step in steps:
        for store in stores:
            step(store)
        assert_same_keys(*stores)


def finished_after_held_lock(store: InMemoryCache, lock_name: str, call: Callable[[], Any]) -> list[str]:
    """`call()` in a thread started while another holds `store.<lock_name>`: "done" comes after
    "released" when the call waited for the lock."""
    lock = getattr(store, lock_name)
    order: list[str] = []
    lock.acquire()
    worker = threading.Thread(target=lambda: (call(), order.append("done")))
    worker.start()
    worker.join(timeout=0.2)
    order.append("released")
    lock.release()
    worker.join(timeout=10)
    return order


@pytest.mark.parametrize(
    ("lock_name", "operation"),
    [
        ("_write_lock", "set"),
        ("_write_lock", "increment"),
        ("_increment_lock", "increment"),
    ],
)
def test_a_held_lock_is_waited_for(lock_name, operation, native_cache):
    store = InMemoryCache()
    store.set_cache("key", 1)
    call = {
        "set": lambda: store.set_cache("key", 2),
        "increment": lambda: store.increment_cache("key", 1),
    }[operation]
    assert finished_after_held_lock(store, lock_name, call) == ["released", "done"]
    assert store.get_cache("key") == 2


def test_a_set_does_not_wait_for_the_increment_lock(native_cache):
    # LiteLLM's set_cache takes only the write lock.
    store = InMemoryCache()
    store.set_cache("key", 1)
    assert finished_after_held_lock(store, "_increment_lock", lambda: store.set_cache("key", 2)) == [
        "done",
        "released",
    ]


def test_increments_interleaved_with_litellms_locked_methods_lose_nothing(native_cache, race):
    """Native increments (uncontended ones skip the locks) race LiteLLM's own increment and set
    methods, which hold the locks across thread switches; every increment is counted."""
    store = InMemoryCache(max_size_in_memory=100)
    store.set_cache("shared", 0)
    threads, rounds = 6, 1500
    litellm_get, litellm_set = litellm_method("get_cache"), litellm_method("set_cache")
    counter = iter(range(10**9))  # next() on a range iterator is atomic
    thread = threading.local()  # half the threads take LiteLLM's locked path, half the native one

    def litellm_increment() -> None:
        # LiteLLM's increment_cache with its own Python get and set (its calls of self.get_cache
        # and self.set_cache would be native ones, leaving no thread switch inside the lock).
        with store._increment_lock:
            total = (litellm_get(store, "shared") or 0) + 1
            litellm_set(store, "shared", total)

    def pick() -> None:
        if not hasattr(thread, "litellms"):
            thread.litellms = next(counter) % 2 == 1
        step = next(counter)
        if thread.litellms:
            litellm_increment()
            litellm_set(store, f"scratch-{step % 20}", step)
        else:
            store.increment_cache("shared", 1)
            store.set_cache(f"scratch-{step % 20}", step)

    assert race(pick, threads=threads, rounds=rounds) == []
    assert store.get_cache("shared") == threads * rounds
    assert fast_litellm.stats()["cache"]["calls_rust"] >= threads // 2 * rounds


def test_replaced_value_is_released_after_the_set(native_cache):
    """A replaced value's finaliser runs Python code: it sees the operation complete."""
    store = InMemoryCache()
    seen: list[Any] = []

    class Finalised:
        def __del__(self) -> None:
            seen.append(store.get_cache("key"))

    store.set_cache("key", Finalised())
    store.set_cache("key", 5)
    assert seen == [5]


def test_a_heap_due_for_compaction_is_compacted_on_a_set_of_a_held_key(native_cache):
    stores = aligned_pair({"first": 1, "second": 2}, max_size_in_memory=3)
    for store in stores:
        for index in range(8):  # outdated entries of held keys, behind the current root
            store.expiration_heap.append((store.ttl_dict["second"] + 1 + index, "second"))
    for store in stores:
        store.set_cache("first", 5)
        assert len(store.expiration_heap) == 2
    assert_same_state(*stores)
