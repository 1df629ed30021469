"""Starting, watching and stopping the processes of a proxy benchmark run (Linux: reads /proc)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def tool(name: str) -> Path:
    """A binary of the benchmark's Rust crate (built in release mode on first use)."""
    path = ROOT / "target" / "release" / name
    if not path.exists():
        subprocess.run(
            ["cargo", "build", "--release", "--quiet", "-p", "fast-litellm-proxy-bench"], cwd=ROOT, check=True
        )
    return path


def console_script(name: str) -> str:
    """`litellm` / `fast-litellm` of this Python environment."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed in this environment")
    return found


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Upstream:
    """The mock OpenAI upstream, in a process of its own."""

    def __init__(self, latency_ms: int = 0) -> None:
        self.process = subprocess.Popen(
            [str(tool("mock-upstream")), "--port", "0", "--latency-ms", str(latency_ms)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"mock upstream did not start: {line!r}")
        self.port = int(line.split()[-1])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def litellm_address(port: int) -> list[str]:
    return ["--port", str(port), "--host", "127.0.0.1"]


def gunicorn_address(port: int) -> list[str]:
    return ["--bind", f"127.0.0.1:{port}"]


class Proxy:
    """A LiteLLM proxy (`litellm`, `fast-litellm proxy`, or a server's own command line) in its
    own process group, on a free port (`address` turns it into the command's arguments)."""

    def __init__(
        self,
        command: Sequence[str],
        log_path: Path,
        env: dict[str, str],
        address: Callable[[int], list[str]] = litellm_address,
    ) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log: IO[bytes] = open(log_path, "wb")  # noqa: SIM115  # closed by stop()
        self.process = subprocess.Popen(
            [*command, *address(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, workers: int, timeout: float = 300.0) -> None:
        """Until the proxy answers and every worker has started its app."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"proxy exited with {self.process.returncode}; see {self.log_path}")
            if self._answers() and self.log().count("Application startup complete") >= workers:
                return
            time.sleep(0.5)
        raise RuntimeError(f"proxy not ready after {timeout:.0f} s; see {self.log_path}\n{self.stacks()}")

    def stacks(self) -> str:
        """Each process's Python stacks (py-spy), to tell where a proxy that never got ready waits."""
        spy = shutil.which("py-spy")
        if spy is None:
            return "(py-spy is not installed: no stacks)"
        tree = self.pids()
        dumps = []
        for pid in tree:
            completed = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60)
            dumps.append(f"--- process {pid}\n{completed.stdout}{completed.stderr}")
        # A worker that never finished starting and is no longer there left no stack to dump.
        booted = {int(found) for found in re.findall(r"Booting worker with pid: (\d+)", self.log())}
        gone = sorted(booted - set(tree))
        if gone:
            dumps.append(f"--- workers booted but no longer running: {gone}")
        return "\n".join(dumps)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health/liveliness", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def pids(self) -> list[int]:
        return process_tree(self.process.pid)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def stop(self) -> int:
        """SIGTERM to the process group (as a service manager would), then SIGKILL after 30 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Workers a master left behind must not skew the next run.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()
        return self.process.returncode


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields from 3 (state) on


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def load(url: str, request_file: Path, connections: int, duration: float, warmup: float = 0.0) -> dict:
    """Run the load generator; its JSON report."""
    completed = subprocess.run(
        [
            str(tool("loadgen")),
            "--url",
            url,
            "--requests",
            str(request_file),
            "--connections",
            str(connections),
            "--duration",
            str(duration),
            "--warmup",
            str(warmup),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)
