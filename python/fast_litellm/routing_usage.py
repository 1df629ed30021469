"""The routing component's usage-based picks: v1's pass over the tpm map native, and v2's steps.

`LowestTPMLoggingHandler.get_available_deployments` (LiteLLM 1.110.2, `usage-based-routing`) is
replaced on its class. The replacement runs under the same service target as LiteLLM's decorator
puts it, and takes the same steps in the same order: the debug log lines, the minute keys from
`datetime.now()`, the router cache reads of the tpm and rpm maps, the request's token count, then
the pass over the tpm map (`_native.lowest_tpm_pick`: deployments indexed by id instead of
LiteLLM's scan of every deployment per map entry) and `print_verbose`. Module globals are looked
up where LiteLLM looks them up, so mocks apply. While the deployments are not plain dicts with
str ids, LiteLLM's method runs.

The strategy's state and its success hooks are LiteLLM's, unchanged.
"""

from __future__ import annotations

from typing import Any, Final

from fast_litellm import _native
from fast_litellm.routing import COMPONENT, request_tokens

MODULE: Final = "litellm.router_strategy.lowest_tpm_rpm"
TARGET: Final = "LowestTPMLoggingHandler.get_available_deployments"

_module: Any = None
_context: Any = None  # litellm._internal_context, whose service_target LiteLLM's decorator enters
_original: Any = None


def install() -> None:
    from litellm import _internal_context
    from litellm.router_strategy import lowest_tpm_rpm

    global _module, _context, _original
    _module, _context = lowest_tpm_rpm, _internal_context
    _original = vars(lowest_tpm_rpm.LowestTPMLoggingHandler)["get_available_deployments"]


def lowest_tpm_pick(
    self: Any,
    model_group: str,
    healthy_deployments: list,
    messages: list[dict[str, str]] | None = None,
    input: str | list | None = None,  # noqa: A002  (LiteLLM's parameter name)
) -> Any:
    ids = (
        _native.plain_deployment_ids(healthy_deployments)
        if type(healthy_deployments) is list and COMPONENT.wants_native("usage", len(healthy_deployments))
        else None
    )
    if ids is None:
        COMPONENT.python_calls += 1
        return _original(self, model_group, healthy_deployments, messages, input)
    module = _module
    with _context.service_target(module.ROUTER_USAGE_TARGET):
        logger = module.verbose_router_logger
        logger.debug(
            "get_available_deployments - Usage Based. model_group: %s, healthy_deployments: %s",
            model_group,
            healthy_deployments,
        )
        current_minute = module.datetime.now().strftime("%H-%M")
        tpm_key = f"{model_group}:tpm:{current_minute}"
        rpm_key = f"{model_group}:rpm:{current_minute}"
        tpm_map = self.router_cache.get_cache(key=tpm_key)
        rpm_map = self.router_cache.get_cache(key=rpm_key)
        logger.debug("tpm_key=%s, tpm_dict: %s, rpm_dict: %s", tpm_key, tpm_map, rpm_map)
        input_tokens = request_tokens(module, messages, input, healthy_deployments)
        logger.debug("input_tokens=%s", input_tokens)
        deployment = _native.lowest_tpm_pick(healthy_deployments, ids, tpm_map, rpm_map, input_tokens)
        COMPONENT.rust_calls += 1
        module.print_verbose("returning picked lowest tpm/rpm deployment.")
        return deployment


# Usage-based routing v2 (`usage-based-routing-v2`): `LowestTPMLoggingHandler_v2`'s counter keys
# (read by the pick and by the router's usage prefetch) and the checks after the counters are read.
V2_MODULE: Final = "litellm.router_strategy.lowest_tpm_rpm_v2"
V2_KEYS_TARGET: Final = "LowestTPMLoggingHandler_v2.usage_counter_keys"
V2_CHECKS_TARGET: Final = "LowestTPMLoggingHandler_v2._common_checks_available_deployment"

_v2: Any = None
_v2_original_keys: Any = None
_v2_original_checks: Any = None
_v2_original_potential: Any = None


def targets() -> list[tuple[str, str, Any]]:
    """(module, attribute, replacement) of each replaced method, v1 then v2."""
    return [
        (MODULE, TARGET, lowest_tpm_pick),
        (V2_MODULE, V2_KEYS_TARGET, usage_counter_keys),
        (V2_MODULE, V2_CHECKS_TARGET, usage_v2_checks),
    ]


def install_v2() -> None:
    from litellm.router_strategy import lowest_tpm_rpm_v2

    global _v2, _v2_original_keys, _v2_original_checks, _v2_original_potential
    _v2 = lowest_tpm_rpm_v2
    handler = vars(lowest_tpm_rpm_v2.LowestTPMLoggingHandler_v2)
    _v2_original_keys = handler["usage_counter_keys"]
    _v2_original_checks = handler["_common_checks_available_deployment"]
    _v2_original_potential = handler["_return_potential_deployments"]


def usage_counter_keys(self: Any, healthy_deployments: list) -> tuple[list[str], list[str]]:
    if type(healthy_deployments) is list and COMPONENT.wants_native("usage_v2", len(healthy_deployments)):
        minute = _v2.get_utc_datetime().strftime("%H-%M")
        keys = _native.usage_counter_keys(healthy_deployments, minute)
        if keys is not None:
            return keys
    return _v2_original_keys(self, healthy_deployments)  # type: ignore[no-any-return]


def usage_v2_checks(
    self: Any,
    model_group: str,
    healthy_deployments: list,
    tpm_keys: list,
    tpm_values: Any,
    rpm_keys: list,
    rpm_values: Any,
    messages: list[dict[str, str]] | None = None,
    input: str | list | None = None,  # noqa: A002  (LiteLLM's parameter name)
) -> dict | None:
    arguments = (model_group, healthy_deployments, tpm_keys, tpm_values, rpm_keys, rpm_values, messages, input)
    if tpm_values is None or rpm_values is None:
        return None
    ids = (
        _native.plain_deployment_ids(healthy_deployments)
        if type(healthy_deployments) is list
        and type(self)._return_potential_deployments is _v2_original_potential
        and COMPONENT.wants_native("usage_v2", len(healthy_deployments))
        else None
    )
    if ids is None:
        COMPONENT.python_calls += 1
        return _v2_original_checks(self, *arguments)  # type: ignore[no-any-return]
    module = _v2
    tpm_map, rpm_map = _native.usage_v2_maps(tpm_keys, tpm_values, rpm_keys, rpm_values)
    input_tokens = request_tokens(module, messages, input, healthy_deployments)
    module.verbose_router_logger.debug("input_tokens=%s", input_tokens)
    potential = _native.usage_v2_potential(healthy_deployments, ids, tpm_map, rpm_map, input_tokens)
    COMPONENT.rust_calls += 1
    module.print_verbose("returning picked lowest tpm/rpm deployment.")
    return module.random.choice(potential) if len(potential) > 0 else None  # type: ignore[no-any-return]
