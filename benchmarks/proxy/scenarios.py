"""The proxy benchmark's scenarios: LiteLLM config, request stream and what each one exercises."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
MODEL = "gpt-4o"
# Keys of the limiter scenario: limits high enough that the v3 limiter admits every request (its
# rejections are compared in the response check); every request still goes through its windows.
LIMITED_KEYS = [f"sk-bench-limited-{index}" for index in range(8)]
PROMPTS = [
    "Summarise the plot of a detective novel set in a lighthouse in three sentences.",
    "Explain how a hash map handles collisions, with one example in Python.",
    "Write a haiku about the first frost of the year on a vegetable garden.",
    "List five questions to ask before migrating a database to a new major version.",
    "What is the difference between latency and throughput? Answer for a new engineer.",
    "Translate 'the quick brown fox jumps over the lazy dog' into French and German.",
    "Draft a polite reply declining a meeting invitation because of a schedule conflict.",
    "Give three tips for writing clear commit messages, each with a short example.",
]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    deployments: int = 1
    routing_strategy: str | None = None
    deployment_limits: bool = False  # rpm/tpm on every deployment (usage-based routing)
    stream: bool = False
    upstream_usage: bool = True  # False: the mock sends no `usage` (LiteLLM then reports zero usage)
    key_limits: bool = False  # virtual keys with rpm/tpm/parallel limits (custom_auth, v3 limiter)
    workers: int = 1


SCENARIOS = {
    scenario.name: scenario
    for scenario in [
        Scenario("chat", "chat, one deployment"),
        Scenario("stream", "chat, streaming (no usage requested: LiteLLM counts the reply's tokens)", stream=True),
        Scenario("no-usage", "chat, upstream response without usage", upstream_usage=False),
        Scenario(
            "latency-50",
            "latency-based routing, 50 deployments",
            deployments=50,
            routing_strategy="latency-based-routing",
        ),
        Scenario(
            "usage-v2-50",
            "usage-based routing v2, 50 deployments with rpm/tpm",
            deployments=50,
            routing_strategy="usage-based-routing-v2",
            deployment_limits=True,
        ),
        Scenario(
            "usage-v1-50",
            "usage-based routing (v1), 50 deployments with rpm/tpm",
            deployments=50,
            routing_strategy="usage-based-routing",
            deployment_limits=True,
        ),
        Scenario("least-busy-50", "least-busy routing, 50 deployments", deployments=50, routing_strategy="least-busy"),
        Scenario(
            "cost-50", "cost-based routing, 50 deployments", deployments=50, routing_strategy="cost-based-routing"
        ),
        Scenario("shuffle-50", "simple-shuffle (LiteLLM's default), 50 deployments", deployments=50),
        Scenario("limits", "virtual keys with rpm/tpm/parallel limits (v3 limiter)", key_limits=True),
        Scenario("workers-2", "chat, one deployment, 2 workers", workers=2),
        Scenario("workers-4", "chat, one deployment, 4 workers", workers=4),
    ]
}
SHORT = ("chat", "workers-2")  # CI's short run


def master_key() -> str:
    return "sk-bench-" + secrets.token_hex(12)  # never LiteLLM's publicly known default


def write_config(
    scenario: Scenario, directory: Path, upstream_port: int, key: str, key_limits: dict[str, int] | None = None
) -> Path:
    """The proxy's config.yaml (and custom_auth module) for `scenario`, in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    prefix = "" if scenario.upstream_usage else "/no-usage"
    model_list = []
    for index in range(scenario.deployments):
        params: dict[str, Any] = {
            "model": f"openai/{MODEL}",
            # A distinct path per deployment makes each a deployment of its own; the mock answers all.
            "api_base": f"http://127.0.0.1:{upstream_port}{prefix}/d{index}/v1",
            "api_key": "sk-mock-upstream",
        }
        if scenario.deployment_limits:
            params.update(rpm=1_000_000, tpm=1_000_000_000)
        model_list.append({"model_name": MODEL, "litellm_params": params, "model_info": {"id": f"deployment-{index}"}})
    general: dict[str, Any] = {"master_key": key}
    if scenario.key_limits:
        general["custom_auth"] = "bench_auth.user_api_key_auth"
        limits = key_limits or {"rpm_limit": 10_000_000, "tpm_limit": 10_000_000_000, "max_parallel_requests": 10_000}
        auth = (HERE / "bench_auth.py").read_text(encoding="utf-8")
        (directory / "bench_auth.py").write_text(auth, encoding="utf-8")
        (directory / "bench_auth_keys.json").write_text(
            json.dumps({key_name: limits for key_name in LIMITED_KEYS}), encoding="utf-8"
        )
    config: dict[str, Any] = {"model_list": model_list, "general_settings": general}
    if scenario.routing_strategy:
        config["router_settings"] = {"routing_strategy": scenario.routing_strategy}
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def requests(scenario: Scenario, key: str) -> list[dict[str, Any]]:
    """The request stream: one JSON line per request for the load generator."""
    keys = LIMITED_KEYS if scenario.key_limits else [key]
    lines = []
    for index, prompt in enumerate(PROMPTS * 2):
        body: dict[str, Any] = {
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You are a concise, helpful assistant."},
                {"role": "user", "content": prompt},
            ],
        }
        if scenario.stream:
            body["stream"] = True
        headers = {"Authorization": f"Bearer {keys[index % len(keys)]}"}
        lines.append({"headers": headers, "body": body})
    return lines
