"""Every Unicode scalar value, in several contexts, encodes exactly as the tiktoken LiteLLM uses.

The native splitter classifies characters with regex-syntax's Unicode tables; Python tiktoken
ships its own regex build. This walks all 1,112,064 scalar values so that any difference in
Unicode tables or splitting rules between the two shows up here."""

from __future__ import annotations

import litellm.litellm_core_utils.default_encoding  # noqa: F401  # offline tiktoken cache
import pytest
import tiktoken

from fast_litellm._native import Encoding

CONTEXTS = ["x{c}y ", " {c}{c} ", "{c}'s ", "1{c}2 ", "A{c}a ", "\n{c} "]
SCALARS = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
@pytest.mark.parametrize("context", CONTEXTS)
def test_every_scalar_value_encodes_like_tiktoken(name, context):
    reference, native = tiktoken.get_encoding(name), Encoding.get(name)
    text = "".join(context.format(c=c) for c in SCALARS)
    step = 30_000
    for start in range(0, len(text), step):
        part = text[start : start + step]
        if reference.encode_ordinary(part) != native.encode(part):
            culprit = next(
                part[i : i + 40]
                for i in range(0, len(part), 40)
                if reference.encode_ordinary(part[i : i + 40]) != native.encode(part[i : i + 40])
            )
            pytest.fail(f"{name}: native differs from tiktoken on {culprit!r}")
