"""Calibration harness and HTML report (tiny budgets: structure, not speed)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import fast_litellm
from fast_litellm import _policy, calibrate, report


@pytest.fixture
def tiny_budget(monkeypatch):
    monkeypatch.setattr(calibrate, "QUICK", calibrate.Budget(seconds_per_point=0.0, min_reps=3, max_reps=3))
    ladders = tuple(
        calibrate.Ladder(lad.component, lad.payload_class, lad.unit, lad.sizes, lad.quick_sizes[:3], lad.make_call)
        for lad in calibrate.LADDERS
    )
    monkeypatch.setattr(calibrate, "LADDERS", ladders)


def test_calibrate_writes_a_valid_policy_for_this_host(tmp_path: Path, tiny_budget):
    before = fast_litellm.get_mode("tokens")
    stream = io.StringIO()
    path = calibrate.run(quick=True, out=tmp_path / "policy.yaml", stream=stream)
    policy = _policy.read_policy(path)
    assert fast_litellm.get_mode("tokens") == before  # calibration leaves the process as it was
    assert policy["quick"] is True and policy["selector_overhead_ns"] > 0
    tokens = policy["components"]["tokens"]
    assert set(tokens["thresholds"]) == {"text", "messages"}
    for points in tokens["measurements"].values():
        assert len(points) == 3
        assert all(point["samples"] >= 3 and point["auto_p50_ns"] > 0 for point in points)
    routing = policy["components"]["routing"]
    assert set(routing["thresholds"]) == {"latency", "usage", "usage_v2", "least_busy", "cost"}
    for points in routing["measurements"].values():
        assert [point["size"] for point in points] == [1, 5, 50]
    cache = policy["components"]["cache"]["measurements"]
    assert {name: [point["size"] for point in points] for name, points in cache.items()} == {
        "store": [10, 1000],
        "front": [1, 100],
    }
    limiter = policy["components"]["rate_limit"]["measurements"]
    assert [point["size"] for point in limiter["check"]] == [1, 4]
    assert all(point["native_p50_ns"] > 0 for point in limiter["check"])
    steps = 2 * sum(len(ladder.quick_sizes) for ladder in calibrate.LADDERS)
    assert f"calibrate 1/{steps}: tokens/text 1 characters" in stream.getvalue()  # plain lines, no terminal
    info = _policy.load_into(
        {"tokens": fast_litellm._components["tokens"].__class__("tokens")}, {"FAST_LITELLM_POLICY": str(path)}
    )
    assert info["source"] == "calibrated", info


def test_measure_point_alternates_sides_on_fresh_inputs():
    seen = []
    ladder = calibrate.Ladder(
        "tokens", "text", "characters", (1,), (1,), lambda size, inputs: lambda: seen.append(inputs.text(8))
    )
    component = fast_litellm._components["tokens"]
    histograms = calibrate.measure_point(
        component,
        ladder,
        1,
        ("python", "native", "auto"),
        fast_litellm._workloads.ColdInputs(),
        calibrate.Budget(0, 4, 4),
    )
    assert {side: h.count for side, h in histograms.items()} == {"python": 4, "native": 4, "auto": 4}
    assert len(set(seen)) == len(seen) == 12


def test_report_renders_every_class_with_curves_and_tables(tmp_path: Path, tiny_budget):
    policy_path = calibrate.run(quick=True, out=tmp_path / "policy.yaml", stream=io.StringIO())
    bench = tmp_path / "bench.json"
    bench.write_text(
        json.dumps(
            {
                "benchmarks": [
                    {"group": "text 12 tokens", "name": "test_text[rust]", "stats": {"median": 1.5e-6, "rounds": 10}}
                ]
            }
        )
    )
    out = report.write(tmp_path / "report.html", policy_path, bench)
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == len(calibrate.LADDERS)
    assert "messages (size = messages)" in html and "text (size = characters)" in html
    assert "latency (size = deployments)" in html and "least_busy (size = deployments)" in html
    assert "store (size = keys)" in html and "front (size = entries)" in html and "check (size = descriptors)" in html
    assert "auto vs best" in html and "test_text[rust]" in html
    assert "<script" not in html


def test_cli_report_without_policy_fails_clearly(tmp_path: Path, capsys):
    from fast_litellm import cli

    assert cli.main(["report", "--policy", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "r.html")]) == 1
    assert "run `fast-litellm calibrate` first" in capsys.readouterr().err
