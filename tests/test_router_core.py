"""The router core's Python glue with fast-litellm's replacements: the same cooldown ids, the same
candidate records (fresh copies, following every registry change), the same lookup rows, and the
same picks through `Router` as LiteLLM's own code, from many threads too."""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import litellm
import pytest
from litellm.router_rust import core as litellm_core
from litellm.router_rust import routing_stores
from litellm.router_rust.surface import registry

import fast_litellm
from fast_litellm import router_core

ALPHABET = ["a", "Z", "0", ":", "-", "_", " ", "é", "中", "😀", "deployment", "cooldown", "allowed_fails"]


def random_key(rng: random.Random) -> str:
    middle = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 6)))
    prefix = rng.choice(["deployment:", "deployment", "global_router:", "", "Deployment:", "deployment::"])
    suffix = rng.choice([":cooldown", "cooldown", ":allowed_fails", ":allowed_fails:x", ":cooldown:", ""])
    return prefix + middle + suffix


def outcome(function: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "returned", function(*args)
    except Exception as error:  # the exception's type is part of the behaviour compared
        return "raised", type(error)


def test_patched_targets():
    assert routing_stores._cooldown_ids is router_core.cooldown_ids
    assert vars(litellm_core.RustCore)["_strategy_inputs"] is router_core.strategy_inputs
    assert vars(litellm_core.RustCore)["_records_of"] is router_core.records_of
    assert vars(registry.HostRegistry)["_rows"] is router_core.rows


@pytest.mark.parametrize("seed", range(40))
def test_cooldown_ids_match_litellm(seed):
    rng = random.Random(seed)
    for _ in range(50):
        keys: list[Any] = [random_key(rng) for _ in range(rng.randrange(0, 5))]
        if rng.random() < 0.5 and keys:  # mostly cooldown keys, as the router asks
            keys = [f"deployment:{key}:cooldown" for key in keys]
        shaped = tuple(keys) if rng.random() < 0.3 else keys
        before = router_core.CALLS.native
        assert outcome(router_core.cooldown_ids, shaped) == outcome(router_core._original_cooldown_ids, shaped)
        assert router_core.CALLS.native == before + 1


@pytest.mark.parametrize(
    "keys",
    [
        [],
        (),
        ["deployment::cooldown"],
        ["deployment:cooldown"],
        ["deployment:a:cooldown", 3],
        ["deployment:a:cooldown", None],
        ["deployment:\ud800:cooldown"],
        ["deployment:a:cooldown", "global_router:a:m:tpm:10-30"],
        "deployment:a:cooldown",
        "iterator",
    ],
)
def test_cooldown_ids_edge_inputs(keys):
    def fresh() -> Any:  # an iterator is consumed by each side
        return iter(["deployment:a:cooldown"]) if keys == "iterator" else keys

    assert outcome(router_core.cooldown_ids, fresh()) == outcome(router_core._original_cooldown_ids, fresh())


class CapturedSteps:
    """The strategy steps (and requests) the router core hands `_strategy_inputs`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.steps: list[tuple[dict[str, Any], dict[str, Any]]] = []
        replacement = router_core.strategy_inputs

        def capture(core: Any, step: Any, request: Any) -> Any:
            if step.get("stage") == "strategy":
                self.steps.append((dict(step), dict(request)))
            return replacement(core, step, request)

        monkeypatch.setattr(litellm_core.RustCore, "_strategy_inputs", capture)


def make_model_list(count: int, rng: random.Random) -> list[dict[str, Any]]:
    model_list = []
    for index in range(count):
        params: dict[str, Any] = {"model": "openai/gpt-4o", "api_key": f"k{index}", "api_base": f"http://b{index}"}
        if rng.random() < 0.3:
            params["extra_body"] = {"tags": ["a", "中", {"nested": [1, 2.5, None, True]}]}
        if rng.random() < 0.3:
            params["rpm"] = rng.randrange(1, 100)
        info: dict[str, Any] = {"id": f"d-{index}"}
        if rng.random() < 0.3:
            info["note"] = "😀" * rng.randrange(3)
        model_list.append({"model_name": "group", "litellm_params": params, "model_info": info})
    return model_list


def assert_same_inputs(core: Any, step: dict[str, Any], request: dict[str, Any]) -> list[dict[str, Any]]:
    fast = router_core.strategy_inputs(core, step, request)
    litellm_answer = router_core._original_strategy_inputs(core, step, request)
    assert fast[0] == litellm_answer[0] and fast[2] == litellm_answer[2]
    assert fast[1] is litellm_answer[1]  # the same selector object
    assert fast[3] == litellm_answer[3]
    assert [type(record) for record in fast[3]] == [type(record) for record in litellm_answer[3]]
    return fast[3]


@pytest.mark.parametrize("strategy", ["latency-based-routing", "least-busy", "usage-based-routing-v2"])
def test_candidates_match_litellm_through_registry_changes(monkeypatch, strategy):
    rng = random.Random(strategy)
    captured = CapturedSteps(monkeypatch)
    router = litellm.Router(model_list=make_model_list(12, rng), routing_strategy=strategy)
    core = router._core
    messages = [{"role": "user", "content": "hi"}]
    next_index = 12
    for round_ in range(30):
        router.get_available_deployment(model="group", messages=messages)
        step, request = captured.steps[-1]
        candidates = assert_same_inputs(core, step, request)
        # Fresh copies: mutating what a strategy received changes nothing later.
        for record in candidates:
            extra = record["litellm_params"].get("extra_body")
            if extra is not None:  # nested lists and dicts are copies too
                extra["tags"][2]["nested"].append("mutated")
                extra["tags"].append("mutated")
            record["litellm_params"]["api_key"] = "mutated"
            record["model_info"].clear()
            record.pop("model_name", None)
        assert_same_inputs(core, step, request)
        change = round_ % 5
        ids = [entry["model_info"]["id"] for entry in core._handle.deployments()]
        if change == 1:
            router.add_deployment(litellm.types.router.Deployment(**make_model_list(next_index + 1, rng)[-1]))
            next_index += 1
        elif change == 2 and len(ids) > 2:
            victim = rng.choice(ids)
            router.upsert_deployment(
                litellm.types.router.Deployment(
                    model_name="group",
                    litellm_params={"model": "openai/gpt-4o-mini", "api_key": f"new-{round_}"},
                    model_info={"id": victim},
                )
            )
        elif change == 3 and len(ids) > 2:
            router.delete_deployment(rng.choice(ids))
        elif change == 4 and round_ == 19:
            router.set_model_list(make_model_list(7, rng))
        # A step naming the ids before the change still converts as LiteLLM converts (deleted: {}).
        assert_same_inputs(core, step, request)
    assert router_core.CALLS.native > 0


def test_candidates_outside_the_native_path(monkeypatch):
    router = litellm.Router(model_list=make_model_list(3, random.Random(1)), routing_strategy="least-busy")
    core = router._core
    captured = CapturedSteps(monkeypatch)
    router.get_available_deployment(model="group", messages=[{"role": "user", "content": "hi"}])
    step, request = captured.steps[-1]
    for candidates in ([*step["candidates"], 7], ["no-such-id"], [], ("d-0",)):
        odd = {**step, "candidates": candidates}
        assert outcome(router_core.strategy_inputs, core, odd, request) == outcome(
            router_core._original_strategy_inputs, core, odd, request
        )
    monkeypatch.setattr(litellm_core, "as_str_mapping", lambda value: None)  # a mock: LiteLLM's code runs
    before = router_core.CALLS.python
    assert router_core.strategy_inputs(core, step, request)[3] == [{}, {}, {}]
    assert router_core.CALLS.python == before + 1


def test_records_of_match_litellm():
    rng = random.Random(12)
    router = litellm.Router(model_list=make_model_list(8, rng))
    core = router._core
    ids = [entry["model_info"]["id"] for entry in core._handle.deployments()]
    for round_ in range(12):
        for candidates in (ids, ids[::-1], [*ids, "gone"], [], None, tuple(ids), [ids[0], 5], ids[:1] * 3):
            fast = outcome(router_core.records_of, core, candidates)
            assert fast == outcome(router_core._original_records_of, core, candidates)
            if fast[0] == "returned" and fast[1]:
                fast[1][0].setdefault("litellm_params", {})["api_key"] = "mutated"  # a fresh copy each time
        if round_ % 3 == 0:
            router.upsert_deployment(
                litellm.types.router.Deployment(
                    model_name="group",
                    litellm_params={"model": "openai/gpt-4o-mini", "api_key": f"r{round_}"},
                    model_info={"id": rng.choice(ids)},
                )
            )


@pytest.mark.parametrize("seed", range(10))
def test_rows_match_litellm(seed):
    rng = random.Random(seed)
    router = litellm.Router(model_list=make_model_list(6, rng))
    hosted = router._core._hosted
    size = len(hosted._core_model_list)
    for _ in range(30):
        rows: list[Any] = [{"at": rng.randrange(-size, size)} for _ in range(rng.randrange(0, 6))]
        if rng.random() < 0.2:
            rows.append({"at": size + 3})  # out of range: IndexError on both sides
        if rng.random() < 0.2:
            rows.append({"at": str(rng.randrange(size))})
        if rng.random() < 0.2:
            rows.append({"at": rng.randrange(size), "name": "renamed"})
        if rng.random() < 0.1:
            rows.append({"at": True})
        fast = outcome(router_core.rows, hosted, rows)
        litellm_answer = outcome(router_core._original_rows, hosted, rows)
        assert fast[0] == litellm_answer[0]
        if fast[0] == "returned":
            assert len(fast[1]) == len(litellm_answer[1])
            assert all(a is b or a == b for a, b in zip(fast[1], litellm_answer[1], strict=True))
        else:
            assert fast[1] is litellm_answer[1]


@pytest.mark.parametrize("strategy", ["simple-shuffle", "latency-based-routing", "least-busy", "usage-based-routing"])
def test_router_picks_match_litellm(routing_mode, strategy):
    """Seeded picks through `Router`, sync and async, in `python` mode and in `auto`."""
    rng = random.Random(7)
    model_list = make_model_list(40, rng)
    messages = [{"role": "user", "content": "pick one"}]

    def picks(mode: str) -> list[str]:
        routing_mode(mode)
        router = litellm.Router(model_list=model_list, routing_strategy=strategy)
        loop = asyncio.new_event_loop()
        random.seed(11)
        chosen = []
        for index in range(40):
            if index % 2:
                deployment = router.get_available_deployment(model="group", messages=messages)
            else:
                pick = router.async_get_available_deployment(model="group", messages=messages, request_kwargs={})
                deployment = loop.run_until_complete(pick)
            chosen.append(deployment["model_info"]["id"])
        loop.close()
        return chosen

    assert picks("python") == picks("auto")
    # At a partial rollout each pick is native or LiteLLM's by a draw that must not come from the
    # `random` module: a seeded application would otherwise see other picks.
    routing = fast_litellm._components["routing"]
    routing.rollout_percent = 50.0
    try:
        assert picks("python") == picks("auto")
    finally:
        routing.rollout_percent = 100.0


def test_threads_pick_while_deployments_change(routing_mode, race):
    """8 threads pick while another adds and deletes deployments: every pick names a deployment
    of the group, and the records kept always match a fresh conversion."""
    routing_mode("rust")
    rng = random.Random(3)
    router = litellm.Router(model_list=make_model_list(30, rng))
    messages = [{"role": "user", "content": "pick one"}]
    added = itertools.count(100)

    def pick() -> None:
        deployment = router.get_available_deployment(model="group", messages=messages)
        assert deployment["model_name"] == "group"

    def change() -> None:
        index = next(added)
        router.add_deployment(litellm.types.router.Deployment(**make_model_list(index + 1, rng)[-1]))
        router.delete_deployment(f"d-{index - 50}")

    errors = race(pick, threads=8, rounds=150, change=change)
    assert errors == []
    # The cache of converted records holds exactly what a fresh conversion gives now.
    handle = router._core._handle
    records = router_core._records_for(router._core, handle)
    for id_, record in list(records.items()):
        assert record == handle.deployment(id_)
    assert fast_litellm.stats()["routing"]["router_core_glue_calls"]["rust"] > 0
