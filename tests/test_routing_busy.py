"""Least-busy routing with fast-litellm's pass: the same picks and the same reservation store as
LiteLLM's own `_select` for the same sequence of picks, reservations, attempts and clock
readings; LiteLLM's method when its helpers are replaced; exact under threads."""

from __future__ import annotations

import random
from typing import Any
from unittest import mock

import litellm
import pytest
from litellm.caching.in_memory_cache import InMemoryCache
from litellm.router_strategy import least_busy
from litellm.router_strategy.least_busy import LeastBusyLoggingHandler

import fast_litellm
from fast_litellm import routing_busy


class StepClock:
    """A clock that advances by a scripted amount at each reading."""

    def __init__(self, steps: list[float]) -> None:
        self.now, self.steps, self.readings = 1000.0, steps, 0

    def __call__(self) -> float:
        self.now += self.steps[self.readings % len(self.steps)]
        self.readings += 1
        return self.now


def deployments_of(count: int) -> list[dict[str, Any]]:
    return [{"model_name": "group", "model_info": {"id": f"d-{index}"}} for index in range(count)]


def stored(handler: LeastBusyLoggingHandler) -> str:
    store = handler._reservations
    return repr(sorted((key, store.cache_dict[key]) for key in store.cache_dict)) + repr(
        sorted(handler.router_cache.in_memory_cache.cache_dict.items())
    )


def replay(seed: int, mode: str, routing_mode: Any) -> list[Any]:
    """One seeded sequence of picks (reserving or not, with call ids), started and ended
    attempts and odd values written into the reservation store; what each step observed."""
    routing_mode(mode)
    rng = random.Random(seed)
    clock = StepClock([rng.choice([0.0, 0.5, 3.0, 31.0]) for _ in range(7)])
    handler = LeastBusyLoggingHandler(router_cache=litellm.DualCache(), clock=clock)
    deployments = deployments_of(rng.choice([1, 3, 8, 40]))
    observed: list[Any] = []
    for _ in range(60):
        action = rng.random()
        if action < 0.6:
            call_id = rng.choice([None, "call-a", "call-b", f"call-{rng.randrange(5)}"])
            try:
                chosen = handler.get_available_deployments(
                    "group", deployments, reserve=rng.random() < 0.7, call_id=call_id
                )
                observed.append(None if chosen is None else deployments.index(chosen))
            except Exception as error:  # the exception's type is part of the behaviour compared
                observed.append(type(error).__name__)
        elif action < 0.75:  # an attempt starts (and takes its call's reservation), or settles
            deployment = rng.choice(deployments)
            kwargs = {
                "litellm_params": {"metadata": {"model_group": "group"}, "model_info": deployment["model_info"]},
                "litellm_call_id": rng.choice(["call-a", "call-b", None]),
            }
            settle = handler.log_pre_api_call if rng.random() < 0.6 else handler.log_success_event
            arguments = ("m", None, kwargs) if settle == handler.log_pre_api_call else (kwargs, None, None, None)
            try:
                settle(*arguments)
            except Exception as error:  # odd stored values raise in LiteLLM's hooks too
                observed.append(type(error).__name__)
        elif action < 0.85:
            key = f"least_busy_reservations:{rng.choice(deployments)['model_info']['id']}"
            handler._reservations.set_cache(
                key, rng.choice([[[clock.now, "x"]], ((int(clock.now), None),), (), "junk", ((clock.now, 5),)])
            )
        else:
            key = f"group_request_count:{rng.choice(deployments)['model_info']['id']}"
            handler.router_cache.set_cache(key, rng.choice([0, 1, 4, 2.5, None]), local_only=True)
        observed.append(stored(handler))
    observed.append(clock.readings)
    return observed


@pytest.mark.parametrize("seed", range(40))
def test_sequences_match_litellm(seed, routing_mode):
    expected = replay(seed, "python", routing_mode)
    got = replay(seed, "rust", routing_mode)
    assert got == expected


def test_native_pass_taken(routing_mode):
    assert vars(LeastBusyLoggingHandler)["_select"] is routing_busy.least_busy_select
    routing_mode("rust")
    handler = LeastBusyLoggingHandler(router_cache=litellm.DualCache())
    deployments = deployments_of(5)
    handler._reservations.set_cache("least_busy_reservations:d-0", ((handler._clock(), "x"),))
    handler.router_cache.set_cache("group_request_count:d-1", 3, local_only=True)
    assert handler.get_available_deployments("group", deployments) is deployments[2]
    assert fast_litellm.stats()["routing"]["calls_rust"] == 1


def test_replaced_helpers_take_litellm_path(routing_mode):
    routing_mode("rust")
    handler = LeastBusyLoggingHandler(router_cache=litellm.DualCache())
    deployments = deployments_of(3)
    with mock.patch.object(least_busy, "_unexpired", return_value=((0.0, None),) * 9) as unexpired:
        assert handler.get_available_deployments("group", deployments) is deployments[0]
    assert unexpired.call_count == 3
    with mock.patch.object(LeastBusyLoggingHandler, "_live_reservations", side_effect=[(), ((0, "a"),), ()]):
        assert handler.get_available_deployments("group", deployments) is deployments[0]
    assert fast_litellm.stats()["routing"]["calls_rust"] == 0
    assert handler.get_available_deployments("group", []) is None


def test_custom_reservation_store(routing_mode):
    """A store of the user's own (LiteLLM's protocol) is read through its get_cache."""
    routing_mode("rust")
    reads = []

    class Store(InMemoryCache):
        def get_cache(self, key, **kwargs):  # type: ignore[override]
            reads.append(key)
            return super().get_cache(key, **kwargs)

    handler = LeastBusyLoggingHandler(router_cache=litellm.DualCache(), reservation_store=Store())
    handler.get_available_deployments("group", deployments_of(4), reserve=True, call_id="c")
    assert reads[:4] == [f"least_busy_reservations:d-{index}" for index in range(4)]


def test_threads_reserve_exactly(routing_mode, race):
    """8 threads pick with reservations on one handler: every pick is reserved exactly once, and
    the picks spread as LiteLLM's reservations make them (never more than one apart)."""
    routing_mode("rust")
    handler = LeastBusyLoggingHandler(router_cache=litellm.DualCache(), clock=lambda: 5.0)
    deployments = deployments_of(16)
    errors = race(lambda: handler.get_available_deployments("group", deployments, reserve=True), threads=8, rounds=40)
    assert errors == []
    per_deployment = [
        len(handler._reservations.get_cache(f"least_busy_reservations:d-{index}") or ()) for index in range(16)
    ]
    assert sum(per_deployment) == 8 * 40
    assert max(per_deployment) - min(per_deployment) <= 1


class StrSubclass(str):
    pass


def deployment_lists() -> list[Any]:
    """What both picks hand `_deployment_ids`: plain lists and shapes pydantic converts or refuses."""
    plain = deployments_of(6)
    odd_ids: list[Any] = [7, True, None, 2.5, StrSubclass("d-x"), "\ud800", "", b"d-b", ["d"]]
    lists: list[Any] = [[], plain, tuple(plain), [*plain, {"model_info": {"id": "d-extra", "x": 1}, "y": 2}]]
    lists += [[*plain[:2], {"model_name": "group", "model_info": {"id": odd}}] for odd in odd_ids]
    lists += [
        [*plain[:2], odd] for odd in ({}, {"model_info": None}, {"model_info": {}}, None, "d-0", [("model_info", {})])
    ]
    lists += [
        [*plain[:2], {"model_info": mock.MagicMock()}],
        [dict(plain[0], model_info=type("M", (dict,), {})(id="m"))],
    ]
    return lists


@pytest.mark.parametrize("index", range(len(deployment_lists())))
def test_deployment_ids_match_litellms(index, routing_mode):
    routing_mode("rust")
    deployments = deployment_lists()[index]
    outcomes = []
    for function in (routing_busy._original_deployment_ids, least_busy._deployment_ids):
        try:
            outcomes.append(("ok", function(deployments)))
        except Exception as error:  # the exception's type is part of the behaviour compared
            outcomes.append(("raised", type(error).__name__))
    assert outcomes[0] == outcomes[1]
    if outcomes[1][0] == "ok":
        assert all(type(id_) is str for id_ in outcomes[1][1])


def test_deployment_ids_read_natively(routing_mode):
    routing_mode("rust")
    with mock.patch.object(routing_busy, "_original_deployment_ids", side_effect=AssertionError("LiteLLM's")):
        assert least_busy._deployment_ids(deployments_of(3)) == ("d-0", "d-1", "d-2")
    routing_mode("python")
    with (
        pytest.raises(AssertionError, match="LiteLLM's"),
        mock.patch.object(routing_busy, "_original_deployment_ids", side_effect=AssertionError("LiteLLM's")),
    ):
        least_busy._deployment_ids(deployments_of(3))
