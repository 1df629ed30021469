"""Where a proxy's CPU goes: py-spy samples aggregated by area, in ms per request.

py-spy (`--format raw --full-filenames`) writes one collapsed stack per line,
`frame;frame;...;leaf count`, each frame `function (path:line)`, under a `process N:"argv"` root
frame with `--subprocesses`. Paths are cut to what follows `site-packages/` or the standard
library's directory (`litellm/router.py`, `asyncio/tasks.py`). A sample is charged to an area by
its leaf frame (self time) and to every area that appears anywhere in its stack, once (inclusive
time). Idle threads are not sampled, so a sample is a thread running; a sample with no Python
frame (the process frame alone) is native code outside any Python call.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

# (area, path prefixes): the first area with a matching prefix takes the frame. Specific LiteLLM
# areas come before the catch-all ones.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("fast-litellm", ("fast_litellm/",)),
    (
        "token counting",
        (
            "litellm/litellm_core_utils/token_counter.py",
            "litellm/litellm_core_utils/tokenizer",
            "litellm/rust_bridge/tokenizer.py",
            "tiktoken/",
            "tokenizers/",
        ),
    ),
    ("cost calculation", ("litellm/cost_calculator.py", "litellm/litellm_core_utils/llm_cost_calc/")),
    ("limiter", ("litellm/proxy/hooks/parallel_request_limiter", "litellm/proxy/hooks/dynamic_rate_limiter")),
    ("caches", ("litellm/caching/",)),
    ("routing strategies", ("litellm/router_strategy/",)),
    ("router glue", ("litellm/router.py", "litellm/router_utils/", "litellm/router_rust/", "litellm/rust_bridge/")),
    ("auth", ("litellm/proxy/auth/",)),
    (
        "logging callbacks",
        (
            "litellm/litellm_core_utils/litellm_logging.py",
            "litellm/integrations/",
            "litellm/_logging.py",
            "litellm/proxy/hooks/",
            "litellm/litellm_core_utils/logging_",
            "logging/",
        ),
    ),
    ("proxy middleware", ("litellm/proxy/middleware/", "starlette/middleware/", "litellm/proxy/common_utils/")),
    ("streaming", ("litellm/litellm_core_utils/streaming_", "litellm/litellm_core_utils/stream_chunk_builder")),
    (
        "SDK/HTTP send path",
        ("openai/", "httpx/", "httpx2/", "httpcore/", "h2/", "aiohttp/", "litellm/llms/", "yarl/", "multidict/"),
    ),
    ("proxy request processing", ("litellm/proxy/",)),
    ("LiteLLM request build", ("litellm/main.py", "litellm/utils.py", "litellm/litellm_core_utils/", "litellm/types/")),
    ("LiteLLM other", ("litellm/",)),
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("web stack", ("uvicorn/", "starlette/", "fastapi/", "h11/", "anyio/", "httptools/", "gunicorn/", "sniffio/")),
    ("asyncio", ("asyncio/", "uvloop/", "concurrent/", "threading.py", "selectors.py", "queue.py", "contextvars")),
    ("json", ("json/", "orjson")),
    ("imports", ("<frozen importlib", "importlib/")),
)
OTHER = "other"
NO_PYTHON_FRAME = "native, no Python frame"
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")
_STDLIB = re.compile(r"/lib/python3\.\d+t?/")


def short_path(path: str) -> str:
    """A file's path from its package on: `litellm/router.py`, `asyncio/tasks.py`."""
    if "site-packages/" in path:
        return path.rsplit("site-packages/", 1)[1]
    match = _STDLIB.search(path)
    return path[match.end() :] if match else path


def area_of(path: str) -> str:
    for area, prefixes in AREAS:
        if path.startswith(prefixes):
            return area
    return OTHER


@dataclass
class Profile:
    samples: int
    self_by_area: Counter[str]
    inclusive_by_area: Counter[str]
    self_by_function: Counter[str]

    def per_request(self, rate_hz: float, requests: int) -> dict[str, object]:
        """ms per request by area (self and inclusive) and the top functions by self time."""
        scale = 1000.0 / rate_hz / max(requests, 1)
        areas = sorted(set(self.self_by_area) | set(self.inclusive_by_area), key=lambda a: -self.self_by_area[a])
        return {
            "samples": self.samples,
            "requests": requests,
            "ms_per_request": round(self.samples * scale, 3),
            "areas": [
                {
                    "area": area,
                    "self_ms": round(self.self_by_area[area] * scale, 3),
                    "inclusive_ms": round(self.inclusive_by_area[area] * scale, 3),
                    "self_share": round(self.self_by_area[area] / max(self.samples, 1), 4),
                }
                for area in areas
            ],
            "top_functions": [
                {
                    "function": function,
                    "area": NO_PYTHON_FRAME if function == NO_PYTHON_FRAME else area_of(_path(function)),
                    "self_ms": round(count * scale, 3),
                }
                for function, count in self.self_by_function.most_common(30)
            ],
        }


def _path(frame: str) -> str:
    match = _FRAME.match(frame)
    return short_path(match.group("path")) if match else frame


def _function(frame: str) -> str:
    """`function (path)` without the line number: one entry per function."""
    match = _FRAME.match(frame)
    return f"{match.group('function')} ({short_path(match.group('path'))})" if match else frame


def aggregate(lines: Iterable[str]) -> Profile:
    """Aggregate py-spy's raw (collapsed) output."""
    profile = Profile(0, Counter(), Counter(), Counter())
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if frame and not frame.startswith("process ")]
        profile.samples += count
        if not frames:
            profile.self_by_area[NO_PYTHON_FRAME] += count
            profile.inclusive_by_area[NO_PYTHON_FRAME] += count
            profile.self_by_function[NO_PYTHON_FRAME] += count
            continue
        profile.self_by_area[area_of(_path(frames[-1]))] += count
        profile.self_by_function[_function(frames[-1])] += count
        for area in {area_of(_path(frame)) for frame in frames}:
            profile.inclusive_by_area[area] += count
    return profile
