"""Resident memory per rate-limit counter in LiteLLM's `InMemoryCache`, with and without
fast-litellm, at 1k, 100k and 1M keys.

    python benchmarks/memory_cache.py [--keys 1000,100000,1000000]

Each point runs in a fresh interpreter: LiteLLM (and, for `fast`, fast-litellm) imported, one
`InMemoryCache` large enough to hold every key, then `increment_cache(key, 1, ttl=60)` per key, as
the limiters count requests. RSS (from /proc/self/status) is read before and after the
increments; the difference over the key count is what one counter costs. The numbers include
the cache's three internals (`cache_dict`, `ttl_dict`, `expiration_heap`), which fast-litellm
keeps as LiteLLM's own Python objects.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

PROBE = """
import {imports}
from litellm.caching.in_memory_cache import InMemoryCache

def rss_kib():
    return int([line for line in open("/proc/self/status") if line.startswith("VmRSS")][0].split()[1])

cache = InMemoryCache(max_size_in_memory={count} + 1, default_ttl=600)
before = rss_kib()
for index in range({count}):  # the key strings are part of what a counter costs
    cache.increment_cache(f"sk-key-{{index}}:rpm:10-30", 1, ttl=60)
after = rss_kib()
assert len(cache.cache_dict) == {count}
print(before, after)
"""


def per_key_bytes(variant: str, count: int) -> float:
    imports = "litellm" if variant == "plain" else "fast_litellm, litellm"
    code = PROBE.format(imports=imports, count=count)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    before, after = (int(value) for value in out.stdout.split())
    return (after - before) * 1024 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", default="1000,100000,1000000")
    args = parser.parse_args()
    print(f"{'keys':>9s} {'LiteLLM B/key':>14s} {'fast B/key':>11s}")
    for count in (int(value) for value in args.keys.split(",")):
        plain, fast = per_key_bytes("plain", count), per_key_bytes("fast", count)
        print(f"{count:9d} {plain:14.0f} {fast:11.0f}", flush=True)


if __name__ == "__main__":
    main()
