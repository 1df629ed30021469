"""The `fast-litellm` command."""

from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fast-litellm", description="Rust acceleration for LiteLLM")
    commands = parser.add_subparsers(dest="command", required=True)
    status_parser = commands.add_parser("status", help="show patch targets, modes, thresholds and policy")
    status_parser.add_argument("--json", action="store_true", help="print the full status as JSON")
    args = parser.parse_args(argv)

    if args.command == "status":
        return _status(as_json=args.json)
    parser.error(f"unknown command {args.command}")
    return 2


def _status(as_json: bool) -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # noqa: F401  # status describes the patched LiteLLM

    import fast_litellm

    status = fast_litellm.status()
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
