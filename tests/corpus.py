"""Deterministic generated corpora for differential tests against LiteLLM.

Texts mix scripts, emoji, code, whitespace kinds, special-token text, lone surrogates and long
runs without whitespace, at sizes from empty to over 1M characters. Message lists mix roles,
names, tool calls, function calls and content parts.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from typing import Any

SPECIAL_TOKEN_TEXT = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>"]

ALPHABETS: dict[str, str] = {
    "ascii": string.ascii_letters + string.digits + string.punctuation + " " * 12,
    "latin": "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßœšžŁłĐđǅǈǋ ",
    "greek_cyrillic": "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔ абвгдеёжзийклмнопрстуфхцчшщъыьэюя ",
    "cjk": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年日本語のテキスト中文한국어텍스트",
    "arabic_indic": "مرحبا بالعالم नमस्ते दुनिया ٣٤٥ ०१२ ",
    "emoji": "😀😃😄😁🤖🚀🔥👍🏽👨‍👩‍👧‍👦🏳️‍🌈❤️‍🔥🇺🇸🇯🇵 ",
    "whitespace": " \t\n\r\u00a0\u2028\u3000\u200b\x0b\x0c",
    "digits": "0123456789³½Ⅻ٣",
    "contractions": "'s 'S 't 'T 're 'RE 've 'll 'LL 'm 'd 'ſ ",
    "combining": "e\u0301a\u0308o\u0303\u0345\u20dd",
}

CODE_SNIPPETS = [
    "def f(x):\n    return x ** 2  # square\n",
    "for (let i = 0; i < n; i++) { sum += a[i]; }\n",
    '{"key": [1, 2, 3], "nested": {"a": null, "b": true}}',
    "SELECT id, name FROM users WHERE age >= 21 ORDER BY name;\n",
    "    \n\t\t}\n\n\n    else:\r\n        pass\r\n",
    "https://example.com/path?query=1&other=two#frag",
]

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "token",
    "counter",
    "model",
    "router",
    "cache",
    "limiter",
    "latency",
    "deployment",
    "request",
    "response",
    "stream",
    "chunk",
    "prompt",
    "completion",
    "assistant",
    "system",
    "user",
]

TEXT_MODELS = [
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4",
    "gpt-3.5-turbo",
    "gpt-3.5-turbo-0301",
    "o1",
    "gpt-5",
    "azure/gpt-4o",
    "azure/eu/gpt-4.1",
    "openai/gpt-6.2",
    "text-embedding-ada-002",
    "claude-3-5-sonnet-20240620",
    "",
    None,
    "some-unknown-model",
]
# Models LiteLLM counts with a Hugging Face tokenizer: the native path must hand them back.
HF_MODELS = ["deepseek-chat", "claude-haiku-4-5-20251001", "llama-3-70b"]


def _from_alphabet(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


def random_text(rng: random.Random, size: int) -> str:
    """A text of about `size` characters built from randomly chosen pieces."""
    parts: list[str] = []
    total = 0
    while total < size:
        kind = rng.randrange(10)
        if kind <= 2:
            piece = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))) + rng.choice([" ", ". ", "\n", ""])
        elif kind == 3:
            piece = rng.choice(CODE_SNIPPETS)
        elif kind == 4:
            piece = rng.choice(SPECIAL_TOKEN_TEXT)
        elif kind == 5:
            piece = rng.choice("x#=-_.a0") * rng.randint(1, 300)  # runs without whitespace
        else:
            alphabet = ALPHABETS[rng.choice(list(ALPHABETS))]
            piece = _from_alphabet(rng, alphabet, rng.randint(1, 40))
        parts.append(piece)
        total += len(piece)
    return "".join(parts)[: max(size, 0)]


def with_surrogates(rng: random.Random, text: str) -> str:
    """Insert lone and paired surrogates (invalid UTF-8 in a Python str)."""
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        surrogate = rng.choice(["\ud800", "\udfff", "\ud83d\ude00", "\udc00\ud800", "\ud83d"])
        chars.insert(rng.randint(0, len(chars)), surrogate)
    return "".join(chars)


def text_sizes(rng: random.Random) -> int:
    bucket = rng.random()
    if bucket < 0.5:
        return rng.randint(0, 64)
    if bucket < 0.8:
        return rng.randint(64, 1100)
    if bucket < 0.97:
        return rng.randint(1000, 6000)
    return rng.randint(6000, 40_000)


def text_cases(count: int, seed: int = 1234) -> Iterator[tuple[str, Any, str]]:
    """(case id, model, text) triples."""
    rng = random.Random(seed)
    for index in range(count):
        text = random_text(rng, text_sizes(rng))
        if rng.random() < 0.05:
            text = with_surrogates(rng, text)
        yield f"text-{index}", rng.choice(TEXT_MODELS), text


def huge_text_cases() -> Iterator[tuple[str, Any, str]]:
    """Inputs from 100k to over 4M characters (the last one is extrapolated by LiteLLM)."""
    rng = random.Random(99)
    yield "huge-english-200k", "gpt-4o", random_text(rng, 200_000)
    yield "huge-x-1M", "gpt-4", "x" * 1_000_000
    yield "huge-spaces-1M", "gpt-4o", " " * 1_000_000
    yield "huge-digits-1.2M", "gpt-4o", "1234567890" * 120_000
    yield "huge-cjk-1M", "gpt-4o", _from_alphabet(rng, ALPHABETS["cjk"], 1_000_000)
    yield "huge-emoji-300k", "gpt-4", _from_alphabet(rng, ALPHABETS["emoji"], 300_000)
    yield "huge-mixed-4.5M", "gpt-4o", random_text(rng, 500_000) * 9


def random_message(rng: random.Random) -> dict[str, Any]:
    role = rng.choice(["system", "user", "assistant", "tool", "developer"])
    message: dict[str, Any] = {"role": role}
    shape = rng.randrange(8)
    if shape <= 3:
        message["content"] = random_text(rng, rng.choice([0, 5, 40, 300, 1500]))
    elif shape == 4:
        message["content"] = [
            rng.choice(
                [
                    {"type": "text", "text": random_text(rng, rng.randint(0, 200))},
                    {"type": "thinking", "thinking": random_text(rng, rng.randint(0, 80))},
                    {"type": "redacted_thinking", "thinking": None},
                    {"type": "compaction", "content": random_text(rng, 30)},
                    random_text(rng, 20),
                ]
            )
            for _ in range(rng.randint(0, 4))
        ]
    elif shape == 5:
        message["role"] = "assistant"
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {
                    "name": rng.choice(WORDS),
                    "arguments": rng.choice(['{"city": "Paris"}', random_text(rng, 60), "", {"a": 1}, None]),
                },
            }
            for i in range(rng.randint(0, 3))
        ]
    elif shape == 6:
        message["role"] = "assistant"
        message["function_call"] = {"name": rng.choice(WORDS), "arguments": random_text(rng, 40)}
    else:
        message["content"] = random_text(rng, 50)
        message["tool_call_id"] = f"call_{rng.randint(0, 99)}"
        message["extra_number"] = rng.randint(0, 9)
    if rng.random() < 0.25:
        message["name"] = rng.choice(["alice", "bob_1", "日本", "x" * 30])
    return message


def random_tools(rng: random.Random) -> list[dict[str, Any]] | None:
    if rng.random() < 0.7:
        return None
    return [
        {
            "type": "function",
            "function": {
                "name": rng.choice(WORDS) + str(i),
                "description": random_text(rng, 40),
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "description": "the city"},
                        "unit": {"type": "string", "enum": ["c", "f"]},
                        "days": {"type": "integer"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["city"],
                },
            },
        }
        for i in range(rng.randint(1, 3))
    ]


def message_cases(count: int, seed: int = 4321) -> Iterator[tuple[str, dict[str, Any]]]:
    """(case id, token_counter kwargs) pairs for chats of 0 to 60 messages."""
    rng = random.Random(seed)
    for index in range(count):
        messages = [random_message(rng) for _ in range(rng.choice([0, 1, 2, 2, 3, 5, 10, 20, 60]))]
        kwargs: dict[str, Any] = {"model": rng.choice(TEXT_MODELS), "messages": messages}
        tools = random_tools(rng)
        if tools:
            kwargs["tools"] = tools
        if rng.random() < 0.2:
            kwargs["tool_choice"] = rng.choice(
                ["none", "auto", "required", {"type": "function", "function": {"name": "f"}}, {"type": "none"}]
            )
        if rng.random() < 0.1:
            kwargs["count_response_tokens"] = rng.choice([True, None])
        yield f"messages-{index}", kwargs
