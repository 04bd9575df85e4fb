"""A chat message, and the list a render in progress appends its messages to.

Its own module so that both tags that make messages (``{% message %}`` in
:mod:`promptkit.define.prompts`, ``{% conversation %}`` in
:mod:`promptkit.define.conversations`) reach it without importing each other.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

__all__ = ["Message", "current_collector"]


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass
class _Collector:
    messages: list[Message] = field(default_factory=list)
    depth: int = 0
    #: Whether ``{% conversation %}`` may read turns from any list or JSON text; in a
    #: suite's render only a declared conversation column holds turns.
    raw_conversations: bool = False


_COLLECTOR: contextvars.ContextVar[_Collector | None] = contextvars.ContextVar(
    "promptkit_messages", default=None
)


def current_collector() -> _Collector:
    """The messages of the render in progress; ``{% conversation %}`` appends to it too."""
    collector = _COLLECTOR.get()
    if collector is None:
        raise RuntimeError("message blocks render only through Prompt.render")
    return collector
