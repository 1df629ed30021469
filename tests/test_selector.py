"""Selector: policy files, dispatch decisions, rollout, breaker, crossover search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from fast_litellm import _host, _native, _policy
from fast_litellm._component import Breaker, Component


def valid_policy(**overrides) -> dict:
    policy = {
        "version": 1,
        "host": _host.fingerprint(),
        "measured_at": "2026-11-30T17:00:00Z",
        "quick": True,
        "margin": 0.05,
        "components": {
            "tokens": {
                "mode": "auto",
                "rollout_percent": 100.0,
                "thresholds": {"text": 64, "messages": None},
                "measurements": {
                    "text": [
                        {"size": 1, "samples": 5, "python_p50_ns": 900, "python_p99_ns": 1000,
                         "native_p50_ns": 1200, "native_p99_ns": 1500},
                        {"size": 64, "samples": 5, "python_p50_ns": 9000, "python_p99_ns": 9900,
                         "native_p50_ns": 1300, "native_p99_ns": 1600, "auto_p50_ns": 1350, "auto_p99_ns": 1700},
                    ]
                },
            }
        },
    }  # fmt: skip
    policy.update(overrides)
    return policy


# ---- policy files -------------------------------------------------------------------------


def test_policy_round_trip(tmp_path: Path):
    path = tmp_path / "policy.yaml"
    _policy.write_policy(path, valid_policy())
    assert _policy.read_policy(path) == valid_policy()


def test_pyyaml_reads_the_same_policy(tmp_path: Path):
    """LiteLLM reads YAML with PyYAML (YAML 1.1): our file must mean the same to it."""
    tricky_host = {**_host.fingerprint(), "cpu_model": "on", "python": "3.10", "litellm": "yes"}
    policy = valid_policy(host=tricky_host)
    path = tmp_path / "policy.yaml"
    _policy.write_policy(path, policy)
    assert yaml.safe_load(path.read_text()) == _policy.read_policy(path) == policy


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda p: p.update(version=2), "version 2"),
        (lambda p: p["components"]["tokens"].update(rollout_percent=101), "rollout_percent 101"),
        (lambda p: p["components"].update(tokenz={}), 'unknown component "tokenz"'),
        (lambda p: p.update(margin=1.5), "margin 1.5"),
        (lambda p: p["components"]["tokens"]["thresholds"].update(text=-1), "policy is not readable"),
        (lambda p: p.update(unexpected=True), "unknown field"),
    ],
)
def test_policy_validation_names_the_problem(change, message):
    policy = valid_policy()
    change(policy)
    with pytest.raises(ValueError, match=message):
        _native.policy_json_to_yaml(json.dumps(policy))


def test_policy_yaml_syntax_error_is_value_error():
    with pytest.raises(ValueError, match="not readable"):
        _native.policy_yaml_to_json("version: [1\n")


def test_load_applies_a_calibrated_policy(tmp_path: Path):
    path = tmp_path / "policy.yaml"
    _policy.write_policy(path, valid_policy())
    component = Component("tokens")
    info = _policy.load_into({"tokens": component}, {"FAST_LITELLM_POLICY": str(path)})
    assert info["source"] == "calibrated" and info["problems"] == []
    assert component.thresholds["text"] == 64 and component.thresholds["messages"] is None


@pytest.mark.parametrize(
    "content,problem",
    [
        ("{{{ not yaml", "not readable"),
        ("version: 1\n", "not readable"),
        (None, "measured on another host"),
        ("", "not readable"),
    ],
)
def test_bad_or_foreign_policy_falls_back_to_shipped_default(tmp_path: Path, content, problem):
    path = tmp_path / "policy.yaml"
    if content is None:
        foreign = valid_policy(host={**_host.fingerprint(), "cpu_model": "Some Other CPU"})
        _policy.write_policy(path, foreign)
    else:
        path.write_text(content)
    component = Component("tokens")
    info = _policy.load_into({"tokens": component}, {"FAST_LITELLM_POLICY": str(path)})
    assert info["source"] == "shipped default"
    assert problem in " ".join(info["problems"])
    assert component.thresholds == _policy.SHIPPED_DEFAULT["tokens"]


def test_missing_explicit_policy_is_reported(tmp_path: Path):
    info = _policy.load_into({"tokens": Component("tokens")}, {"FAST_LITELLM_POLICY": str(tmp_path / "none.yaml")})
    assert info["source"] == "shipped default" and "does not exist" in info["problems"][0]


def test_default_location_honours_xdg(tmp_path: Path):
    assert _policy.default_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "fast-litellm" / "policy.yaml"


def test_corrupt_policy_never_breaks_import(tmp_path: Path):
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"\xff\xfe garbage \x00")
    code = textwrap.dedent(
        """
        import json, litellm, fast_litellm
        status = fast_litellm.status()
        print(json.dumps({"source": status["policy"]["source"], "problems": status["policy"]["problems"],
                          "patched": all(t["state"] == "patched" for t in status["targets"]
                                         if t["component"] != "rate_limit"),  # the proxy's, not loaded
                          "count": litellm.token_counter(model="gpt-4o", text="hello world")}))
        """
    )
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "FAST_LITELLM_POLICY": str(path)}
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["source"] == "shipped default" and result["problems"]
    assert result["patched"] and result["count"] == 2


# ---- per-call decisions -------------------------------------------------------------------


def make_component(**thresholds) -> Component:
    component = Component("tokens")
    component.thresholds = dict(thresholds)
    return component


def test_dispatch_decisions_follow_mode_threshold_and_class():
    component = make_component(text=100, messages=None)
    assert not component.wants_native("text", 99)
    assert component.wants_native("text", 100)
    assert not component.wants_native("messages", 10**6)  # None: never native in auto
    assert component.wants_native("unknown_class", 0)  # missing class: shipped behaviour (native)
    component.mode = "python"
    assert not component.wants_native("text", 10**6)
    for forced in ("rust", "shadow"):
        component.mode = forced
        assert component.wants_native("text", 0) and component.wants_native("messages", 1)


def test_rollout_fraction_is_statistically_right():
    component = make_component(text=0)
    component.rollout_percent = 30.0
    trials = 20_000
    native = sum(component.wants_native("text", 10) for _ in range(trials))
    # binomial(20000, 0.3): sd ~ 65; 6 sd either side
    assert abs(native - 0.3 * trials) < 6 * (trials * 0.3 * 0.7) ** 0.5
    component.rollout_percent = 0.0
    assert not any(component.wants_native("text", 10) for _ in range(1000))


def test_rollout_does_not_restrict_forced_rust():
    component = make_component(text=0)
    component.rollout_percent = 0.0
    component.mode = "rust"
    assert all(component.wants_native("text", 10) for _ in range(100))


def test_breaker_opens_after_repeated_failures_and_recovers():
    breaker = Breaker(max_failures=3, window_s=60.0, cooldown_s=0.05)
    component = make_component(text=0)
    component.breaker = breaker
    for _ in range(2):
        breaker.record_failure()
    assert component.wants_native("text", 1) and breaker.state()["state"] == "closed"
    breaker.record_failure()
    assert breaker.state()["state"] == "open"
    assert not component.wants_native("text", 1)
    time.sleep(0.06)
    assert component.wants_native("text", 1)  # the one trial call
    assert not component.wants_native("text", 1)  # others wait for its outcome
    assert breaker.state()["state"] == "half-open"
    breaker.record_failure()  # trial failed: open again
    assert breaker.state()["state"] == "open" and breaker.times_opened == 2
    time.sleep(0.06)
    assert component.wants_native("text", 1)
    breaker.record_success()  # trial succeeded: closed
    assert breaker.state()["state"] == "closed" and component.wants_native("text", 1)


def test_failures_outside_the_window_do_not_open_the_breaker():
    breaker = Breaker(max_failures=2, window_s=0.01, cooldown_s=10)
    breaker.record_failure()
    time.sleep(0.02)
    breaker.record_failure()
    assert breaker.state()["state"] == "closed"


# ---- crossover search on synthetic curves -------------------------------------------------


def ladder(python, native):
    return [(size, p, n) for size, p, n in zip([1, 10, 100, 1000, 10000], python, native, strict=True)]


@pytest.mark.parametrize(
    "python,native,expected",
    [
        ([10, 20, 100, 1000, 10000], [50, 50, 60, 100, 500], 100),  # clean crossover
        ([10, 20, 100, 1000, 10000], [1, 2, 10, 100, 1000], 0),  # always
        ([10, 20, 100, 1000, 10000], [20, 40, 200, 2000, 20000], None),  # never
        ([10, 20, 100, 1000, 10000], [1, 30, 10, 100, 1000], 100),  # non-monotonic: after the last loss
        ([100, 100, 100, 100, 100], [97, 96, 99, 98, 97], None),  # noise within the margin: never
    ],
    ids=["clean", "always", "never", "non-monotonic", "noisy-tie"],
)
def test_crossover_search(python, native, expected):
    assert _native.find_crossover(ladder(python, native), 0.05) == expected


def test_crossover_rejects_bad_margin():
    with pytest.raises(ValueError, match="margin"):
        _native.find_crossover([(1, 1.0, 1.0)], 2.0)
