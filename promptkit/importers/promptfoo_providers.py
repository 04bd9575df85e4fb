"""promptfoo providers -> promptkit model entries (litellm names, api_base, params)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptkit.importers.promptfoo_asserts import Unconverted
from promptkit.importers.promptfoo_common import Reader

__all__ = ["judge", "models"]

_PARAMS = {
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "top_p": "top_p",
    "seed": "seed",
    "stop": "stop",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}
_PREFIXES = {
    "openai:chat:": "openai/",
    "openai:": "openai/",
    "anthropic:messages:": "anthropic/",
    "anthropic:": "anthropic/",
    "ollama:chat:": "ollama/",
    "ollama:": "ollama/",
}


def models(reader: Reader, spec: Any) -> list[Any]:
    entries = spec if isinstance(spec, list) else [spec] if spec is not None else []
    models: list[Any] = []
    for index, entry in enumerate(entries):
        key = f"providers[{index}]" if isinstance(spec, list) else "providers"
        try:
            models.append(_model(reader, key, entry))
        except Unconverted as exc:
            reader.skip(key, f"provider: {exc}")
    return models


def _model(reader: Reader, key: str, entry: Any) -> Any:
    """``openai:chat:M`` -> ``openai/M`` (``oai/M`` + api_base with ``apiBaseUrl``),
    ``anthropic:messages:M`` -> ``anthropic/M``, ``ollama:chat:M`` -> ``ollama/M``."""
    config: Mapping[str, Any] = {}
    if isinstance(entry, Mapping):
        for extra in sorted(set(entry) - {"id", "config", "label"}):
            reader.skip(f"{key}.{extra}", f"provider key {extra!r}")
        config, entry = entry.get("config") or {}, entry.get("id")
    if not isinstance(entry, str) or not isinstance(config, Mapping):
        raise Unconverted("expected an id such as openai:chat:gpt-4o-mini")
    prefix = next((p for p in _PREFIXES if entry.startswith(p)), None)
    if prefix is None:
        raise Unconverted(f"{entry!r} has no promptkit counterpart")
    model = entry.removeprefix(prefix)
    options: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for name, value in config.items():
        if name in _PARAMS:
            params[_PARAMS[name]] = value
        elif name == "apiBaseUrl" and prefix.startswith("openai"):
            options["api_base"] = value
        elif name == "apiKeyEnvar":
            options["api_key_env"] = value
        else:
            reader.skip(f"{key}.config.{name}", f"provider config {name!r}")
    name = ("oai/" if "api_base" in options else _PREFIXES[prefix]) + model
    if not options and not params:
        return name
    return {"name": name, **options, **({"params": params} if params else {})}


def judge(reader: Reader, data: Mapping[str, Any], models: list[Any]) -> str | None:
    default = data.get("defaultTest")
    options = default.get("options") if isinstance(default, Mapping) else None
    provider = options.get("provider") if isinstance(options, Mapping) else None
    if provider is not None:
        try:
            chosen = _model(reader, "defaultTest.options.provider", provider)
            return chosen if isinstance(chosen, str) else str(chosen["name"])
        except Unconverted as exc:
            reader.skip("defaultTest.options.provider", f"grading provider: {exc}")
    if not models:
        return None
    first = models[0]
    return first if isinstance(first, str) else str(first["name"])
