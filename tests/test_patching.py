"""Patching by identity, import order, unpatch and the kill switch (each in a fresh interpreter)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest


def run_python(code: str, **env: str) -> dict:
    environment = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **env}
    environment.pop("FAST_LITELLM_DISABLE", None) if "FAST_LITELLM_DISABLE" not in env else None
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=environment, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


PRELUDE = """
import json, sys, types
def bound_early_module():
    # An application module that bound LiteLLM's function by name before fast_litellm loaded.
    module = types.ModuleType("app_bound_early")
    exec("from litellm.utils import token_counter\\nfrom litellm import encode", module.__dict__)
    sys.modules["app_bound_early"] = module
    return module
"""


def test_import_after_litellm_patches_every_binding_and_unpatch_restores():
    result = run_python(
        PRELUDE
        + """
import litellm, litellm.utils, litellm.main
import litellm.litellm_core_utils.token_counter as core
app = bound_early_module()
original_wrapper, original_core, original_encode = litellm.utils.token_counter, core.token_counter, litellm.encode
import fast_litellm
from fast_litellm import tokens
patched = {
    "app": app.token_counter is tokens.wrapper_token_counter,
    "app_encode": app.encode is tokens.encode,
    "utils": litellm.utils.token_counter is tokens.wrapper_token_counter,
    "core": core.token_counter is tokens.token_counter,
    "main": litellm.main.token_counter is tokens.wrapper_token_counter,
    "top": litellm.token_counter is tokens.wrapper_token_counter,
}
fast_litellm.set_mode("tokens", "rust")
count = app.token_counter(model="gpt-4o", text="hello world")
rust_calls = fast_litellm.stats()["tokens"]["calls_rust"]
fast_litellm.unpatch()
restored = {
    "app": app.token_counter is original_wrapper,
    "utils": litellm.utils.token_counter is original_wrapper,
    "core": core.token_counter is original_core,
    "encode": litellm.encode is original_encode,
    "main": litellm.main.token_counter is original_wrapper,
}
states = {t["target"]: t["state"] for t in fast_litellm.status()["targets"] if t["component"] != "rate_limit"}
limiter = [t["state"] for t in fast_litellm.status()["targets"] if t["component"] == "rate_limit"]
print(json.dumps({"patched": patched, "restored": restored, "count": count, "rust": rust_calls, "states": states,
                  "limiter": limiter}))
"""
    )
    assert all(result["patched"].values()), result["patched"]
    assert all(result["restored"].values()), result["restored"]
    assert result["count"] == 2 and result["rust"] == 1
    assert set(result["states"].values()) == {"unpatched"}
    assert result["limiter"] == ["skipped"] * 4  # the proxy's limiter: this process is no proxy


def test_import_before_litellm_patches_when_litellm_loads():
    result = run_python(
        PRELUDE
        + """
import fast_litellm
pending = [t["state"] for t in fast_litellm.status()["targets"]]
import litellm
import litellm.litellm_core_utils.token_counter as core
from fast_litellm import tokens
fast_litellm.set_mode("tokens", "rust")
count = litellm.token_counter(model="gpt-4", messages=[{"role": "user", "content": "hi"}])
print(json.dumps({
    "pending": pending,
    "states": [t["state"] for t in fast_litellm.status()["targets"] if t["component"] != "rate_limit"],
    # The limiter is the proxy's, skipped in a process that is not one.
    "limiter": [t["state"] for t in fast_litellm.status()["targets"] if t["component"] == "rate_limit"],
    "utils": litellm.utils.token_counter is tokens.wrapper_token_counter,
    "core": core.token_counter is tokens.token_counter,
    "count": count,
    "expected": tokens.original_token_counter(model="gpt-4", messages=[{"role": "user", "content": "hi"}]),
    "rust": fast_litellm.stats()["tokens"]["calls_rust"],
}))
"""
    )
    assert set(result["pending"]) == {"pending"}
    assert set(result["states"]) == {"patched"}
    assert result["limiter"] == ["skipped"] * 4
    assert result["utils"] and result["core"]
    assert result["count"] == result["expected"] and result["rust"] == 1


def test_module_loaded_later_is_patched():
    result = run_python(
        """
import json, sys
import litellm, fast_litellm
from fast_litellm import tokens
late = "litellm.llms.triton.embedding.transformation"
was_loaded = late in sys.modules
import importlib
module = importlib.import_module(late)
patched = module.token_counter is tokens.wrapper_token_counter
fast_litellm.unpatch()
print(json.dumps({"was_loaded": was_loaded, "patched": patched,
                  "restored": module.token_counter is tokens.original_wrapper_token_counter}))
"""
    )
    assert result["was_loaded"] is False
    assert result["patched"] is True and result["restored"] is True


def test_module_loaded_later_binds_replacement():
    result = run_python(
        """
import json, importlib
import litellm, fast_litellm
from fast_litellm import tokens
module = importlib.import_module("litellm.llms.huggingface.rerank.transformation")
print(json.dumps({"patched": module.token_counter is tokens.wrapper_token_counter}))
"""
    )
    assert result["patched"] is True


@pytest.mark.parametrize("value", ["1", "true"])
def test_kill_switch_patches_nothing(value):
    result = run_python(
        """
import json, litellm, litellm.utils
original = litellm.utils.token_counter
import fast_litellm
status = fast_litellm.status()
print(json.dumps({
    "same": litellm.utils.token_counter is original,
    "disabled": status["disabled"],
    "states": sorted({t["state"] for t in status["targets"]}),
}))
""",
        FAST_LITELLM_DISABLE=value,
    )
    assert result == {"same": True, "disabled": True, "states": ["skipped"]}


def test_env_mode_and_bad_values_are_reported():
    result = run_python(
        """
import json, litellm, fast_litellm
components = fast_litellm.status()["components"]
print(json.dumps({"mode": components["tokens"]["mode"], "errors": components["tokens"]["config_errors"],
                  "rollout": components["tokens"]["rollout_percent"]}))
""",
        FAST_LITELLM_TOKENS="python",
        FAST_LITELLM_ROLLOUT_TOKENS="250",
    )
    assert result["mode"] == "python"
    assert result["rollout"] == 100.0 and "FAST_LITELLM_ROLLOUT_TOKENS" in result["errors"][0]


def test_patch_is_idempotent_and_repatch_after_unpatch():
    result = run_python(
        """
import json, litellm, litellm.utils, fast_litellm
from fast_litellm import tokens
fast_litellm.patch(); fast_litellm.patch()
bindings = [len(t["bindings"]) for t in fast_litellm.status()["targets"]]
fast_litellm.unpatch(); fast_litellm.unpatch()
fast_litellm.patch()
print(json.dumps({"bindings": bindings, "again": litellm.utils.token_counter is tokens.wrapper_token_counter,
                  "after": [len(t["bindings"]) for t in fast_litellm.status()["targets"]]}))
"""
    )
    assert result["again"] is True
    assert result["bindings"] == result["after"]


def test_cli_status_runs():
    completed = subprocess.run(
        [sys.executable, "-m", "fast_litellm.cli", "status"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "patched   litellm.utils.token_counter" in completed.stdout


@pytest.mark.parametrize("first", ["litellm", "fast_litellm"])
def test_imports_run_no_fast_litellm_code_once_patched(first):
    """Imports LiteLLM retries and fails on every request (an integration whose package is not
    installed, prisma) go through sys.meta_path: once patched, none of our code may run there,
    so they cost what they cost without fast_litellm."""
    result = run_python(
        f"""
import json, os, sys
import {first}
import litellm, fast_litellm
from fast_litellm import tokens
ours = os.path.dirname(fast_litellm.__file__)
called = []
def profile(frame, event, arg):
    if event == "call" and frame.f_code.co_filename.startswith(ours):
        called.append(frame.f_code.co_name)
sys.setprofile(profile)
for name in ("litellm.integrations.not_installed_integration_xyz", "prisma_not_installed_xyz.errors"):
    for _ in range(3):
        try:
            __import__(name)
        except ImportError:
            pass
sys.setprofile(None)
print(json.dumps({{
    "hooks": [type(f).__name__ for f in sys.meta_path if type(f).__module__.startswith("fast_litellm")],
    "called": called,
    "states": sorted({{t["state"] for t in fast_litellm.status()["targets"]}}),
    "core": litellm.litellm_core_utils.token_counter.token_counter is tokens.token_counter,
}}))
"""
    )
    assert result == {"hooks": [], "called": [], "states": ["patched", "skipped"], "core": True}


@pytest.mark.skipif(
    not all(importlib.util.find_spec(name) for name in ("fastapi", "orjson")),
    reason="the proxy extra is not installed: pip install 'fast-litellm[proxy]'",
)
@pytest.mark.parametrize("how", ["announce", "expect_proxy"])
def test_proxy_processes_wait_for_the_limiter_then_drop_the_hook(how):
    """In a proxy process the proxy's limiter is patched when the proxy imports it; then no hook
    is left. A process that is not one skips it at once (the tests above)."""
    setup = (
        "os.environ['FAST_LITELLM_ANNOUNCE'] = '1'; os.environ['XDG_RUNTIME_DIR'] = tempfile.mkdtemp()"
        if how == "announce"
        else "fast_litellm._patcher.expect_proxy()"
    )
    result = run_python(
        f"""
import json, os, sys, tempfile
import fast_litellm
{setup}
import litellm
waiting = [t["state"] for t in fast_litellm.status()["targets"] if t["component"] == "rate_limit"]
from litellm.proxy.hooks import parallel_request_limiter_v3 as v3
from fast_litellm import limiter
print(json.dumps({{
    "waiting": waiting,
    "states": sorted({{t["state"] for t in fast_litellm.status()["targets"]}}),
    "replaced": v3._PROXY_MaxParallelRequestsHandler_v3.should_rate_limit is limiter.should_rate_limit,
    "hooks": [type(f).__name__ for f in sys.meta_path if type(f).__module__.startswith("fast_litellm")],
}}))
"""
    )
    assert result == {"waiting": ["pending"] * 4, "states": ["patched"], "replaced": True, "hooks": []}


def test_hook_waits_while_litellm_is_not_imported():
    result = run_python(
        """
import json, sys
import fast_litellm
waiting = [type(f).__name__ for f in sys.meta_path if type(f).__module__.startswith("fast_litellm")]
import litellm
after = [type(f).__name__ for f in sys.meta_path if type(f).__module__.startswith("fast_litellm")]
print(json.dumps({"waiting": waiting, "after": after}))
"""
    )
    assert result == {"waiting": ["_ImportHook"], "after": []}
