"""Does a proxy's cost per request grow with uptime? One fresh proxy per variant under constant
load, CPU ms per request in consecutive windows.

    python benchmarks/proxy/uptime.py --scenario latency-50 --minutes 10 --window 60

Each variant (plain, then fast) gets its own fresh proxy and the same load for `--minutes`; the
load generator runs back to back in windows of `--window` seconds and the proxy's CPU (all its
processes, from /proc) is read between windows. Reported per variant: every window, and the last
window over the first.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from processes import Upstream, load  # noqa: E402
from run import VARIANTS, start_proxy  # noqa: E402
from scenarios import SCENARIOS, master_key, requests, write_config  # noqa: E402


def windows(variant: str, scenario_name: str, options: argparse.Namespace, upstream: Upstream, work: Path) -> list:
    scenario = SCENARIOS[scenario_name]
    key = master_key()
    directory = work / f"{scenario.name}-{variant}"
    config = write_config(scenario, directory, upstream.port, key)
    request_file = directory / "requests.jsonl"
    request_file.write_text("".join(json.dumps(line) + "\n" for line in requests(scenario, key)), encoding="utf-8")
    proxy = start_proxy(variant, scenario, config, directory, f"uptime-{variant}")
    url = f"{proxy.url}/chat/completions"
    results = []
    try:
        count = max(1, int(options.minutes * 60 // options.window))
        for index in range(count):
            cpu_before = proxy.cpu_seconds()
            report = load(url, request_file, options.connections, duration=options.window)
            cpu = proxy.cpu_seconds() - cpu_before
            responses = report["responses"]
            row = {
                "window": index,
                "ends_at_s": (index + 1) * options.window,
                "requests_per_second": report["requests_per_second"],
                "cpu_ms_per_request": cpu * 1000.0 / responses if responses else None,
                "errors": report["non_2xx"] + report["transport_errors"],
            }
            results.append(row)
            print(
                f"  {variant:5s} window {index:2d}: {row['requests_per_second']:6.1f} req/s  "
                f"cpu {row['cpu_ms_per_request'] or float('nan'):6.2f} ms/req  errors {row['errors']}",
                flush=True,
            )
    finally:
        proxy.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="latency-50", choices=sorted(SCENARIOS))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=60.0, help="seconds per measured window")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("proxy-uptime.json"))
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fast-litellm-proxy-uptime-"))
    upstream = Upstream()
    results: dict[str, Any] = {"scenario": options.scenario, "window_s": options.window, "variants": {}}
    try:
        for variant in options.variants.split(","):
            rows = windows(variant, options.scenario, options, upstream, work)
            first, last = rows[0]["cpu_ms_per_request"], rows[-1]["cpu_ms_per_request"]
            ratio = last / first if first and last else None
            results["variants"][variant] = {"windows": rows, "last_over_first": ratio}
            print(f"{variant}: last window / first window = {ratio:.2f}" if ratio else f"{variant}: no ratio")
            options.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    finally:
        upstream.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
