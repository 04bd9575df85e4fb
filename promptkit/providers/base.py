"""What every provider takes and gives, and the one registry they live in.

A prefix nobody has registered yet is looked up among the ``promptkit.providers``
entry points (built-ins are declared there too; see :mod:`promptkit.plugins`), and
a prefix no entry point claims goes to the catch-all ``*``: litellm.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from promptkit.define.prompts import Message
from promptkit.define.validate import Where, finite_number, known_keys, positive_int
from promptkit.errors import ProviderConfigError, ProviderError
from promptkit.plugins import PluginGroup
from promptkit.redact import remember_environment, remember_options

__all__ = [
    "CHAT_PARAMS",
    "RUNNER_OPTIONS",
    "Completion",
    "Provider",
    "Request",
    "ToolCall",
    "check_model_entry",
    "estimate_text_tokens",
    "get_provider",
    "known_params",
    "provider_factory",
    "provider_prefixes",
    "register_provider",
    "sample_seed",
    "split_model_name",
    "tool_calls_from_openai",
]

#: Model-entry keys the runner reads for every provider, whatever its own options.
RUNNER_OPTIONS = ("name", "concurrency", "rpm", "params", "extra_params")
#: Model-entry keys of in-process models for ``--executor ray``: actors (model
#: instances) and the CPUs and GPUs each actor reserves on the cluster.
ACTOR_OPTIONS = ("actors", "num_cpus", "num_gpus")
#: More actors than this for one model is a typo, not a cluster.
MAX_ACTORS = 1024
#: The request parameters of the OpenAI chat API, which most servers and litellm follow.
CHAT_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "n",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "user",
        "reasoning_effort",
        "modalities",
        "prediction",
        "audio",
        "service_tier",
        "store",
        "metadata",
    }
)

# Seeds of different (seed, repeat) pairs must differ, so repeats are independent samples
# and seed 1 / repeat 0 never replays seed 0 / repeat 1. Unique while repeat < this prime.
SEED_STRIDE = 1_000_003


def sample_seed(seed: int | None, repeat: int) -> int:
    """The one seed formula for sample ``repeat`` of a request seeded ``seed`` (None: 0)."""
    return (seed or 0) * SEED_STRIDE + repeat


#: The rough rule where no tokenizer is at hand: about this many characters a token.
CHARS_PER_TOKEN = 4


def estimate_text_tokens(text: str) -> int:
    """The one token estimate for text without a tokenizer (budgets, dry runs, mock usage)."""
    return len(text) // CHARS_PER_TOKEN


@dataclass(frozen=True)
class Request:
    """Everything that can change a model's answer; the cache key is built from it."""

    model: str
    messages: tuple[Message, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    repeat: int = 0
    api_base: str | None = None

    def message_dicts(self) -> list[dict[str, str]]:
        return [m.to_dict() for m in self.messages]


@dataclass(frozen=True)
class ToolCall:
    """One function call a model proposed (promptkit never runs it)."""

    name: str
    #: The arguments as the model wrote them (JSON text, usually an object).
    raw_arguments: str
    #: ``raw_arguments`` parsed; ``None`` when they are not JSON (the scorer says so).
    arguments: Any = None
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "arguments": self.arguments,
            "raw_arguments": self.raw_arguments,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        return cls(
            name=str(data["name"]),
            raw_arguments=str(data.get("raw_arguments") or ""),
            arguments=data.get("arguments"),
            id=data.get("id"),
        )

    @classmethod
    def parsed(cls, name: str, raw_arguments: str, id: str | None = None) -> ToolCall:
        try:
            # strict=False: a grammar-constrained model may put raw newlines into a string
            arguments = json.loads(raw_arguments, strict=False) if raw_arguments.strip() else {}
        except ValueError:
            arguments = None
        return cls(name=name, raw_arguments=raw_arguments, arguments=arguments, id=id)


def tool_calls_from_openai(items: Any) -> tuple[ToolCall, ...]:
    """The calls of an OpenAI-style ``message.tool_calls`` list (dicts or SDK objects).

    A call without a function name is a garbled reply, not an answer: ProviderError.
    """
    calls = []
    for item in items or ():
        function = _field(item, "function")
        name = _field(function, "name")
        if not isinstance(name, str) or not name:
            raise ProviderError("malformed reply: a tool call without a function name")
        arguments = _field(function, "arguments")
        if not isinstance(arguments, str):  # some servers send the object itself
            arguments = json.dumps(arguments if arguments is not None else {})
        call_id = _field(item, "id")
        calls.append(ToolCall.parsed(name, arguments, str(call_id) if call_id else None))
    return tuple(calls)


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost: float | None = None
    finish_reason: str | None = None
    cached: bool = False
    #: Likelihood scoring (``hf/`` with ``score_labels``): each allowed label's probability.
    label_probs: dict[str, float] | None = None
    #: What the endpoint says answered (the reply's ``model``), which may name a dated
    #: snapshot behind an alias; and its ``system_fingerprint`` (the serving build) where given.
    reported_model: str | None = None
    system_fingerprint: str | None = None
    #: The function calls the model proposed (``tools`` in the request), in its order.
    tool_calls: tuple[ToolCall, ...] = ()


class Provider(abc.ABC):
    """A model endpoint. Subclasses import their heavy library lazily."""

    #: How many requests the runner sends at once when the suite does not say.
    default_concurrency = 8
    #: Whether the runner may answer from (and store into) the response cache.
    cacheable = True
    #: The model-entry options this provider reads beyond :data:`RUNNER_OPTIONS`;
    #: ``None``: not declared, so unknown keys are not refused.
    option_keys: ClassVar[tuple[str, ...] | None] = None
    #: The request parameters it understands; ``None``: not declared, not checked.
    known_params: ClassVar[frozenset[str] | None] = None
    #: Whether the model runs inside this process (llama.cpp, transformers): such a model
    #: can run on Ray actors instead (``--executor ray``, :data:`ACTOR_OPTIONS`).
    in_process: ClassVar[bool] = False

    @classmethod  # noqa: B027 - an optional hook: many providers have no options
    def check_options(cls, options: Mapping[str, Any], where: Where) -> None:
        """Check the types and ranges of this provider's own options, before any run."""

    @classmethod
    def supported_params(cls, model: str) -> frozenset[str] | None:
        """The request parameters ``model`` understands (``None``: unknown)."""
        return cls.known_params

    def __init__(self, model: str, options: Mapping[str, Any]) -> None:
        self.model = model
        self.options = dict(options)
        # Every key this provider (or its client library) may read is masked from here on,
        # wherever an error or a record would quote it.
        remember_options(self.options)
        remember_environment()

    def wire_options(self) -> dict[str, Any]:
        """Options that change what is sent for the same request (the cache key holds them)."""
        return {}

    @abc.abstractmethod
    async def complete(self, request: Request) -> Completion:
        """Answer one request, or raise :class:`promptkit.ProviderError`."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release connections; called once when a run ends."""


ProviderFactory = Callable[[str, Mapping[str, Any]], Provider]
_REGISTRY: dict[str, ProviderFactory] = {}
#: The prefix whose factory takes every name no other prefix claims.
FALLBACK = "*"
_PLUGINS = PluginGroup(
    group="promptkit.providers",
    kind="provider prefix",
    registry=_REGISTRY,
    error=ProviderConfigError,
    register_with="@register_provider",
)


def register_provider(prefix: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Register a factory for ``prefix/...`` model names (``"*"``: everything else)."""

    def decorate(factory: ProviderFactory) -> ProviderFactory:
        _REGISTRY[prefix] = factory
        return factory

    return decorate


def provider_prefixes() -> list[str]:
    """Every prefix with its own provider, registered or declared by an entry point."""
    return [p for p in _PLUGINS.names(_REGISTRY) if p != FALLBACK]


def split_model_name(model: str) -> tuple[str, str]:
    prefix, slash, name = model.partition("/")
    if not slash or not prefix or not name:
        raise ProviderConfigError(
            f"model {model!r} has no provider prefix",
            hint="name models provider/model, e.g. local/smollm2 or openai/gpt-4o-mini",
        )
    return prefix, name


def provider_factory(model: str) -> ProviderFactory:
    """The registered factory for a ``provider/model`` name (usually a Provider class)."""
    prefix, _ = split_model_name(model)
    factory = _registered(prefix) or _registered(FALLBACK)
    if factory is None:
        raise ProviderConfigError(
            f"unknown provider prefix {prefix!r} in {model!r}",
            hint=f"use one of: {', '.join(provider_prefixes())}",
        )
    return factory


def get_provider(model: str, options: Mapping[str, Any] | None = None) -> Provider:
    """The provider for a ``provider/model`` name, built by its registered factory."""
    return provider_factory(model)(model, options or {})


def check_model_entry(model: str, entry: Mapping[str, Any], where: Where) -> None:
    """A suite's model entry, as far as its provider declares: known keys, then types.

    Builds nothing, so a suite is checked without loading a model or importing its library.
    """
    factory = provider_factory(model)
    keys = getattr(factory, "option_keys", None)
    in_process = bool(getattr(factory, "in_process", False))
    if keys is not None:
        actor_keys = ACTOR_OPTIONS if in_process else ()
        known_keys(entry, (*RUNNER_OPTIONS, *keys, *actor_keys), where, what="model option")
    if in_process:
        check_actor_options(entry, where)
    check = getattr(factory, "check_options", None)
    if check is not None:
        check(entry, where)


def check_actor_options(entry: Mapping[str, Any], where: Where) -> tuple[int, float, float]:
    """(actors, num_cpus, num_gpus) of a model entry: 1 actor of 1 CPU and no GPU unless said."""
    actors = entry.get("actors", 1)
    actors = positive_int(actors, where.at("actors"), cap=MAX_ACTORS)
    cpus = finite_number(entry.get("num_cpus", 1), where.at("num_cpus"), minimum=0)
    gpus = finite_number(entry.get("num_gpus", 0), where.at("num_gpus"), minimum=0)
    return actors, cpus, gpus


def known_params(model: str) -> frozenset[str] | None:
    """The request parameters ``model``'s provider understands (``None``: not declared)."""
    supported = getattr(provider_factory(model), "supported_params", None)
    return supported(model) if supported is not None else None


def _registered(prefix: str) -> ProviderFactory | None:
    _PLUGINS.ensure(prefix)
    return _REGISTRY.get(prefix)
