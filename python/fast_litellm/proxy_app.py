"""LiteLLM's proxy ASGI app with fast_litellm active, for servers started their own way.

    gunicorn fast_litellm.proxy_app:app -k uvicorn.workers.UvicornWorker --preload -w 4
    uvicorn fast_litellm.proxy_app:app --workers 4

Importing this module imports the `fast_litellm` package first, which patches LiteLLM as the
app loads, in every worker that imports it. The proxy reads its config from `CONFIG_FILE_PATH`
(or `WORKER_CONFIG`), as LiteLLM's own app does.
"""

from __future__ import annotations

import fast_litellm

fast_litellm._patcher.expect_proxy()  # the proxy's own modules (its limiter) are patched as they load

from litellm.proxy.proxy_server import app  # noqa: E402

__all__ = ["app"]
