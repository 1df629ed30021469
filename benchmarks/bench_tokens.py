"""LiteLLM vs fast-litellm token counting: same process, interleaved, cold inputs, medians.

Every timed call counts a text (or chat) that no earlier call has seen. Baseline: LiteLLM's own
`token_counter` (the core function `litellm.token_counter` delegates to, so the baseline is if
anything slightly faster than what users call). Native: the patched `litellm.token_counter` with
the tokens component forced to `rust`. Calls alternate which side goes first.

    python benchmarks/bench_tokens.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import string
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

import fast_litellm  # noqa: E402
from fast_litellm import tokens  # noqa: E402
from fast_litellm._workloads import ColdInputs  # noqa: E402

MODEL = "gpt-4o"
CHARS_PER_TOKEN = 5.3  # of the generated prose on o200k_base, measured by warm_up()


@dataclass
class Result:
    case: str
    reps: int
    litellm_median_us: float
    native_median_us: float
    speedup: float
    litellm_p90_us: float
    native_p90_us: float


def time_call(function: Callable[..., Any], kwargs: dict[str, Any]) -> float:
    started = time.perf_counter_ns()
    function(**kwargs)
    return (time.perf_counter_ns() - started) / 1000.0


def compare(case: str, reps: int, make_input: Callable[[], dict[str, Any]]) -> Result:
    """Interleave LiteLLM and native calls on fresh inputs; check they agree on every input."""
    baseline, native = [], []
    for rep in range(reps):
        python_kwargs, native_kwargs = make_input(), make_input()
        order = (0, 1) if rep % 2 == 0 else (1, 0)
        for side in order:
            if side == 0:
                baseline.append(time_call(tokens.original_token_counter, python_kwargs))
            else:
                native.append(time_call(litellm.token_counter, native_kwargs))
        if rep < 3:  # parity spot check outside the timed region
            assert litellm.token_counter(**python_kwargs) == tokens.original_token_counter(**python_kwargs), case
    b50, n50 = statistics.median(baseline), statistics.median(native)
    return Result(
        case=case,
        reps=reps,
        litellm_median_us=round(b50, 3),
        native_median_us=round(n50, 3),
        speedup=round(b50 / n50, 2),
        litellm_p90_us=round(_quantile(baseline, 0.9), 3),
        native_p90_us=round(_quantile(native, 0.9), 3),
    )


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def adversarial_inputs(rng: random.Random) -> dict[str, Callable[[], str]]:
    mb = 1_000_000
    serial = iter(range(10**9))
    cjk = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年日本語"
    emoji = "😀😃😄😁🤖🚀🔥👍🏽👨‍👩‍👧‍👦"

    def base64_like() -> str:
        return "".join(rng.choices(string.ascii_letters + string.digits + "+/", k=mb))

    return {
        "1MB 'x'": lambda: "x" * (mb + next(serial)),
        "1MB spaces": lambda: " " * (mb + next(serial)),
        "1MB digits": lambda: ("1234567890" * (mb // 10)) + str(next(serial)),
        "1MB base64-like": base64_like,
        "1MB CJK": lambda: "".join(rng.choices(cjk, k=mb // 3)),
        "1MB emoji": lambda: "".join(rng.choices(emoji, k=mb // 4)),
        "1MB special tokens": lambda: "<|endoftext|>" * (mb // 13) + str(next(serial)),
    }


def run(quick: bool) -> list[Result]:
    fast_litellm.set_mode("tokens", "rust")
    gen = ColdInputs(seed=7)
    scale = 0.25 if quick else 1.0

    def reps(n: int) -> int:
        return max(3, int(n * scale))

    results = []
    for tokens_wanted, count in [(12, 3000), (100, 2000), (1000, 500), (10_000, 100), (100_000, 15), (1_000_000, 5)]:
        chars = int(tokens_wanted * CHARS_PER_TOKEN)
        results.append(
            compare(f"text {tokens_wanted} tokens", reps(count), lambda c=chars: {"model": MODEL, "text": gen.text(c)})
        )
        print(_row(results[-1]), flush=True)
    for messages, count in [(2, 2000), (20, 300), (200, 40)]:
        results.append(
            compare(
                f"chat {messages} messages", reps(count), lambda m=messages: {"model": MODEL, "messages": gen.chat(m)}
            )
        )
        print(_row(results[-1]), flush=True)
    for name, make in adversarial_inputs(random.Random(3)).items():
        results.append(compare(f"adversarial {name}", reps(6), lambda make=make: {"model": MODEL, "text": make()}))
        print(_row(results[-1]), flush=True)
    return results


def run_warm(turns: int) -> list[Result]:
    """A conversation re-counted on every turn (what chat apps and the proxy do): each side
    grows its own conversation (same shape, different text) and counts the whole history per
    turn. These are warm numbers: the history repeats, so the count cache can answer it."""
    fast_litellm.set_mode("tokens", "rust")
    gen = ColdInputs(seed=23)
    results = []
    for history_chars in (600, 3000):
        sides: dict[str, list[dict[str, str]]] = {"python": [], "native": []}
        timings: dict[str, list[float]] = {"python": [], "native": []}
        for side in sides:
            sides[side].append({"role": "system", "content": gen.text(4000)})
        for turn in range(turns):
            for side, conversation in sides.items():
                conversation.append({"role": "user", "content": gen.text(history_chars // 3)})
                conversation.append({"role": "assistant", "content": gen.text(history_chars)})
                function = tokens.original_token_counter if side == "python" else litellm.token_counter
                if turn >= turns // 2:
                    timings[side].append(time_call(function, {"model": MODEL, "messages": conversation}))
                else:
                    function(model=MODEL, messages=conversation)
        b50, n50 = statistics.median(timings["python"]), statistics.median(timings["native"])
        results.append(
            Result(
                case=f"warm conversation {turns} turns x {history_chars} chars",
                reps=len(timings["python"]),
                litellm_median_us=round(b50, 3),
                native_median_us=round(n50, 3),
                speedup=round(b50 / n50, 2),
                litellm_p90_us=round(_quantile(timings["python"], 0.9), 3),
                native_p90_us=round(_quantile(timings["native"], 0.9), 3),
            )
        )
        print(_row(results[-1]), flush=True)
    return results


def warm_up() -> None:
    """Load both encodings on both sides and measure the prose's characters per token."""
    global CHARS_PER_TOKEN
    sample = ColdInputs(seed=1).text(200_000)
    CHARS_PER_TOKEN = len(sample) / tokens.original_token_counter(model=MODEL, text=sample)
    for model in (MODEL, "gpt-4"):
        tokens.original_token_counter(model=model, text="warm up")
        litellm.token_counter(model=model, text="warm up")


def _row(result: Result) -> str:
    verdict = "native wins" if result.speedup > 1 else "NATIVE LOSES"
    return (
        f"{result.case:<32} reps={result.reps:<5} litellm={result.litellm_median_us:>12.2f}us "
        f"native={result.native_median_us:>10.2f}us  x{result.speedup:<7} {verdict}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the repetitions")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args()
    warm_up()
    print(
        f"litellm {litellm.__version__ if hasattr(litellm, '__version__') else ''} model={MODEL} "
        f"prose chars/token={CHARS_PER_TOKEN:.2f} cpus={os.cpu_count()}"
    )
    print("-- cold: every call counts text neither side has seen")
    results = run(args.quick)
    print("-- warm: the same conversation re-counted every turn")
    results += run_warm(turns=20 if args.quick else 60)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"benchmark": "tokens", "results": [asdict(r) for r in results]}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
