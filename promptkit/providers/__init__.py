"""Model providers, named ``provider/model`` and found through one registry.

Built-in providers are declared as ``promptkit.providers`` entry points in
pyproject.toml, exactly as third-party ones are (:mod:`promptkit.plugins`): a
module loads when a model with its prefix is first named, and imports its heavy
library only when such a model is first built.

    local/...   llama.cpp in process (``local/smollm2``: the embedded model)
    hf/...      transformers in process, batched, on the GPU when there is one
    mock/...    scripted replies for tests and demos
    oai/...     the lean path to any OpenAI-compatible endpoint (aiohttp, no litellm)
    anything else goes to litellm (openai/, anthropic/, ollama/, ...)
"""

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
