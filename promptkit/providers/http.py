"""HTTP status codes and headers -> :class:`ProviderError`, shared by the HTTP providers.

Which failures are worth another try is decided here once: rate limits (429),
server errors (5xx), request timeouts (408) and conflicts (409) are; a bad
request (400), a bad key (401/403) or an unknown model (404) are not, because
asking again gets the same answer. A connection that could not be made at all
(:func:`connect_failure`) is worth another try too (a server restarting), but
is marked ``unreachable``, so the runner's breaker stops asking a dead endpoint
after a few such failures in a row.
"""

from __future__ import annotations

import email.utils
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

from promptkit.define.validate import Where, string
from promptkit.errors import ProviderError
from promptkit.providers.base import Request, sample_seed

__all__ = [
    "ENDPOINT_OPTIONS",
    "RETRYABLE_STATUS",
    "check_endpoint_options",
    "connect_failure",
    "parse_retry_after",
    "request_seed",
    "status_error",
]

#: The model-entry options of a provider that talks to an HTTP endpoint.
ENDPOINT_OPTIONS = ("api_base", "api_key_env")

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
_HINTS = {
    401: "check the API key environment variable (OPENAI_API_KEY, or the model's api_key_env)",
    403: "the key is not allowed to use this model",
    404: "check the model name and the api_base",
}


#: Exceptions (aiohttp's, httpx's) that say no connection was made, as opposed to one
#: that dropped mid-reply. Matched by name: the HTTP libraries are imported lazily.
_CONNECT_ERRORS = frozenset({"ClientConnectorError", "ConnectError"})
_REFUSED_OS_ERRORS = (ConnectionRefusedError, socket.gaierror)


def connect_failure(exc: BaseException) -> str | None:
    """Why no connection could be made at all (``Connection refused``, an unknown host),
    read from ``exc`` and the exceptions it was raised from; None when one was made."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    refused = any(
        type(e).__name__ in _CONNECT_ERRORS
        or isinstance(e, ConnectionRefusedError | socket.gaierror)
        for e in chain
    )
    if not refused:
        return None
    causes = [e for e in chain if isinstance(e, OSError)]
    if not causes:
        return "no connection"
    cause = causes[-1]  # the deepest: the socket's own error
    if cause.errno and cause.errno > 0:  # name lookups use negative codes
        return os.strerror(cause.errno)
    return str(cause.strerror or cause) or type(cause).__name__


def parse_retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        if "retry-after" in lowered:
            return max(0.0, float(lowered["retry-after"]))
    except ValueError:
        pass
    if "retry-after" in lowered:
        try:
            date = email.utils.parsedate_to_datetime(lowered["retry-after"])
        except (TypeError, ValueError):
            return None
        return max(0.0, date.timestamp() - time.time())
    return None


def status_error(
    status: int, message: str, headers: Mapping[str, Any] | None = None
) -> ProviderError:
    """The error for an HTTP reply with status >= 400."""
    hint = _HINTS.get(status)
    text = f"HTTP {status}: {message}" + (f" ({hint})" if hint else "")
    return ProviderError(
        text,
        retryable=status in RETRYABLE_STATUS,
        retry_after=parse_retry_after(headers),
        status=status,
    )


def request_seed(request: Request) -> int | None:
    """The seed sent to a remote model: each repeat gets its own, so repeats are
    independent samples even from a server that honours seeds."""
    if request.seed is None:
        return None
    return sample_seed(request.seed, request.repeat)


def check_endpoint_options(options: Mapping[str, Any], where: Where) -> None:
    """``api_base`` is a URL string, ``api_key_env`` the name of an environment variable."""
    if options.get("api_base") is not None:
        string(options["api_base"], where.at("api_base"), what="a URL such as http://host/v1")
    if options.get("api_key_env") is not None:
        string(options["api_key_env"], where.at("api_key_env"), what="an environment variable name")
