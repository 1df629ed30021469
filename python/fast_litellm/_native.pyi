"""Type stubs of the native extension (built from native/ by maturin)."""

from collections.abc import Callable, Sequence
from typing import Literal, final

__version__: str

@final
class Encoding:
    """A tiktoken encoding with a native implementation (cl100k_base, o200k_base)."""

    @staticmethod
    def get(name: str) -> Encoding:
        """The encoding called `name`; ValueError if it has no native implementation."""
    @property
    def name(self) -> str: ...
    @property
    def max_token_value(self) -> int: ...
    def count_chunked(self, text: str, chunk_chars: int) -> int:
        """Tokens of `text` counted in independent chunks of `chunk_chars` code points.

        Raises UnicodeEncodeError if `text` holds lone surrogates."""
    def count_messages(
        self,
        messages: list[dict[str, object]],
        tokens_per_message: int,
        tokens_per_name: int,
        chunk_chars: int,
        max_exact_chars: int,
    ) -> tuple[int, list[str]] | None:
        """LiteLLM's message walk: (tokens, strings the caller still counts) or None if unsupported."""
    def count(self, text: str) -> int:
        """Tokens of `text` as one piece (tiktoken's `encode_ordinary` length)."""
    def encode(self, text: str) -> list[int]:
        """Token ids, special-token text encoded as ordinary text."""
    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """The bytes of `tokens`; KeyError for an id outside the vocabulary."""

def configure_count_cache(budget_bytes: int, chunk_chars: int) -> None:
    """Byte budget of the count cache per encoding (0 disables it) and the chunk size it serves."""

def count_cache_stats() -> dict[str, int]:
    """hits, misses, entries, bytes and budget_bytes_per_encoding of the count caches."""

@final
class LatencyHistogram:
    """HdrHistogram of latencies in nanoseconds (1 ns..100 s, 3 significant digits)."""

    def __init__(self) -> None: ...
    def record(self, nanoseconds: int) -> None: ...
    def reset(self) -> None: ...
    @property
    def count(self) -> int: ...
    def value_at_quantile(self, quantile: float) -> int: ...
    def summary(self) -> dict[str, int]:
        """count, min, p50, p90, p99 and max in nanoseconds."""

def _panic_for_tests(message: str) -> None:
    """Panics in native code (raises pyo3's PanicException); for fallback tests."""

def policy_yaml_to_json(yaml: str) -> str:
    """Parse and validate a YAML policy; the policy as JSON. ValueError lists every problem."""

def policy_json_to_yaml(json: str) -> str:
    """Validate a JSON policy and serialize it as YAML. ValueError lists every problem."""

def find_crossover(points: list[tuple[int, float, float]], margin: float) -> int | None:
    """Smallest size from which native wins consistently by `margin` (0: always, None: never).

    `points` are (size, python_ns, native_ns) medians."""

def render_report(json: str) -> str:
    """The self-contained HTML report described by `json`."""

@final
class FastPath:
    """The commonest token-counting calls decided and counted in one native call, from what
    Python resolved (registry snapshot, model plans, selector shortcuts)."""

    def __init__(
        self, latency: LatencyHistogram, long_way: Callable[..., int], restore: Callable[[], FastPath]
    ) -> None: ...
    def token_counter(
        self,
        model: object = "",
        custom_tokenizer: object = None,
        text: object = None,
        messages: object = None,
        count_response_tokens: object = False,
        tools: object = None,
        tool_choice: object = None,
        use_default_image_token_count: object = False,
        default_token_count: object = None,
    ) -> int:
        """LiteLLM's `token_counter`: common calls counted here, the rest sent the long way."""
    def configure(
        self,
        litellm: object,
        model_cost: object,
        model_cost_len: int,
        hf_flag: object,
        encodings: dict[object, tuple[Encoding, int, int]],
        text_from: float,
        messages_from: float,
        chunk_chars: int,
        max_exact_chars: int,
    ) -> None: ...
    def reset(self) -> None: ...
    @property
    def calls(self) -> int: ...
    @property
    def panics(self) -> int:
        """Panics caught in the fast path (those calls went the long way; it turned itself off)."""
    def _panic_on_next_call_for_tests(self) -> None: ...
    def reset_calls(self) -> None: ...

@final
class MemoryCacheOps:
    """LiteLLM's `InMemoryCache` operations done natively on an instance's own dicts and heap,
    run by the store methods (`store_methods`) once `use_store_ops` has made it current.

    An instance it does not handle (unknown class, a replaced helper, instance attributes of its
    own, dicts replaced by other types) gets LiteLLM's method, as do calls on the Python route."""

    helper_names: list[str]
    def __new__(
        cls,
        classes: list[tuple[type, list[type], list[object], int, bool, bool]],
        tools: tuple[object, object, object, object, object, object],
        max_kb: int,
        default_clock: tuple[object, dict[str, object], object, dict[str, object], object] | None,
        originals: tuple[object, object, object, object],
        decide: Callable[[], bool],
    ) -> MemoryCacheOps: ...
    def set_route(self, route: Literal["python", "native", "per_call"]) -> None:
        """Where store method calls go; `per_call` asks `decide` on each call."""
    def counts(self) -> tuple[int, int]:
        """(native calls, LiteLLM calls) through the store methods since the last reset."""
    def reset_counts(self) -> None: ...

@final
class ClientCacheOps:
    """`LLMClientCache.get_cache`'s steps (loop-scoped key, reap, read) done natively while the
    class, its helpers, the module globals they read and the closer are LiteLLM's."""

    def __new__(
        cls,
        client_class: type,
        class_helpers: list[tuple[str, object]],
        base: tuple[type, object],
        instance_attributes: int,
        modules: tuple[dict[str, object], dict[str, object]],
        asyncio: tuple[object, dict[str, object]],
        loop_tokens: object,
        loop_functions: tuple[Callable[[], object], Callable[[], object], Callable[[], object]],
        closer_type: type,
        original: Callable[..., object],
    ) -> ClientCacheOps: ...

def client_get_cache_method() -> object:
    """`LLMClientCache.get_cache` as a native method descriptor (runs the current `ClientCacheOps`)."""

def use_client_cache_ops(ops: ClientCacheOps) -> None:
    """Make `ops` what the client cache method runs from now on."""

def store_methods() -> list[tuple[str, object]]:
    """`InMemoryCache`'s get_cache, set_cache, increment_cache and batch_get_cache as native method
    descriptors (by name), to install on the class; each runs the current `MemoryCacheOps`."""

def use_store_ops(ops: MemoryCacheOps) -> None:
    """Make `ops` what every store method runs from now on."""

def lowest_latency_prepare(
    healthy: object, latency_map: object, precise_minute: str
) -> dict[str, dict[str, object]] | None:
    """Latency routing's first steps: healthy deployments indexed by id (the last wins) and missing
    ones added to the latency map; None, with nothing changed, unless every deployment is a dict
    whose `model_info` is a dict with a str `id`."""

def lowest_latency_candidates(
    sampled: object,
    index: dict[str, dict[str, object]],
    precise_minute: str,
    input_tokens: object,
    stream: bool,
    ttft_percentile: object,
    buffer_fraction: object,
    helpers: tuple[object, object, object, object, object, object],
    latency_key: object,
) -> tuple[tuple[tuple[dict[str, object], object], ...], dict[object, object]]:
    """Latency routing's per-deployment pass: (candidates within the buffer, for random.choice;
    latency per api_base for the request metadata). No candidates: all over their limits."""

def cooldown_ids(keys: object, unhandled: object) -> object:
    """LiteLLM router core's `_cooldown_ids` for a list or tuple of strs: the ids of
    `deployment:<id>:cooldown` keys, or None (no keys, or a key of another kind); `unhandled`
    for any other input."""

def deployment_records(handle: object, ids: list[object], records: dict[str, object]) -> list[dict[str, object]] | None:
    """The candidates' deployment dicts as `RustCore._strategy_inputs` builds them, as fresh deep
    copies of `records` (filled from `handle.deployment(id)` on first use); None when an id is not
    a str or a record is not JSON-like."""

def registry_rows(model_list: object, rows: object, unhandled: object) -> object:
    """`HostRegistry._rows` for rows that are all `{"at": int}`: the stored entries at those
    positions; `unhandled` for any other rows."""

def plain_deployment_ids(healthy: object) -> list[str] | None:
    """The deployments' ids when `healthy` is a list of dicts whose `model_info` is a dict with a
    str `id`; None otherwise."""

def lowest_tpm_pick(
    healthy: list[dict[str, object]],
    ids: list[str],
    tpm_map: object,
    rpm_map: object,
    input_tokens: object,
) -> dict[str, object] | None:
    """Usage-based routing (v1) after its cache reads: the tpm map filled in place with 0 for the
    deployments it lacks, then the lowest-tpm deployment within its tpm and rpm limits (the first
    in map order), or None."""

def least_busy_pass(
    store: object,
    ids: tuple[str, ...],
    counts: tuple[object, ...],
    now: object,
    picks_adapter: object,
    ttl: object,
) -> tuple[tuple[tuple[object, ...], ...], int]:
    """Least-busy routing's per-deployment pass: the unexpired reservations read from `store` per
    deployment, and the index of the first deployment with the fewest in flight plus reserved."""

def usage_counter_keys(healthy: object, minute: str) -> tuple[list[str], list[str]] | None:
    """Usage-based routing v2's `<id>:<model>:tpm:<minute>` and `...:rpm:<minute>` keys of every
    dict deployment; None unless every dict (and its `model_info` and `litellm_params`) reads
    with `dict.get` and ids and models are strs, ints or None."""

def usage_v2_maps(
    tpm_keys: object, tpm_values: object, rpm_keys: object, rpm_values: object
) -> tuple[dict[object, object], dict[object, object]]:
    """Usage-based routing v2's id -> counter maps (the part of each key before its first `:`)."""

def usage_v2_potential(
    healthy: list[dict[str, object]],
    ids: list[str],
    tpm_map: dict[object, object],
    rpm_map: dict[object, object],
    input_tokens: object,
) -> list[dict[str, object]]:
    """Usage-based routing v2 after the token count: the tpm map filled with 0 where missing or
    None, then the deployments within their limits sharing the lowest tpm, in map order."""

def lowest_cost_candidates(
    healthy: list[dict[str, object]],
    ids: list[str],
    cost_map: object,
    precise_minute: str,
    input_tokens: object,
    cost_map_rates: object,
    debug: object,
    model_cost: dict[str, object] | None,
) -> list[tuple[dict[str, object], object]]:
    """Cost-based routing's pass over the cost map: `(deployment, cost)` of each entry whose
    deployment is healthy and within its tpm/rpm limits, in map order. The rates of plain
    deployments are read from `model_cost` natively (None: `cost_map_rates` for each)."""

def limiter_atomic_check_and_increment(
    handle: object,
    entry_cache: dict[str, dict[str, tuple[object, ...]]],
    scope_type: type,
    counter_type: type,
    clock: Callable[[], object],
    per_counter_meta: object,
) -> dict[str, object] | None:
    """The v3 limiter's in-memory all-or-nothing check and increment (its tpm reservation) over
    LiteLLM's memory-only store `handle`: the response, or None (before the clock is read or
    anything is written) to run LiteLLM's method."""

@final
class LimiterGate:
    """Whether a v3 limiter call may take the native passes: `limiter.py`'s per-call checks, made
    natively for LiteLLM's own handler class (others are answered by the Python checks given)."""

    def __new__(
        cls,
        handler_class: type,
        overrides: list[str],
        module_globals: dict[str, object],
        scalar: object,
        scope_type: type,
        store_type: type,
        handle_type: type,
        lock_type: type,
        python_checks: tuple[Callable[[object], object], Callable[[type], bool], Callable[[object], bool]],
        entry_cache: dict[str, object],
        new_slot_id: Callable[[], str],
    ) -> LimiterGate: ...
    def handle(self, handler: object) -> object | None:
        """LiteLLM's store handle when the check and the store are LiteLLM's own and memory-only."""
    def memory_only_handle(self, handler: object) -> object | None:
        """The store handle when the module's globals are as installed and the store memory-only."""
    def lock_free(self, lock: object) -> bool:
        """Whether `async with lock` would enter without yielding."""
    def reserve_handle(self, handler: object) -> object | None:
        """`handle(handler)` when the handler's check-and-increment lock is also free."""
    def should_rate_limit(
        self,
        handler: object,
        descriptors: object,
        skip_tpm_check: object,
        parallel_slot_id: object,
        skip_parallel_check: object,
    ) -> dict[str, object] | None:
        """The check in one native pass; None (nothing done): run LiteLLM's method."""
    def reserve(
        self, handler: object, descriptors: object, increments: object
    ) -> tuple[dict[str, object] | None, list[dict[str, object]] | None] | None:
        """The tpm reservation: (response, None) done natively; (None, meta) when the in-memory step
        must be LiteLLM's; None (nothing done): run LiteLLM's method."""
    def release(self, handler: object, gauges: object, slot_id: str) -> bool:
        """The in-memory slot release; False (nothing written): run LiteLLM's method."""
    def counts(self) -> tuple[int, int]:
        """(checks, reservations and releases answered natively, 0)."""
    def reset_counts(self) -> None: ...

def type_version_tag(class_: type) -> int:
    """CPython's version tag of a class: unchanged while its attributes and its bases' are; 0
    when it has none yet."""
