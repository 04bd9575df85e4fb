"""Model providers, named ``provider/model`` and found through one registry.

Built-in providers register exactly as third-party ones do, and import their
heavy library only when a model of theirs is first used.

    local/...   llama.cpp in process (``local/smollm2``: the embedded model)
    hf/...      transformers in process, batched, on the GPU when there is one
    mock/...    scripted replies for tests and demos
    oai/...     the lean path to any OpenAI-compatible endpoint (aiohttp, no litellm)
    anything else goes to litellm (openai/, anthropic/, ollama/, ...)
"""

from promptkit.providers import hf as _hf  # noqa: F401
from promptkit.providers import litellm_provider as _litellm_provider  # noqa: F401
from promptkit.providers import local as _local  # noqa: F401
from promptkit.providers import mock as _mock  # noqa: F401
from promptkit.providers import openai_compat as _openai_compat  # noqa: F401
from promptkit.providers.base import (
    Completion,
    Provider,
    Request,
    get_provider,
    provider_prefixes,
    register_provider,
)
from promptkit.providers.mock import MockProvider, register_mock

__all__ = [
    "Completion",
    "MockProvider",
    "Provider",
    "Request",
    "get_provider",
    "provider_prefixes",
    "register_mock",
    "register_provider",
]
