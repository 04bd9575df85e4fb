"""A prompt's ``response_format``: the JSON Schema its reply must follow.

Front matter::

    response_format:
      schema: order.schema.json        # a file beside the prompt, or the schema inline
      name: order                      # optional; default: the prompt's family

It becomes the request parameter ``response_format`` in the OpenAI form
(``{type: json_schema, json_schema: {name, schema, strict: true}}``), which ``oai/``
and litellm send as they are and ``local/`` turns into a grammar for llama.cpp, so
the model can only write JSON that follows the schema (constrained decoding). The
``json_schema`` scorer uses the prompt's schema when it is given none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptkit.define.files import is_file, load_json, read_text
from promptkit.define.validate import Where, known_keys, mapping, string
from promptkit.errors import PromptError

__all__ = ["check_schema", "response_format", "response_schema"]

_KEYS = ("schema", "name")
_NAME = re.compile(r"[^A-Za-z0-9_-]")


def response_format(value: Any, where: Where, *, family: str) -> dict[str, Any] | None:
    """The request parameter for a front matter ``response_format`` (None when absent)."""
    if value is None:
        return None
    spec = mapping(value, where, what="{schema: FILE or mapping, name: ...}")
    known_keys(spec, _KEYS, where, what="response_format key")
    if "schema" not in spec:
        raise where.fail("response_format needs a schema", hint="schema: FILE.json or a mapping")
    schema = _schema(spec["schema"], where.at("schema"))
    name = string(spec.get("name", family), where.at("name"), what="a name")
    return {
        "type": "json_schema",
        "json_schema": {"name": _NAME.sub("_", name)[:64], "schema": schema, "strict": True},
    }


def response_schema(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema a request's ``response_format`` asks for, if it asks for one."""
    spec = params.get("response_format")
    if not isinstance(spec, Mapping) or spec.get("type") != "json_schema":
        return None
    inner = spec.get("json_schema")
    schema = inner.get("schema") if isinstance(inner, Mapping) else None
    return dict(schema) if isinstance(schema, Mapping) else None


def _schema(value: Any, where: Where) -> dict[str, Any]:
    if isinstance(value, str):
        base = Path(where.path).parent if where.path else Path.cwd()
        path = base / value
        if not is_file(path):
            raise where.fail(
                f"response_format schema file {path} not found",
                hint="give a JSON file beside the prompt, or the schema inline",
            )
        value = load_json(read_text(path, error=PromptError), path=path, error=PromptError)
    document = mapping(value, where, what="a JSON Schema object")
    check_schema(document, where)
    return document


def check_schema(document: dict[str, Any], where: Where) -> None:
    """Refuse a document that is not a valid JSON Schema (one line naming where)."""
    import jsonschema

    validator = jsonschema.validators.validator_for(document)
    try:
        validator.check_schema(document)
    except jsonschema.SchemaError as exc:
        raise where.fail(f"invalid JSON Schema: {exc.message}", hint="fix the schema") from None
