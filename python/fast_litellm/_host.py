"""The host fingerprint a calibrated policy is tied to."""

from __future__ import annotations

import importlib.metadata
import os
import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def fingerprint() -> dict[str, object]:
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count() or 1,
        "python": platform.python_version(),
        "litellm": _version("litellm"),
        "fast_litellm": _version("fast-litellm"),
    }


def mismatches(recorded: dict[str, object], current: dict[str, object]) -> list[str]:
    """Fields on which a policy's host differs from this one."""
    return [
        f"{key}: policy {recorded.get(key)!r}, this host {value!r}"
        for key, value in current.items()
        if recorded.get(key) != value
    ]
