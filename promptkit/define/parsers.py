"""Reading a model's answer before it is scored.

A prompt's front matter declares its parser:

    parser: {type: label, labels: [positive, negative], aliases: {positivo: positive}}
    parser: {type: json, field: answer}
    parser: {type: regex, pattern: "Rating: (\\d)", group: 1}
    parser: text

Small models answer verbosely ("The review is positive, but..."), so ``label``
searches the reply for an allowed label as a whole word, ignoring case and
accents, and takes the one that appears first.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptkit.errors import PromptError

__all__ = ["PARSER_TYPES", "Parsed", "Parser", "make_parser"]

PARSER_TYPES = ("text", "label", "json", "regex")


@dataclass(frozen=True)
class Parsed:
    """``value`` is what scorers compare; ``error`` says why nothing could be read."""

    value: Any
    error: str | None = None


def fold(text: str) -> str:
    """Lower case without accents: 'Négatif' and 'negatif' compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class Parser:
    kind = "text"

    def parse(self, text: str) -> Parsed:
        return Parsed(text.strip())


class LabelParser(Parser):
    kind = "label"

    def __init__(self, labels: list[str], aliases: Mapping[str, str]) -> None:
        self.labels = labels
        names = {label: label for label in labels} | dict(aliases)
        # Longest names first so 'very positive' wins over 'positive' at the same place.
        ordered = sorted(names, key=len, reverse=True)
        self._canonical = {fold(n): names[n] for n in ordered}
        alternatives = "|".join(re.escape(fold(n)) for n in ordered)
        self._pattern = re.compile(rf"(?<![\w-])({alternatives})(?![\w-])")

    def parse(self, text: str) -> Parsed:
        match = self._pattern.search(fold(text))
        if match is None:
            return Parsed(None, f"no label of {self.labels} in the reply")
        return Parsed(self._canonical[match.group(1)])


class JsonParser(Parser):
    kind = "json"
    _FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)

    def __init__(self, field: str | None) -> None:
        self.field = field

    def parse(self, text: str) -> Parsed:
        fenced = self._FENCE.search(text)
        candidate = fenced.group(1) if fenced else text
        value = _first_json_value(candidate)
        if value is None:
            return Parsed(None, "no JSON value in the reply")
        if self.field is None:
            return Parsed(value)
        if not isinstance(value, dict) or self.field not in value:
            return Parsed(None, f"JSON reply has no field {self.field!r}")
        return Parsed(value[self.field])


def _first_json_value(text: str) -> Any:
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char in "{[":
            try:
                return decoder.raw_decode(text, start)[0]
            except json.JSONDecodeError:
                continue
    return None


class RegexParser(Parser):
    kind = "regex"

    def __init__(self, pattern: str, group: int | str) -> None:
        self.pattern = re.compile(pattern, re.IGNORECASE | re.DOTALL)
        self.group = group

    def parse(self, text: str) -> Parsed:
        match = self.pattern.search(text)
        if match is None:
            return Parsed(None, f"reply does not match /{self.pattern.pattern}/")
        return Parsed(match.group(self.group))


def make_parser(spec: Mapping[str, Any], *, path: str | None = None) -> Parser:
    """Build the parser a prompt's front matter declares."""
    kind = spec.get("type", "text")
    try:
        if kind == "text":
            return Parser()
        if kind == "label":
            labels = [str(label) for label in spec["labels"]]
            aliases = {str(k): str(v) for k, v in (spec.get("aliases") or {}).items()}
            return LabelParser(labels, aliases)
        if kind == "json":
            return JsonParser(spec.get("field"))
        if kind == "regex":
            return RegexParser(str(spec["pattern"]), spec.get("group", 0))
    except KeyError as exc:
        raise PromptError(
            f"parser {kind!r} needs {exc.args[0]!r}", path=path, hint="add it under 'parser'"
        ) from None
    except re.error as exc:
        raise PromptError(f"bad parser regex: {exc}", path=path, hint="fix the pattern") from None
    raise PromptError(
        f"unknown parser type {kind!r}", path=path, hint=f"use one of: {', '.join(PARSER_TYPES)}"
    )
