"""LiteLLM's proxy end to end, plain and with fast-litellm, on this machine.

A mock OpenAI upstream (`mock-upstream`, compiled) answers in its own process; the proxy runs as
`litellm --config ...` (plain) or `fast-litellm proxy --config ...` (fast), alternating, in fresh
processes; a compiled closed-loop load generator (`loadgen`) keeps `--connections` requests in
flight. Per run: requests per second at that concurrency (saturation for one worker at 32),
p50/p99 latency, CPU ms per request summed over every process of the proxy (master and
workers, from /proc), and errors. Numbers are only compared within one invocation.

    python benchmarks/proxy/run.py                       # every scenario, 3 x 30 s per variant
    python benchmarks/proxy/run.py --short               # CI: 2 scenarios, a few seconds each
    python benchmarks/proxy/run.py --scenarios chat,latency-50 --profile
    fast-litellm report --proxy-json proxy-benchmark.json

`--profile` also samples the plain proxy (py-spy) under the same load and breaks its CPU down by
area (proxy middleware, auth, router glue, caches, limiter, token counting, cost calculation,
logging callbacks, pydantic, HTTP send path, ...), in ms per request.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from processes import Proxy, Upstream, console_script, load  # noqa: E402
from profile_areas import aggregate  # noqa: E402
from scenarios import SCENARIOS, SHORT, Scenario, master_key, requests, write_config  # noqa: E402

VARIANTS = ("plain", "fast")
PROFILE_RATE_HZ = 100


def proxy_environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    for name in list(environment):
        if name.startswith("FAST_LITELLM_"):  # each variant runs with defaults
            del environment[name]
    return environment


def proxy_command(variant: str, config: Path, workers: int) -> list[str]:
    arguments = ["--config", str(config), "--num_workers", str(workers)]
    if variant == "plain":
        return [console_script("litellm"), *arguments]
    return [console_script("fast-litellm"), "proxy", *arguments]


def start_proxy(variant: str, scenario: Scenario, config: Path, log_dir: Path, tag: str) -> Proxy:
    proxy = Proxy(proxy_command(variant, config, scenario.workers), log_dir / f"{tag}.log", env=proxy_environment())
    try:
        proxy.wait_ready(scenario.workers)
    except BaseException:
        proxy.stop()
        raise
    return proxy


def measure(proxy: Proxy, request_file: Path, options: argparse.Namespace) -> dict[str, Any]:
    url = f"{proxy.url}/chat/completions"
    load(url, request_file, options.connections, duration=options.warmup)  # warm: caches, pools, JIT-free
    cpu_before = proxy.cpu_seconds()
    report = load(url, request_file, options.connections, duration=options.duration)
    cpu = proxy.cpu_seconds() - cpu_before
    responses = report["responses"]
    return {
        "requests_per_second": report["requests_per_second"],
        "p50_ms": report["latency_ms"]["p50"],
        "p99_ms": report["latency_ms"]["p99"],
        "cpu_ms_per_request": cpu * 1000.0 / responses if responses else None,
        "responses": responses,
        "errors": report["non_2xx"] + report["transport_errors"],
        "statuses": report["statuses"],
        "processes": len(proxy.pids()),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for variant in VARIANTS:
        mine = [run for run in runs if run["variant"] == variant]
        summary[variant] = {
            key: {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
            for key in ("requests_per_second", "p50_ms", "p99_ms", "cpu_ms_per_request")
            if (values := [run[key] for run in mine if run[key] is not None])
        }
        summary[variant]["errors"] = sum(run["errors"] for run in mine)
    plain, fast = summary["plain"], summary["fast"]
    if "cpu_ms_per_request" in plain and "cpu_ms_per_request" in fast:
        summary["cpu_ratio_fast_over_plain"] = (
            fast["cpu_ms_per_request"]["median"] / plain["cpu_ms_per_request"]["median"]
        )
        summary["throughput_ratio_fast_over_plain"] = (
            fast["requests_per_second"]["median"] / plain["requests_per_second"]["median"]
        )
    return summary


def run_scenario(scenario: Scenario, upstream: Upstream, options: argparse.Namespace, work: Path) -> dict[str, Any]:
    key = master_key()
    directory = work / scenario.name
    config = write_config(scenario, directory, upstream.port, key)
    request_file = directory / "requests.jsonl"
    request_file.write_text("".join(json.dumps(line) + "\n" for line in requests(scenario, key)), encoding="utf-8")
    runs = []
    for repeat in range(options.repeats):
        order = VARIANTS if repeat % 2 == 0 else tuple(reversed(VARIANTS))
        for variant in order:
            tag = f"{scenario.name}-{variant}-{repeat}"
            proxy = start_proxy(variant, scenario, config, directory, tag)
            try:
                run = {"variant": variant, "repeat": repeat, **measure(proxy, request_file, options)}
                if variant == "fast":
                    run["announced"] = proxy.log().count("accelerated in process")
            finally:
                proxy.stop()
            runs.append(run)
            print(
                f"  {tag:<24} {run['requests_per_second']:7.1f} req/s  p50 {run['p50_ms']:7.1f} ms  "
                f"p99 {run['p99_ms']:7.1f} ms  cpu {run['cpu_ms_per_request'] or float('nan'):6.2f} ms/req  "
                f"errors {run['errors']}",
                flush=True,
            )
    return {
        "name": scenario.name,
        "description": scenario.description,
        "workers": scenario.workers,
        "deployments": scenario.deployments,
        "runs": runs,
        "summary": summarize(runs),
    }


def profile_scenario(
    scenario: Scenario, upstream: Upstream, options: argparse.Namespace, work: Path, variant: str = "plain"
) -> dict[str, Any] | None:
    """Sample the proxy under load with py-spy; CPU by area in ms per request."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("  py-spy is not installed (pip install 'fast-litellm[bench]'): no profile", file=sys.stderr)
        return None
    key = master_key()
    directory = work / f"profile-{scenario.name}-{variant}"
    config = write_config(scenario, directory, upstream.port, key)
    request_file = directory / "requests.jsonl"
    request_file.write_text("".join(json.dumps(line) + "\n" for line in requests(scenario, key)), encoding="utf-8")
    proxy = start_proxy(variant, scenario, config, directory, "profile")
    raw = directory / "profile.txt"
    try:
        url = f"{proxy.url}/chat/completions"
        load(url, request_file, options.connections, duration=options.warmup)
        sampler = subprocess.Popen(
            [py_spy, "record", "--pid", str(proxy.process.pid), "--subprocesses", "--nonblocking", "--full-filenames"]
            + ["--rate", str(PROFILE_RATE_HZ), "--duration", str(int(options.duration)), "--format", "raw"]
            + ["--output", str(raw)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        report = load(url, request_file, options.connections, duration=options.duration)
        sampler.wait(timeout=options.duration + 60)
    finally:
        proxy.stop()
    if not raw.exists():
        print("  py-spy wrote no profile", file=sys.stderr)
        return None
    with raw.open(encoding="utf-8", errors="replace") as lines:
        profile = aggregate(lines)
    result = profile.per_request(PROFILE_RATE_HZ, report["responses"])
    return {"scenario": scenario.name, "description": scenario.description, "variant": variant, **result}


def host_facts() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "litellm": importlib.metadata.version("litellm"),
        "fast-litellm": importlib.metadata.version("fast-litellm"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", help=f"comma-separated, from: {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per variant")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=10.0, help="unmeasured seconds of load before each run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--latency-ms", type=int, default=0, help="the mock upstream's delay per response")
    parser.add_argument("--profile", action="store_true", help="also profile the plain proxy (py-spy)")
    parser.add_argument("--profile-only", action="store_true", help="only the profiles, no plain/fast runs")
    parser.add_argument("--profile-variants", default="plain", help="plain, fast or plain,fast (default plain)")
    parser.add_argument("--short", action="store_true", help="CI: scenarios chat and workers-2, 1 x 4 s each")
    parser.add_argument("--out", type=Path, default=Path("proxy-benchmark.json"))
    parser.add_argument("--keep", type=Path, help="keep configs and proxy logs in this directory")
    options = parser.parse_args(argv)
    if options.short:
        options.repeats, options.duration, options.warmup = 1, 4.0, 2.0
        names = list(SHORT)
    else:
        names = options.scenarios.split(",") if options.scenarios else list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}")

    work = options.keep or Path(tempfile.mkdtemp(prefix="fast-litellm-proxy-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    upstream = Upstream(latency_ms=options.latency_ms)
    results: dict[str, Any] = {
        "kind": "fast-litellm proxy benchmark",
        "generated_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "host": host_facts(),
        "options": {
            "repeats": options.repeats,
            "duration_s": options.duration,
            "warmup_s": options.warmup,
            "connections": options.connections,
            "upstream_latency_ms": options.latency_ms,
        },
        "scenarios": [],
        "profiles": [],
    }
    try:
        for name in [] if options.profile_only else names:
            print(f"{name}: {SCENARIOS[name].description}", flush=True)
            results["scenarios"].append(run_scenario(SCENARIOS[name], upstream, options, work))
            options.out.write_text(json.dumps(results, indent=1), encoding="utf-8")  # partial results survive
        if options.profile or options.profile_only:
            for name in names:
                for variant in options.profile_variants.split(","):
                    if SCENARIOS[name].workers == 1 and variant in VARIANTS:
                        print(f"profile {name} ({variant})", flush=True)
                        profile = profile_scenario(SCENARIOS[name], upstream, options, work, variant)
                        if profile is not None:
                            results["profiles"].append(profile)
    finally:
        upstream.stop()
        if options.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = round(time.monotonic() - started, 1)
    options.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print_table(results)
    print(f"results in {options.out}")
    return 0


def print_table(results: dict[str, Any]) -> None:
    header = (
        f"{'scenario':<14} {'variant':<6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} {'errors':>6}"
    )
    print(f"\n{header}")
    for scenario in results["scenarios"]:
        for variant in VARIANTS:
            row = scenario["summary"][variant]
            if "requests_per_second" not in row:
                continue
            cpu = row.get("cpu_ms_per_request", {}).get("median", float("nan"))
            print(
                f"{scenario['name']:<14} {variant:<6} {row['requests_per_second']['median']:10.1f} "
                f"{row['p50_ms']['median']:10.1f} {row['p99_ms']['median']:10.1f} {cpu:10.2f} {row['errors']:10d}"
            )
    for profile in results["profiles"]:
        print(
            f"\n{profile['variant']} proxy, {profile['scenario']}: {profile['ms_per_request']} ms sampled per request"
        )
        for area in profile["areas"][:16]:
            print(f"  {area['area']:<26} self {area['self_ms']:7.2f} ms   inclusive {area['inclusive_ms']:7.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
