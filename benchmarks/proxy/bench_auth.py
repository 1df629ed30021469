"""Virtual keys without a database, for the proxy benchmark's limiter scenario.

LiteLLM's `general_settings.custom_auth` names this module's `user_api_key_auth`; the keys and
their rpm/tpm/parallel limits are read from `bench_auth_keys.json` beside it. The limits on the
returned `UserAPIKeyAuth` are enforced by LiteLLM's v3 parallel-request limiter, as for keys that
come from a database. An unknown key is refused with 401.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import HTTPException, Request
from litellm.proxy._types import UserAPIKeyAuth

KEYS: dict[str, dict[str, int]] = json.loads((Path(__file__).parent / "bench_auth_keys.json").read_text())


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    limits = KEYS.get(api_key)
    if limits is None:
        raise HTTPException(status_code=401, detail="invalid api key")
    return UserAPIKeyAuth(api_key=api_key, key_alias=api_key, **limits)
