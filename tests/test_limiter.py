"""The v3 limiter's in-memory check with fast-litellm's native pass: the same responses, store
contents, clock readings and exceptions as LiteLLM's own `should_rate_limit` for the same sequence
of checks, releases, reservations, clock steps and odd stored values; LiteLLM's method wherever
the native pass does not apply; limits hold under concurrent checks."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
from datetime import datetime, timezone
from typing import Any
from unittest import mock

import pytest

pytest.importorskip("fastapi", reason="the proxy extra is not installed: pip install 'fast-litellm[proxy]'")

import fast_litellm  # noqa: E402

# This test process is not a proxy process: the limiter waits for its module only when told.
fast_litellm._patcher.expect_proxy()

from litellm import DualCache  # noqa: E402
from litellm.proxy.hooks import parallel_request_limiter_v3 as v3  # noqa: E402
from litellm.proxy.utils import InternalUsageCache  # noqa: E402
from litellm.redis.stores.rate_limits import CounterIncrement, RateLimitScope  # noqa: E402

from fast_litellm import limiter  # noqa: E402

Handler = v3._PROXY_MaxParallelRequestsHandler_v3
SCOPES = [(key, value) for key in ("api_key", "user", "team") for value in ("a", "b")]


class ScriptedClock:
    """The handler's time provider: a datetime that moves only when the test says so."""

    def __init__(self) -> None:
        self.now, self.readings = 1_700_000_000.25, 0

    def __call__(self) -> datetime:
        self.readings += 1
        return datetime.fromtimestamp(self.now, tz=timezone.utc)


class SequentialIds:
    """Stands in for the limiter module's `uuid`: slot ids in order, the same in every replay."""

    def __init__(self) -> None:
        self.ids = itertools.count()

    def uuid4(self) -> Any:
        return mock.Mock(hex=f"generated-{next(self.ids)}")


def new_handler(clock: ScriptedClock | None = None) -> Any:
    return Handler(InternalUsageCache(DualCache()), time_provider=clock or ScriptedClock())


def snapshot(handler: Any) -> str:
    """Every entry of every scope the replays use, as the store returns them."""
    entries = []
    for key, value in SCOPES:
        scope = RateLimitScope(key, value)
        for entry in (scope.counter("requests"), scope.counter("tokens"), scope.window, scope.gauge):
            entries.append(handler.rate_limits._handle.get_local(entry))
    return repr(entries)


def random_descriptor(rng: random.Random) -> dict[str, Any]:
    key, value = rng.choice(SCOPES)
    if rng.random() < 0.1:
        return {"key": key, "value": value, "rate_limit": None}
    limits = {
        "requests_per_unit": rng.choice([None, 1, 2, 3, 5, 10**9, "3", 2.5, 2**63 - 1]),
        "tokens_per_unit": rng.choice([None, 1, 4, 10**9]),
        "max_parallel_requests": rng.choice([None, None, 1, 2, 3, 2**63 - 1]),
    }
    if rng.random() < 0.3:
        limits["window_size"] = rng.choice([None, 0, 30])
    return {"key": key, "value": value, "rate_limit": limits}


ODD_VALUES = ["7", 2.5, -3, "abc", {"x": 1.0}, 10**30, " 12 ", "1_000", 0.0, 2**63 - 1, -(2**63)]


async def replay(seed: int) -> list[Any]:
    """One seeded sequence against a fresh handler; what each step returned or raised, the
    clock readings and the store afterwards."""
    rng = random.Random(seed)
    clock = ScriptedClock()
    handler = new_handler(clock)
    store = handler.rate_limits
    slots: list[tuple[tuple[RateLimitScope, ...], str]] = []
    observed: list[Any] = []
    for step in range(rng.randrange(20, 60)):
        action = rng.choices(
            ["check", "advance", "release", "poke", "read_only", "tokens", "reserve"], [10, 3, 3, 1, 1, 1, 4]
        )[0]
        try:
            if action == "check":
                descriptors = [random_descriptor(rng) for _ in range(rng.randrange(0, 4))]
                slot_id = rng.choice([f"slot-{step}", None, ""])
                result: Any = await handler.should_rate_limit(
                    descriptors,
                    skip_tpm_check=rng.random() < 0.3,
                    parallel_slot_id=slot_id,
                    skip_parallel_check=rng.random() < 0.2,
                )
                gauges = tuple(
                    RateLimitScope(d["key"], d["value"])
                    for d in descriptors
                    if (d["rate_limit"] or {}).get("max_parallel_requests") is not None
                )
                if slot_id:
                    slots.append((gauges, slot_id))
            elif action == "advance":
                clock.now += rng.choice([0.5, 1, 29, 59.5, 60, 61, 3599, 3601])
                result = clock.now
            elif action == "release" and slots:
                gauges, slot_id = slots.pop(rng.randrange(len(slots)))
                result = await handler._release_parallel_request_slots_in_memory(gauges, slot_id)
            elif action == "poke":
                scope = RateLimitScope(*rng.choice(SCOPES))
                entry = rng.choice([scope.counter("requests"), scope.counter("tokens"), scope.window, scope.gauge])
                store.set_local(entry, rng.choice(ODD_VALUES), 60)
                result = "poked"
            elif action == "reserve":  # the tpm reservation: all or nothing
                descriptors = [random_descriptor(rng) for _ in range(rng.randrange(1, 4))]
                increments = [
                    {"requests": rng.choice([0, 1, 2]), "tokens": rng.choice([0, 1, 3, 50, -1])} for _ in descriptors
                ]
                result = normalized(await handler.atomic_check_and_increment_by_n(descriptors, increments))
            elif action == "read_only":
                result = await handler.should_rate_limit([random_descriptor(rng)], read_only=True)
            else:
                scope = RateLimitScope(*rng.choice(SCOPES))
                result = await store.increment(CounterIncrement(scope.counter("tokens"), rng.choice([1, 2.5]), 60))
        except Exception as error:  # compared between the two replays
            result = (type(error).__name__, str(error))
        observed.append((step, action, result, clock.readings, snapshot(handler)))
    return observed


def normalized(response: dict[str, Any]) -> dict[str, Any]:
    """The reservation windows (a frozenset) in a stable order."""
    windows = response.get("reservation_windows")
    return {**response, "reservation_windows": sorted(map(repr, windows))} if windows is not None else response


def run_replay(seed: int, mode: str, rate_limit_mode: Any) -> list[Any]:
    rate_limit_mode(mode)
    with mock.patch.object(v3, "uuid", SequentialIds()):
        return asyncio.run(replay(seed))


@pytest.mark.parametrize("seed", range(40))
def test_replay_matches_litellm(seed, rate_limit_mode):
    expected = run_replay(seed, "python", rate_limit_mode)
    assert fast_litellm.stats()["rate_limit"]["calls_rust"] == 0
    actual = run_replay(seed, "rust", rate_limit_mode)
    assert actual == expected
    assert fast_litellm.stats()["rate_limit"]["calls_rust"] > 0


def test_odd_stored_values_run_litellms_method(rate_limit_mode):
    rate_limit_mode("rust")
    handler = new_handler()
    scope = RateLimitScope("api_key", "a")
    handler.rate_limits.set_local(scope.counter("requests"), {"slot": 1.0}, 60)
    descriptors = [{"key": "api_key", "value": "a", "rate_limit": {"requests_per_unit": 5}}]
    with pytest.raises(TypeError, match="slot registry"):
        asyncio.run(handler.should_rate_limit(descriptors))
    stats = fast_litellm.stats()["rate_limit"]
    assert (stats["calls_rust"], stats["calls_python"]) == (0, 1)


def one_check(handler: Any, **kwargs: Any) -> Any:
    descriptors = [{"key": "user", "value": "b", "rate_limit": {"requests_per_unit": 5, "max_parallel_requests": 2}}]
    return asyncio.run(handler.should_rate_limit(descriptors, **kwargs))


def test_native_pass_counts_and_modes(rate_limit_mode):
    handler = new_handler()
    rate_limit_mode("rust")
    native = one_check(handler, parallel_slot_id="same")  # one slot: never over the gauge
    rate_limit_mode("python")
    python = one_check(handler, parallel_slot_id="same")  # one slot: never over the gauge
    assert native["overall_code"] == python["overall_code"] == "OK"
    assert [s["limit_remaining"] for s in native["statuses"]] == [4, 1]
    assert [s["limit_remaining"] for s in python["statuses"]] == [3, 0]
    stats = fast_litellm.stats()["rate_limit"]
    assert (stats["calls_rust"], stats["calls_python"]) == (1, 1)


def wrapped(function: Any) -> Any:
    """A replacement that behaves like `function` but is not it."""
    return lambda *args, **kwargs: function(*args, **kwargs)


@pytest.mark.parametrize(
    "replace",
    [
        lambda: mock.patch.object(
            Handler, "_in_memory_cache_sliding_window", wrapped(Handler._in_memory_cache_sliding_window)
        ),
        lambda: mock.patch.object(Handler, "_get_current_time", wrapped(Handler._get_current_time)),
        lambda: mock.patch.object(v3.RateLimitStore, "set_local", wrapped(v3.RateLimitStore.set_local)),
        lambda: mock.patch.object(v3, "_scalar", wrapped(v3._scalar)),
    ],
)
def test_replaced_helpers_run_litellms_method(replace, rate_limit_mode):
    rate_limit_mode("rust")
    handler = new_handler()
    one_check(handler)  # remembers the class as LiteLLM's
    with replace():
        one_check(handler)
    one_check(handler)
    stats = fast_litellm.stats()["rate_limit"]
    assert (stats["calls_rust"], stats["calls_python"]) == (2, 1)


def test_subclass_and_instance_overrides_run_litellms_method(rate_limit_mode):
    rate_limit_mode("rust")

    class Custom(Handler):
        def is_cache_list_over_limit(self, *args: Any, **kwargs: Any) -> Any:
            return {"overall_code": "OK", "statuses": ["custom"]}

    custom = Custom(InternalUsageCache(DualCache()))
    assert one_check(custom)["statuses"][0] == "custom"
    handler = new_handler()
    handler._acquire_parallel_slots_in_memory = mock.Mock(return_value={"overall_code": "OK", "statuses": []})
    one_check(handler)
    handler._acquire_parallel_slots_in_memory.assert_called_once()
    stats = fast_litellm.stats()["rate_limit"]
    assert (stats["calls_rust"], stats["calls_python"]) == (0, 2)


async def after_held_lock(handler: Any, call: Any) -> list[str]:
    """`await call()` started while the handler's lock is held, the lock released after one turn
    of the loop: "done" after "unlocked" when the call waited for the lock."""
    order = []
    await handler._check_and_increment_lock.acquire()

    async def run() -> None:
        await call()
        order.append("done")

    task = asyncio.create_task(run())
    await asyncio.sleep(0)
    order.append("unlocked")
    handler._check_and_increment_lock.release()
    await task
    return order


def test_read_only_and_held_lock_run_litellms_method(rate_limit_mode):
    rate_limit_mode("rust")
    handler = new_handler()

    descriptors = [{"key": "user", "value": "a", "rate_limit": {"requests_per_unit": 5}}]

    async def scenario() -> list[str]:
        order = await after_held_lock(handler, lambda: handler.should_rate_limit(descriptors, parallel_slot_id="x"))
        await handler.should_rate_limit(descriptors, read_only=True)
        return order

    assert asyncio.run(scenario()) == ["unlocked", "done"]
    stats = fast_litellm.stats()["rate_limit"]
    assert (stats["calls_rust"], stats["calls_python"]) == (0, 2)


def test_other_descriptor_kinds_run_litellms_method(rate_limit_mode):
    odd = [
        [{"key": "user", "value": 7, "rate_limit": {"requests_per_unit": 5}}],
        [{"key": "user", "value": "a", "rate_limit": {"requests_per_unit": "five"}}],
        [{"key": "user", "value": "a", "rate_limit": {"requests_per_unit": 10**40}}],
        [{"value": "a", "rate_limit": {"requests_per_unit": 5}}],
        ({"key": "user", "value": "a", "rate_limit": mock.MagicMock()},),
    ]

    def outcomes(mode: str) -> list[str]:
        rate_limit_mode(mode)
        handler, seen = new_handler(), []
        for descriptors in odd:
            try:
                seen.append(repr(asyncio.run(handler.should_rate_limit(descriptors))))
            except Exception as error:  # LiteLLM's own outcome, compared below
                seen.append(type(error).__name__)
        return seen

    assert outcomes("rust") == outcomes("python")
    assert fast_litellm.stats()["rate_limit"]["calls_rust"] == 0


def test_odd_reservations_end_as_litellms(rate_limit_mode):
    descriptor = {"key": "user", "value": "a", "rate_limit": {"tokens_per_unit": 100, "window_size": "30"}}
    cases = [
        ([descriptor], [{"tokens": 5}, {"tokens": 1}]),  # lengths differ
        ([descriptor], [{"tokens": "abc"}]),
        ([descriptor], [{"tokens": 2.7, "requests": True}]),
        ([descriptor], [mock.MagicMock()]),
        ([{"key": "user", "value": "a", "rate_limit": {"tokens_per_unit": "lots"}}], [{"tokens": 5}]),
        ([{"key": "user", "value": "a", "rate_limit": None}], [{"tokens": 5}]),
    ]

    def outcomes(mode: str) -> list[str]:
        rate_limit_mode(mode)
        handler, seen = new_handler(), []
        for descriptors, increments in cases:
            try:
                response = asyncio.run(handler.atomic_check_and_increment_by_n(descriptors, increments))
                seen.append(repr(normalized(response)))
            except Exception as error:  # LiteLLM's own outcome, compared below
                seen.append(f"{type(error).__name__}: {error}")
            seen.append(snapshot(handler))
        return seen

    assert outcomes("rust") == outcomes("python")


@pytest.mark.parametrize("mode", ["python", "rust"])
def test_concurrent_checks_never_admit_more_than_the_limits(mode, rate_limit_mode):
    """Many checks at once on one event loop, slots released after a yield: never more requests
    in a window than its rpm, never more in flight than the parallel limit."""
    rate_limit_mode(mode)
    handler = new_handler()
    limits = {"requests_per_unit": 40, "max_parallel_requests": 3}
    descriptors = [{"key": "api_key", "value": "a", "rate_limit": limits}]
    in_flight = peak = 0

    async def request(index: int) -> str:
        nonlocal in_flight, peak
        response = await handler.should_rate_limit(descriptors, parallel_slot_id=f"r{index}")
        if response["overall_code"] != "OK":
            return response["statuses"][-1]["rate_limit_type"]
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)
        in_flight -= 1
        await handler._release_parallel_request_slots_in_memory((RateLimitScope("api_key", "a"),), f"r{index}")
        return "OK"

    async def burst() -> list[str]:
        return await asyncio.gather(*(request(index) for index in range(200)))

    outcomes = asyncio.run(burst())
    assert outcomes.count("OK") <= 40 and peak <= 3
    assert outcomes.count("OK") + outcomes.count("max_parallel_requests") + outcomes.count("requests") == 200
    assert outcomes.count("requests") > 0  # the window filled up


def test_threads_exact_per_handler_and_safe_when_shared(rate_limit_mode, race):
    """Each thread's own handler (an event loop each, as each proxy worker has) counts exactly;
    one handler hammered from every thread raises nothing and never counts more than it was asked."""
    rate_limit_mode("rust")
    rounds, threads = 150, 4
    descriptors = [{"key": "team", "value": "b", "rate_limit": {"requests_per_unit": 10**9, "tokens_per_unit": 10**9}}]
    shared = new_handler()
    totals: list[int] = []
    lock = threading.Lock()

    def own_then_shared() -> None:
        own = new_handler()
        for _ in range(rounds):
            asyncio.run(own.should_rate_limit(descriptors, parallel_slot_id="x"))
        counter = RateLimitScope("team", "b").counter("requests")
        with lock:
            totals.append(own.rate_limits._handle.get_local(counter))
        asyncio.run(shared.should_rate_limit(descriptors, parallel_slot_id="x"))

    assert race(own_then_shared, threads=threads, rounds=1) == []
    assert totals == [rounds] * threads
    shared_count = shared.rate_limits._handle.get_local(RateLimitScope("team", "b").counter("requests"))
    assert 1 <= shared_count <= threads
    assert fast_litellm.stats()["rate_limit"]["calls_rust"] > 0


def test_entry_cache_stays_bounded(rate_limit_mode):
    rate_limit_mode("rust")
    handler = new_handler()

    async def checks() -> None:
        for index in range(limiter_cache_limit() + 10):
            descriptors = [{"key": "user", "value": f"u{index}", "rate_limit": {"requests_per_unit": 2}}]
            await handler.should_rate_limit(descriptors)

    asyncio.run(checks())
    assert 0 < len(limiter._entry_cache["user"]) <= limiter_cache_limit()
    latest = RateLimitScope("user", f"u{limiter_cache_limit() + 9}").counter("requests")
    assert handler.rate_limits._handle.get_local(latest) == 1


def limiter_cache_limit() -> int:
    return 4096


def test_native_lock_check_agrees_with_python():
    """The gate's lock check answers as `limiter._lock_free` for plain, held and awaited locks,
    lock subclasses and a patched `asyncio.Lock`."""
    from fast_litellm import limiter

    class AlwaysHeld(asyncio.Lock):
        def locked(self) -> bool:
            return True

    async def scenario() -> None:
        held, awaited = asyncio.Lock(), asyncio.Lock()
        await held.acquire()
        await awaited.acquire()
        waiter = asyncio.ensure_future(awaited.acquire())
        await asyncio.sleep(0)
        awaited._locked = False  # released by hand, its waiter not woken yet: still awaited
        locks = [asyncio.Lock(), held, awaited, AlwaysHeld()]
        answers = [limiter._gate.lock_free(lock) for lock in locks]
        assert answers == [limiter._lock_free(lock) for lock in locks] == [True, False, False, False]
        with mock.patch.object(asyncio.Lock, "locked", lambda self: True):
            assert limiter._gate.lock_free(asyncio.Lock()) is False
        assert limiter._gate.lock_free(asyncio.Lock()) is True
        waiter.cancel()

    asyncio.run(scenario())


def test_reservation_step_replaced_on_instance_runs_litellms_method(rate_limit_mode):
    rate_limit_mode("rust")
    handler = new_handler()
    descriptors = [{"key": "user", "value": "a", "rate_limit": {"tokens_per_unit": 100}}]
    handler._atomic_check_and_increment_in_memory = mock.Mock(return_value={"overall_code": "OK", "statuses": []})
    asyncio.run(handler.atomic_check_and_increment_by_n(descriptors, [{"tokens": 5}]))
    handler._atomic_check_and_increment_in_memory.assert_called_once()
    stats = fast_litellm.stats()["rate_limit"]
    assert (stats["calls_rust"], stats["calls_python"]) == (0, 1)


def test_instance_override_set_after_native_checks_is_honoured(rate_limit_mode):
    """The gate remembers an instance's attributes as free of overrides; a later override counts."""
    rate_limit_mode("rust")
    handler = new_handler()
    one_check(handler, parallel_slot_id="same")  # one slot: never over the gauge
    one_check(handler, parallel_slot_id="same")  # one slot: never over the gauge
    handler._acquire_parallel_slots_in_memory = mock.Mock(return_value={"overall_code": "OK", "statuses": []})
    one_check(handler, parallel_slot_id="same")  # one slot: never over the gauge
    handler._acquire_parallel_slots_in_memory.assert_called_once()
    del handler._acquire_parallel_slots_in_memory
    one_check(handler, parallel_slot_id="same")  # one slot: never over the gauge
    stats = fast_litellm.stats()["rate_limit"]
    assert (stats["calls_rust"], stats["calls_python"]) == (3, 1)


def test_reservation_meta_handed_to_litellms_step_is_litellms(rate_limit_mode):
    """With a stored value the native step does not take, LiteLLM's in-memory step gets the
    per-counter meta LiteLLM's own method builds."""
    descriptors = [
        {"key": "api_key", "value": "k", "rate_limit": {"requests_per_unit": 9, "tokens_per_unit": 100}},
        {"key": "user", "value": "u", "rate_limit": {"tokens_per_unit": 50, "window_size": 30}},
    ]
    increments = [{"requests": 1, "tokens": 7}, {"tokens": 3}]

    def handed(mode: str) -> tuple[list[Any], Any, Any]:
        rate_limit_mode(mode)
        handler = new_handler()
        handler.rate_limits.set_local(RateLimitScope("user", "u").counter("tokens"), "abc", 60)  # not taken natively
        seen: list[Any] = []
        original = limiter._original_atomic

        def spy(self: Any, per_counter_meta: Any) -> Any:
            seen.append(per_counter_meta)
            return original(self, per_counter_meta)

        with mock.patch.object(limiter, "_original_atomic", spy):
            response = asyncio.run(handler.atomic_check_and_increment_by_n(descriptors, increments))
        return seen, normalized(response), snapshot(handler)

    assert handed("rust") == handed("python")
    assert len(handed("rust")[0]) == 1


def test_release_waits_for_a_held_lock_as_litellm_does(rate_limit_mode):
    rate_limit_mode("rust")
    handler = new_handler()
    gauges = (RateLimitScope("user", "b"),)
    one_check(handler, parallel_slot_id="held")
    fast_litellm.reset_stats()

    async def scenario() -> list[str]:
        order = await after_held_lock(
            handler, lambda: handler._release_parallel_request_slots_in_memory(gauges, "held")
        )
        await handler._release_parallel_request_slots_in_memory(gauges, "another")  # lock free: native
        return order

    assert asyncio.run(scenario()) == ["unlocked", "done"]
    assert handler.rate_limits._handle.get_local(RateLimitScope("user", "b").gauge) == {}  # the slot left
    stats = fast_litellm.stats()["rate_limit"]
    assert (stats["calls_rust"], stats["calls_python"]) == (1, 1)
