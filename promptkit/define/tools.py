"""A prompt's ``tools``: the functions a model may call, and ``tool_choice``.

Front matter::

    tools:                               # a JSON or YAML file beside the prompt, or inline
      - name: lookup_order
        description: Find an order by its id
        parameters: {type: object, properties: {order_id: {type: string}}}
    tool_choice: auto                    # auto | none | required | a function's name

Each tool is written plainly (``name``, ``description``, ``parameters``) or in the
OpenAI form (``{type: function, function: {...}}``); either becomes the OpenAI form,
which ``oai/`` and litellm send as they are and ``local/`` turns into a system turn
and a grammar. ``parameters`` must be a valid JSON Schema: the ``tool_call`` scorer
checks arguments against it. promptkit never executes a tool: it scores the calls a
model proposes, which is what a prompt change affects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptkit.define.files import is_file, load_json, parse_yaml, read_text
from promptkit.define.structured import check_schema
from promptkit.define.validate import Where, known_keys, mapping, string
from promptkit.errors import PromptError

__all__ = ["TOOL_CHOICES", "tool_choice", "tool_schemas", "tools"]

TOOL_CHOICES = ("auto", "none", "required")
_KEYS = ("name", "description", "parameters", "strict")
# OpenAI's rule for function names; a name outside it is refused by most providers.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


def tools(value: Any, where: Where) -> list[dict[str, Any]] | None:
    """The request parameter for a front matter ``tools`` (None when absent)."""
    if value is None:
        return None
    if isinstance(value, str):
        value, where = _load_file(value, where)
    if not isinstance(value, list) or not value:
        raise where.expected("a non-empty list of functions {name, description, parameters}", value)
    functions = [_function(item, where.at(index)) for index, item in enumerate(value)]
    names = [f["function"]["name"] for f in functions]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise where.at(index).fail(f"tool {name!r} is declared twice", hint="rename one")
    return functions


def tool_choice(value: Any, functions: list[dict[str, Any]] | None, where: Where) -> Any:
    """The request parameter for ``tool_choice``: a mode, or one named function."""
    if value is None:
        return None
    if functions is None:
        raise where.fail("tool_choice without tools", hint="declare tools: or drop tool_choice")
    choice = string(value, where, what="auto, none, required or a tool's name")
    if choice in TOOL_CHOICES:
        return choice
    names = [f["function"]["name"] for f in functions]
    if choice not in names:
        raise where.fail(
            f"tool_choice {choice!r} is no declared tool",
            hint=f"use auto, none, required or one of: {', '.join(names)}",
        )
    return {"type": "function", "function": {"name": choice}}


def tool_schemas(params: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each declared tool's parameter schema, by name, from a request's ``tools``."""
    schemas: dict[str, dict[str, Any]] = {}
    for item in params.get("tools") or []:
        function = item.get("function") if isinstance(item, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            schemas[function["name"]] = dict(function.get("parameters") or _EMPTY_PARAMETERS)
    return schemas


def _function(item: Any, where: Where) -> dict[str, Any]:
    spec = mapping(item, where, what="a function {name, description, parameters}")
    if spec.get("type") == "function" and "function" in spec:
        known_keys(spec, ("type", "function"), where, what="tool key")
        where = where.at("function")
        spec = mapping(spec["function"], where, what="a function {name, description, parameters}")
    known_keys(spec, _KEYS, where, what="tool key")
    if "name" not in spec:
        raise where.fail("a tool needs a name", hint="name: lookup_order")
    name = string(spec["name"], where.at("name"), what="a function name")
    if not _NAME.match(name):
        raise where.at("name").expected("a name of letters, digits, _ or - (at most 64)", name)
    function: dict[str, Any] = {"name": name}
    if "description" in spec:
        function["description"] = string(spec["description"], where.at("description"), empty=True)
    parameters = mapping(
        spec.get("parameters", _EMPTY_PARAMETERS), where.at("parameters"), what="a JSON Schema"
    )
    check_schema(parameters, where.at("parameters"))
    function["parameters"] = parameters
    if "strict" in spec:
        function["strict"] = spec["strict"] is True
    return {"type": "function", "function": function}


def _load_file(name: str, where: Where) -> tuple[Any, Where]:
    """The tools a file holds, and the place to name in errors: that file."""
    base = Path(where.path).parent if where.path else Path.cwd()
    path = base / name
    if not is_file(path):
        raise where.fail(
            f"tools file {path} not found", hint="give a JSON or YAML file beside the prompt"
        )
    text = read_text(path, error=PromptError)
    inside = Where(path=str(path), key="tools", error=where.error)
    if path.suffix.lower() == ".json":
        return load_json(text, path=path, error=PromptError), inside
    data, _ = parse_yaml(text, path=path, error=PromptError)
    return data, inside
