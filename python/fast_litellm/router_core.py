"""The routing component's second part: the per-candidate Python glue of LiteLLM's router core.

LiteLLM 1.110.2's `Router` is a facade over its own native core (`litellm/router_rust`); on
every pick of every strategy (simple-shuffle included), its Python side converts each candidate
deployment again (`RustCore._strategy_inputs`, ~2.5 µs per candidate) and parses one cooldown key
per candidate (`routing_stores._cooldown_ids`); its async pick also reads the group's stored
entries one lookup row at a time (`HostRegistry._rows`), and its pre-call checks and filters
convert the candidates once more (`RustCore._records_of`). These are replaced:

* `_cooldown_ids`: the same parse natively, for lists and tuples of strs;
* `_strategy_inputs` and `_records_of`: the same steps, with the candidates' records converted
  once per registry version (LiteLLM's own model list re-reads the registry by the same version)
  and handed out as fresh deep copies (`_native.deployment_records`);
* `_rows`: rows of the common `{"at": position}` form read natively, the same entries returned.

LiteLLM's code runs in `python` mode, while `as_str_mapping` or `_as_list` are replaced (mocks),
and for records or keys of other types.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Final

from fast_litellm import _native
from fast_litellm.routing import COMPONENT

CORE_MODULE: Final = "litellm.router_rust.core"
STORES_MODULE: Final = "litellm.router_rust.routing_stores"
STRATEGY_INPUTS_TARGET: Final = "RustCore._strategy_inputs"
RECORDS_OF_TARGET: Final = "RustCore._records_of"
COOLDOWN_IDS_TARGET: Final = "_cooldown_ids"
REGISTRY_MODULE: Final = "litellm.router_rust.surface.registry"
ROWS_TARGET: Final = "HostRegistry._rows"

_UNHANDLED: Final = object()


class GlueCalls:
    """Calls of the two replaced glue functions answered natively and by LiteLLM's code."""

    native = 0
    python = 0


CALLS: Final = GlueCalls()

_core: Any = None
_original_strategy_inputs: Any = None
_original_records_of: Any = None
_original_cooldown_ids: Any = None
_original_rows: Any = None
_helpers: tuple[Any, Any] = (None, None)  # LiteLLM's as_str_mapping and _as_list
# Per RustCore: (handle, registry version, {id: record as the handle converted it}).
_records: weakref.WeakKeyDictionary[Any, tuple[Any, int, dict[str, Any]]] = weakref.WeakKeyDictionary()


def targets() -> list[tuple[str, str, Any]]:
    """(module, attribute, replacement) of each replaced glue function."""
    return [
        (CORE_MODULE, STRATEGY_INPUTS_TARGET, strategy_inputs),
        (CORE_MODULE, RECORDS_OF_TARGET, records_of),
        (STORES_MODULE, COOLDOWN_IDS_TARGET, cooldown_ids),
        (REGISTRY_MODULE, ROWS_TARGET, rows),
    ]


def install() -> None:
    global _core, _original_strategy_inputs, _original_records_of, _original_cooldown_ids, _original_rows, _helpers
    from litellm.router_rust import core, routing_stores
    from litellm.router_rust.surface import registry

    _core = core
    _original_strategy_inputs = vars(core.RustCore)["_strategy_inputs"]
    _original_records_of = vars(core.RustCore)["_records_of"]
    _original_cooldown_ids = routing_stores._cooldown_ids
    _helpers = (core.as_str_mapping, core._as_list)
    _original_rows = vars(registry.HostRegistry)["_rows"]


def release() -> None:
    _records.clear()


def cooldown_ids(keys: Sequence[str]) -> tuple[str, ...] | None:
    if COMPONENT.wants_native("candidates", len(keys) if isinstance(keys, list | tuple) else 0):
        answer = _native.cooldown_ids(keys, _UNHANDLED)
        if answer is not _UNHANDLED:
            CALLS.native += 1
            return answer  # type: ignore[no-any-return]
    CALLS.python += 1
    return _original_cooldown_ids(keys)  # type: ignore[no-any-return]


def rows(self: Any, rows: object) -> Any:
    if COMPONENT.wants_native("candidates", len(rows) if type(rows) is list else 0):
        answer = _native.registry_rows(self._core_model_list, rows, _UNHANDLED)
        if answer is not _UNHANDLED:
            CALLS.native += 1
            return answer
    CALLS.python += 1
    return _original_rows(self, rows)


def _records_for(core: Any, handle: Any) -> dict[str, Any]:
    # The version is read before any record, so a record converted after a change is never
    # kept under a newer version than its own.
    version = handle.registry_version()
    entry = _records.get(core)
    if entry is None or entry[0] is not handle or entry[1] != version:
        entry = (handle, version, {})
        _records[core] = entry
    return entry[2]


def records_of(self: Any, ids: object) -> list[dict[str, object]]:
    """`RustCore._records_of`: the deployment dicts the pre-call filters and checks take, by the
    same conversion as a strategy's candidates."""
    as_str_mapping, as_list = _helpers
    if (
        type(ids) is list
        and _core.as_str_mapping is as_str_mapping
        and _core._as_list is as_list
        and COMPONENT.wants_native("candidates", len(ids))
    ):
        handle = self._handle
        records = _native.deployment_records(handle, ids, _records_for(self, handle))
        if records is not None:
            CALLS.native += 1
            return records  # type: ignore[no-any-return]
    CALLS.python += 1
    return _original_records_of(self, ids)  # type: ignore[no-any-return]


def strategy_inputs(self: Any, step: Mapping[str, object], request: Mapping[str, object]) -> Any:
    ids = step.get("candidates")
    as_str_mapping, as_list = _helpers
    if (
        step.get("stage") != "strategy"
        or step.get("records") is not None
        or type(ids) is not list
        or _core.as_str_mapping is not as_str_mapping
        or _core._as_list is not as_list
        or not COMPONENT.wants_native("candidates", len(ids))
    ):
        CALLS.python += 1
        return _original_strategy_inputs(self, step, request)
    # LiteLLM's steps in LiteLLM's order; only the candidates' conversion differs.
    strategy = str(step.get("strategy"))
    group = step.get("group")
    selector = self._selectors.selector_for(
        strategy, str(step.get("scope")), str(group) if group is not None else None, request
    )
    handle = self._handle
    candidates = _native.deployment_records(handle, ids, _records_for(self, handle))
    if candidates is None:  # an id or a record of another type: converted as LiteLLM does
        CALLS.python += 1
        candidates = [dict(as_str_mapping(handle.deployment(str(id_))) or {}) for id_ in as_list(ids)]
    else:
        CALLS.native += 1
    return strategy, selector, str(step.get("model")), candidates
