"""Noticing when LiteLLM internals that a native path reproduces are replaced at run time.

Tests and applications replace LiteLLM functions to observe or change them (`mock.patch`,
`monkeypatch.setattr`, plain assignment). A native path that reproduces such a function would
bypass the replacement, so while any watched attribute is not the function LiteLLM defined,
the component sends its calls to LiteLLM's own code.

Checking identities on every call would cost more than counting a short text, so the watched
modules report assignments instead: their class becomes a subclass of their own class whose
`__setattr__` / `__delattr__` tell the watch (module class assignment is supported for module
subclasses). Writing to a module's `__dict__` directly bypasses this; `refresh()` re-checks.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType

_MISSING = object()
# Module name -> the watch that asked for it; read by the watched modules' __setattr__.
_watch_of_module: dict[str, AttributeWatch] = {}
# Original module class -> its reporting subclass (one per class, so unwatching restores it).
_reporting_class: dict[type, type] = {}


def _reporting_subclass(cls: type) -> type:
    found = _reporting_class.get(cls)
    if found is not None:
        return found

    def __setattr__(self: ModuleType, name: str, value: object) -> None:
        cls.__setattr__(self, name, value)
        _notify(self, name)

    def __delattr__(self: ModuleType, name: str) -> None:
        cls.__delattr__(self, name)
        _notify(self, name)

    found = type(cls.__name__, (cls,), {"__setattr__": __setattr__, "__delattr__": __delattr__})
    found.__module__ = cls.__module__
    _reporting_class[cls] = found
    return found


def _notify(module: ModuleType, name: str) -> None:
    watch = _watch_of_module.get(module.__name__)
    if watch is not None and name in watch.names_of(module.__name__):
        watch.refresh()


class AttributeWatch:
    """Watches named attributes of modules; `on_change(replaced)` runs when the set of replaced
    attributes may have changed, with their qualified names (empty: all are LiteLLM's again)."""

    def __init__(self, on_change: Callable[[list[str]], None]) -> None:
        self._on_change = on_change
        self._originals: dict[str, dict[str, object]] = {}
        self._modules: dict[str, ModuleType] = {}
        self.replaced: list[str] = []

    def names_of(self, module_name: str) -> Mapping[str, object]:
        return self._originals.get(module_name, {})

    def watch(self, module_names: Mapping[str, Sequence[str]]) -> None:
        """Start watching; the values the attributes have now are the originals."""
        self.unwatch()
        for module_name, names in module_names.items():
            module = sys.modules.get(module_name)
            if module is None:
                continue
            self._originals[module_name] = {name: getattr(module, name, _MISSING) for name in names}
            self._modules[module_name] = module
            _watch_of_module[module_name] = self
            cls = type(module)
            if cls not in _reporting_class.values():
                with contextlib.suppress(TypeError):  # an exotic module type: refresh() still re-checks
                    module.__class__ = _reporting_subclass(cls)
        self.refresh()

    def unwatch(self) -> None:
        """Stop watching and give the modules their own classes back."""
        for module_name, module in self._modules.items():
            if _watch_of_module.get(module_name) is self:
                del _watch_of_module[module_name]
            cls = type(module)
            original = next((base for base, sub in _reporting_class.items() if sub is cls), None)
            if original is not None:
                module.__class__ = original
        self._originals.clear()
        self._modules.clear()
        self.replaced = []

    def refresh(self) -> None:
        """Compare every watched attribute with its original and report."""
        replaced = [
            f"{module_name}.{name}"
            for module_name, originals in self._originals.items()
            for name, original in originals.items()
            if getattr(self._modules[module_name], name, _MISSING) is not original
        ]
        self.replaced = replaced
        self._on_change(replaced)
