"""LiteLLM's proxy with fast-litellm: every worker accelerated, and the same answers as plain.

Starts real proxies (`fast-litellm proxy`, gunicorn with `fast_litellm.proxy_app`) against the
benchmark's mock upstream; needs the `proxy` extra and the benchmark tools crate (built on
first use).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the proxy extra is not installed: pip install 'fast-litellm[proxy]'")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "proxy"
sys.path.insert(0, str(BENCH))

from check import compare  # noqa: E402
from processes import Proxy, Upstream, console_script, gunicorn_address, process_tree  # noqa: E402
from run import proxy_environment  # noqa: E402
from scenarios import SCENARIOS, master_key, write_config  # noqa: E402


@pytest.fixture(scope="module")
def upstream():
    mock = Upstream()
    yield mock
    mock.stop()


@pytest.fixture
def config(upstream, tmp_path):
    key = master_key()
    return write_config(SCENARIOS["chat"], tmp_path, upstream.port, key), key


def chat(proxy: Proxy, key: str) -> dict:
    request = urllib.request.Request(
        f"{proxy.url}/chat/completions",
        data=json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        return json.loads(response.read())


def announced_pids(proxy: Proxy) -> set[int]:
    return {
        int(line.split("accelerated in process ")[1].split()[0])
        for line in proxy.log().splitlines()
        if "accelerated in process" in line
    }


def status_pids(environment: dict[str, str]) -> set[int]:
    completed = subprocess.run(
        [console_script("fast-litellm"), "status", "--json"], capture_output=True, text=True, env=environment
    )
    assert completed.returncode == 0, completed.stderr
    return {process["pid"] for process in json.loads(completed.stdout)["accelerated_processes"]}


def assert_every_worker_accelerated(proxy: Proxy, workers: int) -> None:
    tree = set(proxy.pids())
    announced = announced_pids(proxy)
    # The master and each worker (uvicorn's spawned ones, gunicorn's forked ones) announce.
    assert len(announced & tree) >= workers + 1, (announced, tree, proxy.log()[-3000:])
    listed = status_pids(proxy_environment())
    assert announced & tree <= listed


def test_fast_litellm_proxy_with_two_uvicorn_workers(config, tmp_path):
    path, key = config
    command = [console_script("fast-litellm"), "proxy", "--config", str(path), "--num_workers", "2"]
    proxy = Proxy(command, tmp_path / "proxy.log", env=proxy_environment())
    try:
        proxy.wait_ready(workers=2)
        assert "fixed reply" in chat(proxy, key)["choices"][0]["message"]["content"]
        assert_every_worker_accelerated(proxy, workers=2)
        pids = set(proxy.pids())
    finally:
        returncode = proxy.stop()
    assert returncode is not None
    assert not (pids & status_pids(proxy_environment()))  # records of ended processes are gone


def test_fast_litellm_proxy_under_gunicorn(config, tmp_path):
    path, key = config
    command = [console_script("fast-litellm"), "proxy", "--config", str(path), "--run_gunicorn", "--num_workers", "2"]
    proxy = Proxy(command, tmp_path / "proxy.log", env=proxy_environment())
    try:
        proxy.wait_ready(workers=2)
        chat(proxy, key)
        assert_every_worker_accelerated(proxy, workers=2)
    finally:
        proxy.stop()


def test_own_gunicorn_with_preload_and_the_proxy_app_module(config, tmp_path):
    """Starting the proxy one's own way: gunicorn --preload on fast_litellm.proxy_app."""
    path, key = config
    gunicorn = Path(sys.executable).parent / "gunicorn"
    environment = {**proxy_environment(), "CONFIG_FILE_PATH": str(path), "FAST_LITELLM_ANNOUNCE": "1"}
    command = [str(gunicorn), "fast_litellm.proxy_app:app", "-k", "uvicorn.workers.UvicornWorker", "--preload"]
    command += ["-w", "2"]
    proxy = Proxy(command, tmp_path / "gunicorn.log", env=environment, address=gunicorn_address)
    try:
        proxy.wait_ready(workers=2)
        chat(proxy, key)
        workers = set(process_tree(proxy.process.pid)) - {proxy.process.pid}
        assert len(workers & announced_pids(proxy)) >= 2, proxy.log()[-3000:]
    finally:
        proxy.stop()


def test_usage_errors_and_exit_codes_are_litellm_s():
    environment = proxy_environment()
    plain = subprocess.run(
        [console_script("litellm"), "--no-such-flag"], capture_output=True, text=True, env=environment, timeout=300
    )
    fast = subprocess.run(
        [console_script("fast-litellm"), "proxy", "--no-such-flag"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert fast.returncode == plain.returncode == 2
    usage = [line for line in fast.stderr.splitlines() if "accelerated in process" not in line]
    assert usage == plain.stderr.splitlines() and "No such option '--no-such-flag'" in fast.stderr


def test_responses_are_the_same_as_plain_litellm(tmp_path):
    result = compare(tmp_path)
    assert result["differences"] == [], json.dumps(result["differences"], indent=1)[:6000]
    statuses = result["statuses"]
    assert statuses["chat"] == 200 and statuses["upstream 500"] >= 500
    assert statuses["sk-check-rpm #4"] == 429 and statuses["sk-check-tpm #4"] == 429
    assert statuses["no key"] == 401


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_announcing_is_off_without_the_variable(tmp_path):
    environment = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    environment.pop("FAST_LITELLM_ANNOUNCE", None)
    completed = subprocess.run(
        [sys.executable, "-c", "import fast_litellm, litellm; print('done')"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert completed.returncode == 0 and "accelerated in process" not in completed.stderr
