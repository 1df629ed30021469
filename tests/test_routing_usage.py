"""Usage-based routing (v1) with fast-litellm's pick: the same deployment as LiteLLM's own method
for the same tpm/rpm maps, the same in-place filling of the cached tpm map, the same exceptions,
the same log calls, and LiteLLM's method whenever the deployments are not plain."""

from __future__ import annotations

import asyncio
import copy
import datetime as real_datetime
import random
from typing import Any
from unittest import mock

import litellm
import pytest
from litellm.router_strategy import lowest_tpm_rpm
from litellm.router_strategy.lowest_tpm_rpm import LowestTPMLoggingHandler

import fast_litellm
from fast_litellm import routing_usage


class FrozenDatetime(real_datetime.datetime):
    @classmethod
    def now(cls, tz: Any = None) -> FrozenDatetime:  # type: ignore[override]
        return cls(2026, 12, 4, 10, 30, 15)


MINUTE = "10-30"
LIMITS = [0, 1, 5, 100, 10_000, None, 2.5, float("inf")]


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(lowest_tpm_rpm, "datetime", FrozenDatetime)


def random_deployment(rng: random.Random, index: int) -> dict[str, Any]:
    deployment: dict[str, Any] = {
        "model_name": "group",
        "litellm_params": {"model": "openai/gpt-4o"},
        "model_info": {"id": f"id-{index}" if rng.random() > 0.05 else "id-dup"},
    }
    for place in ("top", "litellm_params", "model_info"):
        if rng.random() < 0.25:
            target = deployment if place == "top" else deployment[place]
            target[rng.choice(["tpm", "rpm"])] = rng.choice(LIMITS)
    return deployment


def random_state(rng: random.Random, count: int) -> tuple[list[dict[str, Any]], Any, Any]:
    deployments = [random_deployment(rng, index) for index in range(count)]
    ids = [deployment["model_info"]["id"] for deployment in deployments]
    tpm_map: Any = None
    if rng.random() < 0.8:
        tpm_map = {id_: rng.choice([0, 0, 3, 90, 9_999, 2.5]) for id_ in ids if rng.random() < 0.7}
        for index in range(rng.randrange(0, 3)):  # entries of deployments no longer healthy
            tpm_map[f"gone-{index}"] = rng.choice([0, 7])
        keys = list(tpm_map)
        rng.shuffle(keys)
        tpm_map = {key: tpm_map[key] for key in keys}
    rpm_map: Any = None
    if rng.random() < 0.7:
        rpm_map = {id_: rng.choice([0, 1, 4, 99]) for id_ in ids if rng.random() < 0.6}
    return deployments, tpm_map, rpm_map


def pick(method: Any, state: tuple, messages: Any) -> tuple:
    deployments, tpm_map, rpm_map = copy.deepcopy(state)
    handler = LowestTPMLoggingHandler(router_cache=litellm.DualCache())
    if tpm_map is not None:
        handler.router_cache.set_cache(f"group:tpm:{MINUTE}", tpm_map)
    if rpm_map is not None:
        handler.router_cache.set_cache(f"group:rpm:{MINUTE}", rpm_map)
    try:
        chosen = method(handler, model_group="group", healthy_deployments=deployments, messages=messages)
    except Exception as error:  # the exception's type is part of the behaviour compared
        return "raised", type(error).__name__
    index = None if chosen is None else next(i for i, d in enumerate(deployments) if d is chosen)
    return index, repr(handler.router_cache.get_cache(f"group:tpm:{MINUTE}")), repr(rpm_map)


@pytest.mark.parametrize("seed", range(60))
def test_picks_match_litellm(seed: int, routing_mode):
    rng = random.Random(seed)
    state = random_state(rng, rng.choice([1, 2, 5, 20, 60]))
    for _ in range(4):
        messages = rng.choice([None, [{"role": "user", "content": "hello " * rng.randrange(1, 3000)}]])
        expected = pick(routing_usage._original, state, messages)
        got = pick(LowestTPMLoggingHandler.get_available_deployments, state, messages)
        assert got == expected
    assert fast_litellm.stats()["routing"]["calls_rust"] == 4


class Id(str):
    """An id whose equality LiteLLM's scan uses: equal to every str that starts like it."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(str.__str__(self))

    __hash__ = str.__hash__


@pytest.mark.parametrize(
    "tpm_map",
    [
        {1: 0, "a": 5},  # a key no id equals
        {Id("a"): 0, "b": 1},  # a key equal to several ids by its own __eq__
        {"a": None},  # tpm None: TypeError on both sides
        {"a": "5"},  # str + int: TypeError on both sides
        {"a": 3, "ab": 1},
        {},
        [("a", 1)],  # not a dict: .items() missing, AttributeError on both sides
    ],
)
def test_odd_maps_match_litellm(tpm_map, routing_mode):
    deployments = [{"model_info": {"id": "a"}, "litellm_params": {"tpm": 10}}, {"model_info": {"id": "ab"}}]
    state = (deployments, tpm_map, {"ab": 3})
    assert pick(LowestTPMLoggingHandler.get_available_deployments, state, None) == pick(
        routing_usage._original, state, None
    )


def test_not_plain_deployments_take_litellm_path(routing_mode):
    method = LowestTPMLoggingHandler.get_available_deployments
    handler = LowestTPMLoggingHandler(router_cache=litellm.DualCache())
    with pytest.raises(KeyError):  # LiteLLM's own error for a deployment without model_info
        method(handler, "group", [{"litellm_params": {}}])
    numeric_ids = [{"model_info": {"id": 1}, "litellm_params": {}}]
    assert method(handler, "group", numeric_ids) is numeric_ids[0]
    assert fast_litellm.stats()["routing"]["calls_rust"] == 0
    routing_mode("python")
    plain = [{"model_info": {"id": "a"}}]
    assert method(handler, "group", plain) is plain[0]
    assert fast_litellm.stats()["routing"]["calls_rust"] == 0


def test_same_log_calls_and_service_target(routing_mode):
    deployments = [{"model_info": {"id": "a"}}, {"model_info": {"id": "b"}}]
    seen = []
    for method in (routing_usage._original, LowestTPMLoggingHandler.get_available_deployments):
        handler = LowestTPMLoggingHandler(router_cache=litellm.DualCache())
        logger = mock.Mock()
        logger.debug.side_effect = lambda *args, method=method: seen.append(
            (method, args[0], litellm._internal_context.current_service_target())
        )
        with (
            mock.patch.object(lowest_tpm_rpm, "verbose_router_logger", logger),
            mock.patch.object(lowest_tpm_rpm, "print_verbose") as verbose,
        ):
            method(handler, "group", copy.deepcopy(deployments), [{"role": "user", "content": "hi"}])
        assert verbose.call_args_list == [mock.call("returning picked lowest tpm/rpm deployment.")]
    by_method = [[entry[1:] for entry in seen if entry[0] is method] for method in {entry[0] for entry in seen}]
    assert len(by_method) == 2 and by_method[0] == by_method[1] and len(by_method[0]) == 3


def test_router_picks_match_litellm(routing_mode):
    """Through `Router`, sync and async, with successes logged between picks."""
    rng = random.Random(5)
    model_list = [
        {
            "model_name": "group",
            "litellm_params": {"model": "openai/gpt-4o", "api_key": "k", "tpm": rng.choice([None, 500, 50_000])},
            "model_info": {"id": f"d-{index}"},
        }
        for index in range(30)
    ]

    def picks(mode: str) -> list[str]:
        routing_mode(mode)
        router = litellm.Router(model_list=model_list, routing_strategy="usage-based-routing")
        chosen = []
        loop = asyncio.new_event_loop()
        for index in range(30):
            messages = [{"role": "user", "content": "word " * (index * 37 % 400)}]
            if index % 2:
                deployment = router.get_available_deployment(model="group", messages=messages)
            else:
                pick = router.async_get_available_deployment(model="group", messages=messages, request_kwargs={})
                deployment = loop.run_until_complete(pick)
            chosen.append(deployment["model_info"]["id"])
            # What the success hook records: this deployment's tokens in the minute's tpm map.
            key = f"group:tpm:{FrozenDatetime.now().strftime('%H-%M')}"
            tpm_map = router.cache.get_cache(key) or {}
            tpm_map[deployment["model_info"]["id"]] = tpm_map.get(deployment["model_info"]["id"], 0) + 100 + index
            router.cache.set_cache(key, tpm_map)
        loop.close()
        return chosen

    assert picks("python") == picks("auto")


def test_threads_pick_while_the_map_changes(routing_mode, race):
    """8 threads pick on one handler while another rewrites the cached tpm map, as success hooks do."""
    routing_mode("rust")
    handler = LowestTPMLoggingHandler(router_cache=litellm.DualCache())
    deployments = [{"model_info": {"id": f"d-{index}"}, "litellm_params": {"tpm": 10_000}} for index in range(50)]
    key = f"group:tpm:{MINUTE}"
    rng = random.Random(1)

    def pick() -> None:
        chosen = handler.get_available_deployments("group", deployments)
        assert chosen is None or chosen in deployments

    def write() -> None:
        tpm_map = handler.router_cache.get_cache(key) or {}
        tpm_map[f"d-{rng.randrange(60)}"] = rng.randrange(20_000)
        handler.router_cache.set_cache(key, tpm_map)

    errors = race(pick, threads=8, rounds=300, change=write)
    assert errors == []
    assert fast_litellm.stats()["routing"]["calls_rust"] > 0  # exact only under the GIL


# Usage-based routing v2.

from litellm.router_strategy import lowest_tpm_rpm_v2  # noqa: E402
from litellm.router_strategy.lowest_tpm_rpm_v2 import LowestTPMLoggingHandler_v2  # noqa: E402


class EntryLike(dict):
    """Like LiteLLM's model-list entries: a dict subclass overriding only a mutator."""

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)


class OwnGet(dict):
    def get(self, key: Any, default: Any = None) -> Any:
        return "own-" + str(super().get(key, default))


def random_v2_deployment(rng: random.Random, index: int, native_only: bool) -> Any:
    """A deployment; with `native_only`, only of the kinds the native keys take."""
    deployment: Any = random_deployment(rng, index)
    deployment["litellm_params"]["model"] = rng.choice(["openai/gpt-4o", "azure/x:y", None, 7])
    roll = rng.random()
    if native_only and roll < 0.1:
        deployment["model_info"]["id"] = rng.choice([index, None, "a:b", "中😀"])
    elif native_only and roll < 0.2:
        deployment = EntryLike(deployment)
    elif native_only and roll < 0.25:
        deployment = ("not", "a", "dict")
    elif native_only:
        pass
    elif roll < 0.05:
        deployment["model_info"]["id"] = rng.choice([index, None, True, 2.5, "a:b", "\ud800"])
    elif roll < 0.08:
        del deployment["model_info"]
    elif roll < 0.1:
        deployment["model_info"] = None
    elif roll < 0.15:
        deployment = EntryLike(deployment)
    elif roll < 0.17:
        deployment = OwnGet(deployment)
    elif roll < 0.19:
        deployment = ("not", "a", "dict")
    return deployment


def v2_outcome(function: Any, *args: Any) -> Any:
    try:
        return "returned", repr(function(*args))
    except Exception as error:  # the exception's type is part of the behaviour compared
        return "raised", type(error).__name__


@pytest.mark.parametrize("seed", range(40))
def test_v2_counter_keys_match_litellm(seed, routing_mode):
    rng = random.Random(seed)
    handler = LowestTPMLoggingHandler_v2(router_cache=litellm.DualCache())
    native_only = seed % 2 == 0
    deployments = [random_v2_deployment(rng, index, native_only) for index in range(rng.choice([0, 1, 5, 30]))]
    assert v2_outcome(LowestTPMLoggingHandler_v2.usage_counter_keys, handler, deployments) == v2_outcome(
        routing_usage._v2_original_keys, handler, deployments
    )
    if native_only:  # answered natively: no call of LiteLLM's method
        with mock.patch.object(routing_usage, "_v2_original_keys", side_effect=AssertionError):
            LowestTPMLoggingHandler_v2.usage_counter_keys(handler, deployments)


def random_counters(rng: random.Random, keys: list[str]) -> list[Any]:
    return [rng.choice([None, None, 0, 1, 40, 999, 5_000, 2.5, float("inf")]) for _ in keys]


@pytest.mark.parametrize("seed", range(60))
def test_v2_checks_match_litellm(seed, routing_mode):
    rng = random.Random(seed)
    handler = LowestTPMLoggingHandler_v2(router_cache=litellm.DualCache())
    deployments = [random_deployment(rng, index) for index in range(rng.choice([1, 2, 5, 20, 60]))]
    for deployment in deployments:
        if rng.random() < 0.1:
            deployment["model_info"]["id"] += ":suffix"  # ids holding ":" are cut by LiteLLM's split
    tpm_keys, rpm_keys = routing_usage._v2_original_keys(handler, deployments)
    if rng.random() < 0.2:
        tpm_keys.append("gone:openai/gpt-4o:tpm:10-30")
    for _ in range(4):
        tpm_values: Any = random_counters(rng, tpm_keys)
        rpm_values: Any = random_counters(rng, rpm_keys)
        if rng.random() < 0.05:
            tpm_values = tpm_values[:-1]  # shorter than the keys: IndexError on both sides
        if rng.random() < 0.05:
            rpm_values = None
        messages = rng.choice([None, [{"role": "user", "content": "hello " * rng.randrange(1, 3000)}]])
        arguments = ("group", deployments, tpm_keys, tpm_values, rpm_keys, rpm_values, messages)
        random.seed(seed)
        expected = v2_outcome(routing_usage._v2_original_checks, handler, *arguments)
        expected_next = random.random()
        random.seed(seed)
        got = v2_outcome(LowestTPMLoggingHandler_v2._common_checks_available_deployment, handler, *arguments)
        assert (got, random.random()) == (expected, expected_next)


def test_v2_replaced_potential_takes_litellm_path(routing_mode):
    handler = LowestTPMLoggingHandler_v2(router_cache=litellm.DualCache())
    deployments = [{"model_info": {"id": "a"}, "litellm_params": {"model": "m"}}]
    keys = routing_usage._v2_original_keys(handler, deployments)
    with mock.patch.object(LowestTPMLoggingHandler_v2, "_return_potential_deployments", return_value=[]) as potential:
        assert handler._common_checks_available_deployment("group", deployments, keys[0], [0], keys[1], [0]) is None
    assert potential.call_count == 1
    assert fast_litellm.stats()["routing"]["calls_rust"] == 0


def test_v2_router_picks_match_litellm(routing_mode, monkeypatch):
    """Through `Router`, sync and async, with each pick's usage recorded as the success hook does."""
    rng = random.Random(9)
    model_list = [
        {
            "model_name": "group",
            "litellm_params": {"model": "openai/gpt-4o", "api_key": "k", "tpm": rng.choice([None, 900, 50_000])},
            "model_info": {"id": f"d-{index}"},
        }
        for index in range(25)
    ]
    minute = FrozenDatetime.now().strftime("%H-%M")
    monkeypatch.setattr(lowest_tpm_rpm_v2, "get_utc_datetime", FrozenDatetime.now)

    def picks(mode: str) -> list[str]:
        routing_mode(mode)
        router = litellm.Router(model_list=model_list, routing_strategy="usage-based-routing-v2")
        loop = asyncio.new_event_loop()
        random.seed(3)
        chosen = []
        for index in range(30):
            messages = [{"role": "user", "content": "word " * (index * 53 % 500)}]
            if index % 2:
                deployment = router.get_available_deployment(model="group", messages=messages)
            else:
                pick = router.async_get_available_deployment(model="group", messages=messages, request_kwargs={})
                deployment = loop.run_until_complete(pick)
            id_ = deployment["model_info"]["id"]
            chosen.append(id_)
            key = f"{id_}:openai/gpt-4o:tpm:{minute}"
            router.cache.set_cache(key, (router.cache.get_cache(key) or 0) + 60 + index)
        loop.close()
        return chosen

    assert picks("python") == picks("auto")


def test_auto_follows_the_calibrated_threshold(routing_mode):
    """Below its threshold `auto` runs LiteLLM's pick; from it on, the native one."""
    component = fast_litellm._components["routing"]
    saved = dict(component.thresholds)
    component.thresholds = {**saved, "usage": 10}
    try:
        handler = LowestTPMLoggingHandler(router_cache=litellm.DualCache())
        for count, native in ((3, False), (9, False), (10, True), (40, True)):
            fast_litellm.reset_stats()
            deployments = [{"model_info": {"id": f"d-{index}"}} for index in range(count)]
            assert handler.get_available_deployments("group", deployments) is deployments[0]
            stats = fast_litellm.stats()["routing"]
            assert (stats["calls_rust"], stats["calls_python"]) == ((1, 0) if native else (0, 1))
    finally:
        component.thresholds = saved
