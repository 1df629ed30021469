"""The `fast-litellm` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["proxy"]:  # everything after it is LiteLLM's, untouched
        from fast_litellm import proxy

        return proxy.run(arguments[1:])
    parser = argparse.ArgumentParser(prog="fast-litellm", description="Rust acceleration for LiteLLM")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "proxy",
        help="run LiteLLM's proxy (`litellm` with the same arguments) with fast-litellm in every worker",
        add_help=False,
    )
    status_parser = commands.add_parser("status", help="show patch targets, modes, thresholds and policy")
    status_parser.add_argument("--json", action="store_true", help="print the full status as JSON")
    calibrate_parser = commands.add_parser("calibrate", help="measure native vs Python here; write a policy")
    calibrate_parser.add_argument("--quick", action="store_true", help="fewer sizes and repetitions (<= 60 s)")
    calibrate_parser.add_argument("--out", type=Path, help="policy file (default: FAST_LITELLM_POLICY or ~/.config)")
    report_parser = commands.add_parser("report", help="render the HTML report of the calibrated policy")
    report_parser.add_argument("--out", type=Path, default=Path("fast-litellm-report.html"), help="HTML file")
    report_parser.add_argument("--policy", type=Path, help="policy file (default: the one calibrate writes)")
    report_parser.add_argument("--benchmark-json", type=Path, help="pytest-benchmark JSON to include")
    report_parser.add_argument("--proxy-json", type=Path, help="JSON of benchmarks/proxy/run.py to include")
    args = parser.parse_args(arguments)

    if args.command == "status":
        return _status(as_json=args.json)
    if args.command == "calibrate":
        return _calibrate(args.quick, args.out)
    if args.command == "report":
        return _report(args.out, args.policy, args.benchmark_json, args.proxy_json)
    parser.error(f"unknown command {args.command}")
    return 2


def _policy_path(explicit: Path | None) -> Path:
    from fast_litellm import _policy

    if explicit is not None:
        return explicit
    configured = os.environ.get("FAST_LITELLM_POLICY")
    return Path(configured) if configured else _policy.default_path()


def _calibrate(quick: bool, out: Path | None) -> int:
    from fast_litellm import calibrate

    started = time.monotonic()
    path = calibrate.run(quick=quick, out=_policy_path(out))
    print(calibrate.describe(path))
    print(f"calibration took {time.monotonic() - started:.0f} s")
    return 0


def _report(out: Path, policy: Path | None, benchmark_json: Path | None, proxy_json: Path | None) -> int:
    from fast_litellm import report

    path: Path | None = _policy_path(policy)
    if not path.exists():
        if proxy_json is None or policy is not None:
            print(f"no policy at {path}: run `fast-litellm calibrate` first", file=sys.stderr)
            return 1
        path = None  # the proxy benchmark on its own
    try:
        written = report.write(out, path, benchmark_json, proxy_json)
    except (OSError, ValueError, KeyError) as error:
        print(f"cannot render the report: {error}", file=sys.stderr)
        return 1
    print(f"report written to {written}")
    return 0


def _status(as_json: bool) -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # noqa: F401  # status describes the patched LiteLLM

    import fast_litellm
    from fast_litellm import proxy

    status = fast_litellm.status()
    status["accelerated_processes"] = proxy.accelerated_processes()
    if as_json:
        json.dump(status, sys.stdout, indent=2, default=str)
        print()
        return 0
    print(f"fast-litellm {status['fast_litellm_version']} on litellm {status['litellm_version']}")
    if status["disabled"]:
        print("DISABLED by FAST_LITELLM_DISABLE: nothing is patched")
    print(
        f"policy: {status['policy']['source']}" + (f" ({status['policy']['path']})" if status["policy"]["path"] else "")
    )
    for problem in status["policy"]["problems"]:
        print(f"  policy problem: {problem}")
    print("components:")
    for name, component in status["components"].items():
        native = "native" if component["native_available"] else "python only (not yet native)"
        print(
            f"  {name:<10} mode={component['mode']:<6} rollout={component['rollout_percent']:g}% "
            f"thresholds={component['thresholds']} [{native}]"
        )
        for error in component["config_errors"]:
            print(f"    config error: {error}")
    print("targets:")
    for target in status["targets"]:
        print(f"  {target['state']:<9} {target['target']}: {target['reason']}")
    processes = status["accelerated_processes"]
    print(
        f"accelerated processes running (FAST_LITELLM_ANNOUNCE=1, e.g. `fast-litellm proxy` workers): {len(processes)}"
    )
    for process in processes:
        print(
            f"  pid {process['pid']} (parent {process['ppid']}) since {process['announced_at']}: "
            f"{process['targets_patched']}/{process['targets']} targets, {process['bindings']} bindings, "
            f"modes {process['modes']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
