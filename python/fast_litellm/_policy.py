"""Selector policy: loading, validation and application to the components.

Where it comes from, in order: `FAST_LITELLM_POLICY=path`, the default location
(`$XDG_CONFIG_HOME/fast-litellm/policy.yaml`, else `~/.config/fast-litellm/policy.yaml`), else
the shipped conservative default. A policy that is missing, unreadable, invalid or measured on
another host never breaks import: the shipped default applies and `status()` says why.

The shipped default sends every supported token-counting payload to native (measured on 2-core
x86_64 hosts, native wins from the smallest input up; see README) and keeps the components that
have no native implementation on Python.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fast_litellm import _host, _native
from fast_litellm._component import Component

SHIPPED_DEFAULT: dict[str, dict[str, int | None]] = {
    "tokens": {"text": 0, "messages": 0, "other": 0},
    "cache": {},
    "rate_limit": {},
    "routing": {},
}


def default_path(environ: Mapping[str, str] = os.environ) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "fast-litellm" / "policy.yaml"


def read_policy(path: Path) -> dict[str, Any]:
    """Parse and validate a policy file (ValueError / OSError with a clear message)."""
    text = path.read_text(encoding="utf-8")
    return json.loads(_native.policy_yaml_to_json(text))


def write_policy(path: Path, policy: dict[str, Any]) -> None:
    """Validate and write atomically (a reader never sees half a file)."""
    text = _native.policy_json_to_yaml(json.dumps(policy))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def apply_shipped_default(components: Mapping[str, Component]) -> None:
    for name, component in components.items():
        component.thresholds = dict(SHIPPED_DEFAULT.get(name, {}))
        component.thresholds_source = "shipped default"


def load_into(components: Mapping[str, Component], environ: Mapping[str, str]) -> dict[str, Any]:
    """Apply the policy to `components`; return what status() reports about it."""
    for component in components.values():
        if component.mode_source == "policy":  # a previous policy's mode: this load decides again
            component.mode, component.mode_source = "auto", "default"
    apply_shipped_default(components)
    explicit = environ.get("FAST_LITELLM_POLICY")
    path = Path(explicit) if explicit else default_path(environ)
    info: dict[str, Any] = {"source": "shipped default", "path": str(path), "problems": [], "measured_at": None}
    if not path.exists():
        if explicit:
            info["problems"].append(f"FAST_LITELLM_POLICY={explicit} does not exist")
        else:
            info["problems"].append(f"no calibrated policy at {path} (run `fast-litellm calibrate`)")
        return info
    try:
        policy = read_policy(path)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        info["problems"].append(f"{path}: {error}")
        return info
    foreign = _host.mismatches(policy["host"], _host.fingerprint())
    if foreign:
        info["problems"].append(f"{path} was measured on another host or version: " + "; ".join(foreign))
        return info
    for name, settings in policy["components"].items():
        component = components.get(name)
        if component is None:
            continue
        component.thresholds = {**SHIPPED_DEFAULT.get(name, {}), **settings["thresholds"]}
        component.thresholds_source = f"calibrated {policy['measured_at']}"
        if component.mode_source == "default":
            component.mode = settings["mode"]
            component.mode_source = "policy"
        component.rollout_percent = float(settings["rollout_percent"])
    info.update(source="calibrated", measured_at=policy["measured_at"], quick=policy.get("quick", False))
    return info
