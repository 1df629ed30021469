"""Resident memory (RSS) that fast-litellm adds to a fresh process, per stage.

    python benchmarks/memory.py

Each stage runs in a new interpreter (tracemalloc cannot see native allocations); RSS is read
from /proc/self/status after the stage, so the numbers include everything the stage loaded."""

from __future__ import annotations

import os
import subprocess
import sys

STAGES = {
    "import litellm": "import litellm",
    "+ count with LiteLLM (o200k, cl100k loaded)": (
        "import litellm; litellm.token_counter(model='gpt-4o', text='x');litellm.token_counter(model='gpt-4', text='x')"
    ),
    "+ import fast_litellm (patched, no encodings yet)": "import litellm, fast_litellm",
    "+ native counts (both encodings loaded)": (
        "import litellm, fast_litellm; fast_litellm.set_mode('tokens', 'rust');"
        "litellm.token_counter(model='gpt-4o', text='x'); litellm.token_counter(model='gpt-4', text='x')"
    ),
}


def rss_after(code: str) -> int:
    probe = code + "\nprint([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    baseline = None
    for label, code in STAGES.items():
        kib = min(rss_after(code) for _ in range(3))
        baseline = baseline or kib
        print(f"{label:<52} RSS {kib / 1024:8.1f} MiB  (+{(kib - baseline) / 1024:6.1f} MiB vs import litellm)")


if __name__ == "__main__":
    main()
