"""Cost-based routing with fast-litellm's pass: the same deployment as LiteLLM's own method for the
same cost map and prices, the same in-place filling of the cached map, the same exceptions and
log calls, and LiteLLM's method whenever the deployments are not plain."""

from __future__ import annotations

import asyncio
import copy
import datetime as real_datetime
import random
from typing import Any
from unittest import mock

import litellm
import pytest
from litellm.router_strategy import lowest_cost
from litellm.router_strategy.lowest_cost import LowestCostLoggingHandler

import fast_litellm
from fast_litellm import routing_cost


class FrozenDatetime(real_datetime.datetime):
    @classmethod
    def now(cls, tz: Any = None) -> FrozenDatetime:  # type: ignore[override]
        return cls(2026, 12, 4, 10, 30, 15)


MINUTE = "2026-12-04-10-30"
LIMITS = [0, 1, 5, 100, 10_000, None, 2.5]
PRICES = [None, 0, 1e-6, 3e-5, 2]
ODD_PRICES = [*PRICES, "0.5"]  # a str price: TypeError on both sides


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(lowest_cost, "datetime", FrozenDatetime)


def random_deployment(rng: random.Random, index: int, odd: bool = False) -> dict[str, Any]:
    params: dict[str, Any] = {"model": rng.choice(["openai/gpt-4o", "gpt-4o-mini", "claude-3-haiku-20240307", "x/y"])}
    if rng.random() < 0.8:
        params["api_base"] = rng.choice([f"http://b{index}", None, "http://shared"])
    if odd and rng.random() < 0.02:
        params["api_base"] = ["unhashable"]  # TypeError in LiteLLM's debugging map, on both sides
    for name in ("input_cost_per_token", "output_cost_per_token"):
        if rng.random() < 0.3:
            params[name] = rng.choice(ODD_PRICES if odd else PRICES)
    deployment: dict[str, Any] = {
        "model_name": "group",
        "litellm_params": params,
        "model_info": {"id": f"id-{index}" if rng.random() > 0.05 else "id-dup"},
    }
    for place in ("top", "litellm_params", "model_info"):
        if rng.random() < 0.2:
            target = deployment if place == "top" else deployment[place]
            target[rng.choice(["tpm", "rpm"])] = rng.choice(LIMITS)
    return deployment


def random_state(rng: random.Random, count: int) -> tuple[list[dict[str, Any]], Any]:
    odd = rng.random() < 0.25  # values LiteLLM raises on
    deployments = [random_deployment(rng, index, odd) for index in range(count)]
    cost_map: Any = None
    if rng.random() < 0.8:
        cost_map = {}
        for deployment in deployments:
            if rng.random() < 0.7:
                entry: dict[str, Any] = {}
                if rng.random() < 0.8:
                    entry[MINUTE] = {"tpm": rng.choice([0, 3, 90, 9_999]), "rpm": rng.choice([0, 1, 4, 99])}
                cost_map[deployment["model_info"]["id"]] = entry
        for index in range(rng.randrange(0, 3)):
            cost_map[f"gone-{index}"] = {MINUTE: {"tpm": 1, "rpm": 1}}
    return deployments, cost_map


def pick(method: Any, state: tuple, messages: Any) -> tuple:
    deployments, cost_map = copy.deepcopy(state)
    handler = LowestCostLoggingHandler(router_cache=litellm.DualCache())
    if cost_map is not None:
        handler.router_cache.set_cache("cost_map:group", cost_map)
    try:
        chosen = asyncio.run(method(handler, model_group="group", healthy_deployments=deployments, messages=messages))
    except Exception as error:  # the exception's type is part of the behaviour compared
        return "raised", type(error).__name__
    index = None if chosen is None else next(i for i, d in enumerate(deployments) if d is chosen)
    return index, repr(handler.router_cache.get_cache("cost_map:group"))


@pytest.mark.parametrize("seed", range(80))
def test_picks_match_litellm(seed: int, routing_mode):
    rng = random.Random(seed)
    state = random_state(rng, rng.choice([1, 2, 5, 20, 60]))
    answered = 0
    for _ in range(3):
        messages = rng.choice([None, [{"role": "user", "content": "hello " * rng.randrange(1, 3000)}]])
        expected = pick(routing_cost._original, state, messages)
        got = pick(LowestCostLoggingHandler.async_get_available_deployments, state, messages)
        assert got == expected
        answered += got[0] != "raised"
    assert fast_litellm.stats()["routing"]["calls_rust"] == answered


def test_most_sequences_pick(routing_mode):
    """The differential test above mostly compares picks, not errors."""
    outcomes = [pick(routing_cost._original, random_state(random.Random(seed), 20), None) for seed in range(80)]
    assert sum(outcome[0] != "raised" for outcome in outcomes) > 50


def test_same_log_calls_and_cost_lookups(routing_mode):
    deployments = [random_deployment(random.Random(index), index) for index in range(6)]
    for deployment in deployments:
        deployment["litellm_params"].pop("api_base", None)
        deployment["litellm_params"].pop("tpm", None)
    calls: dict[Any, list[Any]] = {}
    for method in (routing_cost._original, LowestCostLoggingHandler.async_get_available_deployments):
        logger = mock.Mock()
        rates = mock.Mock(wraps=lowest_cost._deployment_cost_map_rates)
        with (
            mock.patch.object(lowest_cost, "verbose_router_logger", logger),
            mock.patch.object(lowest_cost, "_deployment_cost_map_rates", rates),
        ):
            handler = LowestCostLoggingHandler(router_cache=litellm.DualCache())
            asyncio.run(method(handler, "group", copy.deepcopy(deployments)))
        calls[method] = [logger.debug.call_args_list, rates.call_args_list]
    assert len(calls) == 2
    first, second = calls.values()
    assert first == second and len(first[0]) == 6


def test_not_plain_deployments_take_litellm_path(routing_mode):
    method = LowestCostLoggingHandler.async_get_available_deployments
    handler = LowestCostLoggingHandler(router_cache=litellm.DualCache())
    with pytest.raises(KeyError):  # LiteLLM's own error for a deployment without model_info
        asyncio.run(method(handler, "group", [{"litellm_params": {}}]))
    numeric_ids = [{"model_info": {"id": 1}, "litellm_params": {"model": "gpt-4o"}}]
    assert asyncio.run(method(handler, "group", numeric_ids)) is numeric_ids[0]
    assert fast_litellm.stats()["routing"]["calls_rust"] == 0


def test_router_picks_match_litellm(routing_mode):
    """Through `Router` (async), with the cost map's usage updated between picks."""
    rng = random.Random(4)
    model_list = [
        {
            "model_name": "group",
            "litellm_params": {
                "model": rng.choice(["openai/gpt-4o", "openai/gpt-4o-mini"]),
                "api_key": "k",
                "rpm": rng.choice([None, 3, 1000]),
                **({"input_cost_per_token": rng.choice([1e-7, 1e-6])} if rng.random() < 0.5 else {}),
            },
            "model_info": {"id": f"d-{index}"},
        }
        for index in range(20)
    ]

    def picks(mode: str) -> list[str]:
        routing_mode(mode)
        router = litellm.Router(model_list=model_list, routing_strategy="cost-based-routing")
        loop = asyncio.new_event_loop()
        chosen = []
        for index in range(20):
            pick = router.async_get_available_deployment(
                model="group", messages=[{"role": "user", "content": "w " * index}], request_kwargs={}
            )
            deployment = loop.run_until_complete(pick)
            id_ = deployment["model_info"]["id"]
            chosen.append(id_)
            cost_map = router.cache.get_cache("cost_map:group") or {}
            usage = cost_map.setdefault(id_, {}).setdefault(MINUTE, {"tpm": 0, "rpm": 0})
            usage["rpm"] += 1
            router.cache.set_cache("cost_map:group", cost_map)
        loop.close()
        return chosen

    assert picks("python") == picks("auto")


def test_threads_pick_while_the_map_changes(routing_mode, race):
    routing_mode("rust")
    handler = LowestCostLoggingHandler(router_cache=litellm.DualCache())
    deployments = [
        {"model_info": {"id": f"d-{index}"}, "litellm_params": {"model": "openai/gpt-4o", "rpm": 50}}
        for index in range(40)
    ]
    rng = random.Random(2)

    def pick() -> None:
        chosen = asyncio.run(handler.async_get_available_deployments("group", deployments))
        assert chosen is None or chosen in deployments

    def write() -> None:
        cost_map = handler.router_cache.get_cache("cost_map:group") or {}
        cost_map[f"d-{rng.randrange(45)}"] = {MINUTE: {"tpm": 0, "rpm": rng.randrange(60)}}
        handler.router_cache.set_cache("cost_map:group", cost_map)

    errors = race(pick, threads=6, rounds=100, change=write)
    assert errors == []
    assert fast_litellm.stats()["routing"]["calls_rust"] > 0


class FloatSubclass(float):
    """A price LiteLLM converts with float() (its isinstance test passes): read by LiteLLM's code."""


PRICE_ROWS: dict[Any, Any] = {
    "gpt-4o": {"input_cost_per_token": 2.5e-6, "output_cost_per_token": 1e-5, "max_tokens": 10},
    "base-a": {"input_cost_per_token": 1, "output_cost_per_token": None},
    "row-int": {"input_cost_per_token": 3, "output_cost_per_token": 4},
    "row-bool": {"input_cost_per_token": True, "output_cost_per_token": 2e-6},
    "row-str": {"input_cost_per_token": "0.5"},
    "row-none": {"input_cost_per_token": None, "output_cost_per_token": None},
    "row-huge": {"input_cost_per_token": 10**400},
    "row-list": [1, 2],
    "row-int-key": {1: "x", "input_cost_per_token": 1e-6},
    "row-no-price": {"max_tokens": 10},
    "row-float-subclass": {"input_cost_per_token": FloatSubclass(1.5), "output_cost_per_token": 0.25},
    "row-nan": {"input_cost_per_token": float("nan"), "output_cost_per_token": float("inf")},
    "row-empty": {},
    7: {"input_cost_per_token": 9.0},
}
MODEL_NAMES: list[Any] = [*PRICE_ROWS, "unknown", "", None, 7, "MISSING"]


def priced_deployment(rng: random.Random, index: int) -> dict[str, Any]:
    params: dict[Any, Any] = {}
    info: dict[Any, Any] = {"id": f"id-{index}"}
    for target, name in ((params, "model"), (params, "base_model"), (info, "base_model")):
        model = rng.choice(MODEL_NAMES)
        if model != "MISSING":
            target[name] = model
    if rng.random() < 0.1:
        params[rng.choice(["input_cost_per_token", "output_cost_per_token"])] = rng.choice(PRICES)
    if rng.random() < 0.05:
        params[3] = "an int key: pydantic refuses the mapping, LiteLLM reads it as empty"
    deployment: dict[Any, Any] = {"litellm_params": params, "model_info": info}
    if rng.random() < 0.05:
        deployment["litellm_params"] = rng.choice([None, "text", 5])
    if rng.random() < 0.03:
        deployment[("tuple", "key")] = 1
    return deployment


@pytest.mark.parametrize("seed", range(40))
def test_cost_map_rates_read_natively_match_litellms(seed: int, monkeypatch):
    """The pass with the rates read natively (model_cost given) against the same pass calling
    LiteLLM's `_deployment_cost_map_rates` for every deployment."""
    monkeypatch.setattr(litellm, "model_cost", PRICE_ROWS)
    rng = random.Random(seed)
    deployments = [priced_deployment(rng, index) for index in range(rng.choice([1, 5, 30]))]
    ids = [deployment["model_info"]["id"] for deployment in deployments]
    cost_map = {id_: {MINUTE: {"tpm": 0, "rpm": 0}} for id_ in ids}
    outcomes = []
    for model_cost in (None, PRICE_ROWS):
        asked: list[Any] = []

        def rates(deployment: Any, asked: list[Any] = asked) -> Any:
            asked.append(deployment)
            return lowest_cost._deployment_cost_map_rates(deployment)

        try:
            potential = fast_litellm._native.lowest_cost_candidates(
                deployments, ids, cost_map, MINUTE, 10, rates, lambda *args: None, model_cost
            )
            outcome: Any = [(ids.index(d["model_info"]["id"]), repr(cost)) for d, cost in potential]
        except Exception as error:  # the exception's type is part of the behaviour compared
            outcome = ("raised", type(error).__name__, str(error))
        outcomes.append((outcome, len(asked)))
    (expected, litellm_calls), (got, fallback_calls) = outcomes
    assert got == expected
    if expected[0] != "raised":
        assert litellm_calls == len(deployments) and fallback_calls <= litellm_calls


def test_plain_deployments_rates_are_read_natively(monkeypatch):
    monkeypatch.setattr(litellm, "model_cost", PRICE_ROWS)
    models = ["gpt-4o", "base-a", "row-int", "row-bool", "row-str", "row-none", "row-nan", "unknown", ""]
    shapes = [
        (model, base, info_base) for model in models for base in [None, *models] for info_base in [None, "", "row-int"]
    ]
    deployments = [
        {
            "litellm_params": {"model": model, "base_model": base},
            "model_info": {"id": f"id-{index}", "base_model": info},
        }
        for index, (model, base, info) in enumerate(shapes)
    ]
    ids = [deployment["model_info"]["id"] for deployment in deployments]
    cost_map = {id_: {MINUTE: {"tpm": 0, "rpm": 0}} for id_ in ids}
    results = []
    for model_cost, rates in ((None, lowest_cost._deployment_cost_map_rates), (PRICE_ROWS, None)):
        potential = fast_litellm._native.lowest_cost_candidates(
            deployments, ids, cost_map, MINUTE, 10, rates, lambda *args: None, model_cost
        )
        results.append([(d["model_info"]["id"], repr(cost)) for d, cost in potential])
    assert results[0] == results[1] and len(results[0]) == len(deployments)


def test_cost_map_rates_of_replaced_helpers_are_litellms(routing_mode, monkeypatch):
    deployments = [{"litellm_params": {"model": "gpt-4o"}, "model_info": {"id": f"id-{index}"}} for index in range(4)]
    handler = LowestCostLoggingHandler(router_cache=litellm.DualCache())
    method = LowestCostLoggingHandler.async_get_available_deployments
    cheap = {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}
    expensive = {"input_cost_per_token": 1.0, "output_cost_per_token": 1.0}
    rows = {"gpt-4o": expensive}
    monkeypatch.setattr(lowest_cost, "_cost_map", lambda: rows)  # a helper replaced: LiteLLM's function
    deployments[2]["litellm_params"]["model"] = "cheap"
    rows["cheap"] = cheap
    assert asyncio.run(method(handler, "group", deployments)) is deployments[2]
    monkeypatch.undo()
    monkeypatch.setattr(litellm, "model_cost", {"gpt-4o": cheap, "cheap": expensive})
    assert asyncio.run(method(handler, "group", deployments)) is deployments[0]
    assert fast_litellm.stats()["routing"]["calls_rust"] == 2
