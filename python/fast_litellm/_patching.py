"""Patching LiteLLM's bindings by identity, now and when modules load later.

LiteLLM's functions are bound by name in many modules (`from litellm.utils import token_counter`),
and applications do the same. Replacing the attribute on the defining module is not enough:
every module attribute that *is* the original function is replaced. When `fast_litellm` is
imported before LiteLLM, a meta-path hook waits for the defining modules to finish loading and
patches then. Once every target is patched (or skipped) the hook is removed: modules that load
later bind the replacements from the patched modules, and imports, including the ones LiteLLM
retries and fails on every request, cost what they cost without fast_litellm. `unpatch()` puts
every original back.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final


@dataclass
class Target:
    """One LiteLLM function to replace: where it is defined and what replaces it."""

    component: str
    module: str
    attribute: str
    replacement: Callable[..., Any]
    original: Callable[..., Any] | None = None
    state: str = "pending"  # pending | patched | skipped | unpatched
    reason: str = "waiting for its module to be imported"
    bindings: list[str] = field(default_factory=list)

    @property
    def qualified_name(self) -> str:
        return f"{self.module}.{self.attribute}"


@dataclass
class ComponentPatch:
    """The targets of one component, prepared once all of its defining modules have loaded."""

    component: str
    targets: Sequence[Target]
    prepare: Callable[[], None]  # binds originals inside the component; may raise
    release: Callable[[], None] = lambda: None  # undoes prepare() when unpatching
    # Patch once these have loaded, instead of the targets' modules; prepare() imports those
    # (for targets LiteLLM imports lazily: a pending target would keep the import hook).
    after: frozenset[str] | None = None
    # Targets only LiteLLM's proxy imports: waited for in proxy processes (`proxy_process`), and
    # skipped in others once LiteLLM has loaded, so an SDK process keeps no import hook (a hook
    # doubles the cost of the imports LiteLLM retries and fails on every request).
    proxy_only: bool = False

    @property
    def required_modules(self) -> frozenset[str]:
        return self.after if self.after is not None else frozenset(target.module for target in self.targets)


_NOT_A_PROXY: Final = (
    "LiteLLM's proxy was not loaded with LiteLLM in this process (proxy processes started other than by "
    "`fast-litellm proxy` or `fast_litellm.proxy_app` set FAST_LITELLM_ANNOUNCE=1)"
)


def _is_litellm_module(name: str) -> bool:
    return name == "litellm" or name.startswith("litellm.")


class Patcher:
    def __init__(
        self,
        patches: Sequence[ComponentPatch],
        on_patched: Callable[[], None] = lambda: None,
        proxy_process: Callable[[], bool] = lambda: False,
    ) -> None:
        self._patches = list(patches)
        self._on_patched = on_patched  # called once no target waits any more and some are patched
        self._proxy_process = proxy_process  # whether LiteLLM's proxy runs (or will) in this process
        self._proxy_expected = False  # said so by expect_proxy()
        self._lock = threading.RLock()
        self._active = False
        self._hook: _ImportHook | None = None
        # id(original) -> replacement, and id(replacement) -> original, for identity walks.
        self._replacement_for: dict[int, Callable[..., Any]] = {}
        self._original_for: dict[int, Callable[..., Any]] = {}

    @property
    def active(self) -> bool:
        return self._active

    def after_fork_in_child(self) -> None:
        """A forked child has only the forking thread: a lock another thread held is dead."""
        self._lock = threading.RLock()

    def targets(self) -> list[Target]:
        return [target for patch in self._patches for target in patch.targets]

    def activate(self) -> None:
        with self._lock:
            if self._active:
                return
            self._active = True
            for target in self.targets():
                if target.state == "unpatched":  # patched again: waits for its module like at first
                    target.state, target.reason = "pending", "waiting for its module to be imported"
            for patch in self._patches:
                self._try_patch_component(patch)
            self._skip_proxy_only_outside_the_proxy()
            if self._pending():
                self._hook = _ImportHook(self._module_loaded)
                sys.meta_path.insert(0, self._hook)
            else:
                self._done()

    def expect_proxy(self) -> None:
        """LiteLLM's proxy is about to load here: wait for the proxy-only targets skipped before."""
        with self._lock:
            self._proxy_expected = True
            if not self._active:
                return
            for patch in self._patches:
                for target in patch.targets:
                    if patch.proxy_only and target.state == "skipped" and target.reason == _NOT_A_PROXY:
                        target.state, target.reason = "pending", "waiting for its module to be imported"
                self._try_patch_component(patch)
            if self._pending() and self._hook is None:
                self._hook = _ImportHook(self._module_loaded)
                sys.meta_path.insert(0, self._hook)

    def _skip_proxy_only_outside_the_proxy(self, litellm_just_loaded: bool = False) -> None:
        litellm = sys.modules.get("litellm")
        if litellm is None or not (litellm_just_loaded or _finished_loading(litellm)):
            return
        if self._proxy_expected or self._proxy_process():
            return
        for patch in self._patches:
            for target in patch.targets:
                if patch.proxy_only and target.state == "pending" and target.module not in sys.modules:
                    target.state, target.reason = "skipped", _NOT_A_PROXY

    def _pending(self) -> bool:
        return any(target.state == "pending" for target in self.targets())

    def _remove_hook(self) -> None:
        if self._hook is not None and self._hook in sys.meta_path:
            sys.meta_path.remove(self._hook)
        self._hook = None

    def deactivate(self) -> None:
        with self._lock:
            if not self._active:
                return
            self._active = False
            self._remove_hook()
            self._walk_modules(self._original_for, list(sys.modules.items()), restore=True)
            for target in self.targets():
                owner, name = _owner_of(sys.modules.get(target.module), target)
                if owner is not None and target.state == "patched" and vars(owner).get(name) is target.replacement:
                    setattr(owner, name, target.original)
            for patch in self._patches:
                if any(target.state == "patched" for target in patch.targets):
                    patch.release()
            for target in self.targets():
                if target.state == "patched":
                    target.state, target.reason = "unpatched", "unpatch() restored the original"
                    target.bindings.clear()
                elif target.state == "pending":  # e.g. the proxy's limiter in an SDK-only process
                    target.state, target.reason = "unpatched", "unpatch() before its module was imported"
            self._replacement_for.clear()
            self._original_for.clear()

    # ---- internals ------------------------------------------------------------------------

    def _module_loaded(self, module: ModuleType) -> None:
        with self._lock:
            if not self._active:
                return
            if self._replacement_for:
                self._walk_modules(self._replacement_for, [(module.__name__, module)], restore=False)
            for patch in self._patches:
                if module.__name__ in patch.required_modules:
                    self._try_patch_component(patch, just_loaded=module.__name__)
            if module.__name__ == "litellm":
                self._skip_proxy_only_outside_the_proxy(litellm_just_loaded=True)
            if self._hook is not None and not self._pending():
                self._remove_hook()
                self._done()

    def _done(self) -> None:
        if any(target.state == "patched" for target in self.targets()):
            self._on_patched()

    def _try_patch_component(self, patch: ComponentPatch, just_loaded: str | None = None) -> None:
        if any(target.state == "patched" for target in patch.targets):
            return
        modules = {name: sys.modules.get(name) for name in patch.required_modules}
        for name, module in modules.items():
            if module is None or (name != just_loaded and not _finished_loading(module)):
                return  # the hook calls again when the next one finishes loading
        try:
            patch.prepare()
        except Exception as error:  # LiteLLM changed shape: leave it alone, say why
            for target in patch.targets:
                target.state, target.reason = "skipped", f"preparing failed: {type(error).__name__}: {error}"
            return
        modules = {target.module: sys.modules.get(target.module) for target in patch.targets}
        for target in patch.targets:
            if modules[target.module] is None:
                target.state, target.reason = "skipped", f"{target.module} was not imported"
                continue
            owner, name = _owner_of(modules[target.module], target)
            if owner is not None:  # a method: replaced on its class, which everyone reaches it through
                original = vars(owner).get(name)
                if original is None:
                    target.state, target.reason = "skipped", "LiteLLM has no such method"
                    continue
                target.original = original
                setattr(owner, name, target.replacement)
                target.bindings.append(target.qualified_name)
                target.state, target.reason = "patched", "replaced on its class"
                continue
            original = getattr(modules[target.module], target.attribute, None)
            if original is None or not callable(original):
                target.state, target.reason = "skipped", "LiteLLM has no such function"
                continue
            target.original = original
            self._replacement_for[id(original)] = target.replacement
            self._original_for[id(target.replacement)] = original
        if not any(target.original is not None and target.state != "patched" for target in patch.targets):
            return
        self._walk_modules(self._replacement_for, list(sys.modules.items()), restore=False)
        for target in patch.targets:
            if target.original is not None and target.state != "patched":
                target.state = "patched"
                target.reason = f"{len(target.bindings)} binding(s) replaced by identity"

    def _walk_modules(
        self,
        swap: dict[int, Callable[..., Any]],
        modules: list[tuple[str, ModuleType]],
        restore: bool,
    ) -> None:
        """Replace every module attribute whose value is a key of `swap` (by id)."""
        by_function = {id(target.replacement if restore else target.original): target for target in self.targets()}
        for module_name, module in modules:
            if module_name == __package__ or module_name.startswith(f"{__package__}."):
                continue  # our own references to the originals are how we call LiteLLM
            namespace = getattr(module, "__dict__", None)
            if type(namespace) is not dict:
                continue
            try:
                items = [(name, value) for name, value in namespace.items() if id(value) in swap]
            except RuntimeError:  # the module is being changed by another thread; next load retries
                continue
            for name, value in items:
                if namespace.get(name) is not value:
                    continue
                namespace[name] = swap[id(value)]
                target = by_function.get(id(value))
                if target is not None and not restore:
                    target.bindings.append(f"{module_name}.{name}")


def _owner_of(module: ModuleType | None, target: Target) -> tuple[type | None, str]:
    """For a `Class.method` target: the class and the method's name; (None, name) otherwise."""
    owner_name, _, name = target.attribute.rpartition(".")
    if not owner_name:
        return None, name
    owner = getattr(module, owner_name, None)
    return (owner if isinstance(owner, type) else None), name


def _finished_loading(module: ModuleType) -> bool:
    spec = getattr(module, "__spec__", None)
    return not getattr(spec, "_initializing", False)


class _ImportHook(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the loader of `litellm` modules to run a callback after exec."""

    def __init__(self, on_loaded: Callable[[ModuleType], None]) -> None:
        self._on_loaded = on_loaded
        self._busy = threading.local()

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if not _is_litellm_module(fullname) or getattr(self._busy, "active", False):
            return None
        self._busy.active = True
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._busy.active = False
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _NotifyingLoader(spec.loader, self._on_loaded)
        return spec


class _NotifyingLoader(importlib.abc.Loader):
    """Delegates to the real loader, puts it back on the module, then runs the callback."""

    def __init__(self, loader: Any, on_loaded: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._on_loaded = on_loaded

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        self._on_loaded(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
