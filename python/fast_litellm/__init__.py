"""fast-litellm: drop-in Rust acceleration for LiteLLM's hot paths.

`import fast_litellm` (before or after `import litellm`) replaces LiteLLM's token counting with
native code that returns the same answers; each call is routed to native or Python by its
component's mode (`FAST_LITELLM_<COMPONENT>` / `set_mode`). `FAST_LITELLM_DISABLE=1` patches
nothing; `unpatch()` restores every original binding.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from typing import Any

from fast_litellm import (
    _native,
    _policy,
    cache,
    limiter,
    proxy,
    router_core,
    routing,
    routing_busy,
    routing_cost,
    routing_usage,
    tokens,
)
from fast_litellm._component import COMPONENTS, MODES, Component, parse_mode
from fast_litellm._patching import ComponentPatch, Patcher, Target

__all__ = [
    "patch", "unpatch", "set_mode", "get_mode", "reload_policy", "status", "stats", "reset_stats",
    "COMPONENTS", "MODES",
]  # fmt: skip
__version__ = importlib.metadata.version("fast-litellm")

_OWN_COMPONENTS = {
    "tokens": tokens.COMPONENT,
    "cache": cache.COMPONENT,
    "rate_limit": limiter.COMPONENT,
    "routing": routing.COMPONENT,
}
_components: dict[str, Component] = {name: _OWN_COMPONENTS.get(name) or Component(name) for name in COMPONENTS}


def _prepare_routing() -> None:
    # LiteLLM imports the strategies' modules only when a router uses them; importing them here
    # (after LiteLLM itself has loaded) lets the patch complete and the import hook go.
    routing.install()
    routing_usage.install()
    routing_usage.install_v2()
    routing_busy.install()
    routing_cost.install()
    router_core.install()


_patcher = Patcher(
    on_patched=lambda: proxy.announce(status),
    proxy_process=proxy.announcing,
    patches=[
        ComponentPatch(
            component="tokens",
            prepare=tokens.install,
            release=tokens.release,
            targets=[
                Target("tokens", "litellm.utils", "token_counter", tokens.wrapper_token_counter),
                Target("tokens", "litellm.litellm_core_utils.token_counter", "token_counter", tokens.token_counter),
                Target("tokens", "litellm.utils", "encode", tokens.encode),
                Target("tokens", "litellm.utils", "decode", tokens.decode),
            ],
        ),
        ComponentPatch(
            component="cache",
            prepare=cache.install,
            targets=[
                *(Target("cache", cache.MODULE, f"DualCache.{name}", getattr(cache, name)) for name in cache.METHODS),
                *(
                    Target("cache", cache.STORE_MODULE, f"InMemoryCache.{name}", getattr(cache, f"store_{name}"))
                    for name in cache.STORE_METHODS
                ),
                Target("cache", cache.CLIENT_MODULE, "LLMClientCache.get_cache", cache.client_get_cache),
            ],
        ),
        ComponentPatch(
            component="rate_limit",
            prepare=limiter.install,
            proxy_only=True,
            targets=[
                Target("rate_limit", limiter.MODULE, limiter.TARGET, limiter.should_rate_limit),
                Target(
                    "rate_limit",
                    limiter.MODULE,
                    limiter.RELEASE_TARGET,
                    limiter.release_parallel_request_slots_in_memory,
                ),
                Target(
                    "rate_limit",
                    limiter.MODULE,
                    limiter.ATOMIC_TARGET,
                    limiter.atomic_check_and_increment_in_memory,
                ),
                Target(
                    "rate_limit",
                    limiter.MODULE,
                    limiter.RESERVE_TARGET,
                    limiter.atomic_check_and_increment_by_n,
                ),
            ],
        ),
        ComponentPatch(
            component="routing",
            prepare=_prepare_routing,
            release=router_core.release,
            after=frozenset({"litellm"}),
            targets=[
                Target("routing", module, name, replacement)
                for module, name, replacement in [
                    (routing.MODULE, routing.TARGET, routing.lowest_latency_pick),
                    *routing_usage.targets(),
                    *routing_busy.targets(),
                    (routing_cost.MODULE, routing_cost.TARGET, routing_cost.lowest_cost_pick),
                    *router_core.targets(),
                ]
            ],
        ),
    ],
)

_DISABLED = os.environ.get("FAST_LITELLM_DISABLE", "").strip().lower() in ("1", "true", "yes", "on")

_policy_info = _policy.load_into(_components, os.environ)
if "FAST_LITELLM_TOKEN_CACHE_MB" in os.environ:
    try:
        tokens.configure_count_cache(float(os.environ["FAST_LITELLM_TOKEN_CACHE_MB"]))
    except ValueError as _error:
        tokens.COMPONENT.config_errors.append(
            f"FAST_LITELLM_TOKEN_CACHE_MB: {_error}; using {tokens.count_cache_mb} MB"
        )
for _each in _components.values():
    _each.configure_from_env(os.environ)


def patch() -> None:
    """Patch LiteLLM (done by `import fast_litellm`); idempotent. No-op under FAST_LITELLM_DISABLE."""
    if not _DISABLED:
        _patcher.activate()


def unpatch() -> None:
    """Restore every original LiteLLM binding and stop patching modules that load later."""
    _patcher.deactivate()


def set_mode(component: str, mode: str) -> None:
    """Set a component's mode at run time: auto, rust, python or shadow."""
    if component not in _components:
        raise ValueError(f"unknown component {component!r}; expected one of {', '.join(COMPONENTS)}")
    _components[component].mode = parse_mode(mode, f"set_mode({component!r})")
    _components[component].mode_source = "set_mode()"


def get_mode(component: str) -> str:
    """A component's current mode."""
    if component not in _components:
        raise ValueError(f"unknown component {component!r}; expected one of {', '.join(COMPONENTS)}")
    return _components[component].mode


def reload_policy() -> dict[str, Any]:
    """Read the policy again (as at import: FAST_LITELLM_POLICY, the default location, else the
    shipped default) and apply it without a restart; returns what status()["policy"] reports.
    Modes set by environment or set_mode() are kept; FAST_LITELLM_ROLLOUT_* still win."""
    global _policy_info
    info = _policy.load_into(_components, os.environ)
    for component in _components.values():
        component.configure_from_env(os.environ, modes=False)
    _policy_info = info
    return dict(info)


def stats() -> dict[str, dict[str, object]]:
    """Per component: calls on rust / python, fallbacks, shadow mismatches, latency percentiles."""
    result = {name: component.stats() for name, component in _components.items()}
    result["tokens"]["calls_rust"] += tokens.FAST_PATH.calls  # counted by the native fast path
    result["tokens"]["fast_path_panics"] = tokens.FAST_PATH.panics
    result["tokens"]["count_cache"] = _native.count_cache_stats()
    result["cache"]["dual_cache_front_calls"] = cache.FRONT.calls
    glue = router_core.CALLS
    result["routing"]["router_core_glue_calls"] = {"rust": glue.native, "python": glue.python}
    return result


def reset_stats() -> None:
    for component in _components.values():
        component.reset_stats()
    tokens.FAST_PATH.reset_calls()
    cache.FRONT.calls = 0
    router_core.CALLS.native = router_core.CALLS.python = 0


def status() -> dict[str, Any]:
    """What is true right now: versions, every patch target and why, modes, thresholds, policy."""
    targets = [
        {
            "component": target.component,
            "target": target.qualified_name,
            "state": "skipped" if _DISABLED else target.state,
            "reason": "FAST_LITELLM_DISABLE is set" if _DISABLED else target.reason,
            "bindings": list(target.bindings),
        }
        for target in _patcher.targets()
    ]
    components = {}
    for name, component in _components.items():
        components[name] = {
            "mode": component.mode,
            "mode_source": component.mode_source,
            "native_available": name != "cache" or cache.STORE.ops is not None,
            "rollout_percent": component.rollout_percent,
            "thresholds": dict(component.thresholds),
            "thresholds_source": component.thresholds_source,
            "config_errors": list(component.config_errors),
        }
    return {
        "fast_litellm_version": __version__,
        "litellm_version": _litellm_version(),
        "litellm_imported": "litellm" in sys.modules,
        "disabled": _DISABLED,
        "patching_active": _patcher.active,
        "targets": targets,
        "components": components,
        "policy": dict(_policy_info),
        "token_settings": {
            "chunk_chars": tokens.chunk_chars(),
            "max_exact_chars": tokens.max_exact_chars(),
            "native_encodings": list(tokens.NATIVE_ENCODINGS),
            "count_cache_mb": tokens.count_cache_mb,
            "litellm_internals_replaced": list(tokens.internals_replaced),
        },
    }


def _litellm_version() -> str | None:
    try:
        return importlib.metadata.version("litellm")
    except importlib.metadata.PackageNotFoundError:
        return None


def _after_fork_in_child() -> None:
    _patcher.after_fork_in_child()
    for component in _components.values():
        component.breaker.after_fork_in_child()
    if _patcher.active and any(target.state == "patched" for target in _patcher.targets()):
        proxy.announce(status)  # a forked worker (gunicorn --preload) is a process of its own


os.register_at_fork(after_in_child=_after_fork_in_child)
patch()
