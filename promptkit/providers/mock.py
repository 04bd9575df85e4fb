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

from promptkit.define.validate import Where, finite_number, known_keys, pattern
from promptkit.errors import ProviderConfigError
from promptkit.providers.base import (
    CHAT_PARAMS,
    Completion,
    Provider,
    Request,
    estimate_text_tokens,
    register_provider,
)

__all__ = ["MockProvider", "register_mock"]

MockHandler = Callable[[Request], "str | Completion"]
_HANDLERS: dict[str, MockHandler] = {}
_RULE_KEYS = ("match", "reply")
#: Ten minutes: a scripted delay beyond that is a typo, not a test.
MAX_LATENCY_MS = 600_000


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
    option_keys = ("responses", "default", "latency_ms")
    # A stand-in for any model, so it accepts what real ones do (and flags typos).
    known_params = CHAT_PARAMS | {"top_k", "min_p", "repeat_penalty", "repetition_penalty"}

    @classmethod
    def check_options(cls, options: Mapping[str, Any], where: Where) -> None:
        _rules(options.get("responses"), where.at("responses"))
        _scripted_reply(options.get("default"), where.at("default"))
        _latency_s(options.get("latency_ms"), where.at("latency_ms"))

    def __init__(self, model: str, options: Mapping[str, Any]) -> None:
        super().__init__(model, options)
        self.name = model.partition("/")[2]
        where = Where(key=model, error=ProviderConfigError)
        self.latency_s = _latency_s(options.get("latency_ms"), where.at("latency_ms"))
        self.rules = _rules(options.get("responses"), where.at("responses"))
        self.default = _scripted_reply(options.get("default"), where.at("default"))
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
        for match, reply in self.rules:
            if match.search(last_user):
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


def _rules(value: Any, where: Where) -> list[tuple[re.Pattern[str], str]]:
    """``responses``: a list of ``{match: REGEX, reply: TEXT}``, tried in order."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise where.expected("a list of {match: REGEX, reply: TEXT}", value)
    rules = []
    for index, rule in enumerate(value):
        place = where.at(index)
        if not isinstance(rule, dict):
            raise place.expected("a mapping {match: REGEX, reply: TEXT}", rule)
        known_keys(rule, _RULE_KEYS, place)
        for key in _RULE_KEYS:
            if key not in rule:
                raise place.fail(
                    f"{place.key!r} has no {key!r}", "give {match: REGEX, reply: TEXT}"
                )
        reply = _scripted_reply(rule["reply"], place.at("reply"))
        assert reply is not None
        rules.append((pattern(rule["match"], place.at("match"), flags=re.IGNORECASE), reply))
    return rules


def _scripted_reply(value: Any, where: Where) -> str | None:
    """A scripted reply: text, or a number written bare (``reply: 4``) meaning its text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise where.expected("a reply text", value, "quote it")


def _latency_s(value: Any, where: Where) -> float:
    if value is None:
        return 0.0
    return finite_number(value, where, minimum=0, maximum=MAX_LATENCY_MS) / 1000


register_provider("mock")(MockProvider)
