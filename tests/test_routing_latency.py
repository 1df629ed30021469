"""Latency-based routing with fast-litellm's pick: the same deployment as LiteLLM's own method for
the same state and random seed, the same changes to the latency map and request metadata, and
LiteLLM's method whenever its helpers are replaced or the deployments are not plain."""

from __future__ import annotations

import asyncio
import copy
import datetime as real_datetime
import itertools
import random
from typing import Any
from unittest import mock

import litellm
import pytest
from litellm.router_strategy import lowest_latency
from litellm.router_strategy.lowest_latency import LowestLatencyLoggingHandler

import fast_litellm
from fast_litellm import routing


class FrozenDatetime(real_datetime.datetime):
    """`datetime.now()` fixed, so both sides compute the same minute key."""

    @classmethod
    def now(cls, tz: Any = None) -> FrozenDatetime:  # type: ignore[override]
        return cls(2026, 12, 4, 10, 30, 15)


MINUTE = "2026-12-04-10-30"


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(lowest_latency, "datetime", FrozenDatetime)


SAMPLES: list[Any] = [0.2, 0.05, 1.5, 0, 3, -0.1, float("nan"), float("inf"), 0.2, 1e-9, 0.7]


def random_deployment(rng: random.Random, index: int) -> dict[str, Any]:
    deployment: dict[str, Any] = {
        "model_name": "group",
        "litellm_params": {
            "model": "openai/gpt-4o",
            "api_base": rng.choice([f"http://b{index}", None, "http://shared"]),
        },
        "model_info": {"id": f"id-{index}" if rng.random() > 0.05 else "id-dup"},
    }
    if rng.random() < 0.1:
        del deployment["litellm_params"]["api_base"]
    for place in ("top", "litellm_params", "model_info"):
        if rng.random() < 0.15:
            target = deployment if place == "top" else deployment[place]
            target[rng.choice(["tpm", "rpm"])] = rng.choice([0, 1, 5, 100, 10_000, None])
    return deployment


def random_entry(rng: random.Random) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if rng.random() < 0.9:
        entry["latency_normalized"] = [rng.choice(SAMPLES) for _ in range(rng.randrange(0, 6))]
    if rng.random() < 0.5:
        entry["time_to_first_token_seconds"] = [rng.choice(SAMPLES) for _ in range(rng.randrange(0, 4))]
    if rng.random() < 0.7:
        entry[MINUTE] = {"tpm": rng.choice([0, 3, 90, 9_999]), "rpm": rng.choice([0, 1, 4, 99])}
    if rng.random() < 0.2:
        entry["2026-12-04-10-29"] = {"tpm": 5, "rpm": 1}
    return entry


def random_state(rng: random.Random, count: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    deployments = [random_deployment(rng, index) for index in range(count)]
    latency_map = {}
    for deployment in deployments:
        if rng.random() < 0.8:
            latency_map[deployment["model_info"]["id"]] = random_entry(rng)
    for index in range(rng.randrange(0, 3)):  # entries of deployments no longer healthy
        latency_map[f"gone-{index}"] = random_entry(rng)
    return deployments, latency_map


def pick(method: Any, handler: Any, state: tuple, seed: int, request: dict | None, messages: Any) -> tuple:
    deployments, latency_map = copy.deepcopy(state)
    request = copy.deepcopy(request)
    random.seed(seed)
    chosen = method(handler, "group", deployments, messages, None, request, latency_map)
    index = None if chosen is None else next(i for i, d in enumerate(deployments) if d is chosen)
    return index, latency_map, request, random.random()


@pytest.mark.parametrize("seed", range(40))
def test_picks_match_litellm(seed: int, routing_mode):
    rng = random.Random(seed)
    args: dict[str, Any] = {"lowest_latency_buffer": rng.choice([0, 0, 0.5, 2])}
    if rng.random() < 0.5:
        args["ttft_percentile"] = rng.choice([0.1, 0.5, 0.9, 1])
    handler = LowestLatencyLoggingHandler(router_cache=litellm.DualCache(), routing_args=args)
    state = random_state(rng, rng.choice([1, 2, 5, 20, 60]))
    for trial in range(5):
        stream = rng.choice([None, True, False, "yes"])
        request = None if rng.random() < 0.2 else {"metadata": {}, **({} if stream is None else {"stream": stream})}
        messages = rng.choice([None, [{"role": "user", "content": "hello " * rng.randrange(1, 400)}]])
        expected = pick(routing._original, handler, state, seed * 10 + trial, request, messages)
        got = pick(LowestLatencyLoggingHandler._get_available_deployments, handler, state, seed * 10 + trial, request,
                   messages)  # fmt: skip
        assert repr(got) == repr(expected)  # repr: NaN samples compare unequal to themselves
    assert fast_litellm.stats()["routing"]["calls_rust"] == 5


def test_no_latency_map_and_all_over_limit(routing_mode):
    handler = LowestLatencyLoggingHandler(router_cache=litellm.DualCache())
    deployments = [{"model_info": {"id": "a"}, "rpm": 1, "litellm_params": {}}]
    for latency_map in (None, {"a": {MINUTE: {"rpm": 1, "tpm": 0}}}):
        for method in (routing._original, LowestLatencyLoggingHandler._get_available_deployments):
            assert (
                method(handler, "group", copy.deepcopy(deployments), None, None, None, copy.deepcopy(latency_map))
                is None
            )


def test_not_plain_deployments_and_replaced_helpers_take_litellm_path(routing_mode):
    handler = LowestLatencyLoggingHandler(router_cache=litellm.DualCache())
    method = LowestLatencyLoggingHandler._get_available_deployments
    with pytest.raises(KeyError):  # LiteLLM's own error for a deployment without model_info
        method(handler, "group", [{"litellm_params": {}}], None, None, None, {})
    numeric_ids = [{"model_info": {"id": 1}, "litellm_params": {}}]
    assert method(handler, "group", numeric_ids, None, None, None, {}) is numeric_ids[0]
    assert fast_litellm.stats()["routing"]["calls_rust"] == 0
    plain = [{"model_info": {"id": "a"}, "litellm_params": {}}]
    with mock.patch.object(lowest_latency, "_average_latency", return_value=0.0) as average:
        assert method(handler, "group", plain, None, None, None, {}) is plain[0]
        assert average.called
    assert fast_litellm.stats()["routing"]["calls_rust"] == 0
    assert method(handler, "group", plain, None, None, None, {}) is plain[0]
    assert fast_litellm.stats()["routing"]["calls_rust"] == 1


def test_router_picks_sync_and_async_match_python_mode(routing_mode):
    model_list = [
        {"model_name": "group", "litellm_params": {"model": "openai/gpt-4o", "api_key": "k", "api_base": f"http://b{i}"},
         "model_info": {"id": f"id-{i}"}}
        for i in range(30)
    ]  # fmt: skip
    router = litellm.Router(model_list=model_list, routing_strategy="latency-based-routing")
    latency_map = {f"id-{i}": {"latency_normalized": [0.1 * (i % 7) + 0.05]} for i in range(30)}
    messages = [{"role": "user", "content": "hi"}]
    picks: dict[str, list[Any]] = {}
    for mode in ("python", "auto"):
        routing_mode(mode)
        router.cache.flush_cache()
        router.cache.set_cache("group_map", copy.deepcopy(latency_map))
        random.seed(7)
        sync = [router.get_available_deployment(model="group", messages=messages) for _ in range(20)]
        random.seed(8)
        picked = [
            asyncio.run(router.async_get_available_deployment(model="group", messages=messages, request_kwargs={}))
            for _ in range(20)
        ]
        picks[mode] = [[deployment["model_info"]["id"] for deployment in batch] for batch in (sync, picked)]
    assert picks["python"] == picks["auto"]
    assert set(picks["auto"][0]) <= {f"id-{i}" for i in range(30) if i % 7 == 0}
    assert fast_litellm.stats()["routing"]["calls_rust"] == 40


def test_patch_reported():
    status = {target["target"]: target for target in fast_litellm.status()["targets"]}
    target = status[f"{routing.MODULE}.{routing.TARGET}"]
    assert target["state"] == "patched" and target["bindings"] == [f"{routing.MODULE}.{routing.TARGET}"]


def test_threads_pick_while_the_map_changes(routing_mode, race):
    """8 threads pick on one handler and one latency map while another thread records latencies
    and minute usage, as the strategy's hooks do: every pick is a healthy deployment, nothing
    raises or hangs. (The map keeps its size: LiteLLM's own `random.sample(list(items),
    len(items))` is not safe against a map changing size meanwhile, in either implementation.)"""
    import sys

    handler = LowestLatencyLoggingHandler(router_cache=litellm.DualCache())
    deployments = [{"model_info": {"id": f"id-{i}"}, "litellm_params": {"api_base": f"b{i}"}} for i in range(40)]
    latency_map: dict[str, Any] = {f"id-{i}": {"latency_normalized": [0.01 * i]} for i in range(40)}
    healthy_ids = {deployment["model_info"]["id"] for deployment in deployments}
    picked: list[str] = []
    steps = itertools.count()

    def pick() -> None:
        chosen = LowestLatencyLoggingHandler._get_available_deployments(
            handler, "group", list(deployments), None, None, {}, latency_map
        )
        picked.append(chosen["model_info"]["id"])

    def mutate() -> None:
        step = next(steps)
        entry = latency_map[f"id-{step % 40}"]
        entry["latency_normalized"] = [*entry["latency_normalized"][-9:], 0.001 * (step % 97)]
        entry[MINUTE] = {"tpm": step % 50, "rpm": step % 3}
        latency_map[f"id-{(step + 7) % 40}"] = {"latency_normalized": [0.002 * (step % 13)]}

    errors = race(pick, threads=8, rounds=300, change=mutate)
    assert not errors, errors[:3]
    assert len(picked) == 8 * 300 and set(picked) <= healthy_ids
    calls = fast_litellm.stats()["routing"]["calls_rust"]
    if getattr(sys, "_is_gil_enabled", lambda: True)():
        assert calls == 8 * 300
    else:  # the counters are plain attributes: exact under the GIL, approximate without one
        assert 0.9 * 8 * 300 <= calls <= 8 * 300
