"""Many threads through the patched token counter at once, in fresh interpreters.

One trial: a fresh interpreter imports fast_litellm and LiteLLM and releases N threads together
(a barrier) at the first use of the native path, LiteLLM cold as in a new user's script, with a
1 µs switch interval, over texts and chats whose sizes cross the GIL
release, parallel-count and count-cache thresholds. Optionally a mutator thread meanwhile
switches modes, unpatches and patches, registers models, reloads the policy and shrinks the
count cache (evictions). Every answer is compared with LiteLLM's own function's, computed after
the threads are done (computing it first would warm LiteLLM and hide start-up races). A trial that does not finish
within its deadline dumps every thread's stack and counts as a hang.

    python tests/stress_tokens.py --runs 200 --threads 8           # the long run
    python tests/stress_tokens.py --trial --threads 8 --mutate     # one trial, this process
    python tests/stress_tokens.py --scenario fork --runs 20        # warm parent, forked children
    python tests/stress_tokens.py --scenario event-loop --runs 20  # LiteLLM's thread offload

`fork`: the parent warms everything (pool threads started, count cache full, models resolved),
keeps threads counting large texts, and forks children (os.fork and multiprocessing's fork
context) while they run; each child counts with several threads at once. `event-loop`: many
asyncio tasks count through LiteLLM's `offload_token_count` (worker threads under the loop, as
its router pre-call checks and proxy limiter do) and route through a Router with pre-call
checks, which counts each prompt to filter deployments by context window.

`--runs` starts each trial in a fresh interpreter (`--parallel` at a time) and prints a summary;
the exit status is 0 only if no trial hung or answered wrongly.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODELS = ("gpt-4o", "gpt-3.5-turbo", "gpt-3.5-turbo-0301", "gpt-4", None)
# Sizes in characters: a few tokens; around the 4 KiB GIL release and the 256-char count cache;
# around the 16 KiB parallel count; chats past the 64K-character GIL release of the message walk.
TEXT_SIZES = (12, 60, 300, 1_500, 4_000, 4_200, 15_000, 17_000, 40_000, 70_000)


def build_workload(seed: int) -> list[tuple[str, dict[str, Any]]]:
    """(binding name, token_counter kwargs) calls of mixed kinds and sizes."""
    sys.path.insert(0, str(HERE))
    from corpus import random_message, random_text, random_tools

    rng = random.Random(seed)
    # What every thread calls first, all at once: the first use of the native path.
    calls: list[tuple[str, dict[str, Any]]] = [
        ("text", {"model": "gpt-4o", "text": "hello world"}),
        ("messages", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    ]
    for size in TEXT_SIZES:
        for _ in range(2):
            calls.append(("text", {"model": rng.choice(MODELS), "text": random_text(rng, size)}))
    for length in (1, 2, 2, 3, 8, 30):
        messages = [random_message(rng) for _ in range(length)]
        kwargs: dict[str, Any] = {"model": rng.choice(MODELS), "messages": messages}
        if rng.random() < 0.3:
            kwargs["tools"] = random_tools(rng) or None
        calls.append(("messages", kwargs))
    big_chat = [{"role": "user", "content": random_text(rng, 40_000)} for _ in range(2)]
    calls.append(("messages", {"model": "gpt-4o", "messages": big_chat}))
    return calls


def run_trial(threads: int, rounds: int, mutate: bool, seed: int, deadline: float) -> dict[str, Any]:
    import faulthandler
    import threading

    faulthandler.dump_traceback_later(deadline, exit=True)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import fast_litellm  # noqa: I001  (first, then LiteLLM, as a user would)
    import litellm
    import litellm.litellm_core_utils.token_counter as core
    import litellm.utils
    from fast_litellm import tokens

    workload = build_workload(seed)
    bindings = (lambda: litellm.token_counter, lambda: litellm.utils.token_counter, lambda: core.token_counter)

    sys.setswitchinterval(1e-6)
    start = threading.Barrier(threads + (1 if mutate else 0))
    stop = threading.Event()
    answers: list[tuple[int, object]] = []
    errors: list[str] = []
    calls = [0] * threads
    mutations = [0]

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        order = list(range(len(workload)))
        try:
            start.wait()
            for round_ in range(rounds):
                rng.shuffle(order)
                for case in [0, 1, *order] if round_ == 0 else order:
                    function = rng.choice(bindings)()  # bindings change while unpatch/patch runs
                    answers.append((case, function(**workload[case][1])))
                    calls[index] += 1
        except BaseException as error:  # reported, and the trial fails
            errors.append(f"thread {index}: {type(error).__name__}: {error}")

    def mutator() -> None:
        rng = random.Random(seed)
        start.wait()
        step = 0
        try:
            while not stop.is_set():
                step = mutations[0] = step + 1
                action = step % 6
                if action == 0:
                    fast_litellm.set_mode("tokens", rng.choice(fast_litellm.MODES))
                elif action == 1:
                    fast_litellm.unpatch()
                    time.sleep(0.001)
                    fast_litellm.patch()
                elif action == 2:
                    name = f"stress-model-{seed}-{step}"
                    litellm.register_model({name: {"litellm_provider": "openai", "mode": "chat"}})
                elif action == 3:
                    fast_litellm.reload_policy()
                elif action == 4:
                    tokens.configure_count_cache(0.001)  # ~1 KB: every long string evicts
                else:
                    tokens.configure_count_cache(tokens.DEFAULT_COUNT_CACHE_MB)
                time.sleep(rng.random() * 0.002)
        except BaseException as error:
            errors.append(f"mutator: {type(error).__name__}: {error}")
        finally:
            fast_litellm.set_mode("tokens", "auto")
            fast_litellm.patch()

    workers = [threading.Thread(target=worker, args=(i,), name=f"worker-{i}") for i in range(threads)]
    helper = threading.Thread(target=mutator, name="mutator") if mutate else None
    began = time.perf_counter()
    for thread in workers + ([helper] if helper else []):
        thread.start()
    for thread in workers:
        thread.join()
    stop.set()
    if helper:
        helper.join()
    elapsed = time.perf_counter() - began
    expected = [tokens.original_token_counter(**kwargs) for _, kwargs in workload]  # LiteLLM's own
    wrong = [
        f"case {case} ({workload[case][0]}): got {got}, LiteLLM {expected[case]}"
        for case, got in answers
        if got != expected[case]
    ]
    faulthandler.cancel_dump_traceback_later()
    stats = fast_litellm.stats()["tokens"]
    return {
        "ok": not wrong and not errors and stats["shadow_mismatches"] == 0,
        "calls": sum(calls),
        "mutations": mutations[0],
        "seconds": round(elapsed, 3),
        "wrong": wrong[:20],
        "errors": errors[:20],
        "shadow_mismatches": stats["shadow_mismatches"],
        "fast_path_calls": fast_litellm.stats()["tokens"]["calls_rust"],
        "fallbacks": stats["fallbacks"],
    }


def _count_all(workload: list[tuple[str, dict[str, Any]]], expected: list[int], rng: random.Random) -> list[str]:
    """Count every call of the workload once, in a random order; the wrong answers."""
    import litellm

    order = list(range(len(workload)))
    rng.shuffle(order)
    wrong = []
    for case in order:
        got = litellm.token_counter(**workload[case][1])
        if got != expected[case]:
            wrong.append(f"case {case}: got {got}, LiteLLM {expected[case]}")
    return wrong


def _child_counts(workload: list[tuple[str, dict[str, Any]]], expected: list[int], threads: int, seed: int) -> int:
    """In a forked child: `threads` threads count the workload at once; 0 if all were exact."""
    import threading

    start = threading.Barrier(threads)
    wrong: list[str] = []

    def worker(index: int) -> None:
        try:
            start.wait()
            wrong.extend(_count_all(workload, expected, random.Random(seed * 100 + index)))
        except BaseException as error:
            wrong.append(f"{type(error).__name__}: {error}")

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    for line in wrong[:5]:
        print(f"child {os.getpid()}: {line}", file=sys.stderr)
    return 1 if wrong else 0


def _wait_or_abort(pid: int, deadline: float) -> int:
    """A child's exit code; a child still running at `deadline` is hung: SIGABRT makes it dump
    every thread's stack (faulthandler) and die."""
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGABRT)
    _, status = os.waitpid(pid, 0)
    print(f"child {pid} hung", file=sys.stderr)
    return os.waitstatus_to_exitcode(status)


def run_fork_trial(threads: int, children: int, seed: int, deadline: float) -> dict[str, Any]:
    import faulthandler
    import multiprocessing
    import threading

    faulthandler.enable()  # a hung child dumps its stacks on SIGABRT
    faulthandler.dump_traceback_later(deadline, exit=True)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import fast_litellm  # noqa: I001  (first, then LiteLLM, as a user would)
    import litellm
    from fast_litellm import tokens

    workload = build_workload(seed)
    expected = [tokens.original_token_counter(**kwargs) for _, kwargs in workload]
    fast_litellm.set_mode("tokens", "rust")
    wrong = _count_all(workload, expected, random.Random(seed))  # warm: pool, count cache, plans
    warm = fast_litellm.stats()["tokens"]
    large = [kwargs for _, kwargs in workload if len(kwargs.get("text") or "") > 16_000]
    stop = threading.Event()

    def keep_counting() -> None:  # so that forks happen mid-count, locks and pool busy
        while not stop.is_set():
            for kwargs in large:
                litellm.token_counter(**kwargs)

    background = [threading.Thread(target=keep_counting) for _ in range(2)]
    for thread in background:
        thread.start()
    sys.setswitchinterval(1e-6)
    pids = []
    for index in range(children):
        time.sleep(random.Random(seed + index).random() * 0.01)
        pid = os.fork()
        if pid == 0:  # no deadline of its own: faulthandler's watchdog thread is not here
            os._exit(_child_counts(workload, expected, threads, seed + index))
        pids.append(pid)
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=lambda i=i: sys.exit(_child_counts(workload, expected, threads, seed + 50 + i)))
        for i in range(2)
    ]
    for process in processes:
        process.start()
    give_up = time.monotonic() + deadline / 2
    statuses = [_wait_or_abort(pid, give_up) for pid in pids]
    for process in processes:
        process.join(max(give_up - time.monotonic(), 0))
        if process.exitcode is None:
            print(f"child {process.pid} hung", file=sys.stderr)
            os.kill(process.pid, signal.SIGABRT)  # faulthandler dumps its stacks
            process.join()
        statuses.append(process.exitcode)
    stop.set()
    for thread in background:
        thread.join()
    faulthandler.cancel_dump_traceback_later()
    failed = [code for code in statuses if code != 0]
    return {
        "ok": not failed and not wrong,
        "children": len(statuses),
        "failed_children": failed,
        "wrong_in_parent": wrong[:5],
        "count_cache_entries_before_fork": warm["count_cache"]["entries"],
    }


def run_event_loop_trial(tasks: int, seed: int, deadline: float) -> dict[str, Any]:
    import asyncio
    import faulthandler

    faulthandler.dump_traceback_later(deadline, exit=True)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import fast_litellm  # noqa: I001  (first, then LiteLLM, as a user would)
    import litellm
    from litellm.litellm_core_utils.token_counter import offload_token_count
    from fast_litellm import tokens

    workload = build_workload(seed)
    window = 60  # tokens: prompts above it must not go to the small deployment
    router = litellm.Router(
        model_list=[
            {
                "model_name": "chat",
                "litellm_params": {"model": "openai/gpt-4o", "api_key": "unused", "mock_response": "ok"},
                "model_info": {"id": "small", "max_input_tokens": window},
            },
            {
                "model_name": "chat",
                "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "unused", "mock_response": "ok"},
                "model_info": {"id": "large", "max_input_tokens": 1_000_000},
            },
        ],
        enable_pre_call_checks=True,
    )
    rng = random.Random(seed)
    answers: list[tuple[int, object]] = []
    routed: list[tuple[int, object]] = []

    async def count(case: int) -> None:
        answers.append((case, await offload_token_count(litellm.token_counter)(**workload[case][1])))

    def prompt(words: int) -> list[dict[str, str]]:
        return [{"role": "user", "content": " ".join(["word"] * words)}]

    async def route(words: int) -> None:
        messages = prompt(words)
        response = await router.acompletion(model="chat", messages=messages)
        routed.append((words, response._hidden_params.get("model_id")))

    async def main() -> None:
        jobs = [count(rng.randrange(len(workload))) for _ in range(tasks)]
        jobs += [route(rng.choice((1, 10, 40, 80, 300))) for _ in range(tasks // 4)]
        rng.shuffle(jobs)
        await asyncio.gather(*jobs)

    sys.setswitchinterval(1e-6)
    asyncio.run(main())
    # LiteLLM's answers, computed afterwards so that the tasks met a cold LiteLLM.
    expected = [tokens.original_token_counter(**kwargs) for _, kwargs in workload]
    wrong = [f"case {case}: got {got}, LiteLLM {expected[case]}" for case, got in answers if got != expected[case]]
    for words, deployment in routed:
        needed = tokens.original_token_counter(model="gpt-4o", messages=prompt(words))
        if needed > window and deployment == "small":
            wrong.append(f"{words} words ({needed} tokens) routed to the small deployment")
    faulthandler.cancel_dump_traceback_later()
    stats = fast_litellm.stats()["tokens"]
    return {"ok": not wrong, "tasks": tasks + tasks // 4, "wrong": wrong[:10], "calls_rust": stats["calls_rust"]}


def trial_command(args: argparse.Namespace, seed: int) -> list[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--trial", "--scenario", args.scenario]
    command += ["--threads", str(args.threads), "--children", str(args.children), "--tasks", str(args.tasks)]
    command += ["--rounds", str(args.rounds), "--seed", str(seed), "--deadline", str(args.deadline)]
    return command + (["--mutate"] if args.mutate else [])


def native_stacks(pid: int) -> str:
    """Every thread's native stack (gdb, where installed): what a hang was waiting for."""
    if shutil.which("gdb") is None:
        return "(gdb not installed: no native stacks)"
    dump = subprocess.run(
        ["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 30"], capture_output=True, text=True, timeout=120
    )
    return dump.stdout[-20000:]


def run_many(args: argparse.Namespace) -> int:
    environment = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONFAULTHANDLER": "1"}
    pending = list(range(args.seed, args.seed + args.runs))
    running: list[tuple[int, subprocess.Popen[str], float]] = []
    results: list[dict[str, Any]] = []
    while pending or running:
        while pending and len(running) < args.parallel:
            seed = pending.pop(0)
            process = subprocess.Popen(
                trial_command(args, seed), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
            )
            running.append((seed, process, time.monotonic()))
        time.sleep(0.05)
        for entry in list(running):
            seed, process, started = entry
            overdue = time.monotonic() - started > args.deadline + 60
            if process.poll() is None and not overdue:
                continue
            running.remove(entry)
            stacks = ""
            if process.poll() is None:  # faulthandler did not end it: look, then kill
                stacks = native_stacks(process.pid)
                process.kill()
            stdout, stderr = process.communicate()
            result = _parse_result(stdout)
            result.update(seed=seed, returncode=process.returncode)
            if process.returncode != 0 or not result.get("ok"):
                result["ok"] = False
                result["hang"] = "Timeout" in stderr or bool(stacks)
                result["stderr"] = stderr[-6000:]
                result["native_stacks"] = stacks
            results.append(result)
            status = "ok" if result["ok"] else ("HANG" if result.get("hang") else "FAIL")
            print(f"run seed={seed}: {status} {json.dumps({k: v for k, v in result.items() if k != 'stderr'})}")
            if not result["ok"]:
                print(json.dumps(result, indent=1))
    failed = [r for r in results if not r["ok"]]
    summary = {
        "runs": len(results),
        "failed": len(failed),
        "hangs": sum(1 for r in failed if r.get("hang")),
        "calls": sum(r.get("calls", 0) for r in results),
    }
    print(json.dumps(summary))
    return 1 if failed else 0


def _parse_result(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return {"ok": False}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trial", action="store_true", help="run one trial in this process")
    parser.add_argument("--scenario", choices=("threads", "fork", "event-loop"), default="threads")
    parser.add_argument("--children", type=int, default=4, help="fork: children forked with os.fork")
    parser.add_argument("--tasks", type=int, default=400, help="event-loop: counting tasks")
    parser.add_argument("--runs", type=int, default=1, help="fresh-interpreter trials (default 1)")
    parser.add_argument("--parallel", type=int, default=1, help="trials at a time")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="passes of each thread over the workload")
    parser.add_argument("--mutate", action="store_true", help="change modes/patching/registry/policy meanwhile")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds before a trial counts as hung")
    args = parser.parse_args(argv)
    if args.trial:
        if args.scenario == "fork":
            result = run_fork_trial(args.threads, args.children, args.seed, args.deadline)
        elif args.scenario == "event-loop":
            result = run_event_loop_trial(args.tasks, args.seed, args.deadline)
        else:
            result = run_trial(args.threads, args.rounds, args.mutate, args.seed, args.deadline)
        print(json.dumps(result))
        return 0 if result["ok"] else 1
    return run_many(args)


if __name__ == "__main__":
    sys.exit(main())
