"""The routing component's cost-based pick: its pass over the cost map native.

`LowestCostLoggingHandler.async_get_available_deployments` (LiteLLM 1.110.2, `cost-based-routing`)
is replaced on its class. The replacement runs under the service target LiteLLM's decorator sets
and takes the same steps in the same order: the router cache read of the cost map, the minute key
from three `datetime.now()` calls, healthy deployments not yet in the map added to it, the
request's token count, the pass over the map (`_native.lowest_cost_candidates`: deployments
indexed by id instead of LiteLLM's scan of every deployment per entry; the debug log called per
entry as LiteLLM calls it; the cost-map rates of plain deployments and rows read natively, while
LiteLLM's `_deployment_cost_map_rates` and every helper it reaches are its own, and LiteLLM's
function called otherwise), then the stable sort by cost. Module
globals are looked up where LiteLLM looks them up, so mocks apply. While the deployments are not
plain dicts with str ids, LiteLLM's method runs.
"""

from __future__ import annotations

import operator
from typing import Any, Final

from fast_litellm import _native
from fast_litellm.routing import COMPONENT, globals_as_found, request_tokens

MODULE: Final = "litellm.router_strategy.lowest_cost"
TARGET: Final = "LowestCostLoggingHandler.async_get_available_deployments"
_COST: Final = operator.itemgetter(1)

# The globals `_deployment_cost_map_rates` reaches, per module: read natively only while each is
# the object found at install.
_RATES_GLOBALS: Final = (
    "_deployment_cost_map_rates", "str_keyed", "_cost_map", "deployment_pricing_models",
    "_declares_token_price", "_as_rate", "litellm",
)  # fmt: skip
_PRICING_GLOBALS: Final = ("str_keyed", "pricing_models", "_named_models", "_STR_KEYED", "_EMPTY")

_module: Any = None
_context: Any = None
_original: Any = None
_pricing: Any = None
_rates_helpers: tuple[Any, ...] = ()
_pricing_helpers: tuple[Any, ...] = ()


def install() -> None:
    from litellm import _internal_context
    from litellm.litellm_core_utils import deployment_pricing
    from litellm.router_strategy import lowest_cost

    global _module, _context, _original, _pricing, _rates_helpers, _pricing_helpers
    _module, _context, _pricing = lowest_cost, _internal_context, deployment_pricing
    _original = vars(lowest_cost.LowestCostLoggingHandler)["async_get_available_deployments"]
    _rates_helpers = tuple(getattr(lowest_cost, name) for name in _RATES_GLOBALS)
    _pricing_helpers = tuple(getattr(deployment_pricing, name) for name in _PRICING_GLOBALS)


def _model_cost_if_helpers_are_litellms() -> dict | None:
    """`litellm.model_cost` when the rates may be read natively (None: LiteLLM's function)."""
    unchanged = globals_as_found(_module, _RATES_GLOBALS, _rates_helpers) and globals_as_found(
        _pricing, _PRICING_GLOBALS, _pricing_helpers
    )
    model_cost = getattr(vars(_module)["litellm"], "model_cost", None) if unchanged else None
    return model_cost if type(model_cost) is dict else None


async def lowest_cost_pick(
    self: Any,
    model_group: str,
    healthy_deployments: list,
    messages: list[dict[str, str]] | None = None,
    input: str | list | None = None,  # noqa: A002  (LiteLLM's parameter name)
    request_kwargs: dict | None = None,
) -> Any:
    ids = (
        _native.plain_deployment_ids(healthy_deployments)
        if type(healthy_deployments) is list and COMPONENT.wants_native("cost", len(healthy_deployments))
        else None
    )
    if ids is None:
        COMPONENT.python_calls += 1
        return await _original(self, model_group, healthy_deployments, messages, input, request_kwargs)
    module = _module
    with _context.service_target(module.ROUTER_USAGE_TARGET):
        cost_map = await self.router_cache.async_get_cache(key=f"cost_map:{model_group}") or {}
        now = module.datetime.now
        day, hour, minute = now().strftime("%Y-%m-%d"), now().strftime("%H"), now().strftime("%M")
        precise_minute = f"{day}-{hour}-{minute}"
        for id_ in ids:
            if id_ not in cost_map:
                cost_map[id_] = {precise_minute: {"tpm": 0, "rpm": 0}}
        input_tokens = request_tokens(module, messages, input, healthy_deployments)
        potential = _native.lowest_cost_candidates(
            healthy_deployments,
            ids,
            cost_map,
            precise_minute,
            input_tokens,
            module._deployment_cost_map_rates,
            module.verbose_router_logger.debug,
            _model_cost_if_helpers_are_litellms(),
        )
        COMPONENT.rust_calls += 1
        if len(potential) == 0:
            return None
        return sorted(potential, key=_COST)[0][0]
