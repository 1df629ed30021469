"""LiteLLM's proxy with fast_litellm active in every worker process, and how workers say so.

`fast-litellm proxy [litellm arguments]` runs LiteLLM's own proxy command (`litellm`) in this
process, after `import fast_litellm`, with the same arguments, exit codes and signals. Workers
get fast_litellm too:

- uvicorn `--num_workers N` starts workers with multiprocessing's *spawn*: each worker runs this
  process's main script again as `__mp_main__`, i.e. the `fast-litellm` console script, which
  imports `fast_litellm.cli` and with it `fast_litellm` (it does not import LiteLLM, so a worker
  still answers uvicorn's first health ping in time);
- `--run_gunicorn` (and gunicorn's `--preload`) loads the app here and forks: workers inherit
  the patched LiteLLM, and fast_litellm's native state is renewed in each child.

With `FAST_LITELLM_ANNOUNCE=1` (the launcher sets it; the environment reaches every worker),
each process that has LiteLLM patched logs one line to stderr and leaves a small JSON file that
`fast-litellm status` lists while the process lives. People who start the proxy their own way
set it themselves (see the README).
"""

from __future__ import annotations

import codecs
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ANNOUNCE_ENV = "FAST_LITELLM_ANNOUNCE"


def run(argv: list[str]) -> int:
    """Run LiteLLM's proxy CLI with `argv`; returns (or exits with) its exit code."""
    os.environ[ANNOUNCE_ENV] = "1"
    _resolve_codecs_before_fork()
    # This module is part of fast_litellm: importing it imported (and activated) the package, so
    # LiteLLM is patched as the CLI imports it, here and in every worker.
    from litellm.proxy.proxy_cli import run_server

    # Click's standalone mode: the same usage errors, exit codes and messages as `litellm`.
    return run_server.main(args=argv, prog_name="litellm", standalone_mode=True)


def _resolve_codecs_before_fork() -> None:
    """Look up the ascii codec now, while this process has one thread.

    Under `--run_gunicorn`, LiteLLM 1.110.2 starts its query-engine reaper thread in the arbiter,
    whose first scan opens /proc files with `encoding="ascii"` and so imports `encodings.ascii`.
    A worker forked while that import runs inherits the module's import lock held by a thread it
    does not have, and deadlocks at start-up the first time it needs the codec (tzlocal reads
    /etc/timezone as ascii): it never serves. Looked up beforehand, the codec is in the codec
    registry's cache, and neither the reaper nor any worker imports it again.
    """
    codecs.lookup("ascii")


def announce_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "fast-litellm"
    return Path(tempfile.gettempdir()) / f"fast-litellm-{os.getuid()}"


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (tells a live process from a reused pid)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[19]  # field 22 of stat, counting from the one after the command name


def announcing() -> bool:
    """Whether FAST_LITELLM_ANNOUNCE is set: this process runs (or will run) LiteLLM's proxy."""
    return os.environ.get(ANNOUNCE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def announce(current_status: Callable[[], dict[str, Any]]) -> None:
    """With FAST_LITELLM_ANNOUNCE set: log that this process runs LiteLLM accelerated, and record
    it for `fast-litellm status`."""
    if not announcing():
        return
    status = current_status()
    pid = os.getpid()
    targets = status["targets"]
    patched = [target for target in targets if target["state"] == "patched"]
    bindings = sum(len(target["bindings"]) for target in patched)
    modes = ", ".join(f"{name}={component['mode']}" for name, component in status["components"].items())
    sys.stderr.write(
        f"fast-litellm {status['fast_litellm_version']}: LiteLLM {status['litellm_version']} accelerated in "
        f"process {pid} ({len(patched)}/{len(targets)} targets patched; modes {modes})\n"
    )
    record = {
        "pid": pid,
        "ppid": os.getppid(),
        "process_start": _process_start(pid),
        "announced_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "argv": sys.argv,
        "fast_litellm_version": status["fast_litellm_version"],
        "litellm_version": status["litellm_version"],
        "targets_patched": len(patched),
        "targets": len(targets),
        "bindings": bindings,
        "modes": {name: component["mode"] for name, component in status["components"].items()},
    }
    try:
        directory = announce_dir()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = directory / f".proxy-{pid}.json.tmp"
        temporary.write_text(json.dumps(record), encoding="utf-8")
        os.replace(temporary, directory / f"proxy-{pid}.json")
    except OSError as error:  # announcing must never stop a worker
        sys.stderr.write(f"fast-litellm: could not record process {pid} in {announce_dir()}: {error}\n")


def accelerated_processes() -> list[dict[str, Any]]:
    """The live processes that announced themselves (stale records are removed)."""
    found = []
    for path in sorted(announce_dir().glob("proxy-*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if record.get("process_start") != _process_start(int(record.get("pid", -1))):
            path.unlink(missing_ok=True)  # that process is gone (or its pid was reused)
            continue
        found.append(record)
    return found
