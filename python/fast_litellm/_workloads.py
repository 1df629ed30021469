"""Inputs for calibration and benchmarks: English prose and chats that no earlier call has seen,
and routers whose strategy state holds traffic for every deployment.

Prose is built from sentences of the standard library's docstrings (real English, with code
identifiers and punctuation), shuffled, so each call gets text neither side has counted before.
"""

from __future__ import annotations

import datetime
import random
import sys
import warnings
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _sentences() -> tuple[str, ...]:
    import pydoc  # noqa: F401  # loads a good share of the documented standard library

    docs = set()
    with warnings.catch_warnings():  # touching deprecated aliases (typing.io) warns
        warnings.simplefilter("ignore")
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").split(".")[0] not in sys.stdlib_module_names:
                continue
            for value in [module, *list(vars(module).values())]:
                doc = getattr(value, "__doc__", None)
                if isinstance(doc, str) and len(doc) > 40:
                    docs.add(doc)
    sentences = sorted(
        " ".join(part.split()) + "." for doc in docs for part in doc.split(". ") if len(part.strip()) > 20
    )
    if not sentences:  # stripped docstrings (python -OO): fall back to generated words
        rng = random.Random(0)
        words = ["".join(rng.choices("etaoinshrdlucmfw", k=rng.randint(2, 8))) for _ in range(3000)]
        sentences = [" ".join(rng.choices(words, k=12)).capitalize() + "." for _ in range(5000)]
    return tuple(sentences)


class ColdInputs:
    """Fresh prose and chats on every call (a serial number makes repeats impossible)."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._serial = 0

    def text(self, chars: int) -> str:
        if chars <= 0:
            return ""
        self._serial += 1
        sentences = _sentences()
        parts, total = [f"{self._serial}."], 0
        while total < chars:
            sentence = self._rng.choice(sentences)
            parts.append(sentence)
            total += len(sentence) + 1
        return " ".join(parts)[:chars]

    def chat(self, messages: int, chars_per_message: int = 240) -> list[dict[str, str]]:
        chat = [{"role": "system", "content": self.text(chars_per_message)}]
        for index in range(messages - 1):
            role = "user" if index % 2 == 0 else "assistant"
            chat.append({"role": role, "content": self.text(chars_per_message)})
        return chat[:messages]


STRATEGIES = (
    "latency-based-routing",
    "usage-based-routing",
    "usage-based-routing-v2",
    "least-busy",
    "cost-based-routing",
    "simple-shuffle",
)


def make_router(count: int, strategy: str = "latency-based-routing") -> Any:
    """A `Router` over `count` deployments of group "group" with `strategy`, its state holding
    this minute's traffic for every deployment (latency: ten samples and a usage bucket; usage v1
    and v2: tpm/rpm counters; least-busy: in-flight counts; cost: the cost map's usage buckets)."""
    import litellm

    model_list = [
        {
            "model_name": "group",
            "litellm_params": {
                "model": "openai/gpt-4o",
                "api_key": "k",
                "api_base": f"http://upstream-{index}",
                "tpm": 1_000_000,
                "rpm": 10_000,
            },
            "model_info": {"id": f"deployment-{index}"},
        }
        for index in range(count)
    ]
    router = litellm.Router(model_list=model_list, routing_strategy=strategy)
    rng = random.Random(count)
    ids = [f"deployment-{index}" for index in range(count)]
    now = datetime.datetime.now()
    if strategy == "latency-based-routing":
        minute = now.strftime("%Y-%m-%d-%H-%M")
        latency_map = {
            id_: {
                "latency_normalized": [rng.uniform(0.01, 0.5) for _ in range(10)],
                minute: {"tpm": rng.randrange(1000), "rpm": rng.randrange(10)},
            }
            for id_ in ids
        }
        router.cache.set_cache("group_map", latency_map, ttl=3600)
    elif strategy == "usage-based-routing":
        minute = now.strftime("%H-%M")
        router.cache.set_cache(f"group:tpm:{minute}", {id_: rng.randrange(10_000) for id_ in ids}, ttl=3600)
        router.cache.set_cache(f"group:rpm:{minute}", {id_: rng.randrange(100) for id_ in ids}, ttl=3600)
    elif strategy == "usage-based-routing-v2":
        minute = datetime.datetime.now(datetime.timezone.utc).strftime("%H-%M")
        for id_ in ids:
            router.cache.set_cache(f"{id_}:openai/gpt-4o:tpm:{minute}", rng.randrange(10_000), ttl=3600)
            router.cache.set_cache(f"{id_}:openai/gpt-4o:rpm:{minute}", rng.randrange(100), ttl=3600)
    elif strategy == "cost-based-routing":
        minute = now.strftime("%Y-%m-%d-%H-%M")
        cost_map = {id_: {minute: {"tpm": rng.randrange(1000), "rpm": rng.randrange(10)}} for id_ in ids}
        router.cache.set_cache("cost_map:group", cost_map, ttl=3600)
    elif strategy == "least-busy":
        for id_ in ids:
            router.cache.set_cache(f"group_request_count:{id_}", rng.randrange(5), local_only=True)
    return router
