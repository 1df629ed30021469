"""Shared set-up: LiteLLM offline, patched by fast_litellm, modes restored after each test."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
import pytest  # noqa: E402

import fast_litellm  # noqa: E402
from fast_litellm import tokens  # noqa: E402


@pytest.fixture
def mode():
    """Set the tokens mode for one test; restores auto and clears stats afterwards."""
    before = fast_litellm.get_mode("tokens")

    def set_mode(value: str) -> None:
        fast_litellm.set_mode("tokens", value)
        fast_litellm.reset_stats()

    yield set_mode
    fast_litellm.set_mode("tokens", before)
    fast_litellm.reset_stats()


@pytest.fixture
def litellm_count():
    """LiteLLM's own token_counter (the unpatched core function)."""
    assert tokens.original_token_counter is not None
    return tokens.original_token_counter


def _component_mode(component: str):
    """Set `component`'s mode for one test; restores auto and clears stats afterwards."""
    fast_litellm.reset_stats()
    yield lambda value: fast_litellm.set_mode(component, value)
    fast_litellm.set_mode(component, "auto")
    fast_litellm.reset_stats()


@pytest.fixture
def routing_mode():
    yield from _component_mode("routing")


@pytest.fixture
def rate_limit_mode():
    yield from _component_mode("rate_limit")


@pytest.fixture
def native_cache():
    """The cache component forced native for one test (auto again and stats cleared after)."""
    modes = _component_mode("cache")
    next(modes)("rust")
    yield
    next(modes, None)


def _race(
    pick: Callable[[], None], *, threads: int, rounds: int, change: Callable[[], None] | None = None
) -> list[BaseException]:
    """`threads` threads released together each call `pick` `rounds` times while `change` (if
    any) runs over and over in one more thread, with a 1 µs switch interval; the exceptions the
    pickers raised. Fails if a thread hangs."""
    errors: list[BaseException] = []
    stop = threading.Event()
    barrier = threading.Barrier(threads + (change is not None))

    def picker() -> None:
        barrier.wait()
        try:
            for _ in range(rounds):
                pick()
        except BaseException as error:  # returned to the test, which asserts there are none
            errors.append(error)

    def changer() -> None:
        barrier.wait()
        while not stop.is_set():
            change()  # type: ignore[misc]

    pickers = [threading.Thread(target=picker) for _ in range(threads)]
    background = [threading.Thread(target=changer)] if change is not None else []
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in [*pickers, *background]:
            thread.start()
        for thread in pickers:
            thread.join(timeout=120)
        stop.set()
        for thread in background:
            thread.join(timeout=30)
    finally:
        sys.setswitchinterval(previous)
    assert not any(thread.is_alive() for thread in [*pickers, *background]), "a thread hung"
    return errors


@pytest.fixture
def race():
    """`race(pick, threads=8, rounds=300, change=...)`: see `_race`."""
    return _race


__all__ = ["litellm"]
