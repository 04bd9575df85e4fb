"""``mock/...``: a scripted model for unit tests and demos.

``mock/echo`` answers with the last user message. Any other ``mock/NAME`` answers
from rules given as model options in a suite::

    models:
      - name: mock/scripted
        responses:
          - {match: "terrible|awful", reply: negative}
        default: positive

or from a Python handler registered with :func:`register_mock`, which is how
tests script exact outputs, token counts or errors.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from typing import Any

from promptkit.errors import ProviderConfigError
from promptkit.providers.base import (
    Completion,
    Provider,
    Request,
    estimate_text_tokens,
    register_provider,
)

__all__ = ["MockProvider", "register_mock"]

MockHandler = Callable[[Request], "str | Completion"]
_HANDLERS: dict[str, MockHandler] = {}


def register_mock(name: str, handler: MockHandler) -> None:
    """Make ``mock/<name>`` answer with ``handler(request)`` (a string or a Completion)."""
    _HANDLERS[name] = handler


def _estimate_tokens(text: str) -> int:
    # Any text, however short, is at least one token.
    return max(1, estimate_text_tokens(text)) if text else 0


class MockProvider(Provider):
    default_concurrency = 64
    # Scripted and free: a cache would only hide a handler registered anew under the
    # same name, so mock answers are never cached.
    cacheable = False

    def __init__(self, model: str, options: Mapping[str, Any]) -> None:
        super().__init__(model, options)
        self.name = model.partition("/")[2]
        self.latency_s = float(options.get("latency_ms", 0)) / 1000
        self.rules = [
            (re.compile(str(rule["match"]), re.IGNORECASE), str(rule["reply"]))
            for rule in options.get("responses") or []
        ]
        self.default = options.get("default")
        scripted = self.name in _HANDLERS or self.name == "echo" or self.rules
        if not scripted and self.default is None:
            raise ProviderConfigError(
                f"mock model {model!r} has no script",
                hint="use mock/echo, give 'responses'/'default' options, "
                "or register_mock() a handler",
            )

    def _reply(self, request: Request) -> str | Completion:
        if self.name in _HANDLERS:
            return _HANDLERS[self.name](request)
        last_user = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        if self.name == "echo":
            return last_user
        for pattern, reply in self.rules:
            if pattern.search(last_user):
                return reply
        return str(self.default)

    async def complete(self, request: Request) -> Completion:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        reply = self._reply(request)
        if isinstance(reply, Completion):
            return reply
        prompt_text = "".join(m.content for m in request.messages)
        return Completion(
            text=reply,
            prompt_tokens=_estimate_tokens(prompt_text),
            completion_tokens=_estimate_tokens(reply),
            latency_s=self.latency_s,
            cost=0.0,
            finish_reason="stop",
        )


register_provider("mock")(MockProvider)
