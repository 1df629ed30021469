"""`fast-litellm report`: one self-contained HTML page from a calibrated policy, optionally with
pytest-benchmark JSON and the end-to-end proxy benchmark's JSON (`benchmarks/proxy/run.py`).
Rendering is native (reports/ crate); this module gathers the data."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from fast_litellm import _native, _policy

UNITS = {
    "text": "characters",
    "messages": "messages",
    **{routing: "deployments" for routing in ("latency", "usage", "usage_v2", "least_busy", "cost")},
    "store": "keys",
    "front": "entries",
    "check": "descriptors",
}


def build(
    policy: dict[str, Any] | None,
    policy_path: Path,
    benchmark_json: Path | None,
    proxy_json: Path | None = None,
) -> dict[str, Any]:
    proxy = _proxy(json.loads(proxy_json.read_text(encoding="utf-8"))) if proxy_json else None
    if policy is None:  # the proxy benchmark alone
        return {
            "title": "fast-litellm: the LiteLLM proxy on this host",
            "generated_at": _now(),
            "host": (proxy or {}).get("host", {}),
            "benchmarks": _benchmarks(benchmark_json) if benchmark_json else [],
            "proxy": proxy,
        }
    host = {key: str(value) for key, value in policy["host"].items()}
    host["policy file"] = str(policy_path)
    host["measured at"] = policy["measured_at"] + (" (quick)" if policy.get("quick") else "")
    overhead = policy.get("selector_overhead_ns")
    notes = [
        f"Crossover: smallest ladder size from which native's median beats Python's by {policy['margin']:.0%} "
        "at that size and every larger one. Python and native: LiteLLM's public entry point in python and rust "
        "mode, alternating, on inputs never seen before. auto: the selector with the chosen threshold, measured "
        "in the same pass. 'auto vs best' compares auto's median with the faster of the two.",
    ]
    if overhead is not None:
        notes.append(f"Selector decision overhead: {overhead} ns per call.")
    components = []
    for name, component in policy["components"].items():
        classes = []
        for payload_class, points in component["measurements"].items():
            classes.append(
                {
                    "name": payload_class,
                    "unit": UNITS.get(payload_class, "size"),
                    "threshold": component["thresholds"].get(payload_class),
                    "points": [_point(point) for point in points],
                }
            )
        components.append({"name": name, "classes": classes})
    return {
        "title": "fast-litellm: native vs LiteLLM on this host",
        "generated_at": _now(),
        "host": host,
        "notes": notes,
        "components": components,
        "benchmarks": _benchmarks(benchmark_json) if benchmark_json else [],
        "proxy": proxy,
    }


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _proxy(results: dict[str, Any]) -> dict[str, Any]:
    """The proxy section from `benchmarks/proxy/run.py`'s JSON."""
    if results.get("kind") != "fast-litellm proxy benchmark":
        raise ValueError("not the JSON of benchmarks/proxy/run.py")
    options = results["options"]
    host = results["host"]
    notes = [
        f"Host: {host.get('cpu')}, {host.get('cores')} cores; Python {host.get('python')}, LiteLLM "
        f"{host.get('litellm')}, fast-litellm {host.get('fast-litellm')}.",
        f"Each variant: {options['repeats']} run(s) of {options['duration_s']:g} s after {options['warmup_s']:g} s of "
        f"warm-up, {options['connections']} connections from a compiled load generator, plain and fast alternating, "
        f"fresh proxy processes; mock upstream latency {options['upstream_latency_ms']} ms. CPU per request sums "
        "every process of the proxy. Medians, with min–max of the runs.",
    ]
    scenarios = []
    for scenario in results["scenarios"]:
        summary = scenario["summary"]
        if not all("requests_per_second" in summary[variant] for variant in ("plain", "fast")):
            continue
        scenarios.append(
            {
                "name": scenario["name"],
                "description": scenario["description"],
                "workers": scenario["workers"],
                "runs_per_variant": options["repeats"],
                "plain": summary["plain"],
                "fast": summary["fast"],
            }
        )
    return {
        "generated_at": results["generated_at"],
        "host": {key: str(value) for key, value in host.items()},
        "notes": notes,
        "scenarios": scenarios,
        "profiles": results.get("profiles", []),
    }


def _point(point: dict[str, Any]) -> dict[str, Any]:
    rendered = {
        "size": point["size"],
        "python": {"p50_ns": point["python_p50_ns"], "p99_ns": point["python_p99_ns"]},
        "native": {"p50_ns": point["native_p50_ns"], "p99_ns": point["native_p99_ns"]},
    }
    if point.get("auto_p50_ns") is not None:
        rendered["auto"] = {"p50_ns": point["auto_p50_ns"], "p99_ns": point["auto_p99_ns"]}
    return rendered


def _benchmarks(path: Path) -> list[dict[str, Any]]:
    """Rows from pytest-benchmark's --benchmark-json output."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        {
            "group": bench.get("group") or "",
            "name": bench["name"],
            "median_us": bench["stats"]["median"] * 1e6,
            "rounds": bench["stats"].get("rounds", 0),
        }
        for bench in data.get("benchmarks", [])
    ]


def write(
    out: Path, policy_path: Path | None, benchmark_json: Path | None = None, proxy_json: Path | None = None
) -> Path:
    """Render the page; without a policy (`policy_path` None) only the proxy benchmark."""
    policy = _policy.read_policy(policy_path) if policy_path is not None else None
    data = build(policy, policy_path or Path(), benchmark_json, proxy_json)
    html = _native.render_report(json.dumps(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
