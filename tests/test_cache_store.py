"""LiteLLM's InMemoryCache with fast-litellm's native operations: the same results, the same
`cache_dict` / `ttl_dict` / `expiration_heap` after every step, the same clock readings, and
LiteLLM's own methods whenever a helper, the instance or its dicts have been replaced."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any
from unittest import mock

import pytest
from litellm.caching.in_memory_cache import InMemoryCache
from litellm.caching.llm_caching_handler import LLMClientCache

import fast_litellm
from fast_litellm import cache


class Reference(InMemoryCache):
    """Not a class fast-litellm handles: every call runs LiteLLM's own methods."""


class ReferenceClientCache(LLMClientCache):
    pass


class FakeClock:
    """A settable clock that counts its readings (LiteLLM's and ours must read it alike)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        return self.now


class Sized:
    """A value LiteLLM sizes through `__sizeof__` (not one of the builtins sized natively)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __sizeof__(self) -> int:
        return self.size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sized) and other.size == self.size

    def __hash__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"Sized({self.size})"


@pytest.fixture
def cache_mode():
    def set_mode(value: str) -> None:
        fast_litellm.set_mode("cache", value)
        fast_litellm.reset_stats()

    fast_litellm.reset_stats()
    yield set_mode
    fast_litellm.set_mode("cache", "auto")
    fast_litellm.reset_stats()


VALUES: list[Any] = [
    0, 1, 7, -3, 2.5, float("inf"), True, False, None, "", "text", "  42 ", '{"a": [1, 2]}', "[1, 2", "null",
    b'{"b": 1}', b"raw", bytearray(b"[3]"), [1, "x"], (1, 2), {"deployment": {"latency": [0.1]}}, {1, 2},
    "x" * 5000, b"y" * 3000, list(range(300)), Sized(10), Sized(5000), 10**30,
]  # fmt: skip
TTLS: list[Any] = [None, None, 0, 1, 5, 60, 0.5, "30", -1]


def random_steps(rng: random.Random, count: int, keys: int) -> list[tuple]:
    names = [f"key-{index}" for index in range(keys)]
    steps: list[tuple] = []
    for _ in range(count):
        key = rng.choice(names)
        kind = rng.randrange(14)
        if kind <= 3:
            steps.append(("set_cache", (key, rng.choice(VALUES)), {"ttl": rng.choice(TTLS)}))
        elif kind <= 6:
            steps.append(("get_cache", (key,), {}))
        elif kind == 7:
            steps.append(("increment_cache", (key, rng.choice([1, 2, 0.5, -1])), {"ttl": rng.choice(TTLS)}))
        elif kind == 8:
            steps.append(("batch_get_cache", (rng.sample(names, 3),), {}))
        elif kind == 9:
            steps.append(("advance", (rng.choice([0.3, 1, 2, 10, 100, 700]),), {}))
        elif kind == 10:
            steps.append(("delete_cache", (key,), {}))
        elif kind == 11:
            steps.append(("async_increment", (key, 1), {"ttl": rng.choice(TTLS)}))
        elif kind == 12:
            pairs = [(rng.choice(names), rng.choice(VALUES)) for _ in range(2)]
            steps.append(("async_set_cache_pipeline", (pairs,), {"ttl": rng.choice(TTLS)}))
        else:
            steps.append(("async_batch_get_cache", (rng.sample(names, 2),), {}))
    return steps


def run_step(store: InMemoryCache, clock: FakeClock, step: tuple) -> Any:
    name, args, kwargs = step
    if name == "advance":
        clock.now += args[0]
        return None
    kwargs = {
        key: value for key, value in kwargs.items() if not (key == "ttl" and value is None and name != "set_cache")
    }
    try:
        result = getattr(store, name)(*args, **kwargs)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return ("ok", result)
    except Exception as error:  # the same error from both sides is part of the behaviour
        return ("raised", type(error).__name__, str(error))


def snapshot(store: InMemoryCache, clock: FakeClock) -> tuple:
    return (dict(store.cache_dict), dict(store.ttl_dict), list(store.expiration_heap), clock.readings)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("max_size", [0, 1, 3, 8, 200])
def test_random_sequences_match_litellm(seed: int, max_size: int, cache_mode):
    rng = random.Random(seed * 1000 + max_size)
    clocks = FakeClock(), FakeClock()
    ours = InMemoryCache(max_size_in_memory=max_size, default_ttl=rng.choice([None, 1, 30]), clock=clocks[0])
    theirs = Reference(max_size_in_memory=max_size, default_ttl=ours.default_ttl, clock=clocks[1])
    for index, step in enumerate(random_steps(rng, 150, keys=max(4, max_size + 2))):
        expected = run_step(theirs, clocks[1], step)
        got = run_step(ours, clocks[0], step)
        assert got == expected, (index, step)
        assert snapshot(ours, clocks[0]) == snapshot(theirs, clocks[1]), (index, step)
    stats = fast_litellm.stats()["cache"]
    assert stats["calls_rust"] > 0 and stats["fallbacks"] == 0


def test_small_item_limit_and_values_sized_by_litellm(cache_mode):
    clocks = FakeClock(), FakeClock()
    ours = InMemoryCache(max_size_per_item=1, clock=clocks[0])
    theirs = Reference(max_size_per_item=1, clock=clocks[1])
    for index, value in enumerate([*VALUES, "z" * 1023, "z" * 1024, b"q" * 990, b"q" * 1000, Sized(1024), Sized(1025)]):
        for store in (ours, theirs):
            store.set_cache(f"k{index}", value)
        assert snapshot(ours, clocks[0]) == snapshot(theirs, clocks[1]), value


def test_heap_rebuild_and_untracked_keys(cache_mode):
    """Entries written straight into the internals (as LiteLLM's tests do) are evicted alike."""
    clocks = FakeClock(), FakeClock()
    ours, theirs = (
        InMemoryCache(max_size_in_memory=3, clock=clocks[0]),
        Reference(max_size_in_memory=3, clock=clocks[1]),
    )
    for store in (ours, theirs):
        for index in range(5):
            store.cache_dict[f"direct-{index}"] = index  # no TTL, not in the heap
        store.set_cache("a", 1)
        for _ in range(10):  # outdated heap entries: TTLs overridden after expiry
            store.set_cache("b", 2, ttl=1)
        store.expiration_heap.extend([(0.5, "ghost")] * 9)
    for step in [("advance", (2,), {}), ("set_cache", ("b", 3), {}), ("set_cache", ("c", 4), {"ttl": 5})]:
        assert run_step(ours, clocks[0], step) == run_step(theirs, clocks[1], step)
        assert snapshot(ours, clocks[0]) == snapshot(theirs, clocks[1])


def test_default_clock_reads_time_time_as_litellm_does(cache_mode, monkeypatch):
    store = InMemoryCache()
    store.set_cache("short", "v", ttl=0.05)
    before = time.time()
    store.set_cache("k", 1, ttl=10)
    assert before + 10 <= store.ttl_dict["k"] <= time.time() + 10
    # time.time replaced (freezegun, monkeypatch): LiteLLM's lambda sees the replacement, so do we
    monkeypatch.setattr(time, "time", lambda: before + 1000)
    assert store.get_cache("short") is None and "short" not in store.cache_dict
    store.set_cache("later", 1)
    assert store.ttl_dict["later"] == before + 1000 + store.default_ttl
    assert fast_litellm.stats()["cache"]["calls_rust"] >= 4


def test_time_module_replaced_in_litellms_namespace_after_native_readings(cache_mode, monkeypatch):
    """The default clock's namespaces are remembered as checked; a later change is still seen."""
    from litellm.caching import in_memory_cache

    store = InMemoryCache()
    for index in range(3):
        store.set_cache(f"k{index}", index)
        assert store.get_cache(f"k{index}") == index
    frozen = mock.Mock(time=mock.Mock(return_value=5_000.0))
    monkeypatch.setattr(in_memory_cache, "time", frozen)
    store.set_cache("later", 1, ttl=7)
    assert store.ttl_dict["later"] == 5_007.0
    monkeypatch.undo()
    before = time.time()
    store.set_cache("now", 1, ttl=0)
    assert before <= store.ttl_dict["now"] <= time.time()


def test_replaced_helpers_and_internals_take_litellm_path(cache_mode):
    store = InMemoryCache(max_size_in_memory=2)
    store.set_cache("a", 1)
    with mock.patch.object(InMemoryCache, "evict_cache") as evict:
        store.set_cache("b", 2)
        assert evict.call_count == 1
    with mock.patch.object(store, "check_value_size", return_value=False) as check:
        store.set_cache("c", 3)
        assert check.call_count == 1 and "c" not in store.cache_dict
    fast_litellm.reset_stats()
    store.set_cache("d", 4)  # both mocks gone: native again
    assert fast_litellm.stats()["cache"]["calls_rust"] == 1

    class Tracking(dict):
        pass

    store.cache_dict = Tracking(store.cache_dict)
    fast_litellm.reset_stats()
    assert store.get_cache("d") == 4
    assert fast_litellm.stats()["cache"]["calls_rust"] == 0


def test_miss_answered_before_ttl_dict_is_read(cache_mode):
    """LiteLLM's miss reads only `cache_dict`: with `ttl_dict` of a type not handled natively, a
    str key's miss is still answered natively and a hit goes to LiteLLM's method."""

    class Tracking(dict):
        reads = 0

        def __getitem__(self, key: Any) -> Any:
            Tracking.reads += 1
            return super().__getitem__(key)

    store = InMemoryCache()
    store.set_cache("present", {"v": 1})
    store.ttl_dict = Tracking(store.ttl_dict)
    fast_litellm.reset_stats()
    assert store.get_cache("absent") is None
    assert (fast_litellm.stats()["cache"]["calls_rust"], Tracking.reads) == (1, 0)
    assert store.get_cache("present") == {"v": 1}
    stats = fast_litellm.stats()["cache"]
    assert (stats["calls_rust"], stats["calls_python"], Tracking.reads) == (1, 1, 1)


def test_python_mode_runs_litellm(cache_mode):
    cache_mode("python")
    store = InMemoryCache()
    store.set_cache("a", "1")
    assert store.get_cache("a") == 1 and store.increment_cache("n", 2) == 2
    stats = fast_litellm.stats()["cache"]
    assert stats["calls_rust"] == 0 and stats["calls_python"] >= 3


def test_errors_are_litellms(cache_mode):
    clocks = FakeClock(), FakeClock()
    store, reference = InMemoryCache(clock=clocks[0]), Reference(clock=clocks[1])
    for target in (store, reference):
        target.set_cache("text", "abc")
    for call in (
        lambda s: s.get_cache(["unhashable"]),
        lambda s: s.set_cache({"unhashable": 1}, 1),
        lambda s: s.set_cache("k", 1, ttl="soon"),
        lambda s: s.increment_cache("text", 1),
    ):
        with pytest.raises(Exception) as ours:
            call(store)
        with pytest.raises(Exception) as theirs:
            call(reference)
        assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))
    assert snapshot(store, clocks[0]) == snapshot(reference, clocks[1])


class RecordingCloser:
    def __init__(self) -> None:
        self.scheduled: list[Any] = []
        self.owned: list[Any] = []

    def schedule(self, client: Any) -> None:
        self.scheduled.append(client)

    def reap(self) -> None:
        pass

    def mark_owned(self, client: Any) -> None:
        self.owned.append(client)


def test_llm_client_cache_evicts_through_its_override(cache_mode):
    closers = RecordingCloser(), RecordingCloser()
    ours = LLMClientCache(max_size_in_memory=2, evicted_client_closer=closers[0])  # type: ignore[arg-type]
    theirs = ReferenceClientCache(max_size_in_memory=2, evicted_client_closer=closers[1])  # type: ignore[arg-type]
    clients = [object() for _ in range(5)]
    for store in (ours, theirs):
        for index, client in enumerate(clients):
            store.set_cache(f"client-{index}", client, litellm_owned_client=index % 2 == 0)
            assert store.get_cache(f"client-{index}") is client
    assert closers[0].scheduled == closers[1].scheduled and len(closers[0].scheduled) == 3
    assert closers[0].owned == closers[1].owned
    assert list(ours.cache_dict) == list(theirs.cache_dict)
    assert fast_litellm.stats()["cache"]["calls_rust"] >= 10


def test_threads_increment_exactly(cache_mode):
    store = InMemoryCache(max_size_in_memory=1000)
    threads, rounds = 8, 2000
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        barrier.wait()
        try:
            for step in range(rounds):
                store.increment_cache("shared", 1)
                store.increment_cache(f"own-{index}", 0.5)
                store.set_cache(f"scratch-{step % 50}", step)
                store.get_cache(f"scratch-{(step + index) % 50}")
        except BaseException as error:  # reported below: a thread's failure must fail the test
            errors.append(error)

    previous = __import__("sys").getswitchinterval()
    __import__("sys").setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=work, args=(index,)) for index in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
    finally:
        __import__("sys").setswitchinterval(previous)
    assert not errors and not any(worker.is_alive() for worker in workers)
    assert store.get_cache("shared") == threads * rounds
    assert all(store.get_cache(f"own-{index}") == rounds * 0.5 for index in range(threads))
    assert fast_litellm.stats()["cache"]["calls_rust"] >= threads * rounds * 3  # gets that miss are Python


def test_patch_state_reported_and_restored():
    status = {target["target"]: target["state"] for target in fast_litellm.status()["targets"]}
    for name in cache.STORE_METHODS:
        assert status[f"litellm.caching.in_memory_cache.InMemoryCache.{name}"] == "patched"
    assert vars(InMemoryCache)["get_cache"] is cache.store_get_cache
    fast_litellm.unpatch()
    try:
        assert vars(InMemoryCache)["get_cache"] is cache._store_original["get_cache"]
    finally:
        fast_litellm.patch()
    assert vars(InMemoryCache)["get_cache"] is cache.store_get_cache
    store = InMemoryCache()
    fast_litellm.reset_stats()
    store.set_cache("a", 1)
    assert fast_litellm.stats()["cache"]["calls_rust"] == 1


CALL_SHAPES: list[tuple[str, tuple, dict]] = [
    ("get_cache", ("k",), {}),
    ("get_cache", (), {"key": "k"}),
    ("get_cache", ("k",), {"other": 1, "ttl": 5}),
    ("get_cache", ("k",), {"key": "k"}),
    ("get_cache", (), {}),
    ("get_cache", ("k", "extra"), {}),
    ("set_cache", ("k", 1), {}),
    ("set_cache", (), {"value": 2, "key": "k"}),
    ("set_cache", ("j",), {"value": 3, "ttl": 5}),
    ("set_cache", ("m", 1), {"ttl": None, "other": 1}),
    ("set_cache", ("k", 1, 2), {}),
    ("set_cache", ("k",), {}),
    ("set_cache", ("k", 1), {"key": "j"}),
    ("increment_cache", ("n", 1), {}),
    ("increment_cache", (), {"key": "n", "value": 2, "ttl": 9}),
    ("increment_cache", ("n",), {}),
    ("increment_cache", ("n", 1, 2), {}),
    ("batch_get_cache", (["k", "n", "j"],), {}),
    ("batch_get_cache", (), {"keys": ["k"]}),
    ("batch_get_cache", (["k"],), {"other": 1}),
    ("batch_get_cache", (), {}),
]


def test_every_call_shape_behaves_as_litellms(cache_mode):
    """Positional, keyword, duplicated, missing and extra arguments: the native methods answer
    or raise exactly as LiteLLM's functions do (unusual shapes are LiteLLM's own call)."""
    clocks = FakeClock(), FakeClock()
    store, reference = InMemoryCache(clock=clocks[0]), Reference(clock=clocks[1])
    for name, args, kwargs in CALL_SHAPES:
        outcomes = []
        for target in (store, reference):
            try:
                outcomes.append(("ok", getattr(target, name)(*args, **kwargs)))
            except TypeError as error:
                outcomes.append(("raised", str(error)))
        assert outcomes[0] == outcomes[1], (name, args, kwargs)
        assert snapshot(store, clocks[0]) == snapshot(reference, clocks[1]), (name, args, kwargs)
    assert fast_litellm.stats()["cache"]["calls_rust"] >= 9


def test_store_methods_are_native_descriptors():
    """Installed as C methods on the class, with LiteLLM's signatures, and applicable to any
    object as LiteLLM's functions are."""
    import inspect

    method = vars(InMemoryCache)["get_cache"]
    assert type(method).__name__ == "method_descriptor"
    assert str(inspect.signature(method)) == "(self, /, key, **kwargs)"
    assert str(inspect.signature(InMemoryCache().set_cache)) == "(key, value, **kwargs)"

    class NotACache:
        def __init__(self) -> None:
            self.cache_dict = {"k": '{"a": 1}'}
            self.ttl_dict: dict[str, float] = {}

        def evict_element_if_expired(self, key: str) -> bool:
            return False

    assert InMemoryCache.get_cache(NotACache(), "k") == {"a": 1}


def test_partial_rollout_splits_calls_and_keeps_results(cache_mode):
    fast_litellm.set_mode("cache", "auto")
    cache.COMPONENT.rollout_percent = 50.0
    try:
        clocks = FakeClock(), FakeClock()
        store, reference = InMemoryCache(clock=clocks[0]), Reference(clock=clocks[1])
        fast_litellm.reset_stats()
        for step in random_steps(random.Random(7), 400, 6):
            assert run_step(store, clocks[0], step) == run_step(reference, clocks[1], step)
            assert snapshot(store, clocks[0]) == snapshot(reference, clocks[1])
        stats = fast_litellm.stats()["cache"]
        assert stats["calls_rust"] > 50 and stats["calls_python"] > 50
    finally:
        cache.COMPONENT.rollout_percent = 100.0


class Client:
    """A client LiteLLM would close once evicted (`close()`), recording when it was closed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = 0

    def close(self) -> None:
        self.closed += 1

    def __repr__(self) -> str:
        return f"Client({self.name})"


def client_caches() -> tuple[list[Any], list[FakeClock]]:
    """An LLMClientCache and a reference (LiteLLM's methods throughout), each with an
    EvictedClientCloser on its own settable clock; two slots, so clients get evicted."""
    from litellm.caching.evicted_client_closer import EvictedClientCloser

    clocks = [FakeClock(), FakeClock()]
    caches = [
        cls(max_size_in_memory=2, evicted_client_closer=EvictedClientCloser(grace_seconds=5, clock=clock))
        for cls, clock in zip((LLMClientCache, ReferenceClientCache), clocks, strict=True)
    ]
    return caches, clocks


CLIENT_GETS: list[tuple[tuple, dict]] = [
    (("c0",), {}),
    (("c1",), {"loop_bound": False}),
    (("c2", True), {}),
    ((), {"key": "c3", "loop_bound": 0}),
    (("c0",), {"unrelated": 1}),
    ((7,), {}),
    (("c1", False), {"loop_bound": True}),
    ((), {}),
]


def run_client_steps(caches: list[Any], clocks: list[FakeClock], rng: random.Random, steps: int) -> list[Any]:
    """The same random sets, gets and clock steps on both caches; what each observed."""
    clients = [[Client(f"{side}-{index}") for index in range(6)] for side in range(2)]
    observed: list[Any] = [[], []]
    for _ in range(steps):
        kind = rng.randrange(4)
        index = rng.randrange(6)
        loop_bound = rng.random() < 0.7
        args, kwargs = rng.choice(CLIENT_GETS)
        advance = rng.choice([0.5, 2, 6])
        for side, cache_ in enumerate(caches):
            if kind == 0:
                client = clients[side][index]
                cache_.set_cache(f"c{index % 4}", client, litellm_owned_client=True, loop_bound=loop_bound)
            elif kind == 1:
                clocks[side].now += advance
            else:
                try:
                    found = cache_.get_cache(*args, **kwargs)
                    observed[side].append(("ok", found.name[2:] if isinstance(found, Client) else found))
                except TypeError as error:
                    observed[side].append(("raised", str(error)))
            closed = [client.closed for client in clients[side]]
            observed[side].append((sorted(k.rsplit("-", 1)[0] for k in map(str, cache_.cache_dict)), closed))
    return observed


@pytest.mark.parametrize("seed", range(6))
def test_llm_client_cache_gets_match_litellm_in_and_out_of_a_loop(seed, cache_mode):
    """Loop-scoped keys, `loop_bound` given every way, evictions whose clients the closer closes
    once due (the reap on every get), keyword arguments and bad calls: both caches observe the
    same in a running loop and outside one."""
    caches, clocks = client_caches()
    outside = run_client_steps(caches, clocks, random.Random(seed), 150)
    assert outside[0] == outside[1]

    async def in_loop() -> list[Any]:
        return run_client_steps(caches, clocks, random.Random(seed + 100), 150)

    inside = asyncio.run(in_loop())
    assert inside[0] == inside[1]
    assert fast_litellm.stats()["cache"]["calls_rust"] > 100


def test_llm_client_cache_replaced_pieces_take_litellms_method(cache_mode):
    from litellm.caching import llm_caching_handler

    cache_ = LLMClientCache()
    cache_.set_cache("client", "value", loop_bound=False)
    fast_litellm.reset_stats()
    tokens: list[Any] = []
    with mock.patch.object(llm_caching_handler, "running_loop_token", lambda: tokens.append(1) or None):
        assert cache_.get_cache("client") == "value"
    assert tokens == [1]  # LiteLLM's method ran, and called the replacement
    with mock.patch.object(LLMClientCache, "_scoped_key", lambda self, key, loop_bound: "client"):
        assert cache_.get_cache("other") == "value"
    cache_.evicted_client_closer = mock.Mock()
    assert cache_.get_cache("client") == "value"
    cache_.evicted_client_closer.reap.assert_called_once()
    stats = fast_litellm.stats()["cache"]
    assert stats["calls_rust"] + stats["calls_python"] == 3  # each read counted once, by the store method


def test_llm_client_cache_threads_each_find_their_loops_client(cache_mode):
    cache_ = LLMClientCache(max_size_in_memory=50)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        async def body() -> None:
            mine = Client(f"t{index}")
            cache_.set_cache("shared-key", mine)
            for _ in range(2000):
                assert cache_.get_cache("shared-key") is mine
                await asyncio.sleep(0) if _ % 100 == 0 else None

        try:
            asyncio.run(body())
        except BaseException as error:  # reported below: a thread's failure must fail the test
            errors.append(error)

    workers = [threading.Thread(target=work, args=(index,)) for index in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors and not any(worker.is_alive() for worker in workers)
    assert fast_litellm.stats()["cache"]["calls_rust"] >= 4 * 2000


class SelfRemovingKey:
    """A key whose hash removes it from `cache` at the given call: Python code running between
    LiteLLM's membership test, TTL lookup and read of the value."""

    def __init__(self, remove_at: int) -> None:
        self.remove_at = remove_at
        self.hashes = 0
        self.cache: Any = None

    def __hash__(self) -> int:
        self.hashes += 1
        if self.hashes == self.remove_at and self.cache is not None:
            self.cache.cache_dict.pop(self, None)
        return 7

    def __eq__(self, other: object) -> bool:
        return other is self


@pytest.mark.parametrize("remove_at", [1, 2, 3, 4])
@pytest.mark.parametrize("clock", ["default", "fake"])
def test_get_reads_the_value_again_when_python_code_ran(remove_at, clock, cache_mode):
    outcomes = []
    for cls in (InMemoryCache, Reference):
        store = cls(clock=FakeClock()) if clock == "fake" else cls()
        key = SelfRemovingKey(remove_at)
        store.set_cache(key, "[1, 2]")
        key.hashes, key.cache = 0, store
        outcomes.append((store.get_cache(key), key.hashes, len(store.cache_dict)))
    assert outcomes[0] == outcomes[1]


def test_llm_client_cache_loops_taking_turns_and_tokens_changed(cache_mode):
    """Two loops running in turn on one thread (each get scoped to the loop running it), and a
    running loop whose `_LOOP_TOKENS` entry is changed or removed between gets: the keys read are
    LiteLLM's (the reference runs LiteLLM's methods on the same steps)."""
    from litellm.caching.evicted_client_closer import _LOOP_TOKENS

    caches = [LLMClientCache(max_size_in_memory=50), ReferenceClientCache(max_size_in_memory=50)]
    loops = [asyncio.new_event_loop() for _ in range(2)]
    observed: list[list[Any]] = [[], []]

    async def step(side: int, action: str, loop_index: int) -> None:
        cache_, running = caches[side], asyncio.get_running_loop()
        if action == "set":
            cache_.set_cache("client", f"client-of-loop-{loop_index}")
        elif action == "retoken":
            _LOOP_TOKENS[running] = 10_000 + loop_index
        elif action == "forget":
            _LOOP_TOKENS.pop(running, None)  # the next get assigns a new token (each side its own)
        observed[side].append((action, cache_.get_cache("client"), cache_.get_cache("other")))

    try:
        rng = random.Random(3)
        for _ in range(200):
            loop_index = rng.randrange(2)
            action = rng.choice(["get", "get", "get", "set", "retoken", "forget"])
            for side in (0, 1):
                loops[loop_index].run_until_complete(step(side, action, loop_index))
            keys = [sorted(str(key).rsplit("-", 1)[0] for key in cache_.cache_dict) for cache_ in caches]
            assert keys[0] == keys[1]
        assert observed[0] == observed[1]
        assert any(found is not None for _, found, _ in observed[0])
    finally:
        for loop in loops:
            loop.close()
    assert fast_litellm.stats()["cache"]["calls_rust"] > 200
