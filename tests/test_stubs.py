"""The type stubs describe the native module as built: every public name and method is stubbed."""

from __future__ import annotations

import ast
from pathlib import Path

import fast_litellm
from fast_litellm import _native

STUB = Path(fast_litellm.__file__).with_name("_native.pyi")


def stubbed() -> dict[str, set[str]]:
    tree = ast.parse(STUB.read_text())
    names: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = {item.name for item in node.body if isinstance(item, ast.FunctionDef)} | {
                item.target.id
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = set()
    return names


def test_every_native_name_is_stubbed():
    stubs = stubbed()
    public = {name for name in dir(_native) if not name.startswith("__")}
    assert public == set(stubs)
    for name, methods in stubs.items():
        native = getattr(_native, name)
        if isinstance(native, type):
            members = {m for m in dir(native) if not m.startswith("__")}
            assert members == methods - {"__init__", "__new__"}, name
