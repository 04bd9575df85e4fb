"""Tool calling for ``local/`` models, built the way llama-cpp-python's
``chatml-function-calling`` handler does it, but keeping promptkit's injection safety.

That handler renders the whole chat as one text and tokenizes it with special
tokens enabled, so a dataset row could open a role; promptkit instead adds the tool
definitions (text the prompt's author wrote) to the system turn and keeps tokenizing
message contents as plain text (:func:`promptkit.providers.local.prompt_tokens`).

- ``tool_choice: required`` or a named function: a grammar from a JSON Schema
  (``{name: const, arguments: the tool's parameters}``) lets the model write nothing
  but one well-formed call (constrained decoding).
- ``auto`` (the default): no grammar; a reply that is one JSON object naming a
  declared tool is read as its call, any other reply is text.
- ``none``: the tools are not shown and no reply is read as a call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from promptkit.define.prompts import Message
from promptkit.errors import ProviderError
from promptkit.providers.base import ToolCall

__all__ = ["call_schema", "read_tool_calls", "with_tools"]

_INSTRUCTIONS = (
    "You can call these functions:\n{functions}\n"
    'To call one, reply with only a JSON object: {{"name": "<function>", "arguments": {{...}}}}.'
)
_AUTO = "\nIf no function fits, answer in plain text instead."


def with_tools(messages: Sequence[Message], params: Mapping[str, Any]) -> tuple[Message, ...]:
    """The messages with the declared functions described in the system turn."""
    functions = _functions(params)
    if not functions:
        return tuple(messages)
    listing = "\n".join(json.dumps(f, ensure_ascii=False, sort_keys=True) for f in functions)
    text = _INSTRUCTIONS.format(functions=listing)
    if params.get("tool_choice", "auto") == "auto":
        text += _AUTO
    if messages and messages[0].role == "system":
        first = Message("system", f"{messages[0].content}\n\n{text}")
        return (first, *messages[1:])
    return (Message("system", text), *messages)


def call_schema(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema of the one call a forced ``tool_choice`` allows (None: not forced)."""
    choice = params.get("tool_choice", "auto")
    functions = _functions(params)
    if isinstance(choice, Mapping):
        wanted = choice.get("function", {}).get("name")
        functions = [f for f in functions if f["name"] == wanted]
    elif choice != "required":
        return None
    options = [
        {
            "type": "object",
            "properties": {
                "name": {"const": f["name"]},
                "arguments": f.get("parameters") or {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
        for f in functions
    ]
    if not options:  # an empty grammar would crash llama.cpp; the suite checks prevent it
        raise ProviderError(f"tool_choice {choice!r} leaves no declared tool to call")
    return options[0] if len(options) == 1 else {"anyOf": options}


def read_tool_calls(text: str, params: Mapping[str, Any]) -> tuple[str, tuple[ToolCall, ...]]:
    """The reply's text and its call: a reply that is one JSON object naming a declared
    function is that call (its text then empty); anything else stays text."""
    names = {f["name"] for f in _functions(params)}
    if not names:  # no tools: a JSON reply is structured output, not a call
        return text, ()
    try:
        # strict=False: llama.cpp's JSON grammar lets raw newlines into strings
        value = json.loads(text, strict=False)
    except ValueError:
        return text, ()
    name = value.get("name") if isinstance(value, dict) else None
    if not isinstance(name, str) or name not in names:
        return text, ()
    arguments = value.get("arguments", {})
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return "", (ToolCall.parsed(str(value["name"]), raw, id="call_0"),)


def _functions(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    if params.get("tool_choice") == "none":
        return []
    return [dict(t["function"]) for t in params.get("tools") or () if "function" in t]
