"""Every prefix no other provider claims goes through litellm: openai/, anthropic/,
ollama/, ... API keys come from the usual environment variables and are never
written anywhere by promptkit. litellm is imported on first use, with its price
map read from the package instead of the network.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from functools import cache
from typing import Any

from promptkit.define.validate import Where
from promptkit.errors import ProviderConfigError, ProviderError
from promptkit.providers.base import (
    FALLBACK,
    Completion,
    Provider,
    Request,
    provider_prefixes,
    register_provider,
    split_model_name,
    tool_calls_from_openai,
)
from promptkit.providers.http import (
    ENDPOINT_OPTIONS,
    RETRYABLE_STATUS,
    check_endpoint_options,
    connect_failure,
    parse_retry_after,
    request_seed,
)
from promptkit.redact import clip

__all__ = ["LitellmProvider", "import_litellm"]


@cache
def import_litellm() -> Any:
    # Without this, importing litellm fetches a price map from the internet and
    # stalls on retries when there is none.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError:  # pragma: no cover - litellm is a core dependency
        raise ProviderConfigError(
            "litellm is not installed", hint='pip install "promptkit"'
        ) from None
    litellm.suppress_debug_info = True
    litellm.drop_params = True
    return litellm


class LitellmProvider(Provider):
    default_concurrency = 16
    option_keys = ENDPOINT_OPTIONS

    @classmethod
    def check_options(cls, options: Mapping[str, Any], where: Where) -> None:
        check_endpoint_options(options, where)

    @classmethod
    def supported_params(cls, model: str) -> frozenset[str] | None:
        """litellm's own list for the model's provider (it drops the rest of OpenAI's
        names silently); ``None`` when litellm does not know the provider."""
        return _litellm_params(model)

    def __init__(self, model: str, options: Mapping[str, Any]) -> None:
        super().__init__(model, options)
        litellm = import_litellm()
        prefix, _ = split_model_name(model)
        known = {str(getattr(p, "value", p)) for p in litellm.provider_list}
        if prefix not in known:
            raise ProviderConfigError(
                f"unknown provider prefix {prefix!r} in {model!r}",
                hint=f"use {', '.join(p + '/' for p in provider_prefixes())} "
                "or a litellm provider such as openai/, anthropic/, ollama/",
            )
        self.api_base = options.get("api_base")
        self.api_key = options.get("api_key_env") and os.environ.get(options["api_key_env"])

    def _call_args(self, request: Request) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": request.model,
            "messages": request.message_dicts(),
            **request.params,
            # The runner retries (with Retry-After and a budget); retrying inside too
            # would multiply attempts and hide them.
            "num_retries": 0,
            "max_retries": 0,
        }
        if request.seed is not None:
            args["seed"] = request_seed(request)
        api_base = request.api_base or self.api_base
        if api_base:
            args["api_base"] = api_base
            # A local OpenAI-compatible server needs no key, but the client insists on one.
            if not self.api_key and not os.environ.get("OPENAI_API_KEY"):
                args["api_key"] = "unused"
        if self.api_key:
            args["api_key"] = self.api_key
        return args

    async def complete(self, request: Request) -> Completion:
        litellm = import_litellm()
        started = time.perf_counter()
        try:
            response = await litellm.acompletion(**self._call_args(request))
        except Exception as exc:  # litellm maps every provider's errors to its own types
            raise _provider_error(exc, request.api_base or self.api_base) from None
        latency = time.perf_counter() - started
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        return Completion(
            text=choice.message.content or "",
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            latency_s=latency,
            cost=_cost(litellm, response),
            finish_reason=choice.finish_reason,
            reported_model=getattr(response, "model", None) or None,
            system_fingerprint=getattr(response, "system_fingerprint", None) or None,
            tool_calls=tool_calls_from_openai(getattr(choice.message, "tool_calls", None)),
        )


@cache
def _litellm_params(model: str) -> frozenset[str] | None:
    litellm = import_litellm()
    prefix, name = split_model_name(model)
    try:
        names = litellm.get_supported_openai_params(model=name, custom_llm_provider=prefix)
    except Exception:  # an unknown provider is reported when the model is built
        return None
    return frozenset(names) if names else None


def _cost(litellm: Any, response: Any) -> float | None:
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # unknown model: cost stays unknown rather than wrong
        return None


def _provider_error(exc: Exception, api_base: str | None) -> ProviderError:
    refused = connect_failure(exc)
    if refused is not None:  # litellm calls this a 500; no server was reached at all
        where = api_base or "the provider"
        return ProviderError(
            f"connection error: cannot connect to {where} ({refused})",
            retryable=True,
            unreachable=True,
        )
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    retryable = status in RETRYABLE_STATUS or name in {
        "Timeout",
        "APIConnectionError",
        "RateLimitError",
        "InternalServerError",
        "ServiceUnavailableError",
    }
    headers = getattr(getattr(exc, "response", None), "headers", None)
    retry_after = parse_retry_after(headers)
    lines = str(getattr(exc, "message", exc)).splitlines() or [""]
    message = clip(lines[0], 300)  # redacted before the cut: a body may echo the key
    return ProviderError(
        f"{name}: {message}", retryable=retryable, retry_after=retry_after, status=status
    )


register_provider(FALLBACK)(LitellmProvider)
