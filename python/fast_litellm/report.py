"""`fast-litellm report`: one self-contained HTML page from a calibrated policy (and optionally
pytest-benchmark JSON). Rendering is native (reports/ crate); this module gathers the data."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from fast_litellm import _native, _policy

UNITS = {"text": "characters", "messages": "messages"}


def build(policy: dict[str, Any], policy_path: Path, benchmark_json: Path | None) -> dict[str, Any]:
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
        "generated_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "host": host,
        "notes": notes,
        "components": components,
        "benchmarks": _benchmarks(benchmark_json) if benchmark_json else [],
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


def write(out: Path, policy_path: Path, benchmark_json: Path | None = None) -> Path:
    policy = _policy.read_policy(policy_path)
    html = _native.render_report(json.dumps(build(policy, policy_path, benchmark_json)))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
