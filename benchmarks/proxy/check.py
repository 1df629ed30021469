"""Does the proxy answer the same with fast-litellm? One request sequence, two fresh proxies.

The same sequence goes to a plain LiteLLM proxy and to `fast-litellm proxy` (one worker each,
same config): chats, streams (with and without usage), an upstream without usage (LiteLLM counts
tokens to price it), the token-counter endpoint, a bad key, no key, a malformed body, an unknown
model, a failing upstream, and keys over their rpm and tpm limits (v3 limiter). Status codes,
headers and bodies must be equal, once values that differ between any two runs of the same
proxy (dates, call ids, durations, timestamps) are masked.

    python benchmarks/proxy/check.py
"""

from __future__ import annotations

import http.client
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from processes import Proxy, Upstream, console_script  # noqa: E402
from scenarios import HERE, master_key  # noqa: E402

# Headers whose values change from request to request in any proxy.
VOLATILE_HEADERS = {
    "date",
    "x-litellm-call-id",
    "x-litellm-response-duration-ms",
    "x-litellm-overhead-duration-ms",
    "x-litellm-callback-duration-ms",
    "x-litellm-response-cost-original",
    "x-litellm-attempted-retries",
    "x-litellm-attempted-fallbacks",
    "llm_provider-date",
}
VOLATILE_KEYS = {"created", "id", "response_ms", "litellm_call_id", "request_id", "start_time", "end_time"}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?( ?UTC|Z|[+-]\d{2}:?\d{2})?")


def _mask_text(text: str) -> str:
    """Ids and clock times (e.g. when a rate-limit window resets) differ between any two runs."""
    return _TIMESTAMP.sub("<time>", _UUID.sub("<uuid>", text))


RATE_LIMITED_KEYS = {"sk-check-rpm": {"rpm_limit": 3}, "sk-check-tpm": {"tpm_limit": 60}}


def write_configs(directory: Path, upstream_port: int, key: str) -> tuple[Path, Path]:
    """Two configs: master-key auth with three deployments, and custom_auth keys with limits."""
    base = f"http://127.0.0.1:{upstream_port}"
    deployments = [
        ("gpt-4o", f"{base}/v1"),
        ("no-usage", f"{base}/no-usage/v1"),
        ("failing", f"{base}/fail-500/v1"),
    ]
    model_list = [
        {"model_name": name, "litellm_params": {"model": "openai/gpt-4o", "api_base": api_base, "api_key": "sk-up"}}
        for name, api_base in deployments
    ]
    plain = directory / "master-key"
    plain.mkdir(parents=True, exist_ok=True)
    settings = {"num_retries": 0}
    config = {"model_list": model_list, "general_settings": {"master_key": key}, "litellm_settings": settings}
    (plain / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    limited = directory / "limits"
    limited.mkdir(parents=True, exist_ok=True)
    (limited / "bench_auth.py").write_text((HERE / "bench_auth.py").read_text(encoding="utf-8"), encoding="utf-8")
    (limited / "bench_auth_keys.json").write_text(json.dumps(RATE_LIMITED_KEYS), encoding="utf-8")
    config = {
        "model_list": model_list[:1],
        "general_settings": {"master_key": key, "custom_auth": "bench_auth.user_api_key_auth"},
        "litellm_settings": settings,
    }
    (limited / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return plain / "config.yaml", limited / "config.yaml"


def chat(model: str = "gpt-4o", **extra: Any) -> bytes:
    body = {"model": model, "messages": [{"role": "user", "content": "Say something about lighthouses."}], **extra}
    return json.dumps(body).encode()


def master_key_sequence(key: str) -> list[tuple[str, str, str, dict[str, str], bytes]]:
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    counter = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "count these tokens 😀"}]})
    return [
        ("chat", "POST", "/chat/completions", auth, chat()),
        ("stream", "POST", "/chat/completions", auth, chat(stream=True)),
        (
            "stream with usage",
            "POST",
            "/chat/completions",
            auth,
            chat(stream=True, stream_options={"include_usage": True}),
        ),
        ("upstream without usage", "POST", "/chat/completions", auth, chat("no-usage")),
        ("stream without usage upstream", "POST", "/chat/completions", auth, chat("no-usage", stream=True)),
        ("token counter endpoint", "POST", "/utils/token_counter", auth, counter.encode()),
        ("bad key", "POST", "/chat/completions", {**auth, "Authorization": "Bearer sk-wrong"}, chat()),
        ("no key", "POST", "/chat/completions", {"Content-Type": "application/json"}, chat()),
        ("malformed JSON body", "POST", "/chat/completions", auth, b'{"model": "gpt-4o", "messages": [}'),
        ("unknown model", "POST", "/chat/completions", auth, chat("no-such-model")),
        ("upstream 500", "POST", "/chat/completions", auth, chat("failing")),
        ("models", "GET", "/v1/models", auth, b""),
    ]


def limits_sequence() -> list[tuple[str, str, str, dict[str, str], bytes]]:
    sequence = []
    for key, count in (("sk-check-rpm", 5), ("sk-check-tpm", 4)):
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        sequence += [(f"{key} #{n + 1}", "POST", "/chat/completions", headers, chat()) for n in range(count)]
    headers = {"Authorization": "Bearer sk-unknown", "Content-Type": "application/json"}
    return [*sequence, ("unknown key", "POST", "/chat/completions", headers, chat())]


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: ("<volatile>" if key in VOLATILE_KEYS else _mask(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if isinstance(value, str):
        return _mask_text(value)
    return value


def normalize_body(body: bytes, content_type: str) -> Any:
    text = body.decode("utf-8", errors="replace")
    if "text/event-stream" in content_type:
        events = []
        for line in text.splitlines():
            if line.startswith("data: "):
                payload = line[len("data: ") :]
                try:
                    events.append(_mask(json.loads(payload)))
                except ValueError:
                    events.append(payload)
        return events
    try:
        return _mask(json.loads(text))
    except ValueError:
        return _mask_text(text)


def send(port: int, method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        header_values = {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()
    content_type = header_values.get("content-type", "")
    return {
        "status": response.status,
        "headers": {
            name: _mask_text(value)
            for name, value in sorted(header_values.items())
            if name not in VOLATILE_HEADERS and name != "content-length"  # lengths follow masked values
        },
        "body": normalize_body(data, content_type),
    }


def record(variant: str, config: Path, sequence: list, log_dir: Path) -> list[dict[str, Any]]:
    command = [console_script("litellm")] if variant == "plain" else [console_script("fast-litellm"), "proxy"]
    from run import proxy_environment

    proxy = Proxy([*command, "--config", str(config)], log_dir / f"check-{variant}-{config.parent.name}.log",
                  env=proxy_environment())  # fmt: skip
    try:
        proxy.wait_ready(1)
        return [{"name": name, **send(proxy.port, *request)} for name, *request in sequence]
    finally:
        proxy.stop()


def compare(work: Path) -> dict[str, Any]:
    """Run both sequences on both variants; the differences (none when the proxies agree)."""
    upstream = Upstream()
    key = master_key()
    try:
        master_config, limits_config = write_configs(work, upstream.port, key)
        outcomes: dict[str, list[dict[str, Any]]] = {}
        for variant in ("plain", "fast"):
            outcomes[variant] = record(variant, master_config, master_key_sequence(key), work)
            outcomes[variant] += record(variant, limits_config, limits_sequence(), work)
    finally:
        upstream.stop()
    differences = []
    for plain, fast in zip(outcomes["plain"], outcomes["fast"], strict=True):
        for part in ("status", "headers", "body"):
            if plain[part] != fast[part]:
                differences.append({"request": plain["name"], "part": part, "plain": plain[part], "fast": fast[part]})
    return {
        "requests": len(outcomes["plain"]),
        "statuses": {item["name"]: item["status"] for item in outcomes["plain"]},
        "differences": differences,
    }


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="fast-litellm-proxy-check-"))
    result = compare(work)
    print(json.dumps(result, indent=1))
    print(f"logs and configs in {work}")
    return 1 if result["differences"] else 0


if __name__ == "__main__":
    sys.exit(main())
