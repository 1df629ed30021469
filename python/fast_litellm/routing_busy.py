"""The routing component's least-busy pick: its per-deployment pass native.

`LeastBusyLoggingHandler._select` (LiteLLM 1.110.2, `least-busy`), which the sync and async picks
both call, is replaced on its class. Under LiteLLM's reservations lock it takes the same steps in
the same order: the handler's clock, this worker's (or the shared) in-flight counts, then per
deployment the reservation store read, its validation and the unexpired picks, and the first
least busy position (`_native.least_busy_pass`: values LiteLLM itself stored skip the pydantic
adapter, whose answer for them equals them), then the reservation of the pick when asked.
While the handler's `_live_reservations` or one of the module's reservation helpers is replaced,
or the ids are not strs, LiteLLM's method runs.

The module's `_deployment_ids` (both picks call it first) validates every deployment with
pydantic to read `model_info.id`: for a list of dicts whose `model_info` is a dict with a str
`id`, the ids are read natively (`_native.plain_deployment_ids`, the same strs pydantic returns);
anything else goes to LiteLLM's function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from fast_litellm import _native
from fast_litellm.routing import COMPONENT, globals_as_found

MODULE: Final = "litellm.router_strategy.least_busy"
TARGET: Final = "LeastBusyLoggingHandler._select"
IDS_TARGET: Final = "_deployment_ids"
_HELPER_NAMES: Final = ("_picks", "_unexpired", "_reservation_key", "_least_busy_index")

_module: Any = None
_original: Any = None
_original_live_reservations: Any = None
_original_deployment_ids: Any = None
_helpers: tuple[Any, ...] = ()


def targets() -> list[tuple[str, str, Any]]:
    """(module, attribute, replacement) of each replaced function."""
    return [(MODULE, TARGET, least_busy_select), (MODULE, IDS_TARGET, deployment_ids)]


def install() -> None:
    from litellm.router_strategy import least_busy

    global _module, _original, _original_live_reservations, _original_deployment_ids, _helpers
    _module = least_busy
    handler = vars(least_busy.LeastBusyLoggingHandler)
    _original, _original_live_reservations = handler["_select"], handler["_live_reservations"]
    _original_deployment_ids = least_busy._deployment_ids
    _helpers = tuple(getattr(least_busy, name) for name in _HELPER_NAMES)


def deployment_ids(healthy_deployments: Sequence[Mapping[str, object]]) -> tuple[str, ...]:
    if type(healthy_deployments) is list and COMPONENT.wants_native("least_busy", len(healthy_deployments)):
        ids = _native.plain_deployment_ids(healthy_deployments)
        if ids is not None:
            return tuple(ids)
    return _original_deployment_ids(healthy_deployments)  # type: ignore[no-any-return]


def _is_litellms(handler: Any, deployment_ids: object) -> bool:
    return (
        type(deployment_ids) is tuple
        and all(type(id_) is str for id_ in deployment_ids)
        and type(handler)._live_reservations is _original_live_reservations
        and globals_as_found(_module, _HELPER_NAMES, _helpers)
    )


def least_busy_select(
    self: Any,
    healthy_deployments: Sequence[Mapping[str, object]],
    deployment_ids: tuple[str, ...],
    keys: tuple[str, ...],
    shared: tuple[int, ...] | None,
    reserve: bool,
    call_id: str | None,
) -> Mapping[str, object] | None:
    if (
        not healthy_deployments
        or not COMPONENT.wants_native("least_busy", len(deployment_ids))
        or not _is_litellms(self, deployment_ids)
    ):
        COMPONENT.python_calls += 1
        return _original(self, healthy_deployments, deployment_ids, keys, shared, reserve, call_id)  # type: ignore[no-any-return]
    module = _module
    with module._RESERVATIONS_LOCK:
        now = self._clock()
        counts = self._this_workers_counts(keys) if shared is None else self._at_least_this_workers(keys, shared)
        if type(counts) is tuple and len(counts) == len(deployment_ids):
            live, index = _native.least_busy_pass(
                self._reservations, deployment_ids, counts, now, module._PICKS, module.SELECTION_RESERVATION_TTL_SECONDS
            )
            COMPONENT.rust_calls += 1
        else:  # counts LiteLLM's own callers never produce: its expressions, and its errors
            live = tuple(self._live_reservations(deployment_id, now) for deployment_id in deployment_ids)
            index = module._least_busy_index(tuple(count + len(r) for count, r in zip(counts, live, strict=True)))
            COMPONENT.python_calls += 1
        if reserve:
            tag = call_id if call_id is not None else module._PICK_OWNER.get()
            self._store_reservations(deployment_ids[index], (*live[index], (now, tag)))
            if tag is not None:
                self._record_pick(tag, deployment_ids[index])
    return healthy_deployments[index]
