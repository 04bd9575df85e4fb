"""``oai/<model>``: the lean path to any OpenAI-compatible chat endpoint.

One aiohttp session per run posts ``/chat/completions`` and reads the JSON
reply; nothing else sits on the hot path. Measured against a local server
(bench/providers.py), this costs a fraction of the client CPU per call that
litellm does, and it starts in a fraction of the time, so large runs against
vLLM, llama.cpp, Ollama, OpenRouter or OpenAI itself should use it. litellm
(``openai/...`` and every other prefix) stays the path for breadth: providers
with their own APIs, and anything this client does not speak.

Options (suite model entry or ``--api-base``): ``api_base`` (default
``$OPENAI_BASE_URL``, else https://api.openai.com/v1) and ``api_key_env``
(default ``OPENAI_API_KEY``; no key is sent when the variable is unset).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from promptkit.define.structured import response_schema
from promptkit.define.validate import Where, choice
from promptkit.errors import ProviderConfigError, ProviderError
from promptkit.providers.base import (
    CHAT_PARAMS,
    Completion,
    Provider,
    Request,
    register_provider,
    tool_calls_from_openai,
)
from promptkit.providers.http import (
    ENDPOINT_OPTIONS,
    check_endpoint_options,
    connect_failure,
    request_seed,
    status_error,
)
from promptkit.redact import clip, remember_secret

if TYPE_CHECKING:
    import aiohttp

__all__ = ["OpenAICompatProvider"]

DEFAULT_API_BASE = "https://api.openai.com/v1"
#: How a server takes a JSON Schema: OpenAI's ``{type: json_schema, json_schema: {...}}``
#: (the default) or ``{type: json_object, schema}`` (llama-cpp-python's server).
SCHEMA_STYLES = ("json_schema", "json_object")


class OpenAICompatProvider(Provider):
    # An HTTP endpoint serves many requests at once; the runner bounds this per model.
    default_concurrency = 64
    option_keys = (*ENDPOINT_OPTIONS, "schema_as")
    # The servers this path is for (vLLM, llama.cpp, Ollama) also take these samplers.
    known_params = CHAT_PARAMS | {"top_k", "min_p", "repetition_penalty", "repeat_penalty"}

    @classmethod
    def check_options(cls, options: Mapping[str, Any], where: Where) -> None:
        check_endpoint_options(options, where)
        if options.get("schema_as") is not None:
            choice(options["schema_as"], SCHEMA_STYLES, where.at("schema_as"))

    def wire_options(self) -> dict[str, Any]:
        schema_as = self.options.get("schema_as")
        return {"schema_as": schema_as} if schema_as else {}

    def __init__(self, model: str, options: Mapping[str, Any]) -> None:
        super().__init__(model, options)
        self.remote_name = model.partition("/")[2]
        base = options.get("api_base") or os.environ.get("OPENAI_BASE_URL") or DEFAULT_API_BASE
        self.api_base = str(base).rstrip("/")
        self._key_env = str(options.get("api_key_env") or "OPENAI_API_KEY")
        remember_secret(os.environ.get(self._key_env))
        _check_one_authorization(self.api_base, bool(os.environ.get(self._key_env)))
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self._key_env)
        if key:  # read per session, never stored on the provider or written anywhere
            remember_secret(key)
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _client(self) -> aiohttp.ClientSession:
        """A session bound to the running loop (a new one if the loop changed)."""
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is None or self._session_loop is not loop or self._session.closed:
            # The runner bounds concurrency, so the connector does not queue requests itself.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers(), raise_for_status=False
            )
            self._session_loop = loop
        return self._session

    def _body(self, request: Request) -> bytes:
        body: dict[str, Any] = {
            "model": self.remote_name,
            "messages": request.message_dicts(),
            **request.params,
        }
        if request.seed is not None:
            body["seed"] = request_seed(request)
        schema = response_schema(request.params)
        if schema is not None and self.options.get("schema_as") == "json_object":
            # llama-cpp-python's server takes a JSON Schema only this way (it refuses
            # OpenAI's {type: json_schema} with a 500)
            body["response_format"] = {"type": "json_object", "schema": schema}
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    async def complete(self, request: Request) -> Completion:
        import aiohttp

        base = (request.api_base or self.api_base).rstrip("/")
        url = f"{base}/chat/completions"
        client = self._client()
        _check_one_authorization(base, "Authorization" in client.headers)
        started = time.perf_counter()
        try:
            async with client.post(url, data=self._body(request)) as response:
                payload = await response.read()
                status, headers = response.status, response.headers
        except aiohttp.ClientConnectorError as exc:  # no connection made: refused, no host, TLS
            raise ProviderError(
                f"connection error: cannot connect to {base} ({connect_failure(exc)})",
                retryable=True,
                unreachable=True,
            ) from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise ProviderError(
                f"connection error: {type(exc).__name__}: {exc}", retryable=True
            ) from None
        latency = time.perf_counter() - started
        if status >= 400:
            raise status_error(status, _error_message(payload), headers)
        return _completion(payload, latency)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def _check_one_authorization(base: str, has_key: bool) -> None:
    """Credentials in the URL and an API key would both be the Authorization header;
    aiohttp refuses the request with a bare ValueError, so say which to drop (when the
    provider is made, and per request, as a request may name its own api_base)."""
    if has_key and "@" in base and urlsplit(base).username is not None:
        raise ProviderConfigError(
            "api_base carries user:password@ credentials and an API key is set too: "
            "both would be the request's Authorization header",
            hint="drop the credentials from api_base, or unset the API key variable (api_key_env)",
        )


def _error_message(payload: bytes) -> str:
    """The error text of a reply, redacted before it is cut (a body may echo the key)."""
    try:
        error = json.loads(payload).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        return clip(str(error["message"]), 300)
    if isinstance(error, str):
        return clip(error, 300)
    return clip(payload[:8192].decode("utf-8", "replace").strip(), 300) or "(empty body)"


def _completion(payload: bytes, latency: float) -> Completion:
    try:
        data = json.loads(payload)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
        tool_calls = tool_calls_from_openai(choice["message"].get("tool_calls"))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        # A cut-off or garbled body is usually a transient fault of the server or a proxy.
        snippet = clip(payload[:8192].decode("utf-8", "replace"), 80)
        raise ProviderError(
            f"malformed reply (not a chat completion): {snippet!r}", retryable=True
        ) from None
    usage = data.get("usage") or {}
    return Completion(
        text=text,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        latency_s=latency,
        cost=None,  # priced by the runner from the price map or the suite's prices
        finish_reason=choice.get("finish_reason"),
        reported_model=_text_or_none(data.get("model")),
        system_fingerprint=_text_or_none(data.get("system_fingerprint")),
        tool_calls=tool_calls,
    )


def _text_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


register_provider("oai")(OpenAICompatProvider)
