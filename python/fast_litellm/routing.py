"""The `routing` component: latency-based routing's pick, with its per-deployment pass native.

`LowestLatencyLoggingHandler._get_available_deployments` (LiteLLM 1.110.2), which both the sync
and async picks of latency-based routing call, is replaced on its class. The replacement takes
the same steps in the same order: the minute key from three `datetime.now()` calls, deployments
not yet in the latency map added to it, the request's tokens counted, `random.sample` of the map,
the per-deployment pass (`_native.lowest_latency_candidates`: an index by id instead of LiteLLM's
scan of every deployment per candidate), then `random.choice` among the candidates within the
latency buffer and the debug map put in the request metadata. Module globals (`random`,
`datetime`, the token counter) are looked up where LiteLLM looks them up, so mocks and seeds
apply; while one of LiteLLM's three latency helpers is replaced, or the deployments are not plain
dicts with str ids, LiteLLM's method runs.

The strategy's state and its success/failure hooks are LiteLLM's, unchanged.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any, Final

from fast_litellm import _native
from fast_litellm._component import Component

COMPONENT: Final = Component("routing")
MODULE: Final = "litellm.router_strategy.lowest_latency"
TARGET: Final = "LowestLatencyLoggingHandler._get_available_deployments"
_HELPER_NAMES: Final = ("_usable_latency_samples", "_average_latency", "_percentile_latency")
_LATENCY: Final = operator.itemgetter(1)

_module: Any = None
_original: Any = None
_helpers: tuple[Any, ...] = ()


def install() -> None:
    # LiteLLM imports this module only when a router uses latency-based routing; importing it here
    # (after LiteLLM itself has loaded) lets the patch complete and the import hook go.
    from litellm.router_strategy import lowest_latency

    global _module, _original, _helpers
    _module = lowest_latency
    _original = vars(lowest_latency.LowestLatencyLoggingHandler)["_get_available_deployments"]
    _helpers = tuple(getattr(lowest_latency, name) for name in _HELPER_NAMES)


def globals_as_found(module: Any, names: tuple[str, ...], found: tuple[Any, ...]) -> bool:
    """Whether each of `names` in `module`'s namespace is still the object `found` at install
    (a mock or an assignment since makes it False)."""
    namespace = vars(module)
    return all(namespace.get(name) is value for name, value in zip(names, found, strict=True))


def _helpers_are_litellms() -> bool:
    return globals_as_found(_module, _HELPER_NAMES, _helpers)


def _litellm(self: Any, *args: Any) -> Any:
    COMPONENT.python_calls += 1
    return _original(self, *args)


def request_tokens(module: Any, messages: Any, input: Any, healthy_deployments: list) -> Any:  # noqa: A002
    """The request's token count as every strategy takes it, with the helpers of the strategy's
    module looked up at call time (mocks apply); 0 when counting fails, as LiteLLM does."""
    try:
        return module.embedding_aware_token_count(
            messages, input, module.partial(module.deployment_backend_models, healthy_deployments)
        )
    except Exception:  # LiteLLM counts 0 tokens when counting fails
        return 0


def lowest_latency_pick(
    self: Any,
    model_group: str,
    healthy_deployments: list,
    messages: list[dict[str, str]] | None = None,
    input: str | list | None = None,  # noqa: A002  (LiteLLM's parameter name)
    request_kwargs: dict | None = None,
    request_count_dict: dict | None = None,
) -> Any:
    arguments = (model_group, healthy_deployments, messages, input, request_kwargs, request_count_dict)
    if not COMPONENT.wants_native("latency", len(healthy_deployments)) or not _helpers_are_litellms():
        return _litellm(self, *arguments)
    module = _module
    now = module.datetime.now
    day, hour, minute = now().strftime("%Y-%m-%d"), now().strftime("%H"), now().strftime("%M")
    precise_minute = f"{day}-{hour}-{minute}"
    if request_count_dict is None:
        COMPONENT.rust_calls += 1
        return None
    index = _native.lowest_latency_prepare(healthy_deployments, request_count_dict, precise_minute)
    if index is None:  # not plain dicts with str ids: LiteLLM's method (it raises where it raises)
        return _litellm(self, *arguments)
    input_tokens = request_tokens(module, messages, input, healthy_deployments)
    entries = request_count_dict.items()
    sampled = module.random.sample(list(entries), len(entries))
    stream = request_kwargs is not None and request_kwargs.get("stream", None) is not None
    stream = stream and request_kwargs["stream"] is True  # type: ignore[index]
    routing_args = self.routing_args
    candidates, latency_per_deployment = _native.lowest_latency_candidates(
        sampled,
        index,
        precise_minute,
        input_tokens,
        stream,
        routing_args.ttft_percentile,
        routing_args.lowest_latency_buffer,
        (*_helpers, builtins.sum, builtins.sorted, math.ceil),
        _LATENCY,
    )
    COMPONENT.rust_calls += 1
    if not candidates:
        return None
    deployment = module.random.choice(candidates)[0]
    metadata_field = self._select_metadata_field(request_kwargs)
    if request_kwargs is not None and metadata_field in request_kwargs:
        request_kwargs[metadata_field]["_latency_per_deployment"] = latency_per_deployment
    return deployment
