"""Threads, forks and event loops through the patched token counter (fresh interpreters).

Short versions of `tests/stress_tokens.py`; the long run is `python tests/stress_tokens.py
--runs 200`. A hang fails the test: each trial has a deadline after which faulthandler dumps
every thread's stack and ends it, and the subprocess has a timeout of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

STRESS = Path(__file__).with_name("stress_tokens.py")


def run_stress(*args: str) -> dict:
    environment = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    for name in ("FAST_LITELLM_DISABLE", "FAST_LITELLM_TOKENS", "FAST_LITELLM_ROLLOUT_TOKENS"):
        environment.pop(name, None)
    completed = subprocess.run(
        [sys.executable, str(STRESS), "--deadline", "150", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    output = completed.stdout[-6000:] + completed.stderr[-6000:]
    assert completed.returncode == 0, output
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["failed"] == 0 and summary["hangs"] == 0, output
    return summary


@pytest.mark.parametrize(
    ("threads", "extra"),
    [("8", ["--mutate", "--rounds", "4"]), ("32", ["--rounds", "1"])],
    ids=["8-threads-with-mode-patch-registry-policy-cache-changes", "32-threads"],
)
def test_threads_released_together_at_first_use_get_litellm_answers(threads, extra):
    summary = run_stress("--runs", "2", "--threads", threads, *extra)
    assert summary["runs"] == 2 and summary["calls"] > 0


def test_children_forked_from_a_warm_busy_parent_count_exactly():
    summary = run_stress("--scenario", "fork", "--threads", "4", "--children", "4")
    assert summary["runs"] == 1


def test_counting_offloaded_from_an_event_loop_and_router_pre_call_checks():
    summary = run_stress("--scenario", "event-loop", "--tasks", "400")
    assert summary["runs"] == 1
